//! HTTP/2 from clients, on the `h2` crate directly: every stream of a
//! connection is a future polled by the connection's own task, not a task
//! of its own.
//!
//! Why not hyper's HTTP/2 server: it spawns a task per stream and pipes each
//! response through it, and the spawn and the cross-task wake-ups cost a
//! tenth of a request's instructions (see `bench/http/NOTES.md`). The
//! behaviour is kept: hyper's settings, keep-alive pings, a reset from the
//! client cancelling its request, `Date` and `Content-Length` filled in,
//! graceful shutdown with GOAWAY. One thing is added: `Expect:
//! 100-continue` is answered (hyper's HTTP/2 server never sent 100).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::server::{Connection, SendResponse};
use h2::{PingPong, Reason, RecvStream, SendStream};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Body;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::body::ProxyBody;
use crate::ctx::ConnCtx;
use crate::error::BoxError;
use crate::phases::Handling;
use crate::request_body::ClientBody;

/// hyper's HTTP/2 server settings, which gatehouse served with before.
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONNECTION_WINDOW: u32 = 1024 * 1024;
const MAX_FRAME: u32 = 16 * 1024;
/// The same limit as HTTP/1.1's, so that a large Kerberos token reaches
/// the `HTTP_1_1_REQUIRED` downgrade instead of a 431.
const MAX_HEADER_LIST: u32 = crate::guard::MAX_REQUEST_HEAD as u32;
const MAX_SEND_BUFFER: usize = 400 * 1024;
const MAX_LOCAL_ERROR_RESETS: usize = 1024;
/// A ping goes out this often; a connection whose peer has not answered
/// the previous one within [`PING_TIMEOUT`] is closed.
const PING_INTERVAL: Duration = Duration::from_secs(60);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the client has to finish the connection preface and settings.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves one HTTP/2 client connection until it closes, shutdown's
/// deadline passes, or the peer stops answering pings.
pub(crate) async fn serve<IO>(ctx: Arc<ConnCtx>, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .max_header_list_size(MAX_HEADER_LIST)
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_concurrent_streams(ctx.plan.config.h2_max_concurrent_streams);
    let mut stop = ctx.shared.stop.subscribe();
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, builder.handshake::<_, Bytes>(io));
    let mut conn = tokio::select! {
        shaken = handshake => match shaken {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return tracing::debug!("HTTP/2 handshake failed: {e}"),
            Err(_) => return tracing::debug!("HTTP/2 handshake timed out"),
        },
        _ = stop.wait_for(|level| *level >= 1) => return,
    };
    let served = Served {
        pings: Pings::new(conn.ping_pong()),
        conn,
        streams: FuturesUnordered::new(),
        ctx: ctx.clone(),
    };
    let ended = crate::ctx::drive(&ctx.shared, served, |s| s.get_mut().conn.graceful_shutdown()).await;
    if let Some(e) = ended.filter(|e| e.is_go_away() && e.is_library()) {
        // gatehouse ended the connection for the client's misbehaviour
        // (a flood of resets, a protocol error). The h2 crate resets a
        // malformed stream on its own and tells nobody, so this line is
        // the trace such streams leave once they add up.
        let shared = &ctx.shared;
        if shared.header_log.allow(std::time::Instant::now()) {
            tracing::warn!(
                listener = %ctx.listener.name,
                client = %ctx.client,
                peer = %ctx.peer,
                reason = ?e.reason(),
                suppressed = shared.header_log.take_suppressed(),
                "HTTP/2 connection closed with GOAWAY for the client's errors"
            );
        }
    }
}

/// A connection and its streams, as one future for [`crate::ctx::drive`].
struct Served<IO> {
    ctx: Arc<ConnCtx>,
    conn: Connection<IO, Bytes>,
    streams: FuturesUnordered<Stream>,
    pings: Pings,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Future for Served<IO> {
    type Output = Result<(), h2::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        drive(&this.ctx, &mut this.conn, &mut this.streams, &mut this.pings, cx)
    }
}

