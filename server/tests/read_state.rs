//! Read positions end to end: reading on one device moves the position on every socket of the
//! user on every instance at once, never backwards, and a new page load starts from it.

#[macro_use]
mod support;

use protocol::{ClientFrame, ErrorCode, MessageId, ServerFrame};
use support::{Pair, Socket, chatter};

async fn read_up_to(ws: &mut Socket, room: &str) -> MessageId {
    ws.expect(|f| match f {
        ServerFrame::ReadUpTo { room: r, id } if r == room => Some(id),
        _ => None,
    })
    .await
}

async fn welcome_read(ws: &mut Socket) -> std::collections::BTreeMap<String, MessageId> {
    ws.expect(|f| match f {
        ServerFrame::Welcome { read, .. } => Some(read),
        _ => None,
    })
    .await
}

async fn reading_on_one_device_is_seen_on_every_other(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (alice, mut laptop) = chatter(a, "alice").await;
    let mut phone = Socket::connect(b, alice.cookie(a).as_deref(), None).await.expect("admitted");
    phone.join("general").await;
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(bob_ws.say("general", &format!("b{n}"), &format!("news {n}")).await);
    }
    laptop.hear("news 2").await;
    laptop.send(&ClientFrame::Read { room: "general".into(), id: ids[1] }).await;
    assert_eq!(read_up_to(&mut phone, "general").await, ids[1], "the phone hears it at once");
    assert_eq!(read_up_to(&mut laptop, "general").await, ids[1]);
    // The phone, behind, reports an older position: nothing moves, nobody is told.
    phone.send(&ClientFrame::Read { room: "general".into(), id: ids[0] }).await;
    phone.send(&ClientFrame::Read { room: "general".into(), id: ids[2] }).await;
    assert_eq!(read_up_to(&mut laptop, "general").await, ids[2], "the next report is the newer one");
    // Bob's sockets hear nothing of alice's reading.
    while bob_ws.next_within(std::time::Duration::from_millis(200)).await.is_some() {}
    assert!(!bob_ws.seen.iter().any(|f| matches!(f, ServerFrame::ReadUpTo { .. })));
    // A new page load starts from the position.
    let mut later = Socket::connect(a, alice.cookie(a).as_deref(), None).await.expect("admitted");
    assert_eq!(welcome_read(&mut later).await.get("general"), Some(&ids[2]));
    // Only a room the socket is in has a position to move.
    later.send(&ClientFrame::Read { room: "elsewhere".into(), id: ids[2] }).await;
    let code = later.expect(|f| if let ServerFrame::Error { code, .. } = f { Some(code) } else { None }).await;
    assert_eq!(code, ErrorCode::NotJoined);
}

async fn racing_devices_never_move_the_position_back(pair: Pair) {
    let (a, b) = (&pair.a, pair.b());
    let (alice, mut one) = chatter(a, "alice").await;
    let mut two = Socket::connect(b, alice.cookie(a).as_deref(), None).await.expect("admitted");
    two.join("general").await;
    let (_bob, mut bob_ws) = chatter(b, "bob").await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(bob_ws.say("general", &format!("b{n}"), &format!("m{n}")).await);
    }
    // Both devices report every position, in opposite orders, at once.
    for (forward, backward) in ids.iter().zip(ids.iter().rev()) {
        one.send(&ClientFrame::Read { room: "general".into(), id: *forward }).await;
        two.send(&ClientFrame::Read { room: "general".into(), id: *backward }).await;
    }
    let position = async || {
        let mut probe = Socket::connect(a, alice.cookie(a).as_deref(), None).await.expect("admitted");
        welcome_read(&mut probe).await.get("general").copied()
    };
    support::wait_until(support::PATIENCE, "the furthest position", || async {
        position().await.as_ref() == ids.last()
    })
    .await;
    // Once every report is in (a socket answers frames in order: its pong comes after them all),
    // it stays there.
    for socket in [&mut one, &mut two] {
        socket.send(&ClientFrame::Ping).await;
        socket.expect(|f| matches!(f, ServerFrame::Pong).then_some(())).await;
    }
    assert_eq!(position().await.as_ref(), ids.last());
}

async fn memory() -> Pair {
    Pair::memory().await
}

async fn redis() -> Pair {
    Pair::redis().await
}

contract_tests!([memory, redis]:
    reading_on_one_device_is_seen_on_every_other,
    racing_devices_never_move_the_position_back,
);
