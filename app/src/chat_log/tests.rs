//! The transcript's rules, on the host.
use super::*;

/// A message id from its text (test data is always valid).
fn mid(text: &str) -> protocol::MessageId {
    text.parse().expect("a valid message id")
}

fn msg(id: &str, user: &str, text: &str, cid: Option<&str>) -> ChatMessage {
    ChatMessage {
        room: "general".into(),
        id: mid(id),
        user: user.into(),
        name: String::new(),
        text: text.into(),
        ts: 5,
        client_id: cid.map(Into::into),
        ..ChatMessage::default()
    }
}

#[test]
fn a_message_id_is_shown_once() {
    let mut log = ChatLog::default();
    let m = msg("1-0", "bob", "hi", None);
    log.apply(
        &ServerFrame::History {
            room: "general".into(),
            messages: vec![m.clone()],
            gap: None,
            revisions: Vec::new(),
            upto: None,
            more: false,
        },
        "alice",
    );
    log.apply(&ServerFrame::Message(m), "alice");
    assert_eq!(log.lines().len(), 1);
    assert_eq!(log.last_id(), Some(mid("1-0")));
}

#[test]
fn own_messages_are_pending_until_acked_and_not_duplicated() {
    let mut log = ChatLog::default();
    log.push_pending("alice", "c1", "hello");
    assert!(log.lines()[0].pending);
    log.apply(&ServerFrame::Ack { client_id: "c1".into(), id: mid("7-1") }, "alice");
    log.apply(&ServerFrame::Message(msg("7-1", "alice", "hello", Some("c1"))), "alice");
    assert_eq!(log.lines().len(), 1);
    assert!(!log.lines()[0].pending && log.lines()[0].mine);

    // Live copy before the ack: still one line.
    log.push_pending("alice", "c2", "again");
    log.apply(&ServerFrame::Message(msg("8-0", "alice", "again", Some("c2"))), "alice");
    log.apply(&ServerFrame::Ack { client_id: "c2".into(), id: mid("8-0") }, "alice");
    assert_eq!(log.lines().len(), 2);
    assert_eq!(log.last_id(), Some(mid("8-0")));
}

#[test]
fn a_send_stored_again_under_another_id_is_shown_once() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("1-0", "bob", "hi", Some("b1"))), "alice");
    // The failover lost 1-0 before bob was acked; his outbox sent b1 again, stored as 2-0.
    log.apply(&ServerFrame::Message(msg("2-0", "bob", "hi", Some("b1"))), "alice");
    assert_eq!(log.lines().len(), 1);
    assert_eq!(log.last_id(), Some(mid("2-0")), "catch-up goes on from the newest id");
    // Another user's client id may be the same string: a different send.
    log.apply(&ServerFrame::Message(msg("3-0", "carol", "yo", Some("b1"))), "alice");
    assert_eq!(log.lines().len(), 2);
    // Our own: acked under one id, then seen live under another.
    log.push_pending("alice", "a1", "mine");
    log.apply(&ServerFrame::Ack { client_id: "a1".into(), id: mid("4-0") }, "alice");
    log.apply(&ServerFrame::Message(msg("5-0", "alice", "mine", Some("a1"))), "alice");
    assert_eq!(log.lines().len(), 3);
}

#[test]
fn me_is_an_action_and_others_are_not_mine() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("1-0", "bob", "/me waves", None)), "alice");
    assert_eq!(log.lines()[0].kind, LineKind::Action);
    assert_eq!(log.lines()[0].text, "waves");
    assert!(!log.lines()[0].mine);
}

#[test]
fn a_gap_is_said_once_in_plain_words() {
    let mut log = ChatLog::default();
    let gap = Some(protocol::Gap { after: mid("1-0"), until: mid("5-0") });
    log.apply(
        &ServerFrame::History {
            room: "general".into(),
            messages: vec![msg("6-0", "bob", "x", None)],
            gap,
            revisions: Vec::new(),
            upto: None,
            more: false,
        },
        "alice",
    );
    assert_eq!(log.lines().len(), 2);
    assert_eq!(log.lines()[0].kind, LineKind::Notice);
    assert!(log.lines()[0].text.contains("no longer in the history"));
}

#[test]
fn joins_and_leaves_are_notices() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Joined { room: "general".into(), user: "bob".into(), name: String::new(), ts: 1 }, "alice");
    log.apply(&ServerFrame::Left { room: "general".into(), user: "bob".into(), ts: 2 }, "alice");
    assert_eq!(log.lines().iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), ["bob joined", "bob left"]);
    assert_ne!(log.lines()[0].key, log.lines()[1].key);
}

