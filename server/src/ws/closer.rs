//! How a connection ends: once, with one close frame.
//!
//! A connection can end for many reasons at once — the client leaves, a write fails
//! or times out, the client falls too far behind, a frame is too big, the instance
//! drains — and whoever notices first must not be contradicted by the next: the
//! first reason given is the one the client reads in the close frame.
//!
//! Everyone who closes a connection runs in the connection's own task (its loop, its
//! writer, its rooms' events, the requests it handles), and the loop looks at the
//! closer after each of them: so the closer is a flag, not a wake-up — no token, no
//! waiter list, nothing more in every idle socket than a flag and the frame's slot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use protocol::CLOSE_TOO_SLOW;
use tungstenite::protocol::CloseFrame;

use crate::telemetry::metrics::metrics;

/// Ends a connection once, with one close frame.
#[derive(Default)]
pub struct Closer {
    closing: AtomicBool,
    frame: Mutex<Option<CloseFrame>>,
}

impl Closer {
    /// Asks for the connection to close with `code`; the first reason wins.
    pub fn close(&self, code: u16, reason: &str) {
        let mut frame = self.frame.lock().unwrap_or_else(PoisonError::into_inner);
        if frame.is_none() && !self.is_closing() {
            *frame = Some(CloseFrame { code: code.into(), reason: reason.into() });
        }
        self.closing.store(true, Ordering::Release);
    }

    /// Closes a client that fell too far behind with 4008 (it reconnects and catches up).
    pub fn cut_slow(&self) {
        if !self.is_closing() {
            metrics().slow_consumers.increment(1);
        }
        self.close(CLOSE_TOO_SLOW, "too slow: reconnect to catch up");
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// The close frame to send, once (`None` when the connection closed without a reason).
    pub fn take_frame(&self) -> Option<CloseFrame> {
        self.frame.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let closer = Closer::default();
        assert!(!closer.is_closing());
        closer.close(1008, "first");
        closer.cut_slow();
        assert!(closer.is_closing());
        let frame = closer.take_frame().expect("a close frame");
        assert_eq!((u16::from(frame.code), frame.reason.as_str()), (1008, "first"));
        assert!(closer.take_frame().is_none(), "taken once");
    }
}
