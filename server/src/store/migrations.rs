//! Versioned schema changes, run when an instance starts.
//!
//! Each store lists its migrations in order; the database remembers the newest one applied
//! (`switchboard_schema`). Starting applies the missing ones in one transaction (under a lock,
//! so instances starting together migrate once); a database whose version is newer than any
//! this build knows was migrated by a later release, and this one refuses to start rather
//! than write rows the newer schema would misread.

use super::StoreError;

/// The migrations a database at `found` still needs, given every migration this build knows
/// (`known[0]` is version 1), or [`StoreError::SchemaTooNew`].
pub fn pending<'a>(found: i64, known: &'a [&'a str]) -> Result<&'a [&'a str], StoreError> {
    let newest = i64::try_from(known.len()).unwrap_or(i64::MAX);
    if found > newest {
        return Err(StoreError::SchemaTooNew { found, known: newest });
    }
    let done = usize::try_from(found.max(0)).unwrap_or(0);
    Ok(&known[done..])
}

/// The version a database is at once `applied` more migrations ran after `found`.
pub fn after(found: i64, applied: usize) -> i64 {
    found.max(0) + i64::try_from(applied).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_what_is_missing_and_refuses_the_future() {
        let known = ["one", "two", "three"];
        assert_eq!(pending(0, &known).expect("fresh"), ["one", "two", "three"]);
        assert_eq!(pending(2, &known).expect("behind"), ["three"]);
        assert!(pending(3, &known).expect("current").is_empty());
        let err = pending(4, &known).expect_err("a newer schema");
        assert!(matches!(err, StoreError::SchemaTooNew { found: 4, known: 3 }));
        assert!(err.to_string().contains("newer than this build's 3"));
        assert_eq!(after(1, 2), 3);
    }
}
