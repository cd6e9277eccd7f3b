//! The frames that rejoin a user's rooms after every `welcome`.
//!
//! One `join` per room cost one frame each, and the server allows a socket
//! `FRAMES_PER_SECOND` frames (bursts of twice that): a user in a hundred rooms
//! spent the whole allowance on rejoining and was closed with 1008 after every
//! reconnect, for ever. So the client names its rooms in `join_many` frames —
//! one for any ordinary user — each kept under a size budget well below the
//! server's default frame limit (`MAX_FRAME_BYTES`, 16 KiB, above which the
//! socket is closed with 1009) and under [`MAX_ROOMS_PER_FRAME`]. Pure, so it
//! is unit-tested on the host.

use protocol::{ClientFrame, MAX_ROOMS_PER_FRAME, RoomJoin};

/// The largest `join_many` frame the client sends, in bytes of JSON: half the
/// server's default `MAX_FRAME_BYTES`, so an operator may lower that limit a
/// good deal before a rejoin trips it. 8 KiB holds about 100 rooms with long
/// names and their last ids, and 150 or more with short ones.
pub const FRAME_BUDGET_BYTES: usize = 8 * 1024;

/// `{"type":"join_many","rooms":[]}`: the bytes of a frame around its rooms.
const ENVELOPE_BYTES: usize = 31;

/// The `join_many` frames that join `rooms` (in order), each at most `budget` bytes
/// when encoded — unless a single room is bigger than that on its own, which a valid
/// room name never is — and at most [`MAX_ROOMS_PER_FRAME`] rooms. No rooms, no frames.
pub fn join_frames(rooms: Vec<RoomJoin>, budget: usize) -> Vec<ClientFrame> {
    let mut frames = Vec::new();
    let mut batch: Vec<RoomJoin> = Vec::new();
    let mut size = ENVELOPE_BYTES;
    for room in rooms {
        // The room's JSON and the comma before it.
        let bytes = serde_json::to_string(&room).map_or(0, |json| json.len()) + 1;
        if !batch.is_empty() && (size + bytes > budget || batch.len() == MAX_ROOMS_PER_FRAME) {
            frames.push(ClientFrame::JoinMany { rooms: std::mem::take(&mut batch) });
            size = ENVELOPE_BYTES;
        }
        size += bytes;
        batch.push(room);
    }
    if !batch.is_empty() {
        frames.push(ClientFrame::JoinMany { rooms: batch });
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(count: usize, name_len: usize, since: bool) -> Vec<RoomJoin> {
        (0..count)
            .map(|i| RoomJoin {
                room: format!("{i:0>width$}", width = name_len),
                since: since.then(|| protocol::MessageId::new(1_763_000_000_000_u64 + i as u64, i as u64)),
            })
            .collect()
    }

    fn joined(frames: &[ClientFrame]) -> Vec<RoomJoin> {
        frames
            .iter()
            .flat_map(|frame| match frame {
                ClientFrame::JoinMany { rooms } => rooms.clone(),
                other => panic!("not a join_many: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_hundred_rooms_with_ids_rejoin_in_one_frame() {
        let wanted = rooms(100, 12, true);
        let frames = join_frames(wanted.clone(), FRAME_BUDGET_BYTES);
        assert_eq!(frames.len(), 1);
        assert_eq!(joined(&frames), wanted);
    }

    #[test]
    fn many_long_rooms_are_split_under_the_budget_in_order() {
        let wanted = rooms(1_000, 40, true);
        let frames = join_frames(wanted.clone(), FRAME_BUDGET_BYTES);
        assert!(frames.len() > 1, "{} frames", frames.len());
        for frame in &frames {
            assert!(frame.encode().len() <= FRAME_BUDGET_BYTES, "{} bytes", frame.encode().len());
        }
        assert_eq!(joined(&frames), wanted);
        // Each frame is filled: the next room would not have fitted.
        let first = frame_len(&frames[0]);
        assert!(first + 100 > FRAME_BUDGET_BYTES, "first frame only {first} bytes");
    }

    fn frame_len(frame: &ClientFrame) -> usize {
        frame.encode().len()
    }

    #[test]
    fn the_envelope_size_is_exact() {
        let frame = ClientFrame::JoinMany { rooms: Vec::new() };
        assert_eq!(frame.encode().len(), ENVELOPE_BYTES);
        // And the estimate of a frame with rooms is its exact length plus one trailing comma.
        let wanted = rooms(3, 5, true);
        let estimate =
            ENVELOPE_BYTES + wanted.iter().map(|r| serde_json::to_string(r).map_or(0, |j| j.len()) + 1).sum::<usize>();
        assert_eq!(frame_len(&ClientFrame::JoinMany { rooms: wanted }) + 1, estimate);
    }

    #[test]
    fn no_frame_names_more_than_the_protocol_allows() {
        let wanted = rooms(2_500, 1, false);
        let frames = join_frames(wanted.clone(), usize::MAX);
        assert_eq!(frames.len(), 3);
        assert!(joined(&frames[..1]).len() == MAX_ROOMS_PER_FRAME);
        assert_eq!(joined(&frames), wanted);
    }

    #[test]
    fn no_rooms_no_frames() {
        assert!(join_frames(Vec::new(), FRAME_BUDGET_BYTES).is_empty());
    }
}
