//! The **forward** phase's exchange with a member: connect, send the
//! request, wait for the response head within the route's timeouts, and
//! the retry matrix for what fails on the way.
//!
//! Retries: another member is tried when connecting fails (any method).
//! When a connection fails before one byte of the request was written, a
//! reused one is replaced (nothing was sent, nothing of the body read),
//! and a new one counts as an attempt, for idempotent methods only. Never
//! once a byte went out.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use tokio::time::Sleep;

use super::pick::Via;
use crate::activity::Activity;
use crate::backend::{BackendConn, Failure, Upload};
use crate::ctx::ConnCtx;
use crate::error::TimedOut;
use crate::routing::CompiledRoute;
use crate::state::BackendPool;
use crate::upstream::{ConnectError, Target};
use crate::wire::ResponseHead;

/// What to do after an attempt failed.
pub(crate) enum Retry {
    /// Pick again, the same member allowed: a reused connection died
    /// while idle, and neither this attempt nor the member is counted.
    Replace,
    /// Pick again among the members not tried: this one counts as tried
    /// and as an attempt.
    Elsewhere,
    /// No more attempts: answer with gatehouse's page.
    Answer(StatusCode, &'static str),
}

/// Opens a new connection to the member, within the route's connect
/// timeout. Boxed: the connect future is large and runs only for a new
/// backend connection, while room for it would be allocated and copied
/// with the forward phase's future on every request.
pub(crate) fn connect<'a>(
    ctx: &'a ConnCtx,
    backend: &BackendPool,
    target: &'a Target,
    route: &CompiledRoute,
) -> Pin<Box<impl Future<Output = Result<Box<BackendConn>, ConnectError>> + Send + 'a>> {
    Box::pin(
        ctx.shared
            .upstreams
            .connect(target, backend.tls.clone(), route.connect_timeout),
    )
}

/// The retry matrix for a connection that could not be made; `attempts`
/// counts this one. Connecting sends nothing, so any method goes again,
/// on another member, while attempts are left.
pub(crate) fn after_connect_error(e: &ConnectError, attempts: u32, retries: u32) -> Retry {
    if attempts <= retries {
        return Retry::Elsewhere;
    }
    let status = match e {
        ConnectError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    Retry::Answer(status, "connect failed")
}

/// The retry matrix for an exchange that failed before its response head;
/// `attempts` counts those made before this one.
pub(crate) fn after_failure(
    failure: Failure,
    via: &Via,
    method: &Method,
    attempts: u32,
    retries: u32,
    route: &CompiledRoute,
    member: &str,
) -> Retry {
    match failure {
        // A reused connection that died while idle: nothing was sent and
        // nothing of the body read, so go again (a pin is dropped with it).
        Failure::NotSent(_) if !matches!(via, Via::New) => Retry::Replace,
        // A new one counts as an attempt.
        Failure::NotSent(_) if idempotent(method) && attempts < retries => {
            tracing::debug!(route = %route.name, member = %member, "new backend connection failed before sending; retrying");
            Retry::Elsewhere
        }
        Failure::ClientBody(e) if e.is::<TimedOut>() => {
            Retry::Answer(StatusCode::REQUEST_TIMEOUT, "client body read timeout")
        }
        Failure::ClientBody(e) => {
            tracing::debug!(route = %route.name, "client request body failed: {e}");
            Retry::Answer(StatusCode::BAD_REQUEST, "client body failed")
        }
        other => {
            tracing::warn!(route = %route.name, member = %member, "backend request failed: {other}");
            Retry::Answer(StatusCode::BAD_GATEWAY, "backend request failed")
        }
    }
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// The timer for the wait for the response head: the earlier of the idle
/// and the total deadline.
pub(crate) fn head_timer(activity: &Activity, idle: Duration, total: Option<Instant>) -> Sleep {
    tokio::time::sleep_until(first_deadline(activity, idle, total).into())
}

/// Waits for the response head of the request [`BackendConn::start`]
/// began, streaming the request body meanwhile. `Err` names the route
/// timeout that ran out first (504). One future over the connection and
/// one timer: a `select!` would keep room for both futures and more. All
/// by reference, `total` too: the future waits in the forward phase's.
pub(crate) fn response_head<'a>(
    conn: &'a mut BackendConn,
    method: &'a Method,
    upload: &'a mut Upload,
    mut timer: Pin<&'a mut Sleep>,
    activity: &'a Activity,
    route: &'a CompiledRoute,
    total: &'a Option<Instant>,
) -> impl Future<Output = Result<Result<ResponseHead, Failure>, &'static str>> + 'a {
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(r) = conn.poll_response_head(method, upload, cx) {
            return Poll::Ready(Ok(r));
        }
        expired(timer.as_mut(), activity, route.idle_timeout, *total, cx).map(Err)
    })
}

/// Whether the route's idle or total timeout ran out while the request
/// waits for its response head (the request body may still be flowing:
/// idle means no byte moved either way for `idle`). A timer that fires
/// early, because bytes moved since it was set, is set again.
fn expired(
    mut timer: Pin<&mut Sleep>,
    activity: &Activity,
    idle: Duration,
    total: Option<Instant>,
    cx: &mut Context<'_>,
) -> Poll<&'static str> {
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let now = Instant::now();
        if total.is_some_and(|t| now >= t) {
            return Poll::Ready("total timeout");
        }
        if now >= activity.deadline(idle) {
            return Poll::Ready("idle timeout waiting for response");
        }
        timer.as_mut().reset(first_deadline(activity, idle, total).into());
    }
}

/// The earlier of the idle and the total deadline.
fn first_deadline(activity: &Activity, idle: Duration, total: Option<Instant>) -> Instant {
    let idle_at = activity.deadline(idle);
    total.map_or(idle_at, |t| t.min(idle_at))
}
