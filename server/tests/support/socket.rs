//! The test client's websocket: speaks Switchboard's protocol with timeouts.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Instance, PATIENCE};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A frame or the end of a socket, for tests that watch how a socket ends.
pub enum Raw {
    /// A server frame.
    Frame(ServerFrame),
    /// The socket closed, with this close code if there was a close frame.
    Closed(Option<u16>),
}

/// A websocket speaking Switchboard's protocol.
pub struct Socket {
    stream: Stream,
    /// Every frame [`Socket::next`] and [`Socket::next_within`] returned, in order: what the
    /// server sent this client, including what a test skipped while waiting for something else.
    pub seen: Vec<ServerFrame>,
}

impl Socket {
    /// Opens `/ws` over a TCP socket with a tiny receive buffer (a client on a slow link).
    pub async fn connect_slow(instance: &Instance, cookie: &str) -> Self {
        let mut request = format!("ws://{}/ws", instance.addr).into_client_request().expect("request");
        request.headers_mut().insert("cookie", cookie.parse().expect("cookie header"));
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("small buffer");
        let tcp = socket.connect(instance.addr).await.expect("tcp connect");
        let (stream, _) =
            tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(tcp)).await.expect("handshake");
        Self { stream, seen: Vec::new() }
    }

    /// Opens `/ws`; `Err(status)` when the handshake is refused.
    pub async fn connect(instance: &Instance, cookie: Option<&str>, origin: Option<&str>) -> Result<Self, u16> {
        let mut request = format!("ws://{}/ws", instance.addr).into_client_request().expect("request");
        if let Some(cookie) = cookie {
            request.headers_mut().insert("cookie", cookie.parse().expect("cookie header"));
        }
        if let Some(origin) = origin {
            request.headers_mut().insert("origin", origin.parse().expect("origin header"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(Self { stream, seen: Vec::new() }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(err) => panic!("websocket failed: {err}"),
        }
    }

    /// Sends a frame.
    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_raw(Message::text(frame.encode())).await;
    }

    /// Sends a frame; `false` if the socket is gone (for clients the server may cut).
    pub async fn try_send(&mut self, frame: &ClientFrame) -> bool {
        self.stream.send(Message::text(frame.encode())).await.is_ok()
    }

    /// Sends a raw websocket message.
    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("send");
    }

    /// The next server frame, or `None` when the socket closed. Panics after [`PATIENCE`].
    pub async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("a frame in time")?;
            match message {
                Ok(Message::Text(text)) => {
                    let frame = ServerFrame::decode(text.as_str()).expect("valid frame");
                    self.seen.push(frame.clone());
                    return Some(frame);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next server frame if one comes within `wait` (`None` on timeout or close).
    pub async fn next_within(&mut self, wait: Duration) -> Option<ServerFrame> {
        loop {
            match tokio::time::timeout(wait, self.stream.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame = ServerFrame::decode(text.as_str()).ok();
                    self.seen.extend(frame.clone());
                    return frame;
                }
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                _ => return None,
            }
        }
    }

    /// The next frame or the close code. Panics after [`PATIENCE`].
    pub async fn next_raw(&mut self) -> Raw {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("a frame in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Raw::Frame(ServerFrame::decode(text.as_str()).expect("valid frame"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Raw::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Raw::Closed(None),
            }
        }
    }

    /// Reads frames until one matches; panics if the socket closes first.
    pub async fn expect<T>(&mut self, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
        loop {
            let frame = self.next().await.expect("socket closed while waiting for a frame");
            if let Some(found) = pick(frame) {
                return found;
            }
        }
    }

    /// Reads until the close frame; returns its code.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("close in time");
            match message {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Waits for `welcome`, joins `room` and waits for its history.
    pub async fn join(&mut self, room: &str) -> Vec<protocol::ChatMessage> {
        self.join_since(room, None).await.0
    }

    /// Waits for `welcome`, joins `room` from `since` and waits for the history and its gap.
    pub async fn join_since(
        &mut self,
        room: &str,
        since: Option<protocol::MessageId>,
    ) -> (Vec<protocol::ChatMessage>, Option<protocol::Gap>) {
        self.expect(|f| matches!(f, ServerFrame::Welcome { .. }).then_some(())).await;
        self.send(&ClientFrame::Join { room: room.to_owned(), since }).await;
        self.history(room).await
    }

    /// Joins `room` on a socket whose `welcome` was already taken; waits for the history.
    pub async fn join_again(&mut self, room: &str) -> Vec<protocol::ChatMessage> {
        self.send(&ClientFrame::Join { room: room.to_owned(), since: None }).await;
        self.history(room).await.0
    }

    /// Collects a join's history: every page (`history` frame) up to the one without `more`.
    pub async fn history(&mut self, room: &str) -> (Vec<protocol::ChatMessage>, Option<protocol::Gap>) {
        let answer = self.history_answer(room).await;
        (answer.messages, answer.gap)
    }

    /// Collects a join's whole answer: messages, gap, revisions of older messages, position.
    pub async fn history_answer(&mut self, room: &str) -> HistoryAnswer {
        let mut answer = HistoryAnswer::default();
        loop {
            if let ServerFrame::History { room: r, messages, gap, revisions, upto, more } =
                self.next().await.expect("socket closed")
                && r == room
            {
                answer.messages.extend(messages);
                answer.gap = answer.gap.or(gap);
                answer.revisions.extend(revisions);
                answer.upto = answer.upto.or(upto);
                if !more {
                    return answer;
                }
            }
        }
    }

    /// Sends a message and waits for its ack; returns the stored id.
    pub async fn say(&mut self, room: &str, client_id: &str, text: &str) -> protocol::MessageId {
        self.send(&ClientFrame::Send { room: room.to_owned(), client_id: client_id.to_owned(), text: text.to_owned() })
            .await;
        let wanted = client_id.to_owned();
        self.expect(|f| match f {
            ServerFrame::Ack { client_id, id } if client_id == wanted => Some(id),
            ServerFrame::Error { message, client_id: Some(c), .. } if c == wanted => panic!("send refused: {message}"),
            _ => None,
        })
        .await
    }

    /// Waits for a live message with this text; returns it.
    pub async fn hear(&mut self, text: &str) -> protocol::ChatMessage {
        self.expect(|f| match f {
            ServerFrame::Message(m) if m.text == text => Some(m),
            _ => None,
        })
        .await
    }
}

/// A join's whole history answer, every page together.
#[derive(Debug, Default)]
pub struct HistoryAnswer {
    /// The messages, oldest first.
    pub messages: Vec<protocol::ChatMessage>,
    /// The trimmed range, if any.
    pub gap: Option<protocol::Gap>,
    /// The state of older messages changed within the range.
    pub revisions: Vec<protocol::Revision>,
    /// The newest entry covered.
    pub upto: Option<protocol::MessageId>,
}
