//! Lingering close of HTTP/1.1 client connections, as nginx
//! (`lingering_close`) and HAProxy do.
//!
//! When gatehouse closes a connection while its client may still be
//! sending (the answer to an upload came before the upload ended: a 413, a
//! 401), closing at once makes the client's kernel answer the bytes still
//! in flight with a reset, and a client that is still writing sees a broken
//! pipe instead of the answer. So after gatehouse shut its side down, what
//! the client still sends is read and thrown away, for a bounded time,
//! before the socket is closed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// The longest a closed connection is read from, in all.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// The longest wait for the client's next bytes while lingering.
const LINGER_GAP: Duration = Duration::from_secs(1);

/// A client connection that lingers when gatehouse closes it.
pub(crate) struct Linger<IO: AsyncRead + Unpin + Send + 'static> {
    /// `None` once handed to the lingering task (only in `drop`).
    io: Option<IO>,
    /// The client closed its side: there is nothing left to read.
    eof: bool,
    /// gatehouse shut its side down: the close is ours.
    closing: bool,
}

impl<IO: AsyncRead + Unpin + Send + 'static> Linger<IO> {
    pub fn new(io: IO) -> Self {
        Linger {
            io: Some(io),
            eof: false,
            closing: false,
        }
    }

    fn io(&mut self) -> Pin<&mut IO> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io),
            None => unreachable!("the connection is only taken when dropped"),
        }
    }
}

impl<IO: AsyncRead + Unpin + Send + 'static> Drop for Linger<IO> {
    fn drop(&mut self) {
        if !self.closing || self.eof {
            return;
        }
        let (Some(io), Ok(runtime)) = (self.io.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        runtime.spawn(drain(io));
    }
}

/// Reads and discards until the client closes, stops sending for
/// [`LINGER_GAP`], or [`LINGER_TIME`] has passed; dropping `io` then closes it.
async fn drain<IO: AsyncRead + Unpin>(mut io: IO) {
    let until = tokio::time::Instant::now() + LINGER_TIME;
    let mut sink = vec![0u8; 16 * 1024];
    loop {
        let wait = until
            .saturating_duration_since(tokio::time::Instant::now())
            .min(LINGER_GAP);
        match tokio::time::timeout(wait, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return,
        }
    }
}

impl<IO: AsyncRead + Unpin + Send + 'static> AsyncRead for Linger<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = this.io().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            if buf.filled().len() == before && buf.remaining() > 0 {
                this.eof = true;
            }
        }
        polled
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Linger<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().io().poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.closing = true;
        this.io().poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(|io| io.is_write_vectored())
    }
}