/// One turn of the connection: the streams first, so that what they queue
/// goes out when the connection is polled after them.
fn drive<IO>(
    ctx: &Arc<ConnCtx>,
    conn: &mut Connection<IO, Bytes>,
    streams: &mut FuturesUnordered<Stream>,
    pings: &mut Pings,
    cx: &mut Context<'_>,
) -> Poll<Result<(), h2::Error>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        while let Poll::Ready(Some(())) = streams.poll_next_unpin(cx) {}
        if let Poll::Ready(Err(why)) = pings.poll(cx) {
            tracing::debug!("closing HTTP/2 connection: {why}");
            return Poll::Ready(Ok(()));
        }
        match conn.poll_accept(cx) {
            Poll::Ready(Some(Ok((req, respond)))) => streams.push(Stream::new(ctx.clone(), req, respond)),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => return Poll::Ready(Ok(())),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// One request stream: its phases, then its response. A state machine, not
/// an `async fn`: the connection keeps one per stream, and it must stay
/// small (bench/http/NOTES.md, "Why the code is shaped this way").
struct Stream {
    respond: SendResponse<Bytes>,
    state: StreamState,
}

enum StreamState {
    /// The request's phases run; a reset from the client cancels them.
    Handling(Handling),
    /// The response head went out; the body follows as the client's flow
    /// control allows.
    Sending {
        body: ProxyBody,
        out: SendStream<Bytes>,
        sent_one: bool,
    },
    Done,
}

impl Stream {
    fn new(ctx: Arc<ConnCtx>, req: Request<RecvStream>, mut respond: SendResponse<Bytes>) -> Stream {
        if req
            .headers()
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        {
            // Like Envoy: the client may send its body at once; a refusal
            // still comes as the final response.
            let mut go_on = Response::new(());
            *go_on.status_mut() = StatusCode::CONTINUE;
            let _ = respond.send_informational(go_on);
        }
        Stream {
            state: StreamState::Handling(crate::phases::handle(ctx, req.map(ClientBody::H2))),
            respond,
        }
    }
}

impl Future for Stream {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                StreamState::Handling(handling) => {
                    let Poll::Ready(handled) = Pin::new(handling).poll(cx) else {
                        // A reset cancels the request: dropping the handling
                        // drops the backend exchange with it.
                        if this.respond.poll_reset(cx).is_ready() {
                            tracing::debug!("client reset the stream before the response");
                            this.state = StreamState::Done;
                            continue;
                        }
                        return Poll::Pending;
                    };
                    this.state = match handled.map(|resp| start(resp, &mut this.respond)) {
                        Ok(Ok(Some((body, out)))) => StreamState::Sending {
                            body,
                            out,
                            sent_one: false,
                        },
                        Ok(Ok(None)) => StreamState::Done,
                        Ok(Err(e)) => {
                            tracing::debug!("HTTP/2 response not completed: {e}");
                            StreamState::Done
                        }
                        Err(e) => {
                            let reason = e
                                .downcast_ref::<h2::Error>()
                                .and_then(h2::Error::reason)
                                .unwrap_or(Reason::INTERNAL_ERROR);
                            this.respond.send_reset(reason);
                            StreamState::Done
                        }
                    };
                }
                StreamState::Sending { body, out, sent_one } => {
                    if let Err(e) = ready!(pipe(body, out, sent_one, cx)) {
                        out.send_reset(Reason::INTERNAL_ERROR);
                        tracing::debug!("HTTP/2 response not completed: {e}");
                    }
                    this.state = StreamState::Done;
                }
                StreamState::Done => return Poll::Ready(()),
            }
        }
    }
}

