//! The databases a store contract runs on besides memory and Redis: a fresh database on the
//! shared PostgreSQL ([`super::shared_postgres`]), or an SQLite file in a directory of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use switchboard::store::sql::SqlStore;

/// A store on a database made for one test; the SQLite directory goes with it.
pub struct Database {
    /// The store (it is the account, room and message store at once).
    pub store: Arc<SqlStore>,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A store on a fresh PostgreSQL database.
pub async fn postgres_database() -> Database {
    let url = super::shared_postgres().fresh_database().await;
    Database { store: Arc::new(SqlStore::open(&url).await.expect("store opens")), dir: None }
}

/// A store on a fresh SQLite file.
pub async fn sqlite_database() -> Database {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("switchboard-db-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = SqlStore::open_dir(&dir).await.expect("store opens");
    Database { store: Arc::new(store), dir: Some(dir) }
}
