//! Private rooms, direct conversations and blocks, end to end over websockets, on the memory
//! backend (one instance) and on Redis (two instances: the stranger is on the other one).
//!
//! Every path into a room a user may not see — `join`, `join` with `since`, `join_many`,
//! `send`, `typing`, `invite`, `remove`, the room's page — answers as for a room that does not
//! exist, and nothing of the room reaches them; a removed member gets nothing sent after the
//! removal, live or in a replay.

#[macro_use]
mod support;

use protocol::{ChatMessage, ClientFrame, ErrorCode, MessageId, RoomJoin, ServerFrame};
use support::{Instance, Pair, Socket, chatter};

/// A join's outcome: the history, or the refusal (code and words).
async fn enter(ws: &mut Socket, room: &str) -> Result<Vec<ChatMessage>, (ErrorCode, String)> {
    enter_since(ws, room, None).await
}

async fn enter_since(
    ws: &mut Socket,
    room: &str,
    since: Option<MessageId>,
) -> Result<Vec<ChatMessage>, (ErrorCode, String)> {
    ws.send(&ClientFrame::Join { room: room.to_owned(), since }).await;
    let mut messages = Vec::new();
    loop {
        match ws.next().await.expect("socket open") {
            ServerFrame::History { room: r, messages: page, more, .. } if r == room => {
                messages.extend(page);
                if !more {
                    return Ok(messages);
                }
            }
            ServerFrame::Error { code, message, client_id: None } => {
                removed(ws, room).await;
                return Err((code, message));
            }
            _ => {}
        }
    }
}

/// The next error frame's code (and the client id it is about).
async fn refusal(ws: &mut Socket) -> (ErrorCode, Option<String>) {
    ws.expect(|f| match f {
        ServerFrame::Error { code, client_id, .. } => Some((code, client_id)),
        _ => None,
    })
    .await
}

async fn create(ws: &mut Socket, title: &str) -> String {
    ws.send(&ClientFrame::CreateRoom { title: title.to_owned() }).await;
    ws.expect(|f| match f {
        ServerFrame::Created { room } => Some(room),
        _ => None,
    })
    .await
}

async fn added(ws: &mut Socket) -> (String, String) {
    ws.expect(|f| match f {
        ServerFrame::RoomAdded { room, by } => Some((room, by)),
        _ => None,
    })
    .await
}

async fn removed(ws: &mut Socket, room: &str) {
    ws.expect(|f| matches!(f, ServerFrame::RoomRemoved { room: r, .. } if r == room).then_some(())).await;
}

fn texts(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.text.as_str()).collect()
}

/// Whether `frame` carries anything of `room` beyond a refusal.
fn reveals(frame: &ServerFrame, room: &str) -> bool {
    match frame {
        ServerFrame::Message(message) => message.room == room,
        ServerFrame::History { room: r, .. }
        | ServerFrame::Presence { room: r, .. }
        | ServerFrame::Typing { room: r, .. }
        | ServerFrame::Joined { room: r, .. }
        | ServerFrame::Left { room: r, .. }
        | ServerFrame::Members { room: r, .. }
        | ServerFrame::RoomAdded { room: r, .. } => r == room,
        ServerFrame::Welcome { rooms, .. } | ServerFrame::Directory { rooms } => rooms.iter().any(|r| r == room),
        _ => false,
    }
}

/// Drains what the server still sends within a moment, then says whether any of it (or of
/// anything seen before) reveals `room`.
async fn saw_anything_of(ws: &mut Socket, room: &str) -> bool {
    while ws.next_within(std::time::Duration::from_millis(300)).await.is_some() {}
    ws.seen.iter().any(|frame| reveals(frame, room))
}

