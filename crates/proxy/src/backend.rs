//! One backend connection and the HTTP/1.1 exchanges over it, driven by the
//! request's own task: the forward phase writes the request and reads the
//! response head, and the response body ([`BackendBody`]) owns the
//! connection while the client reads it, then hands it back for reuse.
//!
//! Why not a client library's connection object: those run each backend
//! connection as a task of its own and pass every request and response
//! across channels. Two tasks and four wake-ups per request cost more than
//! the rest of the forwarding work together (see `bench/http/NOTES.md`).
//!
//! The request body is streamed while the response head is awaited, and
//! keeps streaming while the response body is read when a backend answers
//! early (a long upload whose answer comes at the end works either way).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::io::poll_read_buf;

use crate::error::BoxError;
use crate::request_body::RequestBody;
use crate::wire::{self, Chunked, Decoded, Incoming, Malformed, Outgoing, RequestHead, ResponseHead};

/// Data frames up to this size are copied behind their chunk line so both
/// leave in one write; larger ones are written from their own buffer.
const COPY_LIMIT: usize = 4096;
/// The read buffer grows by this much when less than [`MIN_READ_SPACE`] is
/// left. Not before every read: the frames handed on share the buffer, so
/// asking for the full size each time allocated a new one per response.
const READ_SPACE: usize = 16 * 1024;
const MIN_READ_SPACE: usize = 2048;

/// A backend stream, plain or TLS.
pub(crate) enum BackendIo {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for BackendIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            BackendIo::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for BackendIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            BackendIo::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_flush(cx),
            BackendIo::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            BackendIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            BackendIo::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

/// An open HTTP/1.1 connection to a member.
pub(crate) struct BackendConn {
    io: BackendIo,
    /// Bytes read and not yet consumed.
    read: BytesMut,
    /// The request head and chunk framing waiting to be written, from `written` on.
    out: Vec<u8>,
    written: usize,
    /// Whether any byte of the current request reached the socket.
    sent_any: bool,
    /// Why writing the current request failed after some of it went out;
    /// kept across polls, to explain a close that follows.
    write_failed: Option<io::Error>,
}

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Not one byte of the request was written; it may go again elsewhere.
    NotSent(io::Error),
    Io(io::Error),
    /// The backend closed the connection before a whole response head.
    Closed,
    Malformed(Malformed),
    /// The client's own request body failed (a stall past the body timeout,
    /// or the client breaking off).
    ClientBody(BoxError),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NotSent(e) => write!(f, "connection failed before the request was sent: {e}"),
            Failure::Io(e) => write!(f, "{e}"),
            Failure::Closed => f.write_str("backend closed the connection before responding"),
            Failure::Malformed(m) => write!(f, "{m}"),
            Failure::ClientBody(e) => write!(f, "client request body: {e}"),
        }
    }
}

/// The request body on its way out, with its framing.
pub(crate) struct Upload {
    body: Option<RequestBody>,
    framing: Outgoing,
    /// Body bytes taken from the client so far.
    taken: u64,
    /// No chunk has been framed yet (the next size line owes no CRLF).
    first_chunk: bool,
    /// A large data frame being written after `out`.
    big: Option<Bytes>,
    /// Everything, framing included, has been queued for writing.
    queued: bool,
    /// Everything has been written and flushed.
    pub done: bool,
    /// A write failed mid-body; the rest is dropped and the connection is not reused.
    abandoned: bool,
}

enum UploadError {
    Write(io::Error),
    Body(BoxError),
}

impl Upload {
    pub fn new(body: RequestBody) -> Self {
        Upload {
            body: Some(body),
            framing: Outgoing::Empty,
            taken: 0,
            first_chunk: true,
            big: None,
            queued: false,
            done: false,
            abandoned: false,
        }
    }

    /// Whether the connection can carry another request once the response ends.
    fn finished_cleanly(&self) -> bool {
        self.done && !self.abandoned
    }
}

impl BackendConn {
    /// Boxed: a connection moves between the pool, the forward phase and
    /// the response body on every request, and the forward phase's future
    /// would keep room for all of it.
    pub fn new(io: BackendIo) -> Box<Self> {
        Box::new(BackendConn {
            io,
            read: BytesMut::new(),
            out: Vec::new(),
            written: 0,
            sent_any: false,
            write_failed: None,
        })
    }

    /// Whether an idle connection still looks usable: the backend has sent
    /// nothing (no end of stream, no stray bytes). Costs no system call
    /// unless the reactor saw the socket become readable.
    pub fn probably_open(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        self.read.reserve(64);
        poll_read_buf(Pin::new(&mut self.io), &mut cx, &mut self.read).is_pending()
    }

