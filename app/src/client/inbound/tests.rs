//! Every server frame's effect on a chat page, on plain maps instead of signals.

use std::collections::BTreeMap;

use protocol::{ChatMessage, ErrorCode, Gap, ServerFrame};

use super::*;

/// A message id from its text (test data is always valid).
fn mid(text: &str) -> protocol::MessageId {
    text.parse().expect("a valid message id")
}

/// The page's state as plain data; `changed` lists the parts whose edits said they changed.
#[derive(Default)]
struct Model {
    logs: HashMap<String, ChatLog>,
    rooms: Vec<String>,
    unread: Unread,
    members: Members,
    names: Names,
    typing: Typing,
    my_name: String,
    access: Access,
    search: crate::search::Search,
    changed: Vec<String>,
}

impl Model {
    fn note(&mut self, part: String, changed: bool) {
        if changed {
            self.changed.push(part);
        }
    }
}

impl ChatParts for Model {
    fn edit_log(&mut self, room: &str, edit: impl FnOnce(&mut ChatLog) -> bool) {
        let changed = edit(self.logs.entry(room.to_owned()).or_default());
        self.note(format!("log {room}"), changed);
    }
    fn edit_rooms(&mut self, edit: impl FnOnce(&mut Vec<String>) -> bool) {
        let changed = edit(&mut self.rooms);
        self.note("rooms".into(), changed);
    }
    fn edit_unread(&mut self, edit: impl FnOnce(&mut Unread) -> bool) {
        let changed = edit(&mut self.unread);
        self.note("unread".into(), changed);
    }
    fn edit_members(&mut self, edit: impl FnOnce(&mut Members) -> bool) {
        let changed = edit(&mut self.members);
        self.note("members".into(), changed);
    }
    fn edit_names(&mut self, edit: impl FnOnce(&mut Names) -> bool) {
        let changed = edit(&mut self.names);
        self.note("names".into(), changed);
    }
    fn edit_typing(&mut self, edit: impl FnOnce(&mut Typing) -> bool) {
        let changed = edit(&mut self.typing);
        self.note("typing".into(), changed);
    }
    fn edit_access(&mut self, edit: impl FnOnce(&mut Access) -> bool) {
        let changed = edit(&mut self.access);
        self.note("access".into(), changed);
    }
    fn edit_search(&mut self, edit: impl FnOnce(&mut crate::search::Search) -> bool) {
        let changed = edit(&mut self.search);
        self.note("search".into(), changed);
    }
    fn edit_my_name(&mut self, edit: impl FnOnce(&mut String) -> bool) {
        let changed = edit(&mut self.my_name);
        self.note("my name".into(), changed);
    }
}

/// alice's page on `general`, at t = 1 s.
struct Fixture {
    model: Model,
    current: String,
    outbox: Vec<Pending>,
    leaving: Vec<String>,
}

impl Fixture {
    fn new() -> Self {
        let model = Model { rooms: vec!["general".into()], my_name: "alice".into(), ..Model::default() };
        Self { model, current: "general".into(), outbox: Vec::new(), leaving: Vec::new() }
    }

    fn apply<'f>(&mut self, frame: &'f ServerFrame) -> FollowUp<'f> {
        let page = Page {
            me: "alice",
            current: &self.current,
            now_ms: 1_000.0,
            outbox: &self.outbox,
            leaving: &self.leaving,
            searching: false,
        };
        apply(&mut self.model, &page, frame)
    }

    /// alice typed `text` in `room`: pending in the transcript and in the outbox.
    fn typed(&mut self, room: &str, client_id: &str, text: &str) {
        self.model.logs.entry(room.into()).or_default().push_pending("alice", client_id, text);
        self.outbox.push(Pending { client_id: client_id.into(), room: room.into(), text: text.into() });
    }

    /// The transcript of `room` as `user: text` lines (`…` while pending).
    fn lines(&self, room: &str) -> Vec<String> {
        let Some(log) = self.model.logs.get(room) else {
            return Vec::new();
        };
        log.lines()
            .iter()
            .map(|line| match (line.user.is_empty(), line.pending) {
                (true, _) => line.text.clone(),
                (false, false) => format!("{}: {}", line.user, line.text),
                (false, true) => format!("{}: {} …", line.user, line.text),
            })
            .collect()
    }

    fn take_changes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.model.changed)
    }
}