async fn strangers_cannot_tell_a_private_room_from_no_room(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let (carol, mut carol_ws) = chatter(b, "carol").await;
    let team = create(&mut alice_ws, "team").await;
    assert!(team.starts_with("~team~"), "{team}");
    enter(&mut alice_ws, &team).await.expect("the creator enters");
    let first = alice_ws.say(&team, "a1", "before bob").await;
    alice_ws.send(&ClientFrame::Invite { room: team.clone(), user: "bob".into() }).await;
    assert_eq!(added(&mut bob_ws).await, (team.clone(), "alice".into()), "bob sees the invitation at once");
    let history = enter(&mut bob_ws, &team).await.expect("an invited member enters");
    assert_eq!(texts(&history), ["before bob"]);
    alice_ws.say(&team, "a2", "secret plans").await;
    bob_ws.hear("secret plans").await;

    // carol, on bob's instance: the same answer as for a private room nobody made.
    let ghost = "~team~0000000000";
    let refused = enter(&mut carol_ws, &team).await.expect_err("a stranger is refused");
    let nothing = enter(&mut carol_ws, ghost).await.expect_err("no such room");
    assert_eq!(refused.0, ErrorCode::NoSuchRoom);
    assert_eq!((refused.0, refused.1.replace(&team, "R")), (nothing.0, nothing.1.replace(ghost, "R")));
    let replay = enter_since(&mut carol_ws, &team, Some(first)).await.expect_err("no replay either");
    assert_eq!(replay.0, ErrorCode::NoSuchRoom);
    carol_ws.send(&ClientFrame::JoinMany { rooms: vec![RoomJoin { room: team.clone(), since: Some(first) }] }).await;
    assert_eq!(refusal(&mut carol_ws).await, (ErrorCode::NoSuchRoom, None));
    let send = ClientFrame::Send { room: team.clone(), client_id: "c1".into(), text: "let me in".into() };
    carol_ws.send(&send).await;
    assert_eq!(refusal(&mut carol_ws).await, (ErrorCode::NotJoined, Some("c1".into())));
    carol_ws.send(&ClientFrame::Typing { room: team.clone() }).await;
    for frame in [
        ClientFrame::Invite { room: team.clone(), user: "carol".into() },
        ClientFrame::Remove { room: team.clone(), user: "bob".into() },
    ] {
        carol_ws.send(&frame).await;
        assert_eq!(refusal(&mut carol_ws).await, (ErrorCode::NoSuchRoom, None), "{frame:?}");
    }
    // A member who is not the creator may not invite.
    bob_ws.send(&ClientFrame::Invite { room: team.clone(), user: "carol".into() }).await;
    assert_eq!(refusal(&mut bob_ws).await, (ErrorCode::NotAllowed, None));
    // The room's page answers carol as a room that does not exist does.
    let (status, page) = carol.get(b, &format!("/r/{team}")).await;
    let (ghost_status, _) = carol.get(b, &format!("/r/{ghost}")).await;
    assert_eq!(status, ghost_status);
    assert!(!page.contains("secret plans") && !page.contains("before bob"));
    alice_ws.say(&team, "a3", "still secret").await;
    bob_ws.hear("still secret").await;
    assert!(!saw_anything_of(&mut carol_ws, &team).await, "carol saw something of the room: {:?}", carol_ws.seen);
}

async fn a_removed_member_gets_nothing_sent_after_the_removal(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (bob, mut bob_ws) = chatter(b, "bob").await;
    let team = create(&mut alice_ws, "team").await;
    enter(&mut alice_ws, &team).await.expect("the creator enters");
    alice_ws.send(&ClientFrame::Invite { room: team.clone(), user: "bob".into() }).await;
    added(&mut bob_ws).await;
    enter(&mut bob_ws, &team).await.expect("bob enters");
    // bob's second tab, on alice's instance.
    let mut bob_tab = Socket::connect(a, bob.cookie(b).as_deref(), None).await.expect("admitted");
    enter(&mut bob_tab, &team).await.expect("bob's other tab enters");
    let last_seen = alice_ws.say(&team, "a1", "while bob is in").await;
    bob_ws.hear("while bob is in").await;
    bob_tab.hear("while bob is in").await;

    alice_ws.send(&ClientFrame::Remove { room: team.clone(), user: "bob".into() }).await;
    removed(&mut bob_ws, &team).await;
    removed(&mut bob_tab, &team).await;
    alice_ws.say(&team, "a2", "after bob left").await;
    for ws in [&mut bob_ws, &mut bob_tab] {
        while ws.next_within(std::time::Duration::from_millis(300)).await.is_some() {}
        let after = ws.seen.iter().any(|f| matches!(f, ServerFrame::Message(m) if m.text == "after bob left"));
        assert!(!after, "a removed member heard a message sent after the removal");
    }
    let send = ClientFrame::Send { room: team.clone(), client_id: "b1".into(), text: "still here?".into() };
    bob_ws.send(&send).await;
    assert_eq!(refusal(&mut bob_ws).await, (ErrorCode::NotJoined, Some("b1".into())));
    // A reconnect that catches up from the last message seen is refused, and the list lost it.
    let mut again = Socket::connect(b, bob.cookie(b).as_deref(), None).await.expect("admitted");
    let rooms = again
        .expect(|f| match f {
            ServerFrame::Welcome { rooms, .. } => Some(rooms),
            _ => None,
        })
        .await;
    assert!(!rooms.contains(&team), "{rooms:?}");
    let replay = enter_since(&mut again, &team, Some(last_seen)).await.expect_err("no replay after removal");
    assert_eq!(replay.0, ErrorCode::NoSuchRoom);
    assert!(!saw_anything_of(&mut again, &team).await);
}

