//! The HTTP surface: Leptos pages and server functions, `/ws` and its HTTP fallback
//! (`/stream`, [`crate::stream`]), health probes,
//! and the static site (`/pkg`). Sessions wrap everything but the static site:
//! a script or a stylesheet never costs a session read and write (and a page
//! writes its session only to renew it, [`session_renewal`]), and the
//! site's files are served precompressed (`.gz` beside each file, made by
//! `scripts/build-site`) to browsers that accept it. The [`guard`] middleware
//! and the server functions' [`body`] limit wrap the sessions (so a refused
//! request never touches the store); the security [`headers`] wrap it all, so
//! every answer carries them, refusals included. Outermost, every request gets an
//! `x-request-id` and a span ([`crate::telemetry::http`]); `/metrics` is served here
//! unless `METRICS_ADDR` puts it on a listener of its own.

pub mod body;
pub mod guard;
pub mod headers;
pub mod health;
pub mod session_renewal;

use app::{App, shell};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::middleware;
use axum::routing::{get, post};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::state::AppState;
use crate::telemetry::http::{REQUEST_ID, drop_implausible_request_id, page_metrics, request_span, scrape};
use crate::{stream, ws};

/// The instance's router, ready to serve.
pub fn router(state: AppState) -> Router {
    let services = state.context.clone();
    let context = move || {
        provide_context(services.clone());
        headers::provide_request_nonce();
    };
    let ttl = state.config.session_ttl();
    let sessions = SessionManagerLayer::new(state.backend.sessions.clone())
        .with_name(state.config.cookie_name.clone())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.cookie_secure)
        .with_path("/")
        // Sliding expiry: `session_renewal` renews a used session once per quarter TTL (the
        // store's SET XX never revives a deleted one); other requests write nothing.
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(86_400))));
    let leptos = state.leptos.clone();
    let routes = generate_route_list(App);
    let site = ServeDir::new(format!("{}/{}", leptos.site_root, leptos.site_pkg_dir)).precompressed_gzip();
    let post_limit = state.config.max_frame_bytes.saturating_mul(stream::FRAMES_PER_POST);
    let pages = Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/stream", get(stream::open))
        .route("/stream/{id}", post(stream::post).layer(DefaultBodyLimit::max(post_limit)))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(middleware::from_fn_with_state(state.clone(), session_renewal::renew_session))
        .layer(sessions)
        .layer(middleware::from_fn(guard::unavailable_page))
        .layer(middleware::from_fn(page_metrics));
    let mut router = Router::new().nest_service(&format!("/{}", leptos.site_pkg_dir), site);
    if state.config.metrics_addr.is_none() {
        router = router.route("/metrics", get(scrape));
    }
    let request_id = HeaderName::from_static(REQUEST_ID);
    router
        .merge(pages)
        .layer(middleware::from_fn(body::limit_api_body))
        .layer(middleware::from_fn_with_state(state.clone(), guard::same_origin_api))
        .layer(middleware::from_fn_with_state(state.clone(), guard::client_addr))
        .layer(middleware::from_fn_with_state(headers::Policy::for_site(&state.leptos), headers::security_headers))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(drop_implausible_request_id))
        .with_state(state)
}

/// The router of the metrics listener (`METRICS_ADDR`): `/metrics` and nothing else.
pub fn metrics_router() -> Router {
    Router::new().route("/metrics", get(scrape))
}