fn message(room: &str, id: &str, user: &str, text: &str) -> ChatMessage {
    ChatMessage {
        room: room.into(),
        id: mid(id),
        user: user.into(),
        name: String::new(),
        text: text.into(),
        ts: 5,
        client_id: None,
        ..ChatMessage::default()
    }
}

fn history(room: &str, messages: Vec<ChatMessage>, gap: Option<Gap>, more: bool) -> ServerFrame {
    ServerFrame::History { room: room.into(), messages, gap, revisions: Vec::new(), upto: None, more }
}

fn error(code: ErrorCode, text: &str, client_id: Option<&str>) -> ServerFrame {
    ServerFrame::Error { code, message: text.into(), client_id: client_id.map(Into::into) }
}

const GAP_NOTICE: &str = "Some messages from while you were away are no longer in the history.";

#[test]
fn history_pages_fill_the_transcript_in_order_with_the_gap_said_once() {
    let mut page = Fixture::new();
    let gap = Some(Gap { after: mid("1-0"), until: mid("5-0") });
    let first = history("r", vec![message("r", "6-0", "bob", "six"), message("r", "7-0", "bob", "seven")], gap, true);
    let last = history("r", vec![message("r", "8-0", "carol", "eight")], None, false);
    assert_eq!(page.apply(&first), FollowUp::Nothing);
    assert_eq!(page.apply(&last), FollowUp::Nothing);
    assert_eq!(page.lines("r"), [GAP_NOTICE, "bob: six", "bob: seven", "carol: eight"]);
    assert_eq!(page.model.logs["r"].last_id(), Some(mid("8-0")));
    assert_eq!(page.model.unread["r"], 3, "never read: all of it is unread");
    assert_eq!(page.take_changes(), ["log r", "unread", "log r", "unread"]);
}

#[test]
fn a_message_is_shown_and_counted_once_however_often_it_arrives() {
    let mut page = Fixture::new();
    let seen = message("r", "6-0", "bob", "hi");
    page.apply(&history("r", vec![seen.clone()], None, false));
    page.apply(&ServerFrame::ReadUpTo { room: "r".into(), id: seen.id });
    page.take_changes();
    page.apply(&ServerFrame::Message(seen));
    assert_eq!(page.lines("r"), ["bob: hi"]);
    assert!(page.take_changes().is_empty(), "a repeat re-renders nothing");

    let live = ServerFrame::Message(message("r", "7-0", "bob", "again"));
    page.apply(&live);
    page.apply(&live);
    page.apply(&history("r", vec![message("r", "7-0", "bob", "again")], None, false));
    assert_eq!(page.lines("r"), ["bob: hi", "bob: again"]);
    assert_eq!(page.model.unread["r"], 1);
}

#[test]
fn read_positions_decide_unread_and_never_move_back() {
    let mut page = Fixture::new();
    let welcome = ServerFrame::Welcome {
        user: "alice".into(),
        instance: "app-1".into(),
        protocol: protocol::PROTOCOL_VERSION,
        rooms: vec!["r".into()],
        blocked: Vec::new(),
        read: [("r".to_owned(), mid("6-0"))].into(),
    };
    page.apply(&welcome);
    let messages = vec![
        message("r", "5-0", "bob", "old"),
        message("r", "6-0", "bob", "read"),
        message("r", "7-0", "bob", "new"),
        message("r", "8-0", "alice", "mine"),
    ];
    page.apply(&history("r", messages, None, false));
    assert_eq!(page.model.unread["r"], 1, "only others' messages after the position");
    page.apply(&ServerFrame::ReadUpTo { room: "r".into(), id: mid("7-0") });
    assert!(page.model.unread.is_empty(), "read on another device");
    page.take_changes();
    page.apply(&ServerFrame::ReadUpTo { room: "r".into(), id: mid("5-0") });
    assert!(page.take_changes().is_empty(), "an older position changes nothing");
    assert_eq!(page.model.access.read["r"], mid("7-0"));
    // In the room on screen a new message asks to be marked read instead of counted.
    let live = ServerFrame::Message(message("general", "9-0", "bob", "here"));
    assert_eq!(page.apply(&live), FollowUp::Seen("general"));
    assert!(page.model.unread.is_empty());
}

