//! Registration and login: the server's implementation of the app's
//! [`AuthBackend`].
//!
//! Names are validated by [`protocol::UserName`]; passwords by
//! [`password::check_rules`] and stored only as argon2id hashes, computed on a
//! bounded [`hashing::HashPool`] (over its bound: "busy, retry"). A login with
//! an unknown name still verifies a password against a fixed dummy hash, so the
//! answer (and its timing) is the same as for a wrong password.
//!
//! Brute force is slowed by counters in the shared [`RateLimiter`](crate::ratelimit::RateLimiter):
//! attempts per client address (any name; registrations count too) and attempts
//! per user name. The name's budget is shared by every browser the user never
//! logged in from; a browser that did holds a device token (OWASP's device
//! cookies) and spends its own budget, so an attacker who exhausts the name's
//! budget slows guessing without locking the owner out.

pub mod hashing;
pub mod password;

use std::time::Duration;

use app::api::ApiError;
use app::api::ssr::{AuthBackend, Login};
use async_trait::async_trait;
use protocol::UserName;
use tracing::{info, instrument, warn};

use self::hashing::{Busy, HashPool};
use crate::accounts::{Account, AccountKey, SharedAccounts};
use crate::ratelimit::{Limit, Limits, SharedLimiter, Verdict};
use crate::session::SessionBackend;
use crate::signals::{SharedSignals, Signal};
use crate::telemetry::metrics::{Limited, metrics};

/// How long a browser stays trusted for its user after its last successful login.
pub const DEVICE_TTL: Duration = Duration::from_secs(180 * 24 * 3600);

/// Account operations over an [`AccountStore`](crate::accounts::AccountStore).
pub struct AuthService {
    accounts: SharedAccounts,
    limiter: SharedLimiter,
    limits: Limits,
    signals: SharedSignals,
    sessions: SessionBackend,
    hashing: HashPool,
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
    pub signals: SharedSignals,
    /// Session records (page-load counters).
    pub sessions: SessionBackend,
    /// The bounded pool password hashes run on.
    pub hashing: HashPool,
}

/// Whether a device token from a cookie has the form this server hands out (it becomes part
/// of a Redis key, so anything else is ignored before it gets there).
fn well_formed_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    warn!(%err, "account store failed");
    ApiError::Unavailable
}

fn busy(_: Busy) -> ApiError {
    warn!("password hashing pool full: asking the client to retry");
    ApiError::Busy
}

impl AuthService {
    /// Authentication over `deps`.
    pub fn new(deps: AuthDeps) -> Self {
        let dummy_hash = password::hash("switchboard-dummy-password").unwrap_or_default();
        let AuthDeps { accounts, limiter, limits, signals, sessions, hashing } = deps;
        Self { accounts, limiter, limits, signals, sessions, hashing, dummy_hash }
    }

    /// A login of `account`, trusting this browser's device token (a new one unless it
    /// brought a valid one for this user).
    async fn login(&self, account: &Account, device: Option<&str>) -> Login {
        let token = device.map_or_else(|| format!("{:032x}", rand::random::<u128>()), str::to_owned);
        let key = AccountKey::of(&account.name);
        if let Err(err) = self.accounts.trust_device(&token, &key, account.generation, DEVICE_TTL).await {
            warn!(%err, "could not remember the device; its next login counts as a stranger's");
        }
        let login = format!("{:032x}", rand::random::<u128>());
        Login { user: account.name.clone(), login, generation: account.generation, device: token }
    }

    /// The device token of this browser if it is trusted for `account` now (same generation).
    async fn trusted_device<'a>(&self, account: Option<&Account>, device: Option<&'a str>) -> Option<&'a str> {
        let (account, token) = (account?, device.filter(|token| well_formed_token(token))?);
        let key = AccountKey::of(&account.name);
        match self.accounts.device(token).await {
            Ok(Some((owner, generation))) if owner == key && generation == account.generation => Some(token),
            _ => None,
        }
    }

    async fn announce(&self, signal: Signal) -> Result<(), ApiError> {
        self.signals.send(&signal).await.map_err(|err| {
            warn!(%err, "could not announce a logout");
            ApiError::Unavailable
        })
    }

    async fn limit(&self, limit: Limit, key: &str) -> Result<(), ApiError> {
        match limit.check(&*self.limiter, key).await {
            Verdict::Allowed => Ok(()),
            Verdict::Limited(wait) => {
                let kind = if key.starts_with("auth:client:") { Limited::AuthClient } else { Limited::LoginName };
                metrics().rate_limited(kind);
                warn!(key, "rate limited");
                Err(ApiError::RateLimited(wait.as_secs().max(1)))
            }
        }
    }

    /// The account of `name`, if the name is valid and taken.
    async fn account(&self, name: &str) -> Result<Option<Account>, ApiError> {
        match UserName::parse(name) {
            Ok(name) => self.accounts.find(&name.key()).await.map_err(unavailable),
            Err(_) => Ok(None),
        }
    }

    /// Checks `secret` against `account` (or against the dummy hash, so an unknown name costs
    /// the same): the account if it matches.
    async fn verify(&self, account: Option<Account>, secret: &str) -> Result<Option<Account>, ApiError> {
        let hash = account.as_ref().map_or_else(|| self.dummy_hash.clone(), |a| a.password_hash.clone());
        let secret = secret.to_owned();
        let matches = self.hashing.run(move || password::verify(&secret, &hash)).await.map_err(busy)?;
        Ok(account.filter(|_| matches))
    }
}

