//! Sliding session expiry without a write on every request.
//!
//! A session lives `SESSION_TTL_SECS` after its last use. Renewing it means writing the record
//! to Redis again (`SET XX` with a fresh TTL) and sending the cookie again with a fresh
//! lifetime. Doing that on every request (tower-sessions' `always_save`) made every chat page
//! cost one more Redis round trip and one more `Set-Cookie` than it needs: a user who loads
//! ten pages in a minute does not need ten renewals. So a logged-in session carries the time
//! it was last renewed, and a request renews it only when that is more than a quarter of the
//! TTL ago — the session still never expires while it is used at least once per ¾ TTL, and a
//! page load in between writes nothing.
//!
//! A session without a user (anonymous, or just logged out) is left alone: a renewal must never
//! write back a session that a logout flushed.

use app::api::ssr::USER_KEY;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tower_sessions::Session;
use tracing::debug;

use crate::services::sessions::renewal_period;
use crate::state::AppState;

/// The session key holding when the session was last renewed (Unix seconds).
pub const RENEWED_KEY: &str = "renewed";

/// Runs the request, then renews its logged-in session if its last renewal is old enough.
pub async fn renew_session(State(state): State<AppState>, session: Session, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if session.id().is_none() {
        // No session cookie came in and the handler stored nothing: nothing to renew.
        return response;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let period = renewal_period(state.config.session_ttl()).as_secs();
    let quarter = i64::try_from(period).unwrap_or(i64::MAX);
    if let Ok(Some(_user)) = session.get::<String>(USER_KEY).await {
        let renewed = session.get::<i64>(RENEWED_KEY).await.ok().flatten();
        if is_due(renewed, now, quarter) {
            // Marks the session modified: the session layer writes it with a fresh TTL and
            // sends the cookie again.
            if let Err(err) = session.insert(RENEWED_KEY, now).await {
                debug!(%err, "could not mark the session for renewal");
            }
        }
    }
    response
}

/// How far ahead of this instance's clock another instance's may be (a stamp further ahead is
/// not trusted and the session is renewed).
const CLOCK_SKEW_SECS: i64 = 60;

/// Whether a session last renewed at `renewed` (Unix seconds; `None`: never) is due at `now`.
fn is_due(renewed: Option<i64>, now: i64, quarter_ttl: i64) -> bool {
    renewed.is_none_or(|at| now.saturating_sub(at) >= quarter_ttl || at > now.saturating_add(CLOCK_SKEW_SECS))
}

#[cfg(test)]
mod tests {
    use super::is_due;

    #[test]
    fn a_session_is_renewed_once_per_quarter_ttl() {
        assert!(is_due(None, 1_000, 100), "never renewed");
        assert!(!is_due(Some(950), 1_000, 100), "renewed 50 s ago");
        assert!(is_due(Some(900), 1_000, 100), "renewed a quarter TTL ago");
        assert!(!is_due(Some(1_030), 1_000, 100), "another instance's clock a little ahead");
        assert!(is_due(Some(2_000), 1_000, 100), "a stamp far in the future is not trusted");
    }
}
