//! The page's reads beyond the live transcript: scrolling back, searching, and a search
//! result opened in its context. Each is one frame to the server; the answers are folded
//! into the state by [`inbound::apply`](crate::client::inbound::apply).

use leptos::prelude::*;
use protocol::{ClientFrame, MessageId};

use super::ChatHandles;
use crate::search::Search;

impl ChatHandles {
    /// Asks for the page of the room on screen before its oldest message shown, unless one is
    /// on its way or the room's first message is shown already.
    pub fn load_older(&self) {
        let room = self.current.get_untracked();
        let Some(log) = self.log(&room) else { return };
        let (oldest, done) = log.with_untracked(|l| (l.oldest_id(), l.reached_start()));
        let Some(before) = oldest.filter(|_| !done) else { return };
        if self.search.with_untracked(|s| s.loading_older) {
            return;
        }
        self.search.update(|s| s.loading_older = true);
        self.ask(ClientFrame::Older { room, before });
    }

    /// Searches every room the user is in for `query`.
    pub fn search_for(&self, query: String) {
        self.search.update(|s| {
            s.ask(&query);
        });
        self.ask(ClientFrame::Search { query });
    }

    /// Opens a search result in its context.
    pub fn open_result(&self, room: String, id: MessageId) {
        self.ask(ClientFrame::Around { room, id });
    }

    /// Closes the search panel.
    pub fn close_search(&self) {
        self.search.maybe_update(Search::close);
    }
}
