//! The socket's write buffer, owned by us so that an idle socket holds none.
//!
//! tungstenite gathers the frames it is given in a buffer of its own and writes them when it
//! grows past `write_buffer_size` or on a flush; that buffer keeps the capacity of the largest
//! batch (or frame) the socket ever wrote — a join's history, a welcome — for the socket's
//! whole life, and it offers no way to give it back. With `write_buffer_size` 0 tungstenite
//! hands each frame on at once, to this wrapper, which gathers them instead: the writer's
//! batch still leaves in one system call on the flush, and the buffer is given back as soon
//! as the flush has written it. (Large frames are sent in fragments by [`super::socket`], so
//! tungstenite's own buffer never grows past one fragment.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The capacity a batch's buffer starts with: a few small frames fit without growing it.
const FIRST_CAPACITY: usize = 1024;

/// An I/O stream whose writes are gathered until a flush, in a buffer freed once written.
pub struct Gathered<T> {
    io: T,
    buffer: Vec<u8>,
    /// How much of `buffer` the stream has taken.
    written: usize,
}

impl<T> Gathered<T> {
    /// Wraps `io`; nothing is allocated until something is written.
    pub fn new(io: T) -> Self {
        Self { io, buffer: Vec::new(), written: 0 }
    }
}

impl<T> Gathered<T> {
    /// Whether nothing gathered waits for a flush.
    pub fn is_empty(&self) -> bool {
        self.written == self.buffer.len()
    }
}

impl<T: AsyncWrite + Unpin> Gathered<T> {
    /// Writes what is gathered to the stream; frees the buffer once all of it is written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buffer.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buffer[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buffer = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Gathered<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Gathered<T> {
    /// Takes all of `data` into the buffer; the stream sees it on the next flush. The writer
    /// flushes after each batch, so the buffer holds at most one batch.
    fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(FIRST_CAPACITY.max(data.len()));
        }
        self.buffer.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn writes_reach_the_stream_only_on_a_flush_and_the_buffer_is_given_back() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut gathered = Gathered::new(near);
        gathered.write_all(b"one ").await.expect("gathered");
        gathered.write_all(&[b'x'; 300]).await.expect("gathered past the pipe's size");
        assert_eq!(gathered.buffer.len(), 304);
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(std::time::Duration::from_millis(50), far.read(&mut byte)).await;
        assert!(early.is_err(), "nothing is written before the flush");
        let reader = tokio::spawn(async move {
            let mut all = vec![0u8; 304];
            far.read_exact(&mut all).await.map(|_| all)
        });
        gathered.flush().await.expect("flushed");
        let all = reader.await.expect("joined").expect("read");
        assert_eq!(&all[..4], b"one ");
        assert!(all[4..].iter().all(|&b| b == b'x'));
        assert_eq!(gathered.buffer.capacity(), 0, "an idle socket holds no write buffer");
    }

    #[tokio::test]
    async fn a_failed_stream_fails_the_flush() {
        let (near, far) = tokio::io::duplex(8);
        drop(far);
        let mut gathered = Gathered::new(near);
        gathered.write_all(b"lost").await.expect("gathered");
        assert!(gathered.flush().await.is_err());
    }
}