#[test]
fn unread_counts_only_other_users_messages_in_other_rooms() {
    let mut page = Fixture::new();
    page.apply(&ServerFrame::Message(message("general", "1-0", "bob", "on screen")));
    page.apply(&ServerFrame::Message(message("r", "2-0", "alice", "mine, from another tab")));
    assert!(page.model.unread.is_empty());
    page.apply(&ServerFrame::Message(message("r", "3-0", "bob", "one")));
    page.apply(&ServerFrame::Message(message("r", "4-0", "bob", "two")));
    assert_eq!(page.model.unread, Unread::from([("r".into(), 2)]));
    assert_eq!(page.lines("r"), ["alice: mine, from another tab", "bob: one", "bob: two"]);
}

#[test]
fn an_ack_confirms_the_pending_message_and_empties_its_outbox_entry() {
    let mut page = Fixture::new();
    page.typed("r", "c1", "hello");
    assert_eq!(page.lines("r"), ["alice: hello …"]);
    let ack = ServerFrame::Ack { client_id: "c1".into(), id: mid("9-0") };
    assert_eq!(page.apply(&ack), FollowUp::Forget("c1"));
    assert_eq!(page.lines("r"), ["alice: hello"]);
    assert_eq!(page.model.logs["r"].last_id(), Some(mid("9-0")));

    // The live copy of the same message, and an ack nobody waits for, change nothing.
    page.outbox.clear();
    page.take_changes();
    let mut echo = message("r", "9-0", "alice", "hello");
    echo.client_id = Some("c1".into());
    page.apply(&ServerFrame::Message(echo));
    let stray = ServerFrame::Ack { client_id: "c9".into(), id: mid("10-0") };
    assert_eq!(page.apply(&stray), FollowUp::Forget("c9"), "forgetting what is not held changes nothing");
    assert_eq!(page.lines("r"), ["alice: hello"]);
    assert!(page.take_changes().is_empty(), "nothing re-renders");
}

#[test]
fn joins_and_leaves_change_who_is_here_and_are_said() {
    let mut page = Fixture::new();
    let joined = ServerFrame::Joined { room: "r".into(), user: "bob".into(), name: "Bobby".into(), ts: 1 };
    page.apply(&joined);
    page.apply(&ServerFrame::Joined { room: "r".into(), user: "carol".into(), name: String::new(), ts: 2 });
    assert_eq!(page.model.members["r"], BTreeSet::from(["bob".into(), "carol".into()]));
    assert_eq!(page.model.names, Names::from([("bob".into(), "Bobby".into())]));
    page.apply(&ServerFrame::Left { room: "r".into(), user: "bob".into(), ts: 3 });
    assert_eq!(page.model.members["r"], BTreeSet::from(["carol".into()]));
    assert_eq!(page.lines("r"), ["bob joined", "carol joined", "bob left"]);
}

#[test]
fn presence_replaces_the_members_and_adds_display_names() {
    let mut page = Fixture::new();
    page.apply(&ServerFrame::Joined { room: "r".into(), user: "zed".into(), name: String::new(), ts: 1 });
    let presence = ServerFrame::Presence {
        room: "r".into(),
        users: vec!["alice".into(), "bob".into()],
        names: BTreeMap::from([("bob".into(), "Bobby".into())]),
    };
    page.apply(&presence);
    assert_eq!(page.model.members["r"], BTreeSet::from(["alice".into(), "bob".into()]));
    assert_eq!(page.model.names["bob"], "Bobby");
    page.take_changes();
    page.apply(&presence);
    assert!(page.take_changes().is_empty(), "the same presence again changes nothing");
}

