//! Edits, deletions and reactions end to end, on the memory backend and on two instances
//! over Redis: live to everyone in the room, authorized, applied once, and right after a
//! client was cut off — its catch-up brings every change exactly once, a fresh page load
//! shows the final state, and a client that lost history can refresh what it holds.

#[macro_use]
mod support;

use std::time::Duration;

use protocol::{ClientFrame, ErrorCode, MessageId, Revision, ServerFrame};
use support::{Pair, Socket, chatter};

fn edit(id: MessageId, client_id: &str, text: &str) -> ClientFrame {
    ClientFrame::Edit { room: "general".into(), id, text: text.into(), client_id: client_id.into() }
}

fn delete(id: MessageId, client_id: &str) -> ClientFrame {
    ClientFrame::Delete { room: "general".into(), id, client_id: client_id.into() }
}

fn react(id: MessageId, client_id: &str, emoji: &str, remove: bool) -> ClientFrame {
    ClientFrame::React { room: "general".into(), id, emoji: emoji.into(), remove, client_id: client_id.into() }
}

/// Sends a change and waits for its answer: the change's id, or the error code.
async fn change(ws: &mut Socket, frame: ClientFrame) -> Result<MessageId, ErrorCode> {
    let wanted = match &frame {
        ClientFrame::Edit { client_id, .. }
        | ClientFrame::Delete { client_id, .. }
        | ClientFrame::React { client_id, .. } => client_id.clone(),
        other => panic!("not a change: {other:?}"),
    };
    ws.send(&frame).await;
    ws.expect(|f| match f {
        ServerFrame::Ack { client_id, id } if client_id == wanted => Some(Ok(id)),
        ServerFrame::Error { code, client_id: Some(c), .. } if c == wanted => Some(Err(code)),
        _ => None,
    })
    .await
}

/// Waits for the live change of message `target`.
async fn revised(ws: &mut Socket, target: MessageId) -> (MessageId, Revision) {
    ws.expect(|f| match f {
        ServerFrame::Revised { id: Some(id), mut revisions, .. }
            if revisions.first().map(|r| r.target) == Some(target) =>
        {
            revisions.pop().map(|r| (id, r))
        }
        _ => None,
    })
    .await
}

async fn changes_made_while_cut_off_arrive_once_in_the_catch_up(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (bob, mut bob_ws) = chatter(b, "bob").await;
    let (_carol, mut carol_ws) = chatter(a, "carol").await;
    let typo = alice_ws.say("general", "a1", "helo").await;
    let regret = alice_ws.say("general", "a2", "regrettable").await;
    let liked = alice_ws.say("general", "a3", "lunch?").await;
    bob_ws.hear("lunch?").await;
    drop(bob_ws);
    change(&mut alice_ws, edit(typo, "e1", "hello")).await.expect("edit");
    change(&mut alice_ws, delete(regret, "d1")).await.expect("delete");
    change(&mut carol_ws, react(liked, "r1", "👍", false)).await.expect("react");
    change(&mut carol_ws, react(liked, "r2", "🎉", false)).await.expect("react");
    change(&mut carol_ws, react(liked, "r3", "🎉", true)).await.expect("unreact");
    let after = alice_ws.say("general", "a4", "anyone?").await;

    // Bob comes back on the other instance from the last message he had.
    let mut back = bob.socket(a).await.expect("admitted");
    back.expect(|f| matches!(f, ServerFrame::Welcome { .. }).then_some(())).await;
    back.send(&ClientFrame::Join { room: "general".into(), since: Some(liked) }).await;
    let answer = back.history_answer("general").await;
    assert_eq!(answer.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [after]);
    let mut states = answer.revisions.clone();
    states.sort_by_key(|r| r.target);
    assert_eq!(states.len(), 3, "one state per changed message, not one per change: {states:?}");
    assert_eq!((states[0].target, states[0].text.as_deref()), (typo, Some("hello")));
    assert!(states[0].edited > 0);
    assert!(states[1].target == regret && states[1].deleted && states[1].text.is_none());
    assert_eq!(states[2].reactions.keys().collect::<Vec<_>>(), ["👍"]);
    assert!(answer.upto >= Some(after));
    // Nothing of it comes again live.
    while back.next_within(Duration::from_millis(300)).await.is_some() {}
    let again = back.seen.iter().filter(|f| matches!(f, ServerFrame::Revised { .. } | ServerFrame::Message(_)));
    assert_eq!(again.count(), 0, "a change is delivered once");

    // A fresh page load shows the final state: the edit, a tombstone in place, the reaction.
    let mut fresh = bob.socket(b).await.expect("admitted");
    let messages = fresh.join("general").await;
    let shown: Vec<(&str, bool)> = messages.iter().map(|m| (m.text.as_str(), m.deleted)).collect();
    assert_eq!(shown, [("hello", false), ("", true), ("lunch?", false), ("anyone?", false)]);
    assert!(messages[0].edited > 0 && messages[2].reactions["👍"] == ["carol"]);
    let raw: Vec<&ServerFrame> = fresh.seen.iter().collect();
    assert!(!format!("{raw:?}").contains("regrettable"), "deleted text is never sent again");
}

