//! Health probes for the load balancer and the operator.
//!
//! `/healthz` says the process is alive (it never touches Redis: a Redis
//! outage must not get healthy instances killed). `/readyz` says the instance
//! can serve new users now: its backend answers and it is not shutting down.

use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the backend is reachable and the instance is not draining, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.drain.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    if !state.backend.broker.is_healthy().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "backend unavailable");
    }
    (StatusCode::OK, "ready")
}
