//! Request-smuggling guard for HTTP/1.1 client connections.
//!
//! hyper, like RFC 9112 allows, tolerates a request with both
//! `Content-Length` and `Transfer-Encoding` (it drops the length) and
//! duplicate equal `Content-Length` headers. A proxy must not: a backend may
//! frame such a request differently and read a second, smuggled request from
//! its body. hyper also never shows us the headers it dropped.
//!
//! So this wrapper sits between the client socket and hyper. It follows the
//! message framing itself (request heads, `Content-Length` bodies, chunked
//! bodies with trailers), holds each head back until it is complete, and
//! checks it with the same parser hyper uses (`httparse`, which also rejects
//! obs-fold). A head that is ambiguous is replaced by bytes hyper cannot
//! parse, so hyper answers 400 and closes the connection: the request never
//! reaches the route phase, let alone a backend. Framing this guard cannot
//! follow is an I/O error, which also closes the connection.
//!
//! After a head with `Upgrade` (or `CONNECT`) the guard steps aside: the
//! connection becomes a tunnel, or the proxy closes it after a non-101 answer.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(test)]
use crate::framing::POISON;
use crate::framing::{scan_body, take_head, State};
pub(crate) use crate::framing::{MAX_REQUEST_HEAD, MAX_REQUEST_HEADERS};

pin_project_lite::pin_project! {
    /// Wraps a client stream; see the module docs.
    pub(crate) struct SmugglingGuard<IO> {
        #[pin]
        inner: IO,
        state: State,
        // Bytes read but not yet judged (a partial head, or what follows a body).
        pending: BytesMut,
        // Bytes judged and waiting for hyper to read them.
        ready: BytesMut,
        // Told of an ambiguous head, so that the connection's owner can log
        // it with the client and listener this guard does not know.
        on_ambiguous: Option<Box<dyn Fn() + Send + Sync>>,
    }
}

impl<IO> SmugglingGuard<IO> {
    pub fn new(inner: IO) -> Self {
        SmugglingGuard {
            inner,
            state: State::Head,
            pending: BytesMut::new(),
            ready: BytesMut::new(),
            on_ambiguous: None,
        }
    }

    /// Calls `report` once for each ambiguous head refused.
    pub fn on_ambiguous(mut self, report: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_ambiguous = Some(Box::new(report));
        self
    }
}

impl<IO: AsyncRead> AsyncRead for SmugglingGuard<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            if !this.ready.is_empty() {
                let n = buf.remaining().min(this.ready.len());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            match *this.state {
                State::Closed => return Poll::Ready(Ok(())),
                State::Passthrough => {
                    if !this.pending.is_empty() {
                        let p = this.pending.split();
                        this.ready.extend_from_slice(&p);
                        continue;
                    }
                    return this.inner.as_mut().poll_read(cx, buf);
                }
                State::Length(_) | State::Chunked(_) if this.pending.is_empty() => {
                    // Body bytes go straight into hyper's buffer: no copy.
                    let start = buf.filled().len();
                    ready!(this.inner.as_mut().poll_read(cx, buf))?;
                    let filled = buf.filled().len();
                    if filled == start {
                        return Poll::Ready(Ok(()));
                    }
                    // An error hands over none of this read's bytes, as
                    // AsyncRead requires (found by the fuzz entry `guard`).
                    let consumed = match scan_body(this.state, &buf.filled()[start..]) {
                        Ok(n) => n,
                        Err(e) => {
                            buf.set_filled(start);
                            return Poll::Ready(Err(e));
                        }
                    };
                    if start + consumed < filled {
                        this.pending.extend_from_slice(&buf.filled()[start + consumed..]);
                        buf.set_filled(start + consumed);
                    }
                    if consumed > 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                State::Length(_) | State::Chunked(_) => {
                    let consumed = scan_body(this.state, this.pending)?;
                    let body = this.pending.split_to(consumed);
                    this.ready.extend_from_slice(&body);
                }
                State::Head => {
                    if !this.pending.is_empty() && take_head(this.state, this.pending, this.ready, this.on_ambiguous) {
                        continue;
                    }
                    // Straight into `pending`'s spare room: no zeroed scratch
                    // buffer, which cost 8 KiB of memset on every read,
                    // including the one that finds nothing to read.
                    this.pending.reserve(8192);
                    let n = ready!(tokio_util::io::poll_read_buf(this.inner.as_mut(), cx, this.pending))?;
                    if n == 0 {
                        // End of stream: hand hyper whatever partial head there was.
                        let p = this.pending.split();
                        this.ready.extend_from_slice(&p);
                        *this.state = State::Closed;
                        if this.ready.is_empty() {
                            return Poll::Ready(Ok(()));
                        }
                        continue;
                    }
                }
            }
        }
    }
}

impl<IO: AsyncWrite> AsyncWrite for SmugglingGuard<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn through(input: &[u8]) -> Vec<u8> {
        let mut g = SmugglingGuard::new(input);
        let mut out = Vec::new();
        let _ = g.read_to_end(&mut out).await;
        out
    }

    #[tokio::test]
    async fn well_framed_pipelined_requests_pass_unchanged() {
        let input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n\
POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\nGET /d HTTP/1.1\r\n\r\n";
        assert_eq!(through(input).await, input.to_vec());
    }

    #[tokio::test]
    async fn ambiguous_framing_is_poisoned() {
        for bad in [
            &b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        ] {
            let out = through(bad).await;
            assert!(out.ends_with(POISON), "{:?}", String::from_utf8_lossy(&out));
        }
    }

    #[tokio::test]
    async fn a_large_head_does_not_switch_the_guard_off() {
        // 70 KB: over the old 64 KiB guard limit, under the shared one.
        let mut input = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000)).into_bytes();
        input.extend_from_slice(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        );
        assert!(through(&input).await.ends_with(POISON));
    }

    #[tokio::test]
    async fn a_smuggled_head_inside_a_chunked_body_is_still_judged() {
        // The second request sits after the chunked body; it must be judged too.
        let input = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(through(input).await.ends_with(POISON));
    }
}
