//! Password hashing with argon2id (RustCrypto's `argon2`, OWASP's default
//! parameters: 19 MiB, 2 passes). Hashing is deliberately slow, so it runs on
//! the blocking pool, never on the async workers.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted.
pub const MIN_CHARS: usize = 8;
/// The longest password accepted (bounds the hashing work an attacker can ask for).
pub const MAX_CHARS: usize = 128;

/// Why a password cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long.
    #[error("the password must be between {MIN_CHARS} and {MAX_CHARS} characters")]
    Length,
    /// The hasher failed (should not happen with valid parameters).
    #[error("could not hash the password: {0}")]
    Hashing(String),
}

/// Checks the password rules.
pub fn check_rules(password: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if (MIN_CHARS..=MAX_CHARS).contains(&chars) { Ok(()) } else { Err(PasswordError::Length) }
}

/// Hashes a password into a PHC string (argon2id, random salt). Blocking.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| PasswordError::Hashing(err.to_string()))
}

/// Whether `password` matches the PHC string `phc`. Blocking; false for an unreadable hash.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse").unwrap_or_default();
        let b = hash("correct horse").unwrap_or_default();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn rules() {
        assert_eq!(check_rules("short"), Err(PasswordError::Length));
        assert_eq!(check_rules(&"x".repeat(129)), Err(PasswordError::Length));
        assert!(check_rules("long enough").is_ok());
    }
}
