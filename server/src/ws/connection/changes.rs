//! A socket's changes to messages: edits, deletions, reactions, and refreshing messages the
//! client may hold stale after a gap in its history.

use protocol::{ErrorCode, MAX_REFRESH_IDS, MessageId, ServerFrame};
use tracing::debug;

use super::Connection;
use crate::broker::ChangeOp;
use crate::chat::ChatService;
use crate::telemetry::metrics::metrics;

impl Connection {
    /// Applies a change to message `target` of room `raw`; acked with the change's id, or
    /// refused with the client id so the page can undo what it showed.
    pub(super) async fn change(&mut self, raw: &str, client_id: String, target: MessageId, op: ChangeOp) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, Some(client_id)).await,
        };
        if !self.holds(&room) {
            let message = format!("join {room} before changing its messages");
            return self.error(ErrorCode::NotJoined, message, Some(client_id)).await;
        }
        // A change is a write: whoever may not write in the room (a blocked user in a direct
        // conversation) may not change its messages either.
        if let Err(err) = self.services.access.check_send(self.asker(), &room).await {
            return self.error(err.code(), err.to_string(), Some(client_id)).await;
        }
        match self.services.chat.revise(&self.user, &room, &client_id, target, op).await {
            Ok(id) => {
                metrics().acks.increment(1);
                self.queue(ServerFrame::Ack { client_id, id }).await;
            }
            Err(err) => self.fail(err, Some(client_id)).await,
        }
    }

    /// Answers the state now of the messages `ids` of room `raw` that were ever changed.
    pub(super) async fn refresh(&mut self, raw: &str, ids: Vec<MessageId>) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        if ids.len() > MAX_REFRESH_IDS {
            let message = format!("refresh names at most {MAX_REFRESH_IDS} messages");
            return self.error(ErrorCode::BadFrame, message, None).await;
        }
        if !self.holds(&room) {
            return self.error(ErrorCode::NotJoined, format!("join {room} before refreshing it"), None).await;
        }
        match self.services.chat.revisions(&room, &ids).await {
            Ok(revisions) => {
                self.queue(ServerFrame::Revised { room: room.to_string(), id: None, revisions }).await;
            }
            Err(err) => {
                debug!(%err, "could not refresh");
                self.fail(err, None).await;
            }
        }
    }
}
