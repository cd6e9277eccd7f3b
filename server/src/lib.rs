//! Switchboard's server, as a library: the binary in `main.rs` only parses
//! configuration, sets up logging and calls [`Server::build`] and
//! [`Server::run`]; the integration tests start instances on port 0 the same
//! way, in process.
//!
//! Layout, one concept per module: [`config`], [`backend`] (memory or Redis),
//! storage seams — [`broker`] (chat storage and delivery), [`accounts`],
//! [`session`], [`presence`], [`ratelimit`], [`signals`] (instance-wide
//! orders) —, the chat domain [`chat`] and [`auth`], the application
//! [`services`] both transports call, the transports [`ws`] (the websocket
//! gateway), [`stream`] (its HTTP fallback, the same gateway) and [`routes`], and [`serve`] (the connection loop), [`state`],
//! [`drain`], [`telemetry`].
#![warn(missing_docs)]

pub mod accounts;
pub mod auth;
pub mod backend;
pub mod broker;
pub mod chat;
pub mod config;
pub mod drain;
pub mod presence;
pub mod ratelimit;
pub mod redact;
pub mod redis_conn;
pub mod rooms;
pub mod routes;
pub mod serve;
pub mod services;
pub mod session;
pub mod signals;
pub mod state;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::api::ssr::Services;
use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::auth::hashing::HashPool;
use crate::auth::{AuthDeps, AuthService};
use crate::backend::{Backend, BackendError};
use crate::chat::{ChatService, ChatSettings};
use crate::config::Config;
use crate::drain::Drain;
use crate::state::AppState;
use crate::stream::table::StreamTable;
use crate::ws::origin::OriginPolicy;
use crate::ws::registry::SocketRegistry;

/// The longest a login waits for a password-hashing slot before it is answered "busy".
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The fewest messages a catch-up replays (from the message store when the cache holds less).
const REPLAY_FROM_STORE: usize = 2_000;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The backend could not be set up.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Builds the application services of an instance over its backend.
fn services(config: &Config, backend: &Backend, instance: &str) -> services::Services {
    let chat_settings = ChatSettings {
        history_on_join: config.history_on_join,
        // A catch-up may replay the whole cached history (the stream holds up to 1.1 × the cap
        // between trims); from the message store, at least REPLAY_FROM_STORE messages (a client away
        // longer gets the newest ones and an explicit gap before them).
        replay_limit: config.history_cap.saturating_mul(2).max(REPLAY_FROM_STORE),
        max_message_chars: config.max_message_chars,
        grace: std::time::Duration::from_millis(config.presence_grace_ms),
        local: presence::LocalMemberships::default(),
        send_limit: config.limits().sends_per_user,
    };
    let seams = (backend.broker.clone(), backend.presence.clone(), backend.limiter.clone());
    let chat = ChatService::new(seams, instance.to_owned(), chat_settings);
    let auth = AuthService::new(AuthDeps {
        accounts: backend.accounts.clone(),
        limiter: backend.limiter.clone(),
        limits: config.limits(),
        signals: backend.signals.clone(),
        sessions: backend.sessions.clone(),
        hashing: HashPool::new(config.hash_concurrency, config.hash_queue, HASH_WAIT),
    });
    services::Services {
        access: services::RoomAccess::new(
            (backend.accounts.clone(), backend.rooms.clone(), backend.signals.clone()),
            services::RoomLists::new(backend.accounts.clone(), config.max_rooms_per_user),
            chat.clone(),
        ),
        profile: services::Profile::new(backend.accounts.clone(), chat.clone()),
        history: services::History::new(backend.store.clone(), backend.retention, backend.limiter.clone()),
        read: services::ReadState::new(backend.accounts.clone(), backend.signals.clone()),
        sessions: services::SocketSessions::new(
            backend.sessions.clone(),
            backend.accounts.clone(),
            config.session_ttl(),
        ),
        chat,
        auth: Arc::new(auth),
    }
}