async fn direct_conversations_are_for_their_two_users(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (bob, mut bob_ws) = chatter(b, "bob").await;
    let (carol, mut carol_ws) = chatter(b, "carol").await;
    let dm = "@alice+bob";
    enter(&mut alice_ws, dm).await.expect("alice opens it");
    assert_eq!(added(&mut bob_ws).await, (dm.to_owned(), "alice".into()), "bob sees it at once");
    enter(&mut bob_ws, dm).await.expect("bob enters");
    alice_ws.say(dm, "a1", "just between us").await;
    bob_ws.hear("just between us").await;
    // On bob's next page load it is on his list.
    let mut later = Socket::connect(b, bob.cookie(b).as_deref(), None).await.expect("admitted");
    let rooms = later.expect(|f| match f {
        ServerFrame::Welcome { rooms, .. } => Some(rooms),
        _ => None,
    });
    assert!(rooms.await.contains(&dm.to_owned()));

    let refused = enter(&mut carol_ws, dm).await.expect_err("a third user cannot open it");
    assert_eq!(refused.0, ErrorCode::NoSuchRoom);
    let nobody = enter(&mut carol_ws, "@carol+nobody").await.expect_err("no such user");
    assert_eq!(nobody.0, ErrorCode::NoSuchRoom);
    carol_ws.send(&ClientFrame::Join { room: "@carol+carol".into(), since: None }).await;
    assert_eq!(refusal(&mut carol_ws).await, (ErrorCode::BadRoom, None), "no conversation with oneself");

    // A block: no new conversation, no message in the old one; lifted, both work again.
    let theirs = "@bob+carol";
    enter(&mut carol_ws, theirs).await.expect("carol opens one with bob");
    bob_ws.send(&ClientFrame::Block { user: "carol".into() }).await;
    let blocked = bob_ws.expect(|f| match f {
        ServerFrame::Blocked { users } => Some(users),
        _ => None,
    });
    assert_eq!(blocked.await, ["carol"]);
    let send = ClientFrame::Send { room: theirs.into(), client_id: "c1".into(), text: "hello?".into() };
    carol_ws.send(&send).await;
    assert_eq!(refusal(&mut carol_ws).await, (ErrorCode::NotAllowed, Some("c1".into())));
    let mut carol_again = Socket::connect(b, carol.cookie(b).as_deref(), None).await.expect("admitted");
    carol_again.expect(|f| matches!(f, ServerFrame::Welcome { .. }).then_some(())).await;
    let reopened = enter(&mut carol_again, theirs).await.expect_err("a blocked user cannot open it");
    assert_eq!(reopened.0, ErrorCode::NotAllowed);
    bob_ws.send(&ClientFrame::Unblock { user: "carol".into() }).await;
    bob_ws.expect(|f| matches!(f, ServerFrame::Blocked { users } if users.is_empty()).then_some(())).await;
    enter(&mut carol_again, theirs).await.expect("unblocked");
    carol_again.say(theirs, "c2", "hello again").await;
    assert!(!saw_anything_of(&mut carol_ws, dm).await, "carol saw something of alice and bob's conversation");
}

