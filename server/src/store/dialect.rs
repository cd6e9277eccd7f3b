//! What differs between PostgreSQL and SQLite: the schema, the full-text search, how a JSON
//! list is expanded and how a row is locked.
//!
//! Everything else the store says is the same SQL in both (row values for keyset reads,
//! `ON CONFLICT` upserts, `$n` parameters), so one implementation serves both. Every column
//! is `bigint` or `text`, the types both databases (and sqlx's `Any` driver) carry alike.
//!
//! PostgreSQL's `messages` is partitioned by room (declarative hash partitioning, 16
//! partitions): a room's messages and its indexes live in one partition, every read names
//! its room (partition pruning), and a partition can later move to its own disk or, with
//! Citus, its own node (the README's "Beyond one machine").

/// The two databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL (15 or newer).
    Postgres,
    /// SQLite (bundled with the build).
    Sqlite,
}

/// Version 2, the same in both databases: accounts (with the names they claim, their room
/// lists, blocks, read positions and trusted devices), private rooms and their members, and
/// the public directory — the rest of what a Redis that lost its data must not take along.
const ACCOUNTS_AND_ROOMS: &str = r#"
CREATE TABLE accounts (
    account text PRIMARY KEY,
    name text NOT NULL,
    display text NOT NULL,
    password_hash text NOT NULL,
    generation bigint NOT NULL DEFAULT 0
);
CREATE TABLE name_claims (
    folded text PRIMARY KEY,
    account text NOT NULL
);
CREATE TABLE room_lists (
    account text NOT NULL,
    room text NOT NULL,
    PRIMARY KEY (account, room)
);
CREATE TABLE blocks (
    account text NOT NULL,
    other text NOT NULL,
    PRIMARY KEY (account, other)
);
CREATE TABLE read_positions (
    account text NOT NULL,
    room text NOT NULL,
    ms bigint NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (account, room)
);
CREATE TABLE devices (
    token text PRIMARY KEY,
    account text NOT NULL,
    generation bigint NOT NULL,
    until_ms bigint NOT NULL
);
CREATE TABLE private_rooms (
    room text PRIMARY KEY,
    owner text NOT NULL
);
CREATE TABLE room_members (
    room text NOT NULL,
    account text NOT NULL,
    PRIMARY KEY (room, account)
);
CREATE TABLE directory (
    room text PRIMARY KEY,
    holders bigint NOT NULL
);
"#;

/// The message columns both schemas share (a macro: `concat!` takes only literals).
macro_rules! message_columns {
    () => {
        r#"
    room text NOT NULL,
    ms bigint NOT NULL,
    seq bigint NOT NULL,
    author text NOT NULL,
    name text NOT NULL DEFAULT '',
    body text NOT NULL,
    client_id text,
    edited bigint NOT NULL DEFAULT 0,
    deleted bigint NOT NULL DEFAULT 0,
    reactions text NOT NULL DEFAULT '{}',
    changed_ms bigint,
    changed_seq bigint,
"#
    };
}

/// PostgreSQL's migrations, version 1 first.
const POSTGRES: &[&str] = &[
    concat!(
        r#"
CREATE TABLE messages (
"#,
        message_columns!(),
        r#"    words tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    PRIMARY KEY (room, ms, seq)
) PARTITION BY HASH (room);
DO $$
BEGIN
    FOR i IN 0..15 LOOP
        EXECUTE format('CREATE TABLE messages_p%s PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
    END LOOP;
END $$;
CREATE INDEX messages_words ON messages USING gin (words);
CREATE INDEX messages_changed ON messages (room, changed_ms, changed_seq) WHERE changed_ms IS NOT NULL;
CREATE INDEX messages_age ON messages (ms);
CREATE TABLE retention_marks (
    room text PRIMARY KEY,
    ms bigint NOT NULL,
    seq bigint NOT NULL
);
"#
    ),
    ACCOUNTS_AND_ROOMS,
];

/// SQLite's migrations, version 1 first. The full-text index is an FTS5 table over the
/// messages' text, kept in step by triggers (a deletion's emptied text leaves the index too).
const SQLITE: &[&str] = &[
    concat!(
        r#"
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
"#,
        message_columns!(),
        r#"    UNIQUE (room, ms, seq)
);
CREATE INDEX messages_changed ON messages (room, changed_ms, changed_seq) WHERE changed_ms IS NOT NULL;
CREATE INDEX messages_age ON messages (ms);
CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 0');
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TABLE retention_marks (
    room text PRIMARY KEY,
    ms bigint NOT NULL,
    seq bigint NOT NULL
);
"#
    ),
    ACCOUNTS_AND_ROOMS,
];

impl Dialect {
    /// The dialect of a database URL, if it is one the store speaks.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else {
            None
        }
    }

    /// Every migration this build knows, version 1 first.
    pub fn migrations(self) -> &'static [&'static str] {
        match self {
            Self::Postgres => POSTGRES,
            Self::Sqlite => SQLITE,
        }
    }

    /// What makes a migration transaction the only one (instances starting together).
    pub fn migration_lock(self) -> Option<&'static str> {
        match self {
            Self::Postgres => Some("LOCK TABLE switchboard_schema IN ACCESS EXCLUSIVE MODE"),
            Self::Sqlite => None,
        }
    }

    /// The newest messages of the rooms in `$1` (a JSON array of names) matching the query `$2`
    /// (see [`super::SearchTerms`]), at most `$3`, newest first.
    pub fn search(self) -> &'static str {
        match self {
            Self::Postgres => {
                "SELECT room, ms, seq, author, name, body, client_id, edited, deleted, reactions, changed_ms, changed_seq \
                 FROM messages WHERE room IN (SELECT jsonb_array_elements_text($1::jsonb)) AND deleted = 0 \
                 AND words @@ to_tsquery('simple', $2) ORDER BY ms DESC, seq DESC LIMIT $3"
            }
            Self::Sqlite => {
                "SELECT m.room, m.ms, m.seq, m.author, m.name, m.body, m.client_id, m.edited, m.deleted, m.reactions, \
                 m.changed_ms, m.changed_seq FROM messages_fts f JOIN messages m ON m.id = f.rowid \
                 WHERE messages_fts MATCH $2 AND m.room IN (SELECT value FROM json_each($1)) AND m.deleted = 0 \
                 ORDER BY m.ms DESC, m.seq DESC LIMIT $3"
            }
        }
    }

    /// A subquery of the text values of the JSON array bound as parameter `$n`.
    pub fn json_values(self, n: usize) -> String {
        match self {
            Self::Postgres => format!("SELECT jsonb_array_elements_text(${n}::jsonb)"),
            Self::Sqlite => format!("SELECT value FROM json_each(${n})"),
        }
    }

    /// What takes the lock on an account's row for the rest of a transaction (SQLite has one
    /// writer at a time: nothing to take).
    pub fn lock_account(self) -> Option<&'static str> {
        match self {
            Self::Postgres => Some("SELECT 1 FROM accounts WHERE account = $1 FOR UPDATE"),
            Self::Sqlite => None,
        }
    }

    /// The query text for `terms` in this dialect's full-text syntax.
    pub fn query_text(self, terms: &super::SearchTerms) -> String {
        match self {
            Self::Postgres => terms.tsquery(),
            Self::Sqlite => terms.fts5(),
        }
    }
}
