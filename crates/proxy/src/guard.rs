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

/// Longest request head, on HTTP/1.1 (hyper's `max_buf_size`, which answers
/// 431 past it, and this guard) and HTTP/2 (the header list). Large enough
/// for a Kerberos ticket of a user in many groups: up to 48 KB of token,
/// about 64 KiB once base64-encoded (IIS's MaxFieldLength is 65534).
pub(crate) const MAX_REQUEST_HEAD: usize = 128 * 1024;
/// Most header fields in a request head, for this guard and hyper alike
/// (hyper answers 431 past it).
pub(crate) const MAX_REQUEST_HEADERS: usize = 100;
/// A head hyper rejects with 400: 0x7f is not a token character.
const POISON: &[u8] = b"\x7f / HTTP/1.1\r\n\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Length(u64),
    Chunked(Chunk),
    /// Upgrade or CONNECT: pass bytes on.
    Passthrough,
    /// After a poisoned head: hyper gets end-of-file once it has read it.
    Closed,
}

/// Mirrors hyper's chunked decoder states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size { size: u64, digits: u8 },
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Body(u64),
    BodyCr,
    BodyLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

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

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// What a complete head means for the bytes after it.
enum Verdict {
    Framing(State),
    Reject,
}

fn judge(headers: &[httparse::Header<'_>], method: Option<&str>) -> Verdict {
    let mut lengths = 0;
    let mut length = 0u64;
    let mut encodings = 0;
    let mut chunked = false;
    let mut upgrade = method.is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            let v = std::str::from_utf8(h.value).unwrap_or("").trim();
            match (v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty())
                .then(|| v.parse::<u64>().ok())
                .flatten()
            {
                Some(n) => length = n,
                None => return Verdict::Reject,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            encodings += 1;
            chunked = std::str::from_utf8(h.value).is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            upgrade = true;
        }
    }
    if lengths > 1 || encodings > 1 || (lengths > 0 && encodings > 0) || (encodings == 1 && !chunked) {
        return Verdict::Reject;
    }
    Verdict::Framing(if upgrade {
        State::Passthrough
    } else if chunked {
        State::Chunked(Chunk::Size { size: 0, digits: 0 })
    } else if length > 0 {
        State::Length(length)
    } else {
        State::Head
    })
}

/// Consumes body bytes; returns how many belonged to the body. Stops at the
/// end of the message (the state is then `Head`).
fn scan_body(state: &mut State, data: &[u8]) -> io::Result<usize> {
    let mut i = 0;
    while i < data.len() {
        match state {
            State::Length(n) => {
                let take = (*n).min((data.len() - i) as u64);
                i += take as usize;
                *n -= take;
                if *n == 0 {
                    *state = State::Head;
                    return Ok(i);
                }
            }
            State::Chunked(c) => {
                if let Chunk::Body(n) = c {
                    let take = (*n).min((data.len() - i) as u64);
                    i += take as usize;
                    *n -= take;
                    if *n == 0 {
                        *c = Chunk::BodyCr;
                    }
                    continue;
                }
                let b = data[i];
                i += 1;
                *c = match (*c, b) {
                    (Chunk::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                        if digits >= 16 {
                            return Err(invalid("chunk size too large"));
                        }
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        Chunk::Size {
                            size: size * 16 + d,
                            digits: digits + 1,
                        }
                    }
                    (Chunk::Size { size, digits }, b' ' | b'\t') if digits > 0 => Chunk::SizeLws(size),
                    (Chunk::Size { size, digits }, b';') if digits > 0 => Chunk::Extension(size),
                    (Chunk::Size { size, digits }, b'\r') if digits > 0 => Chunk::SizeLf(size),
                    (Chunk::SizeLws(s), b' ' | b'\t') => Chunk::SizeLws(s),
                    (Chunk::SizeLws(s), b';') => Chunk::Extension(s),
                    (Chunk::SizeLws(s), b'\r') => Chunk::SizeLf(s),
                    (Chunk::Extension(_), b'\n') => return Err(invalid("newline in chunk extension")),
                    (Chunk::Extension(s), b'\r') => Chunk::SizeLf(s),
                    (Chunk::Extension(s), _) => Chunk::Extension(s),
                    (Chunk::SizeLf(0), b'\n') => Chunk::EndCr,
                    (Chunk::SizeLf(s), b'\n') => Chunk::Body(s),
                    (Chunk::BodyCr, b'\r') => Chunk::BodyLf,
                    (Chunk::BodyLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
                    (Chunk::EndCr, b'\r') => Chunk::EndLf,
                    (Chunk::EndCr, _) => Chunk::Trailer,
                    (Chunk::Trailer, b'\r') => Chunk::TrailerLf,
                    (Chunk::Trailer, _) => Chunk::Trailer,
                    (Chunk::TrailerLf, b'\n') => Chunk::EndCr,
                    (Chunk::EndLf, b'\n') => {
                        *state = State::Head;
                        return Ok(i);
                    }
                    _ => return Err(invalid("malformed chunked body")),
                };
            }
            _ => return Ok(i),
        }
    }
    Ok(i)
}

impl<IO: AsyncRead> SmugglingGuard<IO> {
    /// Judges a complete head at the start of `pending`, if there is one.
    /// Returns false when more bytes are needed.
    fn take_head(
        state: &mut State,
        pending: &mut BytesMut,
        ready: &mut BytesMut,
        on_ambiguous: &Option<Box<dyn Fn() + Send + Sync>>,
    ) -> bool {
        let mut headers = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(pending) {
            Ok(httparse::Status::Complete(len)) => {
                let verdict = judge(req.headers, req.method);
                let head = pending.split_to(len);
                match verdict {
                    Verdict::Framing(next) => {
                        ready.extend_from_slice(&head);
                        *state = next;
                    }
                    Verdict::Reject => {
                        if let Some(report) = on_ambiguous {
                            report();
                        }
                        ready.extend_from_slice(POISON);
                        pending.clear();
                        *state = State::Closed;
                    }
                }
                true
            }
            Ok(httparse::Status::Partial) if pending.len() < MAX_REQUEST_HEAD => false,
            // Too long or too many fields: hyper, with the same limits, gets
            // the bytes and answers 431. Nothing after them reaches it, so
            // the guard never judges less than hyper parses.
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                ready.extend_from_slice(&pending.split());
                *state = State::Closed;
                true
            }
            // Malformed (obs-fold, bad tokens): 400, and nothing more.
            Err(_) => {
                ready.extend_from_slice(POISON);
                pending.clear();
                *state = State::Closed;
                true
            }
        }
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
                    let consumed = scan_body(this.state, &buf.filled()[start..])?;
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
                    if !this.pending.is_empty()
                        && Self::take_head(this.state, this.pending, this.ready, this.on_ambiguous)
                    {
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