/// Sends the head. The body and the stream to send it on come back when
/// there is a body to send.
fn start(
    resp: Response<ProxyBody>,
    respond: &mut SendResponse<Bytes>,
) -> Result<Option<(ProxyBody, SendStream<Bytes>)>, BoxError> {
    let (mut parts, body) = resp.into_parts();
    let headers = &mut parts.headers;
    if !headers.contains_key(header::DATE) {
        headers.insert(header::DATE, date_now());
    }
    let end = body.is_end_stream();
    if !end && !headers.contains_key(header::CONTENT_LENGTH) {
        if let Some(n) = body.size_hint().exact() {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    let out = respond.send_response(Response::from_parts(parts, ()), end)?;
    Ok((!end).then_some((body, out)))
}

/// `sent_one` is false until the first data frame went out: that one is
/// sent without waiting for the client's window (h2 queues it until the
/// window allows), like the one frame hyper sends past a 1-byte
/// reservation; asking for room first cost a tenth of the sending.
fn pipe(
    body: &mut ProxyBody,
    out: &mut SendStream<Bytes>,
    sent_one: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Result<(), BoxError>> {
    loop {
        // Wait for room before taking more from the backend: the client's
        // flow control is the backpressure.
        let room = !*sent_one || {
            out.reserve_capacity(1);
            out.capacity() > 0
        };
        if !room {
            loop {
                match ready!(out.poll_capacity(cx)) {
                    Some(Ok(0)) => {}
                    Some(Ok(_)) => break,
                    Some(Err(e)) => return Poll::Ready(Err(e.into())),
                    None => return Poll::Ready(Err("stream closed while sending".into())),
                }
            }
        } else if let Poll::Ready(reason) = out.poll_reset(cx) {
            let reason = reason?;
            return Poll::Ready(Err(h2::Error::from(reason).into()));
        }
        match ready!(Pin::new(&mut *body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let end = body.is_end_stream();
                    out.send_data(data, end)?;
                    *sent_one = true;
                    if end {
                        return Poll::Ready(Ok(()));
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        out.reserve_capacity(0);
                        out.send_trailers(trailers)?;
                        return Poll::Ready(Ok(()));
                    }
                }
            },
            Some(Err(e)) => return Poll::Ready(Err(e)),
            None => {
                out.send_data(Bytes::new(), true)?;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// Keep-alive pings, as hyper's `keep_alive_interval` sent them. On tokio's
/// clock, so that tests can pause it.
struct Pings {
    pong: Option<PingPong>,
    timer: Pin<Box<tokio::time::Sleep>>,
    next: Instant,
    /// When the unanswered ping went out.
    waiting: Option<Instant>,
}

impl Pings {
    fn new(pong: Option<PingPong>) -> Self {
        let next = Instant::now() + PING_INTERVAL;
        Pings {
            pong,
            timer: Box::pin(tokio::time::sleep_until(next)),
            next,
            waiting: None,
        }
    }

    /// `Err` when the connection should close.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        let Some(pong) = self.pong.as_mut() else {
            return Poll::Pending;
        };
        if self.waiting.is_some() {
            match pong.poll_pong(cx) {
                Poll::Ready(Ok(_)) => self.waiting = None,
                Poll::Ready(Err(_)) => return Poll::Ready(Err("ping failed")),
                Poll::Pending => {}
            }
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let wake = match self.waiting {
                Some(sent) if now >= sent + PING_TIMEOUT => return Poll::Ready(Err("peer did not answer a ping")),
                Some(sent) => sent + PING_TIMEOUT,
                None if now >= self.next => {
                    if pong.send_ping(h2::Ping::opaque()).is_err() {
                        return Poll::Ready(Err("ping failed"));
                    }
                    self.waiting = Some(now);
                    self.next = now + PING_INTERVAL;
                    now + PING_TIMEOUT
                }
                None => self.next,
            };
            self.timer.as_mut().reset(wake);
        }
        Poll::Pending
    }
}

thread_local! {
    /// The `Date` value of the current second, formatted once per second.
    static DATE: std::cell::RefCell<(u64, HeaderValue)> =
        const { std::cell::RefCell::new((0, HeaderValue::from_static(""))) };
}

fn date_now() -> HeaderValue {
    let now = SystemTime::now();
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = httpdate::fmt_http_date(now);
            // An HTTP date is plain ASCII.
            cached.1 = HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""));
            cached.0 = secs;
        }
        cached.1.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_is_an_http_date_of_now() {
        let value = date_now();
        let parsed = httpdate::parse_http_date(value.to_str().unwrap()).unwrap();
        let off = SystemTime::now().duration_since(parsed).unwrap();
        assert!(off < Duration::from_secs(2), "{value:?}");
    }

    /// Serves the connection's pings, and nothing else, until they fail.
    async fn ping_until_closed(io: tokio::io::DuplexStream) -> &'static str {
        let mut conn = h2::server::handshake(io).await.unwrap();
        let mut pings = Pings::new(conn.ping_pong());
        std::future::poll_fn(|cx| {
            if let Poll::Ready(Err(why)) = pings.poll(cx) {
                return Poll::Ready(why);
            }
            match conn.poll_accept(cx) {
                Poll::Ready(_) => Poll::Ready("the client went away"),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Every frame type the server sent, with its flags, from raw bytes.
    fn frames(mut wire: &[u8]) -> Vec<(u8, u8)> {
        let mut seen = Vec::new();
        while wire.len() >= 9 {
            let len = u32::from_be_bytes([0, wire[0], wire[1], wire[2]]) as usize;
            seen.push((wire[3], wire[4]));
            wire = &wire[(9 + len).min(wire.len())..];
        }
        seen
    }

    const PING: u8 = 0x6;
    const ACK: u8 = 0x1;

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_answers_a_ping_is_dropped_after_the_ping_timeout() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (server, mut client) = tokio::io::duplex(1 << 20);
        // The preface and an empty SETTINGS frame, then silence.
        client.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        client.write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]).await.unwrap();
        let start = Instant::now();
        let why = tokio::time::timeout(Duration::from_secs(600), ping_until_closed(server))
            .await
            .expect("still open");
        let waited = start.elapsed();
        assert_eq!(why, "peer did not answer a ping");
        assert!(
            waited >= PING_INTERVAL + PING_TIMEOUT && waited < PING_INTERVAL + PING_TIMEOUT + Duration::from_secs(1),
            "closed after {waited:?}"
        );
        let mut wire = Vec::new();
        client.read_to_end(&mut wire).await.unwrap();
        let pings = frames(&wire)
            .into_iter()
            .filter(|&(kind, flags)| kind == PING && flags & ACK == 0);
        assert_eq!(pings.count(), 1, "one ping, then the close");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_answers_pings_stays_connected_while_idle() {
        let (server, client) = tokio::io::duplex(1 << 20);
        let (_send, conn) = h2::client::handshake(client).await.unwrap();
        // The client's connection task answers every ping it reads.
        let client_task = tokio::spawn(conn);
        let idle = PING_INTERVAL * 10;
        let served = tokio::time::timeout(idle, ping_until_closed(server)).await;
        assert!(served.is_err(), "closed while idle: {served:?}");
        assert!(!client_task.is_finished());
    }
}
