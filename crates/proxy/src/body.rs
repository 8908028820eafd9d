//! Streaming bodies. Nothing here buffers: each wrapper passes frames on as
//! they arrive, counts bytes, and enforces a timeout on the gap between
//! frames.
//!
//! - [`RequestBody`]: client to backend, with the client body-read timeout.
//! - [`ProxyBody`]: what the client receives; either a page gatehouse wrote
//!   or the backend's body with the route's idle and total timeouts. When the
//!   backend body ends, its [`Completion`] finishes (the backend connection goes
//!   back to its pool, the member is released, the access log is written).
//!   The backend body itself is [`BackendBody`], read off the connection.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

use crate::backend::BackendBody;
use crate::completion::Completion;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// When bytes last moved in either direction of one exchange (an upload in
/// progress keeps the wait for the response alive, and the other way
/// round), and how many moved each way, for the access log. One shared
/// block rather than three: each is one allocation per request.
#[derive(Debug)]
pub(crate) struct Activity {
    base: Instant,
    last_ms: AtomicU64,
    /// Request body bytes taken from the client.
    pub bytes_in: AtomicU64,
    /// Response body bytes handed to the client.
    pub bytes_out: AtomicU64,
}

impl Activity {
    /// Counts from `start`, the last time anything moved (the caller read
    /// the clock already; each read is a measurable part of a request).
    pub fn new(start: Instant) -> Arc<Activity> {
        Arc::new(Activity {
            base: start,
            last_ms: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
        })
    }

    pub fn touch(&self) {
        self.last_ms
            .store(self.base.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When the exchange counts as idle if nothing moves before then.
    pub fn deadline(&self, idle: Duration) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle
    }
}

/// A timeout error that names what ran out.
#[derive(Debug)]
pub(crate) struct TimedOut(pub &'static str);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} timed out", self.0)
    }
}

impl std::error::Error for TimedOut {}

/// Polls a gap timer: Ready(true) when `deadline()` has really passed.
fn gap_expired(sleep: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let deadline = tokio::time::Instant::from_std(deadline);
    let s = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if s.deadline() != deadline {
        s.as_mut().reset(deadline);
    }
    s.as_mut().poll(cx).is_ready()
}

use std::future::Future;

/// A request body as the client sends it: over HTTP/1.1 (hyper's server)
/// or an HTTP/2 stream ([`crate::h2server`]).
pub(crate) enum ClientBody {
    H1(Incoming),
    H2(h2::RecvStream),
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ClientBody::H1(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            ClientBody::H2(s) => match s.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    // Passed on at once, so the window opens again at once;
                    // backpressure comes from not polling.
                    let _ = s.flow_control().release_capacity(data.len());
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => match s.poll_trailers(cx) {
                    Poll::Ready(Ok(Some(t))) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
                    Poll::Ready(Ok(None)) => Poll::Ready(None),
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e.into()))),
                    Poll::Pending => Poll::Pending,
                },
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ClientBody::H1(b) => b.is_end_stream(),
            ClientBody::H2(s) => s.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ClientBody::H1(b) => b.size_hint(),
            ClientBody::H2(_) => SizeHint::default(),
        }
    }
}

/// The client's request body on its way to a backend.
pub(crate) struct RequestBody {
    inner: Option<ClientBody>,
    activity: Arc<Activity>,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl RequestBody {
    pub fn new(inner: Option<ClientBody>, activity: Arc<Activity>, timeout: Duration) -> Self {
        RequestBody {
            inner,
            activity,
            timeout,
            sleep: None,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.activity.touch();
                if let Some(d) = frame.data_ref() {
                    this.activity.bytes_in.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if gap_expired(&mut this.sleep, this.activity.deadline(this.timeout), cx) {
                    return Poll::Ready(Some(Err(Box::new(TimedOut("client body read")))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or(SizeHint::with_exact(0), |b| b.size_hint())
    }
}

/// A backend body on its way to the client.
pub(crate) struct UpstreamBody {
    pub inner: BackendBody,
    pub activity: Arc<Activity>,
    pub idle: Duration,
    pub total: Option<Instant>,
    pub sleep: Option<Pin<Box<Sleep>>>,
    pub completion: Option<Completion>,
}

impl UpstreamBody {
    /// The response ended cleanly: the exchange finishes, taking the
    /// backend connection with it if it can be reused.
    pub fn complete(&mut self) {
        if let Some(mut x) = self.completion.take() {
            x.conn = self.inner.reusable();
            x.completed = true;
        }
    }
}

/// The body of every response gatehouse sends.
pub(crate) enum ProxyBody {
    Full(Option<Bytes>),
    Upstream(Box<UpstreamBody>),
}

impl ProxyBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        ProxyBody::Full(Some(b.into()))
    }
    pub fn empty() -> Self {
        ProxyBody::Full(None)
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ProxyBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Upstream(u) => {
                let u = &mut **u;
                match Pin::new(&mut u.inner).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        u.activity.touch();
                        if let Some(d) = frame.data_ref() {
                            u.activity.bytes_out.fetch_add(d.len() as u64, Ordering::Relaxed);
                        }
                        // hyper stops polling once a sized body says it has ended,
                        // so the exchange must finish here, not on a later `None`.
                        if u.inner.is_end_stream() {
                            u.complete();
                        }
                        Poll::Ready(Some(Ok(frame)))
                    }
                    Poll::Ready(Some(Err(e))) => {
                        if let Some(x) = u.completion.as_mut() {
                            x.outcome = Some("backend body error");
                        }
                        u.completion = None;
                        Poll::Ready(Some(Err(e)))
                    }
                    Poll::Ready(None) => {
                        u.complete();
                        Poll::Ready(None)
                    }
                    Poll::Pending => {
                        let mut deadline = u.activity.deadline(u.idle);
                        let mut what = "idle";
                        if let Some(t) = u.total.filter(|t| *t < deadline) {
                            deadline = t;
                            what = "total";
                        }
                        if gap_expired(&mut u.sleep, deadline, cx) {
                            if let Some(mut x) = u.completion.take() {
                                x.outcome = Some(if what == "idle" {
                                    "idle timeout"
                                } else {
                                    "total timeout"
                                });
                            }
                            return Poll::Ready(Some(Err(Box::new(TimedOut(what)))));
                        }
                        Poll::Pending
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(b) => b.is_none(),
            ProxyBody::Upstream(u) => u.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ProxyBody::Upstream(u) => u.inner.size_hint(),
        }
    }
}
