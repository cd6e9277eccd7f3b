//! Validated user and room names.
//!
//! Names end up in Redis keys, in URLs and on screen, so they are checked once,
//! at the edge, and carried as types afterwards. The rules are deliberately
//! plain (letters, digits, `_`, `-`, `.`) so a name never needs escaping in a
//! key or a path, and users cannot impersonate each other with look-alike
//! Unicode or invisible characters.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name was refused; the message is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the {0} name must not be empty")]
    Empty(&'static str),
    /// The name is too long.
    #[error("the {0} name must be at most {1} characters")]
    TooLong(&'static str, usize),
    /// The name holds a character outside the allowed set.
    #[error("the {0} name may only contain letters, digits, '_', '-' and '.'")]
    BadCharacter(&'static str),
}

fn check(kind: &'static str, raw: &str, max: usize) -> Result<(), NameError> {
    if raw.is_empty() {
        return Err(NameError::Empty(kind));
    }
    if raw.chars().count() > max {
        return Err(NameError::TooLong(kind, max));
    }
    if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return Err(NameError::BadCharacter(kind));
    }
    Ok(())
}

/// A user name: 1–32 of `[A-Za-z0-9_.-]`. Unique without regard to case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    /// The longest user name.
    pub const MAX: usize = 32;

    /// Validates a user name (surrounding spaces are trimmed).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let raw = raw.trim();
        check("user", raw, Self::MAX)?;
        Ok(Self(raw.to_owned()))
    }

    /// The name as the user typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used as the account key, so `Alice` and `alice` are one account.
    pub fn key(&self) -> AccountKey {
        AccountKey::of(&self.0)
    }
}

/// The key of an account: the canonical (ASCII lower-case) form of its user name, so `Alice`
/// and `alice` are one account. Built here and only here, so every store, limit and claim
/// folds a name the same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(String);

impl AccountKey {
    /// The key of the account whose user name is `user`: a name that was validated when the
    /// account was made (a session's user, a message's author). Input from a form goes through
    /// [`UserName::parse`] and [`UserName::key`] instead.
    pub fn of(user: &str) -> Self {
        Self(user.to_ascii_lowercase())
    }

    /// The key as text (for storage keys and logs).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The length of the random part of a private room's name.
pub const PRIVATE_SUFFIX_LEN: usize = 10;

/// What a room name says about its room. The kind is part of the name, so every layer —
/// the server's authorization, a Redis key, the page — tells it without a lookup, and a
/// public room can never be named like a private one or a direct conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKind<'a> {
    /// `general`: anyone may join it (joining a free name creates it).
    Public,
    /// `~title~k3j9x2ab7q`: only its members may see it; created on purpose, never by a
    /// join, so a guessed name tells a stranger nothing.
    Private {
        /// The name its creator gave it (shown in lists).
        title: &'a str,
    },
    /// `@alice+bob`: the conversation of two users (account keys, sorted): the name alone
    /// says who may be in it, so no one else can address it.
    Direct {
        /// The first user's account key.
        first: &'a str,
        /// The second user's account key.
        second: &'a str,
    },
}

