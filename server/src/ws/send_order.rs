//! A user's messages reach a room in the order they were written, even when one is retried.
//!
//! A socket's sends are handled one after the other, so they reach the room's stream in the
//! order the client wrote them — until one cannot be stored now (Redis away, a failover, a
//! `WAIT` not confirmed in time, the rate limit). The client keeps that one and sends it again
//! later; meanwhile the sends behind it would be stored first and every reader would see
//! "2, 3, 1". So a refusal that the client will retry *holds* the room for this socket: later
//! sends to it are refused the same way (code and words), and the client retries them too, in
//! its outbox order, behind the held one. The hold ends when the held message is stored or
//! refused for good, or when the client has not retried it for [`HOLD_LIMIT`] (a client that
//! never retries cannot block its own room for ever).
//!
//! The hold is per socket: another tab of the same user is another writer, whose order
//! relative to this one no one can know.

use std::time::{Duration, Instant};

use protocol::{ErrorCode, RoomName};

/// How long a held room waits for its held message to be sent again.
pub const HOLD_LIMIT: Duration = Duration::from_secs(15);

/// The rooms of one socket whose next message must wait for an earlier one.
#[derive(Debug, Default)]
pub struct SendOrder {
    /// Usually empty (no allocation): a hold lasts only while a store is away.
    held: Vec<Hold>,
}

#[derive(Debug)]
struct Hold {
    room: RoomName,
    client_id: String,
    code: ErrorCode,
    message: String,
    refused_at: Instant,
}

/// Why a send must wait: the refusal of the message it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The code the held message was refused with (always one the client retries).
    pub code: ErrorCode,
    /// Its message, so the client shows one notice, not one per waiting send.
    pub message: String,
}

impl SendOrder {
    /// Whether `client_id` may be sent to `room` now; `Err` holds the refusal to answer with.
    pub fn check(&mut self, room: &RoomName, client_id: &str, now: Instant) -> Result<(), Held> {
        let Some(index) = self.held.iter().position(|hold| &hold.room == room) else { return Ok(()) };
        let hold = &self.held[index];
        if hold.client_id == client_id {
            return Ok(());
        }
        if now.duration_since(hold.refused_at) > HOLD_LIMIT {
            self.held.swap_remove(index);
            return Ok(());
        }
        Err(Held { code: hold.code, message: hold.message.clone() })
    }

    /// Records how the send of `client_id` to `room` ended: stored (`None`), or refused with
    /// `code` and `message`.
    pub fn settled(&mut self, room: &RoomName, client_id: &str, refused: Option<(ErrorCode, &str)>, now: Instant) {
        let index = self.held.iter().position(|hold| &hold.room == room);
        match (index, refused) {
            (Some(index), Some((code, message))) if code.is_retryable() => {
                let hold = &mut self.held[index];
                if hold.client_id == client_id {
                    // Retried and refused again: the hold goes on from now.
                    hold.code = code;
                    hold.message = message.to_owned();
                    hold.refused_at = now;
                }
            }
            (Some(index), _) => {
                if self.held[index].client_id == client_id {
                    self.held.swap_remove(index);
                }
            }
            (None, Some((code, message))) if code.is_retryable() => self.held.push(Hold {
                room: room.clone(),
                client_id: client_id.to_owned(),
                code,
                message: message.to_owned(),
                refused_at: now,
            }),
            (None, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name).unwrap_or_else(|err| panic!("{name}: {err}"))
    }

    const DOWN: Option<(ErrorCode, &str)> = Some((ErrorCode::Unavailable, "not stored, it will be retried"));

    #[test]
    fn a_retryable_refusal_holds_later_sends_to_that_room_only() {
        let (general, other, now) = (room("general"), room("other"), Instant::now());
        let mut order = SendOrder::default();
        assert_eq!(order.check(&general, "c1", now), Ok(()));
        order.settled(&general, "c1", DOWN, now);
        let held = order.check(&general, "c2", now).expect_err("c2 waits for c1");
        assert_eq!((held.code, held.message.as_str()), (ErrorCode::Unavailable, "not stored, it will be retried"));
        assert_eq!(order.check(&other, "c3", now), Ok(()), "another room is not held");
        assert_eq!(order.check(&general, "c1", now), Ok(()), "the held message itself goes");
        order.settled(&general, "c1", None, now);
        assert_eq!(order.check(&general, "c2", now), Ok(()), "stored: the room is free");
    }

    #[test]
    fn a_refusal_for_good_or_an_unrelated_outcome_settles_correctly() {
        let (general, now) = (room("general"), Instant::now());
        let mut order = SendOrder::default();
        order.settled(&general, "c1", Some((ErrorCode::BadMessage, "too long")), now);
        assert_eq!(order.check(&general, "c2", now), Ok(()), "a refusal for good holds nothing");
        order.settled(&general, "c2", Some((ErrorCode::RateLimited, "slow down")), now);
        order.settled(&general, "c3", None, now);
        assert!(order.check(&general, "c4", now).is_err(), "another send's outcome does not free the hold");
        order.settled(&general, "c2", Some((ErrorCode::BadMessage, "too long")), now);
        assert_eq!(order.check(&general, "c4", now), Ok(()), "the held one refused for good frees it");
    }

    #[test]
    fn a_hold_ends_when_the_client_stops_retrying_and_is_renewed_by_a_retry() {
        let (general, start) = (room("general"), Instant::now());
        let mut order = SendOrder::default();
        order.settled(&general, "c1", DOWN, start);
        let later = start + HOLD_LIMIT - Duration::from_secs(1);
        order.settled(&general, "c1", DOWN, later);
        assert!(order.check(&general, "c2", start + HOLD_LIMIT + Duration::from_secs(1)).is_err(), "renewed");
        assert_eq!(order.check(&general, "c2", later + HOLD_LIMIT + Duration::from_secs(1)), Ok(()), "expired");
        assert_eq!(order.check(&general, "c3", later + HOLD_LIMIT + Duration::from_secs(1)), Ok(()));
    }
}
