//! The life of a page's connection, as named phases with explicit transitions.
//!
//! What the page may send, and how long it waits once a socket is gone, depend
//! on where the connection is. Before `welcome` the server does not know the
//! page's rooms yet, so what the user does is kept (leaves for later, messages
//! in the outbox) and replayed after it. After `move` the server is draining and
//! closes the socket itself: the page sends nothing more and comes back after
//! the delay the server drew, not after its own backoff. The first socket of a
//! page opens at once (the page itself just came from a live instance); every
//! later one follows a wait and a re-pin through the load balancer. Held as one
//! [`Phase`] rather than as flags that must agree, each of those questions is a
//! match on one value, and every transition is a pure method, unit-tested on the
//! host.
//!
//! ```text
//!  Connecting                    ─ socket open ───────────────► Opened
//!  Opened                        ─ welcome ───────────────────► Welcomed (the schedule starts over)
//!  Opened, Welcomed              ─ move {after_ms} ───────────► Moving(after)
//!  Connecting, Opened, Welcomed  ─ open failed, socket ended ─► Waiting(next backoff delay)
//!  Moving(after)                 ─ socket ended ──────────────► Waiting(after)
//!  Waiting                       ─ time is up, "retry now" ───► Repinning
//!  Repinning                     ─ answered ──────────────────► Connecting
//!  Repinning                     ─ unreachable ───────────────► Waiting(next backoff delay)
//! ```
//!
//! Any other event leaves the phase as it is. (A redirect to the login page while
//! re-pinning, a logout close and the page going away end the connection for good:
//! the `connection` task stops there.)
//!
//! The link also chooses the [`Transport`]. Some proxies refuse the websocket upgrade
//! or cut the socket at once; when [`SWITCH_AFTER`] connections in a row end before
//! `welcome`, the next one uses the HTTP fallback (server-sent events and `POST`s), and
//! the other way round, so a page finds whichever gets through. While on the fallback
//! the page tries a websocket now and then ([`PROBE`]); when one is welcomed, the link
//! is [`upgraded`](Link::upgraded) and connects over it at once.

use std::time::Duration;

use protocol::Backoff;

/// The reconnect schedule of a page: up to 250 ms, doubling up to 8 s (full jitter, see [`Backoff`]).
pub const RECONNECT: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(8));

/// How many connections in a row may end before `welcome` before the other transport is tried.
pub const SWITCH_AFTER: u32 = 2;

/// When a page on the fallback tries a websocket again: after up to 15 s, doubling to 5 minutes.
pub const PROBE: Backoff = Backoff::new(Duration::from_secs(15), Duration::from_secs(300));

/// How the page reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A websocket (`/ws`).
    WebSocket,
    /// Server-sent events down, `POST`s up (`/stream`), for networks that break websockets.
    Fallback,
}

/// Where a page's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening a socket: at page load, or after a re-pin.
    Connecting,
    /// The socket is open but the server has not said `welcome`: nothing is sent yet.
    Opened,
    /// The server said `welcome`: frames flow both ways.
    Welcomed,
    /// The server said `move`: it closes the socket itself; the page sends nothing more and
    /// reconnects this long after the close.
    Moving(Duration),
    /// Between sockets: waiting this long before re-pinning.
    Waiting(Duration),
    /// Asking the load balancer for a live instance (`GET /`) before the next socket.
    Repinning,
}

/// A page's connection: its [`Phase`] and its reconnect schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    phase: Phase,
    backoff: Backoff,
    transport: Transport,
    /// Connections in a row on this transport that ended before `welcome`.
    failures: u32,
    /// When to try a websocket again while on the fallback.
    probe: Backoff,
}

impl Default for Link {
    /// A page that has just loaded: it connects at once, on the [`RECONNECT`] schedule.
    fn default() -> Self {
        Self {
            phase: Phase::Connecting,
            backoff: RECONNECT,
            transport: Transport::WebSocket,
            failures: 0,
            probe: PROBE,
        }
    }
}

impl Link {
    /// Where the connection is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The transport the next (or current) connection uses.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether the page sends frames now: only between `welcome` and the socket's end or `move`.
    pub fn can_send(&self) -> bool {
        self.phase == Phase::Welcomed
    }

