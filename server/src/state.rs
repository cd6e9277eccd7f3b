//! The state every handler shares.

use std::sync::Arc;

use app::api::ssr::Services;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::backend::Backend;
use crate::config::Config;
use crate::drain::Drain;
use crate::presence::LocalMemberships;
use crate::ratelimit::Limits;
use crate::stream::table::StreamTable;
use crate::ws::origin::OriginPolicy;
use crate::ws::registry::SocketRegistry;

/// Shared by every request and socket of an instance: one pointer, so a clone (axum makes
/// several per request) is a reference count, not a copy of every field, and a socket's task
/// keeps 8 bytes of it instead of half a kilobyte.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `shared`.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    /// The settings.
    pub config: Arc<Config>,
    /// This instance's id.
    pub instance: String,
    /// Storage.
    pub backend: Backend,
    /// Leptos' settings (site root, output name...).
    pub leptos: LeptosOptions,
    /// What server functions find in their Leptos context.
    pub context: Services,
    /// The application services (use cases) every transport calls.
    pub services: Arc<crate::services::Services>,
    /// Which origins may open the websocket.
    pub origins: Arc<OriginPolicy>,
    /// The graceful drain; every socket task watches it.
    pub drain: Drain,
    /// The open websockets and fallback streams, by user.
    pub sockets: SocketRegistry,
    /// The fallback streams this instance holds, by id.
    pub streams: StreamTable,
    /// The rate-limit policy.
    pub limits: Limits,
    /// This instance's room memberships (re-entered if a Redis outage let them be reaped).
    pub memberships: LocalMemberships,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
