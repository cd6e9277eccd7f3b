//! A sink and a stream as one transport.
//!
//! The connection's task ([`connection::serve`](crate::ws::connection::serve)) reads
//! and writes one transport: a websocket is both a stream of client frames and a sink
//! of server frames, and is kept whole — splitting it would put it behind a lock and
//! an allocation of its own in every socket. The HTTP fallback's two halves are
//! separate things (a buffer of server-sent events, the frames its `POST`s carry);
//! [`Duplex`] makes one transport of them.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Sink, Stream};

/// `sink` for writing, `stream` for reading.
pub struct Duplex<S, R> {
    sink: S,
    stream: R,
}

impl<S, R> Duplex<S, R> {
    /// One transport of the two halves.
    pub fn new(sink: S, stream: R) -> Self {
        Self { sink, stream }
    }
}

impl<S: Unpin, R: Stream + Unpin> Stream for Duplex<S, R> {
    type Item = R::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R::Item>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }
}

impl<T, S: Sink<T> + Unpin, R: Unpin> Sink<T> for Duplex<S, R> {
    type Error = S::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.sink).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: T) -> Result<(), S::Error> {
        Pin::new(&mut self.sink).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.sink).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.sink).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::{SinkExt, StreamExt};

    use super::*;

    #[tokio::test]
    async fn reads_from_the_stream_and_writes_to_the_sink() {
        let (sink, mut written) = futures::channel::mpsc::unbounded::<u32>();
        let mut duplex = Duplex::new(sink, futures::stream::iter([1, 2]));
        duplex.send(7).await.expect("sent");
        assert_eq!(written.next().await, Some(7));
        assert_eq!(duplex.next().await, Some(1));
        assert_eq!(duplex.next().await, Some(2));
        assert_eq!(duplex.next().await, None);
        duplex.close().await.expect("closed");
        assert_eq!(written.next().await, None, "closing the duplex closes its sink");
    }
}