    /// Starts one request: its head is written as [`poll_response_head`]
    /// goes on.
    ///
    /// [`poll_response_head`]: Self::poll_response_head
    pub fn start(&mut self, head: &RequestHead<'_>, upload: &mut Upload) {
        self.out.clear();
        self.written = 0;
        self.sent_any = false;
        self.write_failed = None;
        let empty = upload.body.as_ref().is_none_or(|b| b.is_end_stream());
        upload.framing = wire::encode_request_head(&mut self.out, head, empty);
        if upload.framing == Outgoing::Empty {
            upload.body = None;
        }
    }

    /// Sends the request [`start`](Self::start)ed and waits for its final
    /// response head (1xx interim responses other than 101 are passed
    /// over). The body keeps flowing meanwhile; whatever is left of it goes
    /// on with the response body.
    pub fn poll_response_head(
        &mut self,
        method: &http::Method,
        upload: &mut Upload,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ResponseHead, Failure>> {
        loop {
            if !upload.done && !upload.abandoned {
                match self.poll_upload(upload, cx) {
                    Poll::Ready(Ok(())) | Poll::Pending => {}
                    Poll::Ready(Err(UploadError::Body(e))) => return Poll::Ready(Err(Failure::ClientBody(e))),
                    Poll::Ready(Err(UploadError::Write(e))) if !self.sent_any => {
                        return Poll::Ready(Err(Failure::NotSent(e)))
                    }
                    // The backend may have answered before it stopped
                    // reading (a 413 to an upload): look for the answer.
                    Poll::Ready(Err(UploadError::Write(e))) => {
                        upload.abandoned = true;
                        self.write_failed = Some(e);
                    }
                }
            }
            match wire::parse_response_head(&mut self.read, method) {
                Ok(Some(head))
                    if head.status.is_informational() && head.status != http::StatusCode::SWITCHING_PROTOCOLS =>
                {
                    continue
                }
                Ok(Some(head)) => return Poll::Ready(Ok(head)),
                Err(m) => return Poll::Ready(Err(Failure::Malformed(m))),
                Ok(None) => {}
            }
            make_room(&mut self.read);
            match ready!(poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read)) {
                Ok(0) => {
                    return Poll::Ready(Err(match self.write_failed.take() {
                        Some(e) => Failure::Io(e),
                        None => Failure::Closed,
                    }))
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(Failure::Io(e))),
            }
        }
    }

    /// Moves the request body on until it is all written or nothing is ready.
    fn poll_upload(&mut self, up: &mut Upload, cx: &mut Context<'_>) -> Poll<Result<(), UploadError>> {
        loop {
            let pending = self.out.len() - self.written;
            if pending > 0 || up.big.is_some() {
                let big: &[u8] = up.big.as_deref().unwrap_or(&[]);
                let slices = [IoSlice::new(&self.out[self.written..]), IoSlice::new(big)];
                let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices)).map_err(UploadError::Write)?;
                if n == 0 {
                    return Poll::Ready(Err(UploadError::Write(io::ErrorKind::WriteZero.into())));
                }
                self.sent_any = true;
                let from_out = n.min(pending);
                self.written += from_out;
                if self.written == self.out.len() {
                    self.out.clear();
                    self.written = 0;
                }
                if n > from_out {
                    if let Some(b) = up.big.as_mut() {
                        b.advance(n - from_out);
                    }
                }
                if up.big.as_ref().is_some_and(|b| b.is_empty()) {
                    up.big = None;
                }
                continue;
            }
            if up.queued {
                ready!(Pin::new(&mut self.io).poll_flush(cx)).map_err(UploadError::Write)?;
                up.done = true;
                return Poll::Ready(Ok(()));
            }
            let chunked = up.framing == Outgoing::Chunked;
            let Some(body) = up.body.as_mut() else {
                if chunked {
                    wire::last_chunk(&mut self.out, None, up.first_chunk);
                }
                up.queued = true;
                continue;
            };
            match Pin::new(body).poll_frame(cx) {
                Poll::Pending => {
                    // Whatever is written must reach the backend before waiting on the client.
                    ready!(Pin::new(&mut self.io).poll_flush(cx)).map_err(UploadError::Write)?;
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(UploadError::Body(e))),
                Poll::Ready(None) => {
                    up.body = None;
                    if let Outgoing::Length(n) = up.framing {
                        if up.taken != n {
                            return Poll::Ready(Err(UploadError::Body(
                                "request body shorter than its Content-Length".into(),
                            )));
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => {
                        up.taken += data.len() as u64;
                        if let Outgoing::Length(n) = up.framing {
                            // Never let a body run past its length: the
                            // excess would be read as another request.
                            if up.taken > n {
                                return Poll::Ready(Err(UploadError::Body(
                                    "request body longer than its Content-Length".into(),
                                )));
                            }
                        }
                        if chunked {
                            wire::chunk_size_line(&mut self.out, data.len(), up.first_chunk);
                            up.first_chunk = false;
                        }
                        if data.len() <= COPY_LIMIT {
                            self.out.extend_from_slice(&data);
                        } else {
                            up.big = Some(data);
                        }
                    }
                    Err(frame) => {
                        if let (true, Ok(trailers)) = (chunked, frame.into_trailers()) {
                            wire::last_chunk(&mut self.out, Some(&trailers), up.first_chunk);
                            up.queued = true;
                        }
                        up.body = None;
                        if !chunked {
                            up.queued = true;
                        }
                    }
                },
            }
        }
    }
}

