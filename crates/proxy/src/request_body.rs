//! The client's request body: as it arrives over HTTP/1.1 or HTTP/2
//! ([`ClientBody`]), and on its way to a backend with the client body-read
//! timeout ([`RequestBody`]). Nothing here buffers.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

use crate::activity::{gap_expired, Activity};
use crate::error::{BoxError, TimedOut};

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
