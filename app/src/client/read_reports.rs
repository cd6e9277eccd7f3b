//! How far the user has read, reported to the server without a frame per message.
//!
//! A user watching a busy room reads every message as it arrives; reporting each would cost
//! the server a script and an instance-wide publication per viewer per message. So a room's
//! first report goes at once (another tab clears its unread count right away), and later
//! ones within [`REPORT_EVERY_MS`] are held and only the newest is sent, on the socket's
//! next tick. A position never moves backwards on the server, so dropping the older held
//! ones loses nothing.

use std::collections::{BTreeMap, HashMap};

use protocol::{ClientFrame, MessageId};

/// The shortest time between two reports of one room, in milliseconds.
pub const REPORT_EVERY_MS: f64 = 2_000.0;

/// Read positions not reported yet, and when each room was last reported.
#[derive(Debug, Default)]
pub struct ReadReports {
    last_sent: HashMap<String, f64>,
    held: BTreeMap<String, MessageId>,
}

impl ReadReports {
    /// The user read `room` up to `id` at `now_ms`: the frame to send now, if it is due now.
    pub fn report(&mut self, room: &str, id: MessageId, now_ms: f64) -> Option<ClientFrame> {
        let recent = self.last_sent.get(room).is_some_and(|sent| now_ms - sent < REPORT_EVERY_MS);
        if recent {
            let held = self.held.entry(room.to_owned()).or_default();
            *held = (*held).max(id);
            return None;
        }
        self.held.remove(room);
        self.last_sent.insert(room.to_owned(), now_ms);
        Some(ClientFrame::Read { room: room.to_owned(), id })
    }

    /// The held reports, to send now (one per room, the newest position).
    pub fn due(&mut self, now_ms: f64) -> Vec<ClientFrame> {
        let held = std::mem::take(&mut self.held);
        held.into_iter()
            .map(|(room, id)| {
                self.last_sent.insert(room.clone(), now_ms);
                ClientFrame::Read { room, id }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_report_goes_at_once_and_later_ones_coalesce() {
        let mut reports = ReadReports::default();
        let id = |n| MessageId::new(n, 0);
        assert!(reports.report("general", id(1), 0.0).is_some());
        for n in 2..50 {
            assert_eq!(reports.report("general", id(n), 10.0 * n as f64), None);
        }
        assert!(reports.report("other", id(3), 100.0).is_some(), "rooms are apart");
        let due = reports.due(1_000.0);
        assert_eq!(due, [ClientFrame::Read { room: "general".into(), id: id(49) }], "only the newest");
        assert!(reports.due(1_100.0).is_empty());
        assert!(reports.report("general", id(60), 1_500.0).is_none(), "sent at 1000: held");
        assert!(reports.report("general", id(61), 3_100.0).is_some(), "due again");
    }
}
