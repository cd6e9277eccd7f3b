//! Picks and connects the storage behind an instance: Redis when `REDIS_URL`
//! is set, process memory otherwise. Every other module sees only the traits.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::info;

use crate::accounts::SharedAccounts;
use crate::accounts::memory::MemoryAccounts;
use crate::accounts::redis::RedisAccounts;
use crate::broker::SharedBroker;
use crate::broker::memory::MemoryBroker;
use crate::broker::redis::RedisBroker;
use crate::config::Config;
use crate::presence::SharedPresence;
use crate::presence::memory::MemoryPresence;
use crate::presence::redis::RedisPresence;
use crate::ratelimit::SharedLimiter;
use crate::ratelimit::memory::MemoryLimiter;
use crate::ratelimit::redis::RedisLimiter;
use crate::session::{RedisSessionStore, SessionBackend};

/// Why the backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// `REDIS_URL` is not a valid Redis URL.
    #[error("invalid REDIS_URL: {0}")]
    BadUrl(String),
    /// Redis did not answer.
    #[error("cannot connect to Redis at {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What failed.
        reason: String,
    },
}

/// The storage of one instance.
#[derive(Clone)]
pub struct Backend {
    /// Chat history and delivery.
    pub broker: SharedBroker,
    /// User accounts.
    pub accounts: SharedAccounts,
    /// Session records.
    pub sessions: SessionBackend,
    /// Rate-limit counters.
    pub limiter: SharedLimiter,
    /// Room membership across instances.
    pub presence: SharedPresence,
}

impl Backend {
    /// A single-instance backend in process memory.
    pub fn memory(config: &Config) -> Self {
        Self {
            broker: Arc::new(MemoryBroker::new(config.history_cap)),
            accounts: Arc::new(MemoryAccounts::default()),
            sessions: SessionBackend::memory(),
            limiter: Arc::new(MemoryLimiter::default()),
            presence: Arc::new(MemoryPresence::default()),
        }
    }

    /// A backend on the Redis at `url`.
    pub async fn redis(config: &Config, url: &str) -> Result<Self, BackendError> {
        let client = redis::Client::open(url).map_err(|err| BackendError::BadUrl(err.to_string()))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let conn: ConnectionManager = client
            .get_connection_manager_with_config(manager_config)
            .await
            .map_err(|err| BackendError::Unreachable { url: url.to_owned(), reason: err.to_string() })?;
        info!(prefix = %config.redis_prefix, "connected to redis");
        let prefix = &config.redis_prefix;
        Ok(Self {
            broker: Arc::new(RedisBroker::new(client, conn.clone(), prefix, config.history_cap)),
            accounts: Arc::new(RedisAccounts::new(conn.clone(), prefix)),
            limiter: Arc::new(RedisLimiter::new(conn.clone(), prefix)),
            presence: Arc::new(RedisPresence::new(conn.clone(), prefix)),
            sessions: SessionBackend::Redis(RedisSessionStore::new(conn, prefix)),
        })
    }

    /// The backend the configuration asks for.
    pub async fn from_config(config: &Config) -> Result<Self, BackendError> {
        match &config.redis_url {
            Some(url) if !url.is_empty() => Self::redis(config, url).await,
            _ => {
                info!("no REDIS_URL: running a single instance on the in-memory backend");
                Ok(Self::memory(config))
            }
        }
    }
}