async fn the_directory_lists_public_rooms_only(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    enter(&mut alice_ws, "rust").await.expect("public");
    enter(&mut bob_ws, "rust").await.expect("public");
    enter(&mut bob_ws, "quiet").await.expect("public");
    let team = create(&mut alice_ws, "team").await;
    enter(&mut alice_ws, "@alice+bob").await.expect("a direct conversation");
    bob_ws.send(&ClientFrame::Directory).await;
    let rooms = bob_ws
        .expect(|f| match f {
            ServerFrame::Directory { rooms } => Some(rooms),
            _ => None,
        })
        .await;
    assert_eq!(rooms, ["rust", "general", "quiet"], "busiest first (ties by name, descending)");
    assert!(!rooms.contains(&team) && !rooms.iter().any(|r| r.starts_with('@')), "{rooms:?}");
}

async fn memory() -> Pair {
    Pair::memory().await
}

async fn redis() -> Pair {
    Pair::redis().await
}

contract_tests!([memory, redis]:
    strangers_cannot_tell_a_private_room_from_no_room,
    a_removed_member_gets_nothing_sent_after_the_removal,
    direct_conversations_are_for_their_two_users,
    the_directory_lists_public_rooms_only,
);

/// Room management frames that make no sense, or lie, get a clear error and change nothing.
#[tokio::test]
async fn forged_room_frames_get_clear_errors() {
    let solo = Instance::start(None, "solo").await;
    let (_alice, mut alice_ws) = chatter(&solo, "alice").await;
    let (_bob, mut bob_ws) = chatter(&solo, "bob").await;
    let mut ask = async |frame: ClientFrame| {
        alice_ws.send(&frame).await;
        refusal(&mut alice_ws).await.0
    };
    // Only private rooms have members to manage.
    for room in ["general", "@alice+bob"] {
        assert_eq!(ask(ClientFrame::Invite { room: room.into(), user: "bob".into() }).await, ErrorCode::NoSuchRoom);
        assert_eq!(ask(ClientFrame::Remove { room: room.into(), user: "bob".into() }).await, ErrorCode::NoSuchRoom);
    }
    // A private room comes only from `create_room`, never from a join or a crafted title.
    assert_eq!(ask(ClientFrame::Join { room: "~made~0000000000".into(), since: None }).await, ErrorCode::NoSuchRoom);
    for title in ["~made~0000000000", "@alice+bob", "<script>", "", &"x".repeat(41)] {
        assert_eq!(ask(ClientFrame::CreateRoom { title: title.into() }).await, ErrorCode::BadRoom, "{title:?}");
    }
    assert_eq!(ask(ClientFrame::Join { room: "~made~0000000000".into(), since: None }).await, ErrorCode::NoSuchRoom);
    // Users that do not exist, or oneself.
    alice_ws.send(&ClientFrame::CreateRoom { title: "team".into() }).await;
    let team = alice_ws.expect(|f| if let ServerFrame::Created { room } = f { Some(room) } else { None }).await;
    let mut ask = async |frame: ClientFrame| {
        alice_ws.send(&frame).await;
        refusal(&mut alice_ws).await.0
    };
    assert_eq!(ask(ClientFrame::Invite { room: team.clone(), user: "nobody".into() }).await, ErrorCode::BadName);
    assert_eq!(ask(ClientFrame::Invite { room: team.clone(), user: "no body".into() }).await, ErrorCode::BadName);
    assert_eq!(ask(ClientFrame::Block { user: "alice".into() }).await, ErrorCode::NotAllowed);
    assert_eq!(ask(ClientFrame::Block { user: "nobody".into() }).await, ErrorCode::BadName);
    // A frame missing a field is a bad frame; the socket stays usable.
    alice_ws.send_raw(tokio_tungstenite::tungstenite::Message::text(r#"{"type":"invite","room":"x"}"#)).await;
    assert_eq!(refusal(&mut alice_ws).await.0, ErrorCode::BadFrame);
    alice_ws.say("general", "a1", "still here").await;
    // None of it reached bob.
    assert!(!saw_anything_of(&mut bob_ws, &team).await);
    assert!(!bob_ws.seen.iter().any(|f| matches!(f, ServerFrame::RoomAdded { .. } | ServerFrame::Members { .. })));
}