/// A room name, case-sensitive: a public room is 1–40 of `[A-Za-z0-9_.-]`; a private room is
/// `~`, its title (the same rules), `~` and [`PRIVATE_SUFFIX_LEN`] random `[a-z0-9]`; a direct
/// conversation is `@`, two distinct account keys in order, joined by `+` (see [`RoomKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// The longest public room name (and private room title).
    pub const MAX: usize = 40;

    /// Validates a room name of any kind.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if let Some(pair) = raw.strip_prefix('@') {
            let (first, second) = pair.split_once('+').ok_or(NameError::BadCharacter("room"))?;
            for key in [first, second] {
                check("user", key, UserName::MAX)?;
                if key != key.to_ascii_lowercase() {
                    return Err(NameError::BadCharacter("room"));
                }
            }
            if first >= second {
                return Err(NameError::BadCharacter("room"));
            }
        } else if let Some(private) = raw.strip_prefix('~') {
            let (title, suffix) = private.rsplit_once('~').ok_or(NameError::BadCharacter("room"))?;
            check("room", title, Self::MAX)?;
            let random = suffix.len() == PRIVATE_SUFFIX_LEN
                && suffix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !random {
                return Err(NameError::BadCharacter("room"));
            }
        } else {
            check("room", raw, Self::MAX)?;
        }
        Ok(Self(raw.to_owned()))
    }

    /// Validates the name of a new public room, or the title of a new private one.
    pub fn parse_public(raw: &str) -> Result<Self, NameError> {
        check("room", raw, Self::MAX)?;
        Ok(Self(raw.to_owned()))
    }

    /// The direct conversation of two users; `None` for a user and themselves.
    pub fn direct(one: &AccountKey, other: &AccountKey) -> Option<Self> {
        let (first, second) = match one.cmp(other) {
            std::cmp::Ordering::Less => (one, other),
            std::cmp::Ordering::Greater => (other, one),
            std::cmp::Ordering::Equal => return None,
        };
        Some(Self(format!("@{first}+{second}")))
    }

    /// The private room titled `title` (a valid public name) with the random part `suffix`.
    pub fn private(title: &Self, suffix: &str) -> Result<Self, NameError> {
        Self::parse(&format!("~{title}~{suffix}"))
    }

    /// What kind of room this is.
    pub fn kind(&self) -> RoomKind<'_> {
        if let Some(pair) = self.0.strip_prefix('@') {
            let (first, second) = pair.split_once('+').unwrap_or((pair, ""));
            RoomKind::Direct { first, second }
        } else if let Some(private) = self.0.strip_prefix('~') {
            RoomKind::Private { title: private.rsplit_once('~').map_or(private, |(title, _)| title) }
        } else {
            RoomKind::Public
        }
    }

    /// In a direct conversation that `me` is one of, the other user's account key.
    pub fn partner(&self, me: &AccountKey) -> Option<AccountKey> {
        match self.kind() {
            RoomKind::Direct { first, second } if first == me.as_str() => Some(AccountKey(second.to_owned())),
            RoomKind::Direct { first, second } if second == me.as_str() => Some(AccountKey(first.to_owned())),
            _ => None,
        }
    }

    /// The room name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = NameError;
            fn try_from(raw: String) -> Result<Self, NameError> {
                Self::parse(&raw)
            }
        }
        impl From<$t> for String {
            fn from(name: $t) -> String {
                name.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}
string_newtype!(UserName);
string_newtype!(RoomName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        assert_eq!(UserName::parse(" Alice ").map(|n| n.key()), Ok(AccountKey::of("alice")));
        assert_eq!(UserName::parse("ALICE").map(|n| n.key().to_string()), Ok("alice".to_owned()));
        assert_eq!(UserName::parse(""), Err(NameError::Empty("user")));
        assert!(matches!(UserName::parse(&"a".repeat(33)), Err(NameError::TooLong(..))));
        assert!(matches!(UserName::parse("<script>"), Err(NameError::BadCharacter(_))));
        assert!(matches!(UserName::parse("al ice"), Err(NameError::BadCharacter(_))));
        assert!(matches!(UserName::parse("аlice"), Err(NameError::BadCharacter(_))), "Cyrillic a");
    }

    #[test]
    fn room_names() {
        assert!(RoomName::parse("general").is_ok());
        assert!(RoomName::parse("rust-lang.2026").is_ok());
        assert!(RoomName::parse("a:b").is_err(), "':' would break the key layout");
        assert!(RoomName::parse(" general").is_err());
    }

    #[test]
    fn room_kinds_are_told_by_the_name() {
        let (alice, bob) = (AccountKey::of("Alice"), AccountKey::of("bob"));
        let direct = RoomName::direct(&bob, &alice).expect("two users");
        assert_eq!(direct.as_str(), "@alice+bob");
        assert_eq!(RoomName::direct(&alice, &bob), Some(direct.clone()), "the same conversation either way");
        assert_eq!(RoomName::direct(&alice, &alice), None);
        assert_eq!(direct.kind(), RoomKind::Direct { first: "alice", second: "bob" });
        assert_eq!(direct.partner(&alice), Some(bob.clone()));
        assert_eq!(direct.partner(&AccountKey::of("carol")), None, "a third user is no party");
        assert_eq!(RoomName::parse("@alice+bob").as_ref(), Ok(&direct));
        for bad in ["@bob+alice", "@alice+alice", "@Alice+bob", "@alice", "@alice+bob+carol", "@+bob"] {
            assert!(RoomName::parse(bad).is_err(), "{bad} is not a direct conversation");
        }
        let title = RoomName::parse("team").expect("valid");
        let private = RoomName::private(&title, "k3j9x2ab7q").expect("valid");
        assert_eq!(private.as_str(), "~team~k3j9x2ab7q");
        assert_eq!(private.kind(), RoomKind::Private { title: "team" });
        assert_eq!(RoomName::parse("~team~k3j9x2ab7q").as_ref(), Ok(&private));
        for bad in ["~team", "~team~short", "~team~K3J9X2AB7Q", "~~k3j9x2ab7q", "~a b~k3j9x2ab7q"] {
            assert!(RoomName::parse(bad).is_err(), "{bad} is not a private room");
        }
        assert_eq!(title.kind(), RoomKind::Public);
        assert!(RoomName::parse_public("~team~k3j9x2ab7q").is_err(), "a new public room is never private");
        assert!(RoomName::parse_public("@alice+bob").is_err());
    }
}