#[test]
fn a_rename_is_said_once_in_the_room_on_screen() {
    let mut page = Fixture::new();
    let renamed = ServerFrame::Renamed { user: "bob".into(), name: "Wonder".into() };
    page.apply(&renamed);
    page.apply(&renamed); // once per shared room
    assert_eq!(page.model.names["bob"], "Wonder");
    assert_eq!(page.lines("general"), ["bob is now Wonder"]);
    page.apply(&ServerFrame::Renamed { user: "bob".into(), name: "Marvel".into() });
    assert_eq!(page.lines("general"), ["bob is now Wonder", "Wonder is now Marvel"]);
    assert_eq!(page.model.my_name, "alice", "someone else's rename is not mine");
}

#[test]
fn my_own_rename_changes_my_name() {
    let mut page = Fixture::new();
    page.apply(&ServerFrame::Renamed { user: "alice".into(), name: "Ally".into() });
    assert_eq!(page.model.my_name, "Ally");
    assert_eq!(page.lines("general"), ["alice is now Ally"]);
    page.take_changes();
    page.apply(&ServerFrame::Renamed { user: "alice".into(), name: "Ally".into() });
    assert!(page.take_changes().is_empty());
}

#[test]
fn typing_shows_until_it_expires_or_the_typist_sends() {
    let mut page = Fixture::new();
    let typing = ServerFrame::Typing { room: "r".into(), user: "bob".into() };
    assert_eq!(page.apply(&typing), FollowUp::TypingShown { room: "r", user: "bob" });
    assert_eq!(page.model.typing["r"]["bob"], 1_000.0 + TYPING_SHOWN_MS);
    typing_expired(&mut page.model, "r", "bob", 4_999.0);
    assert!(page.model.typing["r"].contains_key("bob"), "renewed or not yet over: still shown");
    typing_expired(&mut page.model, "r", "bob", 5_000.0);
    assert!(page.model.typing["r"].is_empty());

    page.apply(&typing);
    page.apply(&ServerFrame::Message(message("r", "1-0", "bob", "done")));
    assert!(page.model.typing["r"].is_empty(), "a message ends the typing notice");
}

#[test]
fn a_send_the_server_could_not_store_stays_pending_and_is_retried() {
    for code in [ErrorCode::Unavailable, ErrorCode::RateLimited] {
        let mut page = Fixture::new();
        page.typed("r", "c1", "hello");
        let frame = error(code, "slow down", Some("c1"));
        assert_eq!(page.apply(&frame), FollowUp::Retry("c1"));
        assert_eq!(page.lines("r"), ["alice: hello …", "⚠ slow down"]);
        assert!(page.lines("general").is_empty(), "said where the message is");
    }
}

#[test]
fn a_refused_send_leaves_the_transcript_and_the_outbox() {
    let mut page = Fixture::new();
    page.typed("r", "c1", "far too long");
    let frame = error(ErrorCode::BadMessage, "the message is too long", Some("c1"));
    assert_eq!(page.apply(&frame), FollowUp::Forget("c1"));
    assert_eq!(page.lines("r"), ["⚠ the message is too long"]);
}

#[test]
fn a_change_is_retried_or_forgotten_as_a_send_is() {
    let mut page = Fixture::new();
    let frame = error(ErrorCode::Unavailable, "not now", Some("edit-1"));
    assert_eq!(page.apply(&frame), FollowUp::Retry("edit-1"));
    assert_eq!(page.lines("general"), ["⚠ not now"], "said in the room on screen");
    let frame = error(ErrorCode::NotAllowed, "only its author can edit or delete a message", Some("edit-2"));
    assert_eq!(page.apply(&frame), FollowUp::Forget("edit-2"));
    let ack = ServerFrame::Ack { client_id: "edit-1".into(), id: "9-0".parse().expect("an id") };
    assert_eq!(page.apply(&ack), FollowUp::Forget("edit-1"), "answered: no longer held");
}

