//! The sessions behind websockets.
//!
//! A socket is admitted for a session holding a logged-in user whose session
//! generation is current ("log out everywhere" bumps it); while open it checks
//! the session now and then and renews it, so an active chat keeps its
//! session, and an ended or expired one closes the socket.

use std::time::Duration;

use tower_sessions::session::Id;
use tower_sessions::{Session, SessionStore};

use crate::accounts::{AccountKey, SharedAccounts};
use crate::session::{GEN_KEY, LOGIN_KEY, SessionBackend, USER_KEY};

/// How long after its last renewal a session in use is renewed again: a quarter of its
/// lifetime. Pages (`routes::session_renewal`) and sockets ([`SocketSessions::renew`]) share
/// it, so a session in use never expires and is written about four times per lifetime, not
/// at every request or check.
pub fn renewal_period(ttl: Duration) -> Duration {
    ttl / 4
}

/// Who a socket belongs to, from its session.
#[derive(Debug, Clone)]
pub struct SocketLogin {
    /// The user (the name as registered).
    pub user: String,
    /// The login (session) id; a logout closes the sockets opened under it.
    pub login: String,
    /// The tower-sessions id, to notice when the session expires.
    pub session_id: Option<Id>,
}

/// The session store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Reading the session failed.
    #[error("session store unavailable")]
    Session(#[source] tower_sessions::session::Error),
    /// Reading the session's record failed.
    #[error("session store unavailable")]
    Store(#[source] tower_sessions::session_store::Error),
    /// Reading the account failed.
    #[error("account store unavailable")]
    Accounts(#[source] crate::accounts::AccountStoreError),
}

/// Sessions as the websocket gateway needs them.
pub struct SocketSessions {
    store: SessionBackend,
    accounts: SharedAccounts,
    ttl: Duration,
}

impl SocketSessions {
    /// Sessions in `store`, generations in `accounts`, renewed for `ttl`.
    pub fn new(store: SessionBackend, accounts: SharedAccounts, ttl: Duration) -> Self {
        Self { store, accounts, ttl }
    }

    /// The session's login, if it is valid (logged in, not ended by "log out everywhere").
    pub async fn login(&self, session: &Session) -> Result<Option<SocketLogin>, SessionError> {
        let Some(user) = session.get::<String>(USER_KEY).await.map_err(SessionError::Session)? else {
            return Ok(None);
        };
        let login = session.get::<String>(LOGIN_KEY).await.map_err(SessionError::Session)?.unwrap_or_default();
        let generation = session.get::<u64>(GEN_KEY).await.map_err(SessionError::Session)?.unwrap_or(0);
        let account = self.accounts.find(&AccountKey::of(&user)).await.map_err(SessionError::Accounts)?;
        if account.is_none_or(|account| account.generation != generation) {
            return Ok(None);
        }
        Ok(Some(SocketLogin { user, login, session_id: session.id() }))
    }

    /// Whether session `id` still exists; renews it if so, once [`renewal_period`] has passed
    /// since it was last renewed: a socket checks every few seconds, and rewriting the record
    /// each time cost every idle socket a Redis write per check. A failed renewal is retried at
    /// the next check.
    pub async fn renew(&self, id: &Id) -> Result<bool, SessionError> {
        match self.store.load(id).await.map_err(SessionError::Store)? {
            Some(mut record) => {
                let now = time::OffsetDateTime::now_utc();
                let left = record.expiry_date - now;
                if left < self.ttl - renewal_period(self.ttl) {
                    record.expiry_date = now + self.ttl;
                    if let Err(err) = self.store.save(&record).await {
                        tracing::debug!(%err, "could not renew a socket's session");
                    }
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
