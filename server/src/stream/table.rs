//! This instance's open fallback streams, by id.
//!
//! A stream's id names the instance that holds it (`<token>.<instance>`), so a
//! `POST` that lands on another instance knows where to send its frames without
//! asking anyone; the token is 128 random bits, and the holder also checks that
//! the frames come from the stream's own login, so knowing an id is not enough to
//! write into someone else's connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::buffer::EventBuffer;

/// One open stream.
pub struct Entry {
    /// The login (session) the stream was opened under.
    pub login: String,
    /// Its events.
    pub buffer: Arc<EventBuffer>,
    /// Feeds the connection's reader with the frames `POST`s carry, a batch per `POST`.
    pub inbox: mpsc::Sender<Vec<String>>,
}

/// Why frames could not be handed to a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such stream here (it ended), or it is another login's.
    Unknown,
    /// The stream has more frames waiting than it takes.
    Full,
}

/// The streams of this instance; cheap to clone.
#[derive(Clone, Default)]
pub struct StreamTable {
    streams: Arc<Mutex<HashMap<String, Arc<Entry>>>>,
}

impl StreamTable {
    /// Adds a stream under `id`.
    pub fn insert(&self, id: String, entry: Arc<Entry>) {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner).insert(id, entry);
    }

    /// Removes the stream `id`.
    pub fn remove(&self, id: &str) {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// The stream `id` if it is `login`'s.
    pub fn get(&self, id: &str, login: &str) -> Option<Arc<Entry>> {
        let streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
        streams.get(id).filter(|entry| entry.login == login).cloned()
    }

    /// Hands `frames` to the stream `id` of `login`, in order, all or none.
    pub fn deliver(&self, id: &str, login: &str, frames: Vec<String>) -> Result<(), Refused> {
        let entry = self.get(id, login).ok_or(Refused::Unknown)?;
        entry.inbox.try_send(frames).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => Refused::Full,
            mpsc::error::TrySendError::Closed(_) => Refused::Unknown,
        })
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The instance named in a stream id, if it is well formed.
pub fn holder(id: &str) -> Option<&str> {
    let (token, instance) = id.split_once('.')?;
    (token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()) && !instance.is_empty()).then_some(instance)
}

/// A new stream id held by `instance`.
pub fn new_id(instance: &str) -> String {
    format!("{:032x}.{instance}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(login: &str, room: usize) -> (Arc<Entry>, mpsc::Receiver<Vec<String>>) {
        let (inbox, frames) = mpsc::channel(room);
        (Arc::new(Entry { login: login.into(), buffer: Arc::new(EventBuffer::new(4096)), inbox }), frames)
    }

    #[test]
    fn ids_name_their_instance() {
        let id = new_id("sb-2.eu");
        assert_eq!(holder(&id), Some("sb-2.eu"));
        assert_eq!(holder("abc.sb-1"), None, "a short token");
        assert_eq!(holder(&format!("{}.", "a".repeat(32))), None);
        assert_eq!(holder("no-dot"), None);
    }

    #[tokio::test]
    async fn frames_reach_only_their_own_logins_stream_in_order() {
        let table = StreamTable::default();
        let (stream, mut frames) = entry("login-a", 8);
        table.insert("s1".into(), stream);
        assert_eq!(table.deliver("s1", "login-b", vec!["x".into()]), Err(Refused::Unknown), "another login");
        assert_eq!(table.deliver("s2", "login-a", vec!["x".into()]), Err(Refused::Unknown));
        table.deliver("s1", "login-a", vec!["1".into(), "2".into()]).expect("delivered");
        assert_eq!(frames.recv().await, Some(vec!["1".to_owned(), "2".to_owned()]));
        table.remove("s1");
        assert!(table.is_empty());
    }

    #[test]
    fn a_stream_that_does_not_read_refuses_more() {
        let table = StreamTable::default();
        let (stream, _frames) = entry("login-a", 2);
        table.insert("s1".into(), stream);
        let refused = (0..4).map(|n| table.deliver("s1", "login-a", vec![n.to_string()])).filter(Result::is_err);
        assert_eq!(refused.collect::<Vec<_>>(), vec![Err(Refused::Full); 2]);
    }
}