#[test]
fn an_error_about_no_send_is_shown_in_the_room_on_screen() {
    let mut page = Fixture::new();
    let frame = error(ErrorCode::TooManyRooms, "you are in too many rooms; leave one first", None);
    assert_eq!(page.apply(&frame), FollowUp::Nothing);
    assert_eq!(page.lines("general"), ["⚠ you are in too many rooms; leave one first"]);
    let frame = error(ErrorCode::BadRoom, "bad room", None);
    page.apply(&frame);
    page.apply(&frame);
    assert_eq!(page.lines("general").len(), 2, "a repeated notice is said once");
}

#[test]
fn welcome_adds_the_users_rooms_but_not_those_left_meanwhile() {
    let mut page = Fixture::new();
    page.current = "here".into();
    page.leaving = vec!["gone".into()];
    let welcome = ServerFrame::Welcome {
        user: "alice".into(),
        instance: "app-1".into(),
        protocol: protocol::PROTOCOL_VERSION,
        rooms: vec!["zoo".into(), "gone".into(), "general".into(), "abc".into()],
        blocked: Vec::new(),
        read: Default::default(),
    };
    assert_eq!(page.apply(&welcome), FollowUp::Nothing);
    assert_eq!(page.model.rooms, ["abc", "general", "here", "zoo"]);
    page.take_changes();
    page.apply(&welcome);
    assert!(page.take_changes().is_empty(), "the same rooms again change nothing");
}

#[test]
fn rooms_come_and_go_from_elsewhere() {
    let mut page = Fixture::new();
    let private = "~team~k3j9x2ab7q";
    let added = ServerFrame::RoomAdded { room: private.into(), by: "bob".into() };
    assert_eq!(page.apply(&added), FollowUp::Join(private), "an invitation is joined");
    assert_eq!(page.model.rooms, ["general", private]);
    let roster =
        ServerFrame::Members { room: private.into(), owner: "bob".into(), users: vec!["alice".into(), "bob".into()] };
    page.apply(&roster);
    assert_eq!(page.model.access.rosters[private].1, ["alice", "bob"]);
    page.apply(&ServerFrame::Message(message(private, "5-0", "bob", "hi")));
    assert_eq!(page.model.unread.get(private), Some(&1));
    let removed = ServerFrame::RoomRemoved { room: private.into(), message: "You were removed from this room.".into() };
    assert_eq!(page.apply(&removed), FollowUp::Nothing);
    assert_eq!(page.model.rooms, ["general"], "off the list");
    assert!(!page.model.unread.contains_key(private) && page.model.access.rosters.is_empty());
    assert_eq!(page.lines(private).last().map(String::as_str), Some("⚠ You were removed from this room."));
    page.take_changes();
    page.apply(&removed);
    assert!(page.take_changes().is_empty(), "a second removal (from the order, after the room's) says nothing");
    let created = ServerFrame::Created { room: "~mine~abcdefghij".into() };
    assert_eq!(page.apply(&created), FollowUp::Open("~mine~abcdefghij"));
    page.apply(&ServerFrame::Blocked { users: vec!["mallory".into()] });
    assert_eq!(page.model.access.blocked, ["mallory"]);
    page.apply(&ServerFrame::Directory { rooms: vec!["general".into(), "rust".into()] });
    assert_eq!(page.model.access.directory.as_deref(), Some(&["general".to_owned(), "rust".to_owned()][..]));
}

#[test]
fn move_and_pong_change_nothing() {
    let mut page = Fixture::new();
    assert_eq!(page.apply(&ServerFrame::Move { after_ms: 5 }), FollowUp::Nothing);
    assert_eq!(page.apply(&ServerFrame::Pong), FollowUp::Nothing);
    assert!(page.take_changes().is_empty());
}
