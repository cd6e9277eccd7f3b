//! A property of private rooms: no sequence of invitations, removals, joins, leaves and sends
//! lets a user who is not a member receive one of the room's messages.
//!
//! One instance (the memory backend: the same services and gateway as on Redis, minus the
//! network), a creator and two guests with real websockets. Each case creates a fresh private
//! room and plays a generated sequence; the test keeps the model of who is a member, and
//! every frame a guest's socket received is checked against it: a live message only if the
//! guest was a member when it was sent, a history only for a join the model admits.

mod support;

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use protocol::{ClientFrame, ErrorCode, ServerFrame};
use support::{Instance, Socket, chatter};

/// One step of a case; guests are 0 and 1.
#[derive(Debug, Clone)]
enum Op {
    Invite(usize),
    Remove(usize),
    Join(usize),
    Leave(usize),
    Send,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize).prop_map(Op::Invite),
        (0..2usize).prop_map(Op::Remove),
        (0..2usize).prop_map(Op::Join),
        (0..2usize).prop_map(Op::Leave),
        Just(Op::Send),
    ]
}

const GUESTS: [&str; 2] = ["bob", "carol"];

struct World {
    _instance: Instance,
    creator: Socket,
    guests: Vec<Socket>,
    case: usize,
}

/// A guest as the model sees them.
#[derive(Default, Clone, Copy)]
struct Guest {
    member: bool,
    joined: bool,
}

impl World {
    async fn new() -> Self {
        let instance = Instance::start(None, "solo").await;
        let (_, creator) = chatter(&instance, "alice").await;
        let mut guests = Vec::new();
        for name in GUESTS {
            guests.push(chatter(&instance, name).await.1);
        }
        Self { _instance: instance, creator, guests, case: 0 }
    }

    /// Waits until the creator's socket has handled every frame sent before: an invitation or
    /// removal answers the creator nothing, and a guest's next frame (a leave, a join) travels on
    /// another socket, so without this the two could be handled in either order. A socket
    /// handles its frames in order, so the directory's answer comes after theirs.
    async fn creator_settled(&mut self) {
        self.creator.send(&ClientFrame::Directory).await;
        self.creator.expect(|f| matches!(f, ServerFrame::Directory { .. }).then_some(())).await;
    }

    /// Plays `ops` on a fresh room; `Err` names the first frame the model forbids.
    async fn play(&mut self, ops: &[Op]) -> Result<(), String> {
        self.case += 1;
        self.creator.send(&ClientFrame::CreateRoom { title: format!("case{}", self.case) }).await;
        let room = self.creator.expect(|f| if let ServerFrame::Created { room } = f { Some(room) } else { None }).await;
        self.creator.send(&ClientFrame::Join { room: room.clone(), since: None }).await;
        self.creator.history(&room).await;
        let starts: Vec<usize> = self.guests.iter().map(|g| g.seen.len()).collect();
        let mut model = [Guest::default(); 2];
        // Each message sent, and which guests were members then.
        let mut sent: Vec<(String, [bool; 2])> = Vec::new();
        let mut joins = [0usize; 2];
        for (step, op) in ops.iter().enumerate() {
            match *op {
                Op::Invite(g) => {
                    let frame = ClientFrame::Invite { room: room.clone(), user: GUESTS[g].into() };
                    self.creator.send(&frame).await;
                    self.creator_settled().await;
                    if !model[g].member {
                        let added = |f: ServerFrame| matches!(f, ServerFrame::RoomAdded { room: r, .. } if r == room);
                        self.guests[g].expect(|f| added(f).then_some(())).await;
                        model[g].member = true;
                    }
                }
                Op::Remove(g) | Op::Leave(g) => {
                    let leaving = matches!(op, Op::Leave(_));
                    if leaving {
                        self.guests[g].send(&ClientFrame::Leave { room: room.clone() }).await;
                    } else {
                        self.creator.send(&ClientFrame::Remove { room: room.clone(), user: GUESTS[g].into() }).await;
                        self.creator_settled().await;
                    }
                    if leaving || model[g].member {
                        let gone = |f: ServerFrame| matches!(f, ServerFrame::RoomRemoved { room: r, .. } if r == room);
                        self.guests[g].expect(|f| gone(f).then_some(())).await;
                    }
                    model[g] = Guest::default();
                }
                Op::Join(g) if model[g].joined => {}
                Op::Join(g) => {
                    self.guests[g].send(&ClientFrame::Join { room: room.clone(), since: None }).await;
                    let answer = self.guests[g]
                        .expect(|f| match f {
                            ServerFrame::History { room: r, more: false, .. } if r == room => Some(Ok(())),
                            ServerFrame::Error { code, client_id: None, .. } => Some(Err(code)),
                            _ => None,
                        })
                        .await;
                    match (answer, model[g].member) {
                        (Ok(()), true) => {
                            model[g].joined = true;
                            joins[g] += 1;
                        }
                        (Err(ErrorCode::NoSuchRoom), false) => {}
                        (answer, member) => {
                            return Err(format!("join by {} answered {answer:?}; member: {member}", GUESTS[g]));
                        }
                    }
                }
                Op::Send => {
                    let text = format!("case {} step {step}", self.case);
                    self.creator.say(&room, &format!("c{}-{step}", self.case), &text).await;
                    sent.push((text, [model[0].member, model[1].member]));
                }
            }
        }
        for (g, guest) in self.guests.iter_mut().enumerate() {
            while guest.next_within(std::time::Duration::from_millis(100)).await.is_some() {}
            let mut histories = 0;
            for frame in &guest.seen[starts[g]..] {
                match frame {
                    ServerFrame::Message(message) if message.room == room => {
                        let allowed = sent.iter().any(|(text, members)| *text == message.text && members[g]);
                        if !allowed {
                            return Err(format!("{} received {:?} while not a member", GUESTS[g], message.text));
                        }
                    }
                    ServerFrame::History { room: r, more: false, .. } if *r == room => histories += 1,
                    _ => {}
                }
            }
            if histories != joins[g] {
                return Err(format!("{} got {histories} histories for {} admitted joins", GUESTS[g], joins[g]));
            }
        }
        Ok(())
    }
}

#[test]
fn no_sequence_lets_a_non_member_receive_a_message() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let world = RefCell::new(runtime.block_on(World::new()));
    let config = Config { cases: 32, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&proptest::collection::vec(op(), 1..16), |ops| {
        runtime.block_on(world.borrow_mut().play(&ops)).map_err(TestCaseError::fail)
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}
