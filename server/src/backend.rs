//! Picks and connects the storage behind an instance: Redis when `REDIS_URL`
//! is set, process memory otherwise. Every other module sees only the traits.

use std::sync::Arc;

use tracing::{info, warn};

use crate::redact::redacted;

use crate::accounts::SharedAccounts;
use crate::accounts::memory::MemoryAccounts;
use crate::accounts::redis::RedisAccounts;
use crate::broker::SharedBroker;
use crate::broker::memory::MemoryBroker;
use crate::broker::recorded::RecordedBroker;
use crate::broker::redis::RedisBroker;
use crate::config::Config;
use crate::presence::SharedPresence;
use crate::presence::memory::MemoryPresence;
use crate::presence::redis::RedisPresence;
use crate::ratelimit::SharedLimiter;
use crate::ratelimit::memory::MemoryLimiter;
use crate::ratelimit::redis::RedisLimiter;
use crate::redis_conn::RedisTarget;
use crate::rooms::SharedRooms;
use crate::rooms::memory::MemoryRooms;
use crate::rooms::redis::RedisRooms;
use crate::session::{RedisSessionStore, SessionBackend};
use crate::signals::SharedSignals;
use crate::signals::memory::MemorySignals;
use crate::signals::redis::RedisSignals;
use crate::store::sql::SqlStore;
use crate::store::{Retention, SharedStore, StoreError};

/// Why the backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// `REDIS_URL` is not a valid Redis URL.
    #[error("invalid REDIS_URL {url}")]
    BadUrl {
        /// The URL, with any password replaced by `***`.
        url: String,
        /// Why it is invalid.
        #[source]
        source: redis::RedisError,
    },
    /// The message store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `RETENTION_MESSAGES` is below `HISTORY_CAP`.
    #[error("RETENTION_MESSAGES ({retention}) must be 0 or at least HISTORY_CAP ({cap})")]
    RetentionBelowCache {
        /// The count retention keeps.
        retention: u64,
        /// The broker's recent entries per room.
        cap: usize,
    },
    /// Redis did not answer.
    #[error("cannot connect to Redis at {url}")]
    Unreachable {
        /// The URL tried, with any password replaced by `***`.
        url: String,
        /// What failed.
        #[source]
        source: redis::RedisError,
    },
}

/// The storage of one instance.
#[derive(Clone)]
pub struct Backend {
    /// Chat history and delivery.
    pub broker: SharedBroker,
    /// User accounts.
    pub accounts: SharedAccounts,
    /// Private rooms' members and the public directory.
    pub rooms: SharedRooms,
    /// Session records.
    pub sessions: SessionBackend,
    /// Rate-limit counters.
    pub limiter: SharedLimiter,
    /// Room membership across instances.
    pub presence: SharedPresence,
    /// Instance-wide orders (logouts).
    pub signals: SharedSignals,
    /// The message store, the system of record (`None`: the broker's recent history only).
    pub store: Option<SharedStore>,
    /// How long the store keeps conversation.
    pub retention: Retention,
}

impl Backend {
    /// A single-instance backend in process memory.
    pub fn memory(config: &Config) -> Self {
        Self {
            broker: Arc::new(MemoryBroker::new(config.history_cap)),
            accounts: Arc::new(MemoryAccounts::default()),
            rooms: Arc::new(MemoryRooms::default()),
            sessions: SessionBackend::memory(),
            limiter: Arc::new(MemoryLimiter::default()),
            presence: Arc::new(MemoryPresence::default()),
            signals: Arc::new(MemorySignals::default()),
            store: None,
            retention: Retention::default(),
        }
    }

    /// A backend on the Redis (a server, or a cluster) at `url`.
    pub async fn redis(config: &Config, url: &str) -> Result<Self, BackendError> {
        let target = RedisTarget::parse(url).map_err(|source| BackendError::BadUrl { url: redacted(url), source })?;
        let conn = target.connect().await.map_err(|source| BackendError::Unreachable { url: redacted(url), source })?;
        info!(prefix = %config.redis_prefix, cluster = target.is_cluster(), "connected to redis");
        let prefix = &config.redis_prefix;
        Ok(Self {
            signals: Arc::new(RedisSignals::new(&target, conn.clone(), prefix)),
            broker: Arc::new(RedisBroker::new(&target, conn.clone(), prefix, config.history_cap, config.durability())),
            accounts: Arc::new(RedisAccounts::new(conn.clone(), prefix)),
            rooms: Arc::new(RedisRooms::new(conn.clone(), prefix)),
            limiter: Arc::new(RedisLimiter::new(conn.clone(), prefix)),
            presence: Arc::new(RedisPresence::new(conn.clone(), prefix)),
            sessions: SessionBackend::Redis(RedisSessionStore::new(conn, prefix)),
            store: None,
            retention: Retention::default(),
        })
    }

    /// The backend the configuration asks for.
    pub async fn from_config(config: &Config) -> Result<Self, BackendError> {
        let on_redis = config.redis_url.as_deref().is_some_and(|url| !url.is_empty());
        let backend = match &config.redis_url {
            Some(url) if on_redis => Self::redis(config, url).await?,
            _ => {
                info!("no REDIS_URL: running a single instance on the embedded backend");
                Self::memory(config)
            }
        };
        let retention = config.retention();
        if let Some(kept) = retention.max_messages.filter(|&kept| kept < config.history_cap as u64) {
            return Err(BackendError::RetentionBelowCache { retention: kept, cap: config.history_cap });
        }
        let store = match (config.database_url.as_deref().filter(|url| !url.is_empty()), &config.data_dir) {
            (Some(url), _) => SqlStore::open_patiently(url).await?,
            (None, Some(dir)) if !on_redis => SqlStore::open_dir(dir).await?,
            _ => {
                if on_redis {
                    warn!("no DATABASE_URL: history is only each room's last HISTORY_CAP entries in Redis");
                }
                return Ok(backend);
            }
        };
        info!(dialect = ?store.dialect(), ?retention, "message store ready");
        Ok(backend.on_database(Arc::new(store), retention))
    }

    /// This backend with the database as the system of record: every message recorded in it
    /// before it is acknowledged, and the accounts and rooms kept there (Redis, or memory, keeps
    /// sessions, presence, limits, live delivery and each room's recent entries).
    pub fn on_database(mut self, store: Arc<SqlStore>, retention: Retention) -> Self {
        let messages: SharedStore = store.clone();
        self.broker = Arc::new(RecordedBroker::new(self.broker, messages.clone(), retention));
        self.accounts = store.clone();
        self.rooms = store;
        self.store = Some(messages);
        self.retention = retention;
        self
    }
}