async fn only_the_author_edits_or_deletes_and_a_retry_applies_once(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let id = alice_ws.say("general", "a1", "mine").await;
    bob_ws.hear("mine").await;
    assert_eq!(change(&mut bob_ws, edit(id, "b1", "bob's now")).await, Err(ErrorCode::NotAllowed));
    assert_eq!(change(&mut bob_ws, delete(id, "b2")).await, Err(ErrorCode::NotAllowed));
    assert_eq!(change(&mut alice_ws, edit(MessageId::new(1, 0), "a2", "x")).await, Err(ErrorCode::NoSuchMessage));
    assert_eq!(change(&mut alice_ws, edit(id, "a3", "   ")).await, Err(ErrorCode::BadMessage));
    assert_eq!(change(&mut bob_ws, react(id, "b3", "<b>x</b>", false)).await, Err(ErrorCode::BadMessage));
    let elsewhere =
        ClientFrame::React {
            room: "elsewhere".into(), id, emoji: "👍".into(), remove: false, client_id: "b4".into()
        };
    assert_eq!(change(&mut bob_ws, elsewhere).await, Err(ErrorCode::NotJoined));
    // The author's edit reaches the other instance live; its retry is acked with the same id
    // and changes nothing more.
    let first = change(&mut alice_ws, edit(id, "a4", "mine, edited")).await.expect("edit");
    let (live, state) = revised(&mut bob_ws, id).await;
    assert_eq!((live, state.text.as_deref()), (first, Some("mine, edited")));
    assert_eq!(change(&mut alice_ws, edit(id, "a4", "mine, edited")).await, Ok(first));
    // Reactions: anyone in the room, counted once per user.
    change(&mut bob_ws, react(id, "b5", "👍", false)).await.expect("react");
    change(&mut bob_ws, react(id, "b6", "👍", false)).await.expect("react again");
    // Alice's stream may still hold her own edit's revision (it can come after her ack).
    let state = loop {
        let (_, state) = revised(&mut alice_ws, id).await;
        if !state.reactions.is_empty() {
            break state;
        }
    };
    assert_eq!(state.reactions.get("👍").map(Vec::as_slice), Some(&["bob".to_owned()][..]));
    while bob_ws.next_within(Duration::from_millis(300)).await.is_some() {}
    let edits = bob_ws.seen.iter().filter(|f| matches!(f, ServerFrame::Revised { revisions, .. } if revisions[0].text.as_deref() == Some("mine, edited") && revisions[0].reactions.is_empty()));
    assert_eq!(edits.count(), 1, "the retried edit was not delivered again");
    // Deleted: gone for everyone, and nothing more can be done to it.
    change(&mut alice_ws, delete(id, "a5")).await.expect("delete");
    let (_, state) = revised(&mut bob_ws, id).await;
    assert!(state.deleted);
    assert_eq!(change(&mut bob_ws, react(id, "b7", "👍", false)).await, Err(ErrorCode::NoSuchMessage));
}

async fn refresh_answers_the_state_of_messages_held(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (_alice, mut alice_ws) = chatter(a, "alice").await;
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let plain = alice_ws.say("general", "a1", "plain").await;
    let edited = alice_ws.say("general", "a2", "draft").await;
    change(&mut alice_ws, edit(edited, "e1", "final")).await.expect("edit");
    bob_ws.send(&ClientFrame::Refresh { room: "general".into(), ids: vec![plain, edited] }).await;
    let states = bob_ws
        .expect(|f| match f {
            ServerFrame::Revised { id: None, revisions, .. } => Some(revisions),
            _ => None,
        })
        .await;
    assert_eq!(states.iter().map(|r| (r.target, r.text.as_deref())).collect::<Vec<_>>(), [(edited, Some("final"))]);
    let too_many = vec![plain; protocol::MAX_REFRESH_IDS + 1];
    bob_ws.send(&ClientFrame::Refresh { room: "general".into(), ids: too_many }).await;
    let code = bob_ws.expect(|f| if let ServerFrame::Error { code, .. } = f { Some(code) } else { None }).await;
    assert_eq!(code, ErrorCode::BadFrame);
    bob_ws.send(&ClientFrame::Refresh { room: "elsewhere".into(), ids: vec![plain] }).await;
    let code = bob_ws.expect(|f| if let ServerFrame::Error { code, .. } = f { Some(code) } else { None }).await;
    assert_eq!(code, ErrorCode::NotJoined);
}

contract_tests!([memory, redis]:
    changes_made_while_cut_off_arrive_once_in_the_catch_up,
    only_the_author_edits_or_deletes_and_a_retry_applies_once,
    refresh_answers_the_state_of_messages_held,
);

async fn memory() -> Pair {
    Pair::memory().await
}

async fn redis() -> Pair {
    Pair::redis().await
}
