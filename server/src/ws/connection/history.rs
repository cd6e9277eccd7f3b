//! A socket's reads of the conversation beyond its join: scrolling back, searching, and a
//! search result's context (see [`services::history`](crate::services::history)).

use protocol::{ErrorCode, MessageId, ServerFrame};
use tracing::debug;

use super::Connection;
use crate::chat::ChatService;
use crate::services::HistoryError;

impl Connection {
    /// Answers the page of room `raw` right before `before`; only in a room this socket joined.
    pub(super) async fn older(&mut self, raw: &str, before: MessageId) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        if !self.holds(&room) {
            return self.error(ErrorCode::NotJoined, format!("join {room} before scrolling back in it"), None).await;
        }
        match self.services.history.older(&room, before).await {
            Ok(page) => {
                let room = room.to_string();
                self.queue(ServerFrame::Older { room, messages: page.messages, complete: page.complete }).await;
            }
            Err(err) => self.history_failed(err).await,
        }
    }

    /// Answers the newest messages matching `query` in the rooms the user may read.
    pub(super) async fn search(&mut self, query: String) {
        let rooms = match self.services.access.readable(&self.key).await {
            Ok(rooms) => rooms,
            Err(err) => return self.error(ErrorCode::Unavailable, err.to_string(), None).await,
        };
        match self.services.history.search(self.key.as_str(), &rooms, &query).await {
            Ok(results) => {
                self.queue(ServerFrame::Found { query, results }).await;
            }
            Err(err) => self.history_failed(err).await,
        }
    }

    /// Answers the messages around `id` in room `raw`, if the user may read the room (the
    /// same answer as for a room that does not exist otherwise).
    pub(super) async fn around(&mut self, raw: &str, id: MessageId) {
        let room = match ChatService::room(raw) {
            Ok(room) => room,
            Err(err) => return self.fail(err, None).await,
        };
        let readable = || async { self.services.access.readable(&self.key).await.is_ok_and(|r| r.contains(&room)) };
        if !self.holds(&room) && !readable().await {
            return self
                .error(ErrorCode::NoSuchRoom, format!("there is no room {room} that you can enter"), None)
                .await;
        }
        match self.services.history.around(&room, id).await {
            Ok(messages) => {
                self.queue(ServerFrame::Context { room: room.to_string(), id, messages }).await;
            }
            Err(err) => self.history_failed(err).await,
        }
    }

    async fn history_failed(&self, err: HistoryError) {
        debug!(%err, "history read refused");
        self.error(err.code(), err.to_string(), None).await;
    }
}