/// Counts a login or registration by its outcome.
fn counted(outcome: Result<Login, ApiError>) -> Result<Login, ApiError> {
    let metrics = metrics();
    match &outcome {
        Ok(_) => metrics.logins_ok.increment(1),
        Err(_) => metrics.logins_failed.increment(1),
    }
    outcome
}

impl AuthService {
    async fn try_register(
        &self,
        name: &str,
        secret: &str,
        client: &str,
        device: Option<&str>,
    ) -> Result<Login, ApiError> {
        self.limit(self.limits.auth_per_client, &format!("auth:client:{client}")).await?;
        let name = UserName::parse(name).map_err(|err| ApiError::Invalid(err.to_string()))?;
        password::check_rules(secret).map_err(|err| ApiError::Invalid(err.to_string()))?;
        let secret = secret.to_owned();
        let password_hash = self.hashing.run(move || password::hash(&secret)).await.map_err(busy)?.map_err(|err| {
            warn!(%err, "hashing failed");
            ApiError::Unavailable
        })?;
        let account = Account { name: name.to_string(), display: name.to_string(), password_hash, generation: 0 };
        match self.accounts.create(&name.key(), &account).await {
            Ok(true) => {
                info!(user = %name, "registered");
                let device = device.filter(|token| well_formed_token(token));
                Ok(self.login(&account, device).await)
            }
            Ok(false) => Err(ApiError::NameTaken),
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn try_authenticate(
        &self,
        name: &str,
        secret: &str,
        client: &str,
        device: Option<&str>,
    ) -> Result<Login, ApiError> {
        self.limit(self.limits.auth_per_client, &format!("auth:client:{client}")).await?;
        let key = AccountKey::of(name.trim());
        let account = self.account(name).await?;
        // A browser this user logged in from before spends its own budget; every other
        // browser shares the name's (OWASP device cookies: no lockout of the owner).
        let trusted = self.trusted_device(account.as_ref(), device).await;
        let budget = match trusted {
            Some(token) => format!("auth:device:{token}"),
            None => format!("auth:name:{}", key.as_str().chars().take(UserName::MAX).collect::<String>()),
        };
        self.limit(self.limits.login_per_name, &budget).await?;
        match self.verify(account, secret).await? {
            Some(account) => {
                if trusted.is_some()
                    && let Err(err) = self.limiter.clear(&budget).await
                {
                    warn!(%err, "could not clear the device's login counter");
                }
                Ok(self.login(&account, trusted).await)
            }
            None => Err(ApiError::BadCredentials),
        }
    }
}

#[async_trait]
impl AuthBackend for AuthService {
    #[instrument(skip(self, secret, device))]
    async fn register(&self, name: &str, secret: &str, client: &str, device: Option<&str>) -> Result<Login, ApiError> {
        counted(self.try_register(name, secret, client, device).await)
    }

    #[instrument(skip(self, secret, device))]
    async fn authenticate(
        &self,
        name: &str,
        secret: &str,
        client: &str,
        device: Option<&str>,
    ) -> Result<Login, ApiError> {
        counted(self.try_authenticate(name, secret, client, device).await)
    }

    async fn session_display(&self, user: &str, generation: u64) -> Result<Option<String>, ApiError> {
        match self.accounts.find(&AccountKey::of(user)).await {
            Ok(account) => {
                Ok(account.filter(|account| account.generation == generation).map(|account| account.display))
            }
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
        self.announce(Signal::EndSession { login: login.to_owned() }).await
    }

    async fn end_all_sessions(&self, user: &str) -> Result<(), ApiError> {
        self.accounts.bump_generation(&AccountKey::of(user)).await.map_err(|err| {
            warn!(%err, "account store failed");
            ApiError::Unavailable
        })?;
        info!(%user, "logged out everywhere");
        self.announce(Signal::EndUser { user: user.to_owned() }).await
    }
}
