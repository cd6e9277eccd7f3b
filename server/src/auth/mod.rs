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

use app::api::ApiError;
use app::api::ssr::{AuthBackend, Login};
use async_trait::async_trait;
use protocol::UserName;
use tracing::{info, instrument, warn};

use crate::accounts::{Account, SharedAccounts};
use crate::broker::{ControlEvent, SharedBroker};
use crate::ratelimit::{Limit, Limits, SharedLimiter, Verdict};
use crate::session::SessionBackend;

/// Account operations over an [`AccountStore`](crate::accounts::AccountStore).
pub struct AuthService {
    accounts: SharedAccounts,
    limiter: SharedLimiter,
    limits: Limits,
    broker: SharedBroker,
    sessions: SessionBackend,
    dummy_hash: String,
}

/// What [`AuthService`] works with.
pub struct AuthDeps {
    /// Accounts.
    pub accounts: SharedAccounts,
    /// Rate-limit counters.
    pub limiter: SharedLimiter,
    /// The rate-limit policy.
    pub limits: Limits,
    /// Where logouts are announced to every instance.
    pub broker: SharedBroker,
    /// Session records (page-load counters).
    pub sessions: SessionBackend,
}

impl AuthService {
    /// Authentication over `deps`.
    pub fn new(deps: AuthDeps) -> Self {
        let dummy_hash = password::hash("switchboard-dummy-password").unwrap_or_default();
        let AuthDeps { accounts, limiter, limits, broker, sessions } = deps;
        Self { accounts, limiter, limits, broker, sessions, dummy_hash }
    }

    fn login(user: String, generation: u64) -> Login {
        let login = format!("{:032x}", rand::random::<u128>());
        Login { user, login, generation }
    }

    async fn announce(&self, event: ControlEvent) -> Result<(), ApiError> {
        self.broker.control(event).await.map_err(|err| {
            warn!(%err, "could not announce a logout");
            ApiError::Unavailable
        })
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
    async fn register(&self, name: &str, secret: &str, client: &str) -> Result<Login, ApiError> {
        self.limit(self.limits.auth_per_client, &format!("auth:client:{client}")).await?;
        let name = UserName::parse(name).map_err(|err| ApiError::Invalid(err.to_string()))?;
        password::check_rules(secret).map_err(|err| ApiError::Invalid(err.to_string()))?;
        let secret = secret.to_owned();
        let password_hash = blocking(move || password::hash(&secret)).await?.map_err(|err| {
            warn!(%err, "hashing failed");
            ApiError::Unavailable
        })?;
        let account = Account { display: name.as_str().to_owned(), password_hash, generation: 0 };
        match self.accounts.create(&name.key(), &account).await {
            Ok(true) => {
                info!(user = %name, "registered");
                Ok(Self::login(account.display, 0))
            }
            Ok(false) => Err(ApiError::NameTaken),
            Err(err) => {
                warn!(%err, "account store failed");
                Err(ApiError::Unavailable)
            }
        }
    }

    #[instrument(skip(self, secret))]
    async fn authenticate(&self, name: &str, secret: &str, client: &str) -> Result<Login, ApiError> {
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
            Some(account) => (account.password_hash.clone(), Some((account.display.clone(), account.generation))),
            None => (self.dummy_hash.clone(), None),
        };
        let secret = secret.to_owned();
        let matches = blocking(move || password::verify(&secret, &hash)).await?;
        match display {
            Some((display, generation)) if matches => {
                if let Err(err) = self.limiter.clear(&name_key).await {
                    warn!(%err, "could not clear the login counter");
                }
                Ok(Self::login(display, generation))
            }
            _ => Err(ApiError::BadCredentials),
        }
    }

    async fn session_valid(&self, user: &str, generation: u64) -> Result<bool, ApiError> {
        match self.accounts.find(&user.to_ascii_lowercase()).await {
            Ok(Some(account)) => Ok(account.generation == generation),
            Ok(None) => Ok(false),
            Err(err) => {
                warn!(%err, "account store failed");
                Err(ApiError::Unavailable)
            }
        }
    }

    async fn display_name(&self, user: &str) -> Result<String, ApiError> {
        match self.accounts.find(&user.to_ascii_lowercase()).await {
            Ok(account) => Ok(account.map_or_else(|| user.to_owned(), |account| account.display)),
            Err(err) => {
                warn!(%err, "account store failed");
                Err(ApiError::Unavailable)
            }
        }
    }

    async fn count_load(&self, id: &str) -> Result<u64, ApiError> {
        self.sessions.count_load(id).await.map_err(|err| {
            warn!(%err, "could not count a page load");
            ApiError::Unavailable
        })
    }

    async fn end_session(&self, login: &str) -> Result<(), ApiError> {
        self.announce(ControlEvent::EndSession { login: login.to_owned() }).await
    }

    async fn end_all_sessions(&self, user: &str) -> Result<(), ApiError> {
        self.accounts.bump_generation(&user.to_ascii_lowercase()).await.map_err(|err| {
            warn!(%err, "account store failed");
            ApiError::Unavailable
        })?;
        info!(%user, "logged out everywhere");
        self.announce(ControlEvent::EndUser { user: user.to_owned() }).await
    }
}
