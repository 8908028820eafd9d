//! The body of every response gatehouse sends ([`ProxyBody`]): a page
//! gatehouse wrote, or the backend's body ([`BackendBody`], read off the
//! connection) with the route's idle and total timeouts. Nothing here
//! buffers. When the backend body ends, its [`Completion`] finishes (the
//! backend connection goes back to its pool, the member is released, the
//! access log is written).

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::activity::{gap_expired, Activity};
use crate::backend::BackendBody;
use crate::completion::Completion;
use crate::error::{BoxError, TimedOut};

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
