//! A client of the HTTP fallback that reads the event stream as a browser's
//! `EventSource` would (lines, `event:`, `id:`, `data:`, blank line) and posts frames.

use protocol::{ClientFrame, ServerFrame};

use super::{Instance, PATIENCE};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sse {
    /// Its type (`message` when none was given).
    pub event: String,
    /// Its id, if it had one.
    pub id: Option<String>,
    /// Its data.
    pub data: String,
}

/// An open fallback stream.
pub struct Events {
    response: reqwest::Response,
    pending: String,
    /// The stream's id (from its first event), or empty for a resumed response.
    pub id: String,
    /// The id of the last event read.
    pub last_id: Option<String>,
    cookie: String,
    origin: String,
    http: reqwest::Client,
    base: String,
}

/// What opening a stream gave: a stream, or the status that refused it.
pub type Opened = Result<Events, reqwest::StatusCode>;

impl Events {
    /// Opens `GET /stream` on `instance` with `cookie` (and `Last-Event-ID` when given).
    pub async fn open(instance: &Instance, cookie: Option<&str>, last_event_id: Option<&str>) -> Opened {
        let http = reqwest::Client::builder().build().expect("client");
        let origin = instance.url();
        let mut request = http.get(format!("{origin}/stream")).header("origin", &origin);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.expect("GET /stream answers");
        if response.status() != reqwest::StatusCode::OK {
            return Err(response.status());
        }
        let cookie = cookie.unwrap_or_default().to_owned();
        let mut events = Self {
            response,
            pending: String::new(),
            id: String::new(),
            last_id: None,
            cookie,
            origin,
            http,
            base: instance.url(),
        };
        if last_event_id.is_none() {
            let first = events.next_event().await.expect("the stream's first event");
            assert_eq!(first.event, "stream", "a new stream names itself first");
            events.id = first.data;
        } else {
            events.id = last_event_id.and_then(|l| l.rsplit_once(':')).map(|(id, _)| id.to_owned()).unwrap_or_default();
        }
        Ok(events)
    }

    /// The next event, or `None` when the response ended. Panics after [`PATIENCE`].
    pub async fn next_event(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                let mut event = Sse { event: "message".into(), ..Sse::default() };
                let mut data = Vec::new();
                for line in block.lines() {
                    match line.split_once(':') {
                        Some(("event", value)) => event.event = value.trim_start().to_owned(),
                        Some(("id", value)) => event.id = Some(value.trim_start().to_owned()),
                        Some(("data", value)) => data.push(value.strip_prefix(' ').unwrap_or(value).to_owned()),
                        _ => {}
                    }
                }
                if data.is_empty() && event.id.is_none() {
                    continue; // a comment (keep-alive) or a `retry:` line
                }
                event.data = data.join("\n");
                if event.id.is_some() {
                    self.last_id.clone_from(&event.id);
                }
                return Some(event);
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk()).await.expect("an event in time");
            match chunk {
                Ok(Some(bytes)) => self.pending.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// The next protocol frame; `Err((code, reason))` when the stream closed (`None` code: it
    /// ended without a close event).
    pub async fn next(&mut self) -> Result<ServerFrame, (Option<u16>, String)> {
        loop {
            let Some(event) = self.next_event().await else { return Err((None, String::new())) };
            match event.event.as_str() {
                "message" => return Ok(ServerFrame::decode(&event.data).expect("valid frame")),
                "close" => {
                    let close: serde_json::Value = serde_json::from_str(&event.data).expect("close data");
                    let code = close["code"].as_u64().and_then(|c| u16::try_from(c).ok());
                    return Err((code, close["reason"].as_str().unwrap_or_default().to_owned()));
                }
                _ => continue,
            }
        }
    }

    /// Reads frames until one matches; panics if the stream closes first.
    pub async fn expect<T>(&mut self, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
        loop {
            let frame = self.next().await.expect("the stream closed while waiting for a frame");
            if let Some(found) = pick(frame) {
                return found;
            }
        }
    }

    /// Posts frames to this stream through `instance` (any instance); the status.
    pub async fn post_via(&self, instance: &Instance, frames: &[ClientFrame]) -> reqwest::StatusCode {
        let body: Vec<String> = frames.iter().map(ClientFrame::encode).collect();
        post_raw(&self.http, instance, &self.id, &self.cookie, &instance.url(), body.join("\n")).await
    }

    /// Posts frames to this stream through the instance it was opened on.
    pub async fn post(&self, frames: &[ClientFrame]) -> reqwest::StatusCode {
        let body: Vec<String> = frames.iter().map(ClientFrame::encode).collect();
        let url = format!("{}/stream/{}", self.base, self.id);
        let request = self.http.post(url).header("cookie", &self.cookie).header("origin", &self.origin);
        request.body(body.join("\n")).send().await.expect("POST answers").status()
    }
}

/// Posts a raw body to stream `id` on `instance`, with `cookie` and `origin`: for clients that lie.
pub async fn post_raw(
    http: &reqwest::Client,
    instance: &Instance,
    id: &str,
    cookie: &str,
    origin: &str,
    body: String,
) -> reqwest::StatusCode {
    let url = format!("{}/stream/{id}", instance.url());
    let request = http.post(url).header("cookie", cookie).header("origin", origin).body(body);
    request.send().await.expect("POST answers").status()
}
