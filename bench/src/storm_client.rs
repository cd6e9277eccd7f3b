//! One client of the reconnect storm: a socket that, when its instance dies, reconnects to a
//! surviving one and rejoins its room — with the last message id it saw, which Switchboard
//! uses to replay what was missed (the peer has no such thing: Socket.IO's redis adapter
//! does not recover connection state).
//!
//! The same reconnect policy for both stacks: a first attempt after a random delay of up to
//! one second (clients spread their retries, as both real clients do), then every 500 ms.
//! The client records every message it receives by the sender's sequence number, so the
//! scenario can count what was lost and what came twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use reqwest::header::HeaderValue;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Socket, rejoin};
use crate::wire::{Inbound, Proto};

/// What a storm client knows about itself.
pub struct Spec {
    /// The stack.
    pub proto: Proto,
    /// Every instance's base URL.
    pub urls: Arc<Vec<String>>,
    /// The instance it starts on.
    pub instance: usize,
    /// The instance that will be killed (never reconnected to).
    pub doomed: usize,
    /// Its session.
    pub cookie: HeaderValue,
    /// Its room.
    pub room: String,
    /// A number to spread reconnects over the surviving instances.
    pub index: usize,
}

/// What a storm client saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Receipts per message sequence number.
    pub received: HashMap<u64, u32>,
    /// When it was back (rejoined) after losing its socket, if it lost it.
    pub back_at: Option<Instant>,
    /// It lost its socket.
    pub dropped: bool,
    /// It never got back.
    pub gave_up: bool,
}

/// Runs the client until `until` (sending what arrives on `sends`); returns what it saw.
pub async fn run(spec: Spec, socket: Socket, mut sends: mpsc::UnboundedReceiver<String>, until: Instant) -> Outcome {
    let mut outcome = Outcome::default();
    let mut last_id: Option<String> = None;
    let mut socket = Some(socket);
    let mut open = true;
    while Instant::now() < until {
        let Some(live) = socket.as_mut() else { break };
        let frame = tokio::select! {
            send = sends.recv(), if open => {
                match send {
                    Some(text) => { let _ = live.send(Message::text(text)).await; }
                    // No more sends: keep receiving until `until`.
                    None => open = false,
                }
                continue;
            }
            frame = live.next() => frame,
            _ = tokio::time::sleep_until(until.into()) => break,
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                if spec.proto.classify(text.as_str()) == Inbound::Ping {
                    let _ = live.send(Message::text(spec.proto.pong())).await;
                } else {
                    note(text.as_str(), &mut outcome, &mut last_id);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => {
                outcome.dropped = true;
                socket = reconnect(&spec, &mut outcome, &mut last_id, until).await;
            }
        }
    }
    outcome
}

async fn reconnect(spec: &Spec, outcome: &mut Outcome, last_id: &mut Option<String>, until: Instant) -> Option<Socket> {
    let survivors: Vec<usize> = (0..spec.urls.len()).filter(|&i| i != spec.doomed).collect();
    tokio::time::sleep(Duration::from_millis(rand::random_range(0..1000))).await;
    let mut attempt = 0;
    while Instant::now() < until {
        let base = &spec.urls[survivors[(spec.index + attempt) % survivors.len()]];
        if let Ok((socket, confirmation)) = rejoin(spec.proto, base, &spec.cookie, &spec.room, last_id.as_deref()).await
        {
            outcome.back_at = Some(Instant::now());
            note(confirmation.as_str(), outcome, last_id);
            return Some(socket);
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    outcome.gave_up = true;
    None
}

/// Records every message in a `message` or `history` frame (either protocol) and the last id.
fn note(frame: &str, outcome: &mut Outcome, last_id: &mut Option<String>) {
    let delivery = frame.starts_with(r#"{"type":"message""#)
        || frame.starts_with(r#"{"type":"history""#)
        || frame.starts_with(r#"42["message","#);
    if !delivery {
        return;
    }
    for id in all_values(frame, "\"client_id\":\"") {
        if let Some(seq) = id.rsplit('.').next().and_then(|s| s.parse().ok()) {
            *outcome.received.entry(seq).or_insert(0) += 1;
        }
    }
    if frame.starts_with('{')
        && let Some(id) = all_values(frame, "\"id\":\"").last()
    {
        *last_id = Some(id.to_owned());
    }
}

fn all_values<'a>(frame: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    frame.match_indices(key).filter_map(move |(at, _)| {
        let start = at + key.len();
        frame[start..].find('"').map(|len| &frame[start..start + len])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_history_pages_and_keeps_the_last_id() {
        let frame = r#"{"type":"history","room":"r","messages":[{"room":"r","id":"5-0","user":"u","text":"t","ts":1,"client_id":"9.0.1.3"},{"room":"r","id":"6-0","user":"u","text":"t","ts":1,"client_id":"9.0.2.4"}]}"#;
        let (mut outcome, mut last) = (Outcome::default(), None);
        note(frame, &mut outcome, &mut last);
        assert_eq!(outcome.received.len(), 2);
        assert_eq!(last.as_deref(), Some("6-0"));
    }
}