/// A bound, ready-to-run instance.
pub struct Server {
    listener: TcpListener,
    /// The listener of `/metrics` alone, when `METRICS_ADDR` is set.
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Server {
    /// Connects the backend the configuration names and binds the listen address.
    pub async fn build(config: Config, leptos: LeptosOptions) -> Result<Self, StartError> {
        let backend = Backend::from_config(&config).await?;
        Self::with_backend(config, leptos, backend).await
    }

    /// Like [`Server::build`], with a backend made by the caller (tests share one memory backend).
    pub async fn with_backend(config: Config, leptos: LeptosOptions, backend: Backend) -> Result<Self, StartError> {
        let addr = config.listen.unwrap_or(leptos.site_addr);
        let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?),
            None => None,
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(addr.port());
        let instance = config.instance_id.clone().unwrap_or_else(|| format!("switchboard-{port}"));
        let services = Arc::new(services(&config, &backend, &instance));
        let context =
            Services { auth: services.auth.clone(), instance: instance.clone(), secure_cookies: config.cookie_secure };
        let config_drain = config.drain_timings();
        let state = AppState::new(state::Shared {
            origins: Arc::new(OriginPolicy::new(&config.allowed_origins)),
            sockets: SocketRegistry::new(config.max_sockets_per_user),
            streams: StreamTable::default(),
            limits: config.limits(),
            memberships: services.chat.local_memberships(),
            config: Arc::new(config),
            instance,
            backend,
            leptos,
            context,
            services,
            drain: Drain::new(config_drain),
        });
        Ok(Self { listener, metrics_listener, state })
    }

    /// The address `/metrics` is served on when it has a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    /// The address the instance listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.leptos.site_addr)
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.state.instance
    }

    /// The instance's drain state (it also counts the open websockets).
    pub fn drain(&self) -> Drain {
        self.state.drain.clone()
    }

    /// Cancelling this token starts the graceful drain (see [`drain`]); the server stops when it is done.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.drain.trigger()
    }

    /// Serves until the drain has finished.
    pub async fn run(self) -> std::io::Result<()> {
        let addr = self.local_addr();
        let drain = self.state.drain.clone();
        tokio::spawn(drain.clone().run());
        let heartbeat = presence::heartbeat::Heartbeat {
            presence: self.state.backend.presence.clone(),
            broker: self.state.backend.broker.clone(),
            instance: self.state.instance.clone(),
            local: self.state.memberships.clone(),
        };
        tokio::spawn(heartbeat.run(self.state.drain.trigger()));
        tokio::spawn(ws::orders::run(self.state.clone()));
        tokio::spawn(ws::orders::move_on_drain(self.state.clone()));
        let check = Duration::from_secs(self.state.config.session_check_secs.max(1));
        let finished = drain.clone();
        let stop = async move { finished.finished().await };
        tokio::spawn(ws::session_sweep::run(self.state.sockets.clone(), self.state.services.clone(), check, stop));
        if let Some(store) = self.state.backend.store.clone() {
            let finished = drain.clone();
            let stop = async move { finished.finished().await };
            tokio::spawn(store::pruning::run(store, self.state.backend.retention, stop));
        }
        if let Some(listener) = self.metrics_listener {
            let finished = drain.clone();
            tokio::spawn(async move {
                let serving = axum::serve(listener, routes::metrics_router())
                    .with_graceful_shutdown(async move { finished.finished().await });
                if let Err(err) = serving.await {
                    tracing::warn!(%err, "the metrics listener stopped");
                }
            });
        }
        info!(%addr, instance = %self.state.instance, "listening");
        let config = &self.state.config;
        let send_buffer = (config.socket_send_buffer_bytes > 0).then_some(config.socket_send_buffer_bytes);
        let options = serve::ServeOptions { header_timeout: config.header_timeout(), send_buffer };
        let router = routes::router(self.state);
        serve::serve(self.listener, router, options, async move { drain.finished().await }).await;
        Ok(())
    }
}
