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

/// A room name: 1–40 of `[A-Za-z0-9_.-]`, case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl RoomName {
    /// The longest room name.
    pub const MAX: usize = 40;

    /// Validates a room name.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        check("room", raw, Self::MAX)?;
        Ok(Self(raw.to_owned()))
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
}
