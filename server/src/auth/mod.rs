//! Registration and login: the server's implementation of the app's
//! [`AuthBackend`].
//!
//! Names are validated by [`protocol::UserName`]; passwords by
//! [`password::check_rules`] and stored only as argon2id hashes. A login with
//! an unknown name still verifies a password against a fixed dummy hash, so the
//! answer (and its timing) is the same as for a wrong password.
//!
//! Brute force is slowed by two counters in the shared [`RateLimiter`]: attempts
//! per user name (any client) and per client address (any name); registrations
//! count against the client too. A successful login clears the name's counter.

pub mod password;

use app::api::ssr::AuthBackend;
use app::api::ApiError;
use async_trait::async_trait;
use protocol::UserName;
use tracing::{info, instrument, warn};

use crate::accounts::{Account, SharedAccounts};
use crate::ratelimit::{Limit, Limits, SharedLimiter, Verdict};

/// Account operations over an [`AccountStore`](crate::accounts::AccountStore).
pub struct AuthService {
    accounts: SharedAccounts,
    limiter: SharedLimiter,
    limits: Limits,
    dummy_hash: String,
}

impl AuthService {
    /// Authentication over `accounts`, rate-limited by `limiter` under `limits`.
    pub fn new(accounts: SharedAccounts, limiter: SharedLimiter, limits: Limits) -> Self {
        let dummy_hash = password::hash("switchboard-dummy-password").unwrap_or_default();
        Self { accounts, limiter, limits, dummy_hash }
    }

    async fn limit(&self, limit: Limit, key: &str) -> Result<(), ApiError> {
        match limit.check(&*self.limiter, key).await {
            Verdict::Allowed => Ok(()),
            Verdict::Limited(wait) => {
                warn!(key, "rate limited");
                Err(ApiError::RateLimited(wait.as_secs().max(1)))
            }
        }
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| ApiError::Unavailable)
}

#[async_trait]
impl AuthBackend for AuthService {
    #[instrument(skip(self, secret))]
    async fn register(&self, name: &str, secret: &str, client: &str) -> Result<String, ApiError> {
        self.limit(self.limits.auth_per_client, &format!("auth:client:{client}")).await?;
        let name = UserName::parse(name).map_err(|err| ApiError::Invalid(err.to_string()))?;
        password::check_rules(secret).map_err(|err| ApiError::Invalid(err.to_string()))?;
        let secret = secret.to_owned();
        let password_hash = blocking(move || password::hash(&secret)).await?.map_err(|err| {
            warn!(%err, "hashing failed");
            ApiError::Unavailable
        })?;
        let account = Account { display: name.as_str().to_owned(), password_hash };
        match self.accounts.create(&name.key(), &account).await {
            Ok(true) => {
                info!(user = %name, "registered");
                Ok(account.display)
            }
            Ok(false) => Err(ApiError::NameTaken),
            Err(err) => {
                warn!(%err, "account store failed");
                Err(ApiError::Unavailable)
            }
        }
    }

    #[instrument(skip(self, secret))]
    async fn authenticate(&self, name: &str, secret: &str, client: &str) -> Result<String, ApiError> {
        self.limit(self.limits.auth_per_client, &format!("auth:client:{client}")).await?;
        let name_key = format!("auth:name:{}", name.trim().to_ascii_lowercase());
        self.limit(self.limits.login_per_name, &name_key).await?;
        let account = match UserName::parse(name) {
            Ok(name) => self.accounts.find(&name.key()).await.map_err(|err| {
                warn!(%err, "account store failed");
                ApiError::Unavailable
            })?,
            Err(_) => None,
        };
        let (hash, display) = match &account {
            Some(account) => (account.password_hash.clone(), Some(account.display.clone())),
            None => (self.dummy_hash.clone(), None),
        };
        let secret = secret.to_owned();
        let matches = blocking(move || password::verify(&secret, &hash)).await?;
        match display {
            Some(display) if matches => {
                if let Err(err) = self.limiter.clear(&name_key).await {
                    warn!(%err, "could not clear the login counter");
                }
                Ok(display)
            }
            _ => Err(ApiError::BadCredentials),
        }
    }
}
