//! What the page shows of a search and of reading back: the results of the last search, a
//! result opened in its context, and whether a page of older messages is on its way.
//!
//! Pure data, no Leptos, so its rules are unit-tested on the host: an answer to an older
//! query than the one typed last is not shown (the user typed on), and a failed search says why.

use protocol::{ChatMessage, MessageId};

/// A search result opened in its context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// The room of the result.
    pub room: String,
    /// The result.
    pub id: MessageId,
    /// Messages around it, oldest first.
    pub messages: Vec<ChatMessage>,
}

/// The search panel's state and the scrollback in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// The query sent last (what the panel waits for or shows).
    pub asked: String,
    /// The answer to `asked` arrived.
    pub answered: bool,
    /// The matching messages, newest first.
    pub results: Vec<ChatMessage>,
    /// Why the last search could not run, if it could not.
    pub error: Option<String>,
    /// The result opened in its context, if any.
    pub context: Option<Context>,
    /// A page of older messages was asked for and has not arrived.
    pub loading_older: bool,
}

impl Search {
    /// A search for `query` was sent.
    pub fn ask(&mut self, query: &str) -> bool {
        query.clone_into(&mut self.asked);
        self.answered = false;
        self.error = None;
        self.context = None;
        true
    }

    /// The answer to a search for `query`; whether it is the one shown.
    pub fn found(&mut self, query: &str, results: Vec<ChatMessage>) -> bool {
        if query != self.asked {
            return false;
        }
        self.results = results;
        self.answered = true;
        self.error = None;
        true
    }

    /// The last search was refused with `message`.
    pub fn refused(&mut self, message: &str) -> bool {
        self.answered = true;
        self.results.clear();
        self.error = Some(message.to_owned());
        true
    }

    /// The context of a result arrived.
    pub fn opened(&mut self, room: &str, id: MessageId, messages: Vec<ChatMessage>) -> bool {
        self.context = Some(Context { room: room.to_owned(), id, messages });
        true
    }

    /// Closes the panel: no query, no results, no context.
    pub fn close(&mut self) -> bool {
        let was_open = !self.asked.is_empty() || self.context.is_some();
        let loading_older = self.loading_older;
        *self = Self { loading_older, ..Self::default() };
        was_open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_answer_to_the_last_query_is_shown() {
        let mut search = Search::default();
        search.ask("dep");
        search.ask("deploy");
        let hit = ChatMessage { text: "deploy friday".into(), ..ChatMessage::default() };
        assert!(!search.found("dep", vec![hit.clone()]), "an answer the user typed past");
        assert!(!search.answered);
        assert!(search.found("deploy", vec![hit]));
        assert_eq!(search.results.len(), 1);
        search.refused("type a word to search for");
        assert!(search.results.is_empty() && search.error.is_some());
        assert!(search.close() && search.asked.is_empty());
    }
}