#[test]
fn ids_order_numerically() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("10-0", "b", "x", None)), "a");
    log.apply(&ServerFrame::Message(msg("9-5", "b", "y", None)), "a");
    assert_eq!(log.last_id(), Some(mid("10-0")));
}

fn revised(target: &str, change: impl FnOnce(&mut Revision)) -> ServerFrame {
    let mut revision = Revision { target: mid(target), user: "bob".into(), ..Revision::default() };
    change(&mut revision);
    ServerFrame::Revised { room: "general".into(), id: Some(mid("9-0")), revisions: vec![revision] }
}

#[test]
fn changes_replace_what_a_line_shows_and_move_the_position() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("1-0", "bob", "helo", None)), "alice");
    log.apply(&ServerFrame::Message(msg("2-0", "bob", "oops", None)), "alice");
    log.apply(
        &revised("1-0", |r| {
            r.text = Some("/me says hello".into());
            r.edited = 7;
            r.reactions.insert("👍".into(), vec!["alice".into()]);
        }),
        "alice",
    );
    let line = &log.lines()[0];
    assert_eq!((line.kind.clone(), line.text.as_str(), line.edited), (LineKind::Action, "says hello", true));
    assert_eq!(line.reactions["👍"], ["alice"]);
    assert_eq!(line.version, 1, "a new version redraws the line");
    assert_eq!(log.last_id(), Some(mid("9-0")), "a catch-up goes on after the change");
    log.apply(&revised("2-0", |r| r.deleted = true), "alice");
    assert_eq!((log.lines()[1].kind.clone(), log.lines()[1].text.as_str()), (LineKind::Deleted, DELETED_TEXT));
    assert_eq!(log.unread_after(None), (1, 0), "a deleted message is no longer unread");
    assert_eq!(log.held_ids(10), [mid("1-0")]);
    // A change to a message this page never held is ignored.
    log.apply(&revised("5-0", |r| r.text = Some("x".into())), "alice");
    assert_eq!(log.lines().len(), 2);
}

#[test]
fn a_history_brings_tombstones_revisions_and_its_position() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("1-0", "bob", "first", None)), "alice");
    let tombstone = ChatMessage { deleted: true, text: String::new(), ..msg("2-0", "bob", "", None) };
    let edit = Revision { target: mid("1-0"), text: Some("first!".into()), edited: 3, ..Revision::default() };
    log.apply(
        &ServerFrame::History {
            room: "general".into(),
            messages: vec![tombstone],
            gap: None,
            revisions: vec![edit],
            upto: Some(mid("4-0")),
            more: false,
        },
        "alice",
    );
    let shown: Vec<(&str, bool)> = log.lines().iter().map(|l| (l.text.as_str(), l.edited)).collect();
    assert_eq!(shown, [("first!", true), (DELETED_TEXT, false)]);
    assert_eq!(log.last_id(), Some(mid("4-0")));
}

#[test]
fn a_message_naming_me_is_a_mention() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("1-0", "bob", "hey @Alice, lunch?", None)), "alice");
    log.apply(&ServerFrame::Message(msg("2-0", "bob", "mail alice@example.com", None)), "alice");
    log.apply(&ServerFrame::Message(msg("3-0", "alice", "@alice note to self", None)), "alice");
    let mentions: Vec<bool> = log.lines().iter().map(|l| l.mention).collect();
    assert_eq!(mentions, [true, false, false]);
    assert_eq!(log.unread_after(None), (2, 1));
    // An edit that drops the name drops the mention.
    log.apply(&revised("1-0", |r| r.text = Some("lunch?".into())), "alice");
    assert!(!log.lines()[0].mention);
}

#[test]
fn older_pages_go_before_what_is_shown_once_each() {
    let mut log = ChatLog::default();
    log.apply(&ServerFrame::Message(msg("5-0", "bob", "five", None)), "alice");
    log.apply(&ServerFrame::Message(msg("6-0", "bob", "six", None)), "alice");
    let page = [msg("3-0", "bob", "three", None), msg("4-0", "bob", "four", None), msg("5-0", "bob", "five", None)];
    log.prepend_older(&page, false, "alice");
    let texts: Vec<&str> = log.lines().iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["three", "four", "five", "six"]);
    assert_eq!((log.oldest_id(), log.last_id(), log.reached_start()), (Some(mid("3-0")), Some(mid("6-0")), false));
    log.prepend_older(&[msg("1-0", "bob", "one", None)], true, "alice");
    assert_eq!(log.lines()[0].text, "one");
    assert!(log.reached_start());
}