    /// Whether the server said `move` on this socket.
    pub fn is_moving(&self) -> bool {
        matches!(self.phase, Phase::Moving(_))
    }

    /// The socket is open (`Connecting` → `Opened`).
    pub fn opened(&mut self) {
        if self.phase == Phase::Connecting {
            self.phase = Phase::Opened;
        }
    }

    /// The server said `welcome` (`Opened` → `Welcomed`): the schedule starts over.
    pub fn welcomed(&mut self) {
        if self.phase == Phase::Opened {
            self.phase = Phase::Welcomed;
            self.backoff.reset();
            self.failures = 0;
            // A new connection is a new chance (the network may have changed): probe soon.
            self.probe = PROBE;
        }
    }

    /// The server said `move {after_ms}` (`Opened` or `Welcomed` → `Moving`).
    pub fn moving(&mut self, after_ms: u64) {
        if matches!(self.phase, Phase::Opened | Phase::Welcomed) {
            self.phase = Phase::Moving(Duration::from_millis(after_ms));
        }
    }

    /// The socket could not be opened, or it closed, failed or went silent: wait the
    /// server's delay after a `move`, else the next backoff delay for a random `fraction`
    /// in `[0, 1]`.
    pub fn socket_ended(&mut self, fraction: f64) {
        if matches!(self.phase, Phase::Connecting | Phase::Opened) {
            self.failures += 1;
            if self.failures >= SWITCH_AFTER {
                self.failures = 0;
                self.transport = match self.transport {
                    Transport::WebSocket => Transport::Fallback,
                    Transport::Fallback => Transport::WebSocket,
                };
            }
        }
        self.phase = match self.phase {
            Phase::Moving(after) => Phase::Waiting(after),
            Phase::Connecting | Phase::Opened | Phase::Welcomed => Phase::Waiting(self.backoff.next_delay(fraction)),
            Phase::Waiting(_) | Phase::Repinning => return,
        };
    }

    /// The wait is over, or the user asked to retry now (`Waiting` → `Repinning`).
    pub fn waited(&mut self) {
        if matches!(self.phase, Phase::Waiting(_)) {
            self.phase = Phase::Repinning;
        }
    }

    /// How long a page welcomed on the fallback waits before its next websocket try, for a
    /// random `fraction` in `[0, 1]` (each try that fails waits longer).
    pub fn next_probe(&mut self, fraction: f64) -> Duration {
        self.probe.next_delay(fraction)
    }

    /// A websocket tried from the fallback was welcomed: the page moves to websockets and
    /// connects at once (the fallback's connection is left behind, the server ends it).
    /// `false` when the link was not welcomed on the fallback (after a `move`, say): nothing
    /// changed, and the connection's end is handled as any other.
    pub fn upgraded(&mut self) -> bool {
        if self.transport != Transport::Fallback || self.phase != Phase::Welcomed {
            return false;
        }
        self.transport = Transport::WebSocket;
        self.failures = 0;
        self.probe = PROBE;
        self.phase = Phase::Connecting;
        true
    }

