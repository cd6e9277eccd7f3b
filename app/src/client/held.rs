//! What a page keeps for the server across sockets, besides the outbox's messages: rooms
//! left while it could not send, and changes to messages (edits, deletions, reactions) until
//! the server answered them.
//!
//! A change is sent at once when the socket can send, and kept: after the next `welcome`
//! every change not yet answered is sent again, and one the server could not make now
//! (`unavailable`, `rate_limited`) is sent again on the next tick. Each carries a client id,
//! so the server applies it once however often it arrives. Changes live in the page's
//! memory, not in browser storage: a reload forgets the unanswered ones (the user sees
//! their message unchanged and can do it again).

use protocol::ClientFrame;

/// The most unanswered changes kept; older ones are dropped beyond it.
pub const MAX_HELD_CHANGES: usize = 100;

/// Rooms left and changes made, waiting for the server.
#[derive(Debug, Default)]
pub struct Held {
    leaving: Vec<String>,
    changes: Vec<ClientFrame>,
}

impl Held {
    /// Keeps a leave for after the next `welcome`.
    pub fn leave(&mut self, room: String) {
        self.leaving.push(room);
    }

    /// The rooms left while the page could not send.
    pub fn leaving(&self) -> &[String] {
        &self.leaving
    }

    /// Takes the rooms left, to send them.
    pub fn take_leaves(&mut self) -> Vec<String> {
        std::mem::take(&mut self.leaving)
    }

    /// Keeps `frame` until the server answers it, if it is a change; whether it is one.
    pub fn keep_change(&mut self, frame: &ClientFrame) -> bool {
        if change_id(frame).is_none() {
            return false;
        }
        if self.changes.len() >= MAX_HELD_CHANGES {
            self.changes.remove(0);
        }
        self.changes.push(frame.clone());
        true
    }

    /// The server answered the change with this client id (acked, or refused for good).
    pub fn settled(&mut self, client_id: &str) {
        self.changes.retain(|frame| change_id(frame) != Some(client_id));
    }

    /// The unanswered changes, oldest first.
    pub fn changes(&self) -> &[ClientFrame] {
        &self.changes
    }
}

/// The client id of a change frame; `None` for any other frame.
pub fn change_id(frame: &ClientFrame) -> Option<&str> {
    match frame {
        ClientFrame::Edit { client_id, .. }
        | ClientFrame::Delete { client_id, .. }
        | ClientFrame::React { client_id, .. } => Some(client_id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::MessageId;

    fn react(client_id: &str) -> ClientFrame {
        let (room, emoji) = ("general".to_owned(), "👍".to_owned());
        ClientFrame::React { room, id: MessageId::new(1, 0), emoji, remove: false, client_id: client_id.into() }
    }

    #[test]
    fn changes_are_kept_until_answered_and_bounded() {
        let mut held = Held::default();
        assert!(!held.keep_change(&ClientFrame::Ping), "only changes are kept");
        assert!(held.keep_change(&react("a")) && held.keep_change(&react("b")));
        held.settled("a");
        assert_eq!(held.changes(), [react("b")]);
        for n in 0..MAX_HELD_CHANGES + 5 {
            held.keep_change(&react(&n.to_string()));
        }
        assert_eq!(held.changes().len(), MAX_HELD_CHANGES);
        assert_eq!(change_id(&held.changes()[0]), Some("5"), "the oldest went first");
        held.leave("r".into());
        assert_eq!(held.take_leaves(), ["r"]);
        assert!(held.leaving().is_empty());
    }
}
