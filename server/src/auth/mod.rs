//! Registration and login: the server's implementation of the app's
//! [`AuthBackend`].
//!
//! Names are validated by [`protocol::UserName`]; passwords by
//! [`password::check_rules`] and stored only as argon2id hashes. A login with
//! an unknown name still verifies a password against a fixed dummy hash, so the
//! answer (and its timing) is the same as for a wrong password.

pub mod password;

use app::api::ssr::AuthBackend;
use app::api::ApiError;
use async_trait::async_trait;
use protocol::UserName;
use tracing::{info, instrument, warn};

use crate::accounts::{Account, SharedAccounts};

/// Account operations over an [`AccountStore`](crate::accounts::AccountStore).
pub struct AuthService {
    accounts: SharedAccounts,
    dummy_hash: String,
}

impl AuthService {
    /// Authentication over `accounts`.
    pub fn new(accounts: SharedAccounts) -> Self {
        let dummy_hash = password::hash("switchboard-dummy-password").unwrap_or_default();
        Self { accounts, dummy_hash }
    }
}

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| ApiError::Unavailable)
}

#[async_trait]
impl AuthBackend for AuthService {
    #[instrument(skip(self, secret))]
    async fn register(&self, name: &str, secret: &str) -> Result<String, ApiError> {
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
    async fn authenticate(&self, name: &str, secret: &str) -> Result<String, ApiError> {
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
            Some(display) if matches => Ok(display),
            _ => Err(ApiError::BadCredentials),
        }
    }
}