fn make_room(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < MIN_READ_SPACE {
        buf.reserve(READ_SPACE);
    }
}

/// Reads bytes already buffered first: after a 101 the tunnel starts with
/// whatever the backend sent behind the response head.
impl AsyncRead for BackendConn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.read.is_empty() {
            let n = this.read.len().min(buf.remaining());
            buf.put_slice(&this.read.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for BackendConn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A response body read straight off its backend connection.
pub(crate) struct BackendBody {
    conn: Option<Box<BackendConn>>,
    framing: Incoming,
    chunked: Chunked,
    /// The rest of a request body the backend answered before receiving.
    upload: Option<Upload>,
    keep_alive: bool,
    ended: bool,
}

impl BackendBody {
    pub fn new(conn: Box<BackendConn>, head: &ResponseHead, upload: Upload) -> Self {
        let ended = head.framing == Incoming::Empty;
        BackendBody {
            conn: Some(conn),
            framing: head.framing,
            chunked: Chunked::Size,
            upload: (!upload.done).then_some(upload),
            keep_alive: head.keep_alive,
            ended,
        }
    }

    /// The body of a response that carries none and holds no connection
    /// (a 101 whose connection became a tunnel).
    pub fn none() -> Self {
        BackendBody {
            conn: None,
            framing: Incoming::Empty,
            chunked: Chunked::Done,
            upload: None,
            keep_alive: false,
            ended: true,
        }
    }

    /// The connection, once the response has ended cleanly and it may
    /// carry another request; `None` means it is to be closed.
    pub fn reusable(&mut self) -> Option<Box<BackendConn>> {
        let upload_ok = self.upload.as_ref().is_none_or(Upload::finished_cleanly);
        let clean = self.ended && self.keep_alive && upload_ok;
        let conn = self.conn.take()?;
        (clean && conn.read.is_empty()).then_some(conn)
    }

    /// Whether the body has ended (all of it was read).
    pub fn ended(&self) -> bool {
        self.ended
    }
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(up) = this.upload.as_mut().filter(|u| !u.done && !u.abandoned) {
            if let Poll::Ready(Err(e)) = conn.poll_upload(up, cx) {
                // The response is what the client is waiting for: let it
                // finish, and close the connection after.
                up.abandoned = true;
                match e {
                    UploadError::Write(e) => tracing::debug!("backend stopped reading the request body: {e}"),
                    UploadError::Body(e) => tracing::debug!("client request body failed mid-response: {e}"),
                }
            }
        }
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match this.framing {
                Incoming::Empty | Incoming::Length(0) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Incoming::Length(left) if !conn.read.is_empty() => {
                    let take = left.min(conn.read.len() as u64);
                    let data = conn.read.split_to(take as usize).freeze();
                    this.framing = Incoming::Length(left - take);
                    this.ended = take == left;
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Incoming::UntilClose if !conn.read.is_empty() => {
                    let data = conn.read.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Incoming::Chunked => match wire::decode_chunked(&mut this.chunked, &mut conn.read) {
                    Err(m) => return Poll::Ready(Some(Err(Box::new(m)))),
                    Ok(Decoded::Data(d)) => return Poll::Ready(Some(Ok(Frame::data(d)))),
                    Ok(Decoded::Trailers(t)) => {
                        this.ended = true;
                        return Poll::Ready(Some(Ok(Frame::trailers(t))));
                    }
                    Ok(Decoded::End) => {
                        this.ended = true;
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                },
                Incoming::Length(_) | Incoming::UntilClose => {}
            }
            make_room(&mut conn.read);
            match ready!(poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.read)) {
                Ok(0) if this.framing == Incoming::UntilClose => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    return Poll::Ready(Some(Err("backend closed the connection mid-body".into())));
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Some(Err(Box::new(e)))),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            _ if self.ended => SizeHint::with_exact(0),
            Incoming::Empty => SizeHint::with_exact(0),
            Incoming::Length(n) => SizeHint::with_exact(n),
            Incoming::Chunked | Incoming::UntilClose => SizeHint::default(),
        }
    }
}