    /// The load balancer answered (`ok`: `Repinning` → `Connecting`) or could not be
    /// reached (→ `Waiting` the next backoff delay for a random `fraction`).
    pub fn repinned(&mut self, ok: bool, fraction: f64) {
        if self.phase == Phase::Repinning {
            self.phase = if ok { Phase::Connecting } else { Phase::Waiting(self.backoff.next_delay(fraction)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(link: &Link) -> Duration {
        match link.phase() {
            Phase::Waiting(pause) => pause,
            other => panic!("not waiting: {other:?}"),
        }
    }

    fn welcomed() -> Link {
        let mut link = Link::default();
        link.opened();
        link.welcomed();
        link
    }

    #[test]
    fn a_page_connects_at_once_and_sends_only_once_welcomed() {
        let mut link = Link::default();
        assert_eq!(link.phase(), Phase::Connecting);
        link.opened();
        assert_eq!(link.phase(), Phase::Opened);
        assert!(!link.can_send(), "before welcome the server does not know the rooms");
        link.welcomed();
        assert_eq!(link.phase(), Phase::Welcomed);
        assert!(link.can_send());
    }

    #[test]
    fn a_lost_socket_waits_repins_and_connects_again() {
        let mut link = welcomed();
        link.socket_ended(1.0);
        assert_eq!(waiting(&link), Duration::from_millis(250));
        assert!(!link.can_send());
        link.waited();
        assert_eq!(link.phase(), Phase::Repinning);
        link.repinned(true, 1.0);
        assert_eq!(link.phase(), Phase::Connecting);
    }

    #[test]
    fn every_failure_waits_longer_until_a_welcome_starts_over() {
        let mut link = Link::default();
        link.socket_ended(1.0); // the socket did not open
        assert_eq!(waiting(&link), Duration::from_millis(250));
        link.waited();
        link.repinned(false, 1.0); // the load balancer did not answer
        assert_eq!(waiting(&link), Duration::from_millis(500));
        link.waited();
        link.repinned(true, 1.0);
        link.opened();
        link.socket_ended(1.0); // closed before welcome
        assert_eq!(waiting(&link), Duration::from_secs(1));
        link.waited();
        link.repinned(true, 1.0);
        link.opened();
        link.welcomed();
        link.socket_ended(1.0);
        assert_eq!(waiting(&link), Duration::from_millis(250), "welcome reset the schedule");
    }

    #[test]
    fn after_move_nothing_is_sent_and_the_servers_delay_replaces_the_backoff() {
        let mut link = welcomed();
        link.moving(1_234);
        assert!(link.is_moving());
        assert!(!link.can_send());
        link.socket_ended(1.0);
        assert_eq!(waiting(&link), Duration::from_millis(1_234));
        link.waited();
        link.repinned(true, 1.0);
        link.opened();
        link.socket_ended(1.0);
        assert_eq!(waiting(&link), Duration::from_millis(250), "the move did not count as a failure");
    }

    fn ended_before_welcome(link: &mut Link) {
        link.opened();
        link.socket_ended(1.0);
        link.waited();
        link.repinned(true, 1.0);
    }

    #[test]
    fn two_connections_ended_before_welcome_switch_to_the_fallback_and_back() {
        let mut link = Link::default();
        assert_eq!(link.transport(), Transport::WebSocket);
        ended_before_welcome(&mut link);
        assert_eq!(link.transport(), Transport::WebSocket, "one failure is not a pattern");
        ended_before_welcome(&mut link);
        assert_eq!(link.transport(), Transport::Fallback, "the upgrade is broken here");
        link.opened();
        link.welcomed();
        link.socket_ended(1.0); // a welcomed connection that ends is no reason to switch
        link.waited();
        link.repinned(true, 1.0);
        ended_before_welcome(&mut link);
        assert_eq!(link.transport(), Transport::Fallback);
        ended_before_welcome(&mut link);
        assert_eq!(link.transport(), Transport::WebSocket, "neither gets through: alternate");
    }

    #[test]
    fn a_welcomed_probe_moves_the_page_back_to_websockets_at_once() {
        let mut link = Link::default();
        ended_before_welcome(&mut link);
        ended_before_welcome(&mut link);
        assert!(!link.upgraded());
        assert_eq!(link.transport(), Transport::Fallback, "not welcomed yet: nothing to leave");
        link.opened();
        link.welcomed();
        assert!(link.next_probe(1.0) <= Duration::from_secs(15));
        assert!(link.next_probe(1.0) <= Duration::from_secs(30), "a failed probe waits longer");
        assert!(link.upgraded());
        assert_eq!(link.transport(), Transport::WebSocket);
        assert_eq!(link.phase(), Phase::Connecting, "no wait, no re-pin");
        assert!(link.next_probe(1.0) <= Duration::from_secs(15), "the probe schedule starts over");
    }

    #[test]
    fn events_out_of_place_change_nothing() {
        let mut link = Link::default();
        link.welcomed(); // no socket yet
        link.moving(5);
        link.waited();
        link.repinned(true, 1.0);
        assert_eq!(link, Link::default());

        let mut link = welcomed();
        link.moving(5);
        link.welcomed(); // a second welcome does not undo the move
        assert_eq!(link.phase(), Phase::Moving(Duration::from_millis(5)));

        let mut link = welcomed();
        link.socket_ended(0.0);
        let before = link.clone();
        link.socket_ended(1.0); // the same end reported twice
        link.opened();
        link.repinned(true, 1.0);
        assert_eq!(link, before);
    }
}
