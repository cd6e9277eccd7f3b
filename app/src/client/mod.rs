//! The browser's side of the connection: a websocket, or the HTTP fallback where
//! websockets do not get through ([`link::Transport`]).
//!
//! The client's decisions are pure and compiled everywhere, so they are
//! unit-tested on the host: [`inbound`] (what each server frame changes in the
//! page), [`link`] (the connection's phases and the reconnect schedule),
//! [`rejoin`] (the frames that rejoin a user's rooms), [`held`] (leaves and changes
//! waiting for the server), [`read_reports`] (how far the
//! user read, coalesced) and [`outbox`] (the unacknowledged messages; its storage is
//! the browser's). In the browser only:
//! [`connection`] keeps the page connected, driving the link, with one
//! `session` per socket that reads frames, applies them through [`inbound`]
//! and carries out what they ask.

#[cfg(feature = "hydrate")]
pub mod connection;
pub mod held;
pub mod inbound;
pub mod link;
pub mod outbox;
pub mod read_reports;
pub mod rejoin;
#[cfg(feature = "hydrate")]
mod session;
#[cfg(feature = "hydrate")]
mod transport;

/// What the page's footer says about its connection (the connection's own phases are
/// [`link::Phase`]; this adds what the user sees: the instance, a countdown, being offline).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnectionState {
    /// Not started yet (server-side render, or before hydration).
    #[default]
    Idle,
    /// Opening the websocket.
    Connecting,
    /// Opening the HTTP fallback (websockets did not get through).
    ConnectingFallback,
    /// Connected to the named instance; `true` on the HTTP fallback.
    Connected(String, bool),
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
            Self::ConnectingFallback => "connecting over HTTP…".into(),
            Self::Connected(instance, false) => format!("connected to {instance}"),
            Self::Connected(instance, true) => format!("connected to {instance} over HTTP (websockets are blocked)"),
            Self::Reconnecting(0) => "reconnecting…".into(),
            Self::Reconnecting(secs) => format!("reconnecting in {secs} s"),
            Self::Offline => "offline".into(),
        }
    }
}
