//! Write coalescing for HTTP/2 client connections.
//!
//! An HTTP/2 connection (the `h2` crate) flushes whenever a stream has
//! something to send, and the TLS layer turns every flush into a record and
//! a system call. Under
//! many concurrent streams, responses finish a few at a time, so each flush
//! carried about three of them. [`Coalesce`] holds a flush back for one turn
//! of the scheduler: the streams whose backend answers are already in hand
//! add their frames first, and the lot leaves in one TLS record and one
//! write. An idle connection pays one extra poll per flush, nothing more.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Above this much pending output a write drains it first: a bound on the
/// copy, and one full TLS record's worth.
const HIGH_WATER: usize = 16 * 1024;

pub(crate) struct Coalesce<IO> {
    inner: IO,
    pending: Vec<u8>,
    /// How much of `pending` has gone to `inner`.
    sent: usize,
    /// Set once a flush has been held back, so the next one goes through.
    held: bool,
}

impl<IO> Coalesce<IO> {
    pub fn new(inner: IO) -> Self {
        Coalesce {
            inner,
            pending: Vec::new(),
            sent: 0,
            held: false,
        }
    }
}

impl<IO: AsyncWrite + Unpin> Coalesce<IO> {
    /// Writes out everything pending.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        // Give back a buffer a burst grew, so idle connections stay small.
        if self.pending.capacity() > 4 * HIGH_WATER {
            self.pending = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Coalesce<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Coalesce<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() >= HIGH_WATER {
            ready!(this.poll_drain(cx))?;
        }
        let mut n = 0;
        for b in bufs {
            this.pending.extend_from_slice(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending.is_empty() {
            return Pin::new(&mut this.inner).poll_flush(cx);
        }
        if !this.held {
            // Let the tasks already woken run first; they may add frames.
            this.held = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(this.poll_drain(cx))?;
        this.held = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;

    /// Records each write that reaches it.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl AsyncWrite for Recorder {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.0.lock().unwrap().push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn frames_written_before_a_flush_leave_in_one_write() {
        let rec = Recorder::default();
        let mut c = Coalesce::new(rec.clone());
        c.write_all(b"HEADERS").await.unwrap();
        c.write_all(b"DATA").await.unwrap();
        assert!(rec.0.lock().unwrap().is_empty(), "nothing leaves before a flush");
        // The first flush is held back for one turn and asks to be polled again.
        let mut polls = 0;
        poll_fn(|cx| {
            polls += 1;
            let p = Pin::new(&mut c).poll_flush(cx);
            if p.is_pending() {
                // Frames added while the flush waited join the same write.
                let _ = Pin::new(&mut c).poll_write(cx, b"MORE");
            }
            p
        })
        .await
        .unwrap();
        assert_eq!(polls, 2);
        assert_eq!(*rec.0.lock().unwrap(), vec![b"HEADERSDATAMORE".to_vec()]);
        // Nothing pending: a flush goes straight through.
        c.flush().await.unwrap();
        assert_eq!(rec.0.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_large_backlog_drains_before_growing_and_shutdown_drains_the_rest() {
        let rec = Recorder::default();
        let mut c = Coalesce::new(rec.clone());
        let chunk = vec![7u8; 10 * 1024];
        c.write_all(&chunk).await.unwrap();
        c.write_all(&chunk).await.unwrap();
        assert!(
            rec.0.lock().unwrap().is_empty(),
            "20 KiB pending: below the mark when written"
        );
        c.write_all(&chunk).await.unwrap();
        assert_eq!(rec.0.lock().unwrap().len(), 1, "above the mark, a write drains first");
        assert_eq!(rec.0.lock().unwrap()[0].len(), 20 * 1024);
        c.shutdown().await.unwrap();
        let written: usize = rec.0.lock().unwrap().iter().map(Vec::len).sum();
        assert_eq!(written, 30 * 1024, "shutdown leaves nothing behind");
    }
}
