//! The id of a stored message, parsed once where it enters a program.
//!
//! A message id is a Redis stream id, `<milliseconds>-<sequence>`, and it is also the order of
//! a room: catch-up (`since`), the client's "shown once" check and the server's refill all
//! compare ids. Compared as strings, `"10-0"` sorts before `"9-0"`; parsed in several places,
//! the places disagree about what is malformed. So the id is a type: it is read from the wire
//! (or from Redis) once, strictly, and after that it is two numbers that order correctly. On
//! the wire it stays the familiar string, so the protocol did not change.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The server-assigned id of a stored message (a Redis stream id), ordered as the room is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MessageId {
    ms: u64,
    seq: u64,
}

/// Why a string is not a [`MessageId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a message id such as 1700000000000-0")]
pub struct BadMessageId(pub String);

impl MessageId {
    /// The id made of a time in milliseconds and a sequence number within that millisecond.
    pub const fn new(ms: u64, seq: u64) -> Self {
        Self { ms, seq }
    }

    /// Milliseconds since the Unix epoch when the message was stored (the id's first part).
    pub const fn millis(self) -> u64 {
        self.ms
    }

    /// The sequence number within the millisecond (the id's second part).
    pub const fn seq(self) -> u64 {
        self.seq
    }

    /// The id just below this one (`5-0` → `4-18446744073709551615`; `0-0` stays `0-0`): the
    /// inclusive end of a range that stops right before this id.
    pub const fn predecessor(self) -> Self {
        match (self.ms, self.seq) {
            (0, 0) => self,
            (ms, 0) => Self { ms: ms - 1, seq: u64::MAX },
            (ms, seq) => Self { ms, seq: seq - 1 },
        }
    }

    /// Reads `"<ms>-<seq>"`: two decimal `u64`s and nothing else (no sign, no spaces, no
    /// overflow), so an id that Redis would refuse is refused here, once.
    pub fn parse(text: &str) -> Result<Self, BadMessageId> {
        let part = |p: &str| (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok()).flatten();
        text.split_once('-')
            .and_then(|(ms, seq)| Some(Self { ms: part(ms)?, seq: part(seq)? }))
            .ok_or_else(|| BadMessageId(text.chars().take(64).collect()))
    }
}

impl FromStr for MessageId {
    type Err = BadMessageId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Reads the string form without allocating.
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = MessageId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message id such as 1700000000000-0")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<MessageId, E> {
                MessageId::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_strictly() {
        assert_eq!(MessageId::parse("1700000000000-3"), Ok(MessageId::new(1_700_000_000_000, 3)));
        assert_eq!(MessageId::parse("0-0"), Ok(MessageId::default()));
        for bad in ["", "-", "1-", "-1", "1-2-3", "a-1", "1-+2", " 1-2", "99999999999999999999999-0", "1_2"] {
            assert!(MessageId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_order_as_numbers_not_as_text() {
        let id = |s: &str| MessageId::parse(s).expect("valid");
        assert!(id("10-0") > id("9-0"));
        assert!(id("2-0") > id("1-9"));
        assert!(id("1-10") > id("1-9"));
    }

    #[test]
    fn ids_travel_as_strings() {
        let id = MessageId::new(12, 3);
        assert_eq!(serde_json::to_string(&id).expect("encode"), r#""12-3""#);
        assert_eq!(serde_json::from_str::<MessageId>(r#""12-3""#).expect("decode"), id);
        let err = serde_json::from_str::<MessageId>(r#""12""#).expect_err("refused");
        assert!(err.to_string().contains("not a message id"), "{err}");
        assert!(serde_json::from_str::<MessageId>("12").is_err(), "a number is not an id");
    }
}
