//! Upgrade tunnels: WebSocket only, on routes that allow it. Once the
//! backend answers 101, bytes are copied both ways until either side closes
//! or nothing moves for the route's idle timeout.
//!
//! A tunnel carries bytes no routing, zone or auth check sees again, so
//! every other Upgrade (`h2c` above all) is refused, never forwarded.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{header, HeaderMap};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::activity::Activity;
use crate::backend::BackendConn;
use crate::shared::Shared;

/// Why a request's `Upgrade` is refused, or `None` when there is none or it
/// may be tunnelled: exactly one `websocket` token on a route that allows it,
/// over HTTP/1.1 (HTTP/2 forbids `Upgrade`, RFC 9113 §8.2.2).
pub(crate) fn refusal(headers: &HeaderMap, h2: bool, websocket: bool) -> Option<&'static str> {
    let mut values = headers.get_all(header::UPGRADE).iter();
    let first = values.next()?;
    if h2 {
        return Some("Upgrade on HTTP/2");
    }
    if values.next().is_some() || !first.as_bytes().eq_ignore_ascii_case(b"websocket") {
        return Some("Upgrade to a protocol other than websocket");
    }
    if !websocket {
        return Some("WebSocket not allowed on this route");
    }
    None
}

/// Whether a 101 switches to WebSocket, the only protocol ever asked for.
pub(crate) fn switched_to_websocket(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::UPGRADE).iter();
    matches!((values.next(), values.next()), (Some(v), None) if v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// Runs one tunnel to completion. It counts as a live connection for
/// shutdown, and ends when shutdown's deadline passes.
pub(crate) async fn run(shared: Arc<Shared>, client: OnUpgrade, backend: Box<BackendConn>, idle: Duration) {
    let _live = shared.tracker.enter();
    let mut stop = shared.stop.subscribe();
    let Ok(client) = client.await else {
        tracing::debug!("client upgrade failed");
        return;
    };
    let activity = Activity::new(Instant::now());
    let mut a = Touching {
        inner: TokioIo::new(client),
        activity: activity.clone(),
    };
    let mut b = Touching {
        inner: backend,
        activity: activity.clone(),
    };
    tokio::select! {
        r = tokio::io::copy_bidirectional(&mut a, &mut b) => {
            if let Err(e) = r {
                tracing::debug!("tunnel ended: {e}");
            }
        }
        _ = idle_watch(&activity, idle) => tracing::debug!("tunnel idle timeout"),
        _ = stop.wait_for(|level| *level >= 2) => tracing::debug!("tunnel closed by shutdown"),
    }
}

async fn idle_watch(activity: &Activity, idle: Duration) {
    loop {
        let deadline = activity.deadline(idle);
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}

/// Marks activity whenever bytes are read.
struct Touching<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Touching<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Touching<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
