//! The browser's side of the websocket.
//!
//! [`backoff`] (the reconnect schedule) and [`rejoin`] (the frames that rejoin
//! a user's rooms) are pure, compiled everywhere so they are unit-tested on the
//! host. In the browser only: [`connection`] keeps the page connected (one
//! `session` per socket), [`inbound`] applies what the server says to the page,
//! and [`outbox`] keeps unacknowledged messages in browser storage.

pub mod backoff;
#[cfg(feature = "hydrate")]
pub mod connection;
#[cfg(feature = "hydrate")]
pub mod inbound;
#[cfg(feature = "hydrate")]
pub mod outbox;
pub mod rejoin;
#[cfg(feature = "hydrate")]
mod session;

/// What the page shows about its connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnectionState {
    /// Not started yet (server-side render, or before hydration).
    #[default]
    Idle,
    /// Opening the websocket.
    Connecting,
    /// Connected to the named instance.
    Connected(String),
    /// Waiting this many seconds before the next try.
    Reconnecting(u32),
    /// The browser reports no network.
    Offline,
}

impl ConnectionState {
    /// The status line for the page footer.
    pub fn describe(&self) -> String {
        match self {
            Self::Idle => "starting…".into(),
            Self::Connecting => "connecting…".into(),
            Self::Connected(instance) => format!("connected to {instance}"),
            Self::Reconnecting(0) => "reconnecting…".into(),
            Self::Reconnecting(secs) => format!("reconnecting in {secs} s"),
            Self::Offline => "offline".into(),
        }
    }
}
