//! The *log* phase: one access-log line per request, on every outcome, and
//! the clean-up that must happen however an exchange ends.
//!
//! A [`Completion`] travels with the response body. When it is dropped (the
//! body ended, failed, timed out, or the client went away) it gives the
//! backend connection back to its pool, or to the client connection it is
//! pinned to, if the exchange completed cleanly,
//! releases the member in its pool, and writes the access record.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::BackendConn;
use crate::body::Activity;
use crate::conn::{ConnCtx, Pinned};
use crate::upstream::Target;
use crate::Shared;

/// One access-log line.
#[derive(Clone, Debug)]
pub struct AccessRecord {
    /// The client whose zone decided: the peer, or the address a trusted
    /// proxy named (PROXY header or `X-Forwarded-For`).
    pub client: IpAddr,
    /// The trusted proxy the client's address came through, if any.
    pub via: Option<IpAddr>,
    pub zone: Arc<str>,
    pub listener: Arc<str>,
    /// `-` when no route matched.
    pub route: Arc<str>,
    /// `host:port` of the member, `-` when none was reached.
    pub member: Arc<str>,
    pub method: http::Method,
    pub host: Arc<str>,
    pub status: u16,
    /// Request body bytes sent on to the backend.
    pub bytes_in: u64,
    /// Response body bytes sent to the client.
    pub bytes_out: u64,
    pub duration: Duration,
    /// Whether the request went over a pinned (NTLM/Negotiate) backend connection.
    pub pinned: bool,
    /// The pre-authenticated user, once pre-authentication exists.
    pub user: Option<Arc<str>>,
    /// Why the exchange ended early, if it did (timeouts, backend errors).
    pub outcome: Option<&'static str>,
}

/// `-`, what a record says for a member or host it has none of. One
/// string per thread: a fresh one would cost an allocation per request,
/// and one for all threads would bounce its count between cores.
pub(crate) fn dash() -> Arc<str> {
    thread_local! {
        static DASH: Arc<str> = Arc::from("-");
    }
    DASH.with(Arc::clone)
}

/// Where access records go. The default writes them with `tracing` (target
/// `gatehouse::access`, level INFO).
pub trait AccessLog: Send + Sync + 'static {
    fn log(&self, record: &AccessRecord);
}

/// Writes access records as `tracing` events.
#[derive(Debug, Default)]
pub struct TracingAccessLog;

impl AccessLog for TracingAccessLog {
    fn log(&self, r: &AccessRecord) {
        tracing::info!(
            target: "gatehouse::access",
            client = %r.client,
            via = %r.via.map_or_else(|| "-".to_string(), |v| v.to_string()),
            zone = %r.zone,
            listener = %r.listener,
            route = %r.route,
            member = %r.member,
            method = %r.method,
            host = %r.host,
            status = r.status,
            bytes_in = r.bytes_in,
            bytes_out = r.bytes_out,
            duration_ms = r.duration.as_millis() as u64,
            pinned = if r.pinned { "yes" } else { "no" },
            user = r.user.as_deref().unwrap_or("-"),
            outcome = r.outcome.unwrap_or("-"),
        );
    }
}

/// Where a backend connection goes when its exchange completes cleanly.
pub(crate) enum AfterUse {
    /// To the idle pool, for anyone's next request.
    Pool(Target),
    /// Back to the one client connection it is pinned to (NTLM/Negotiate).
    Pin {
        ctx: Arc<ConnCtx>,
        target: Target,
        member: usize,
    },
    /// Closed: it carried a tunnel, or cannot be trusted with another request.
    Close,
}

/// What must happen when an exchange ends; see the module docs.
pub(crate) struct Completion {
    pub shared: Arc<Shared>,
    pub record: Box<AccessRecord>,
    pub started: Instant,
    /// Bytes moved each way, counted by the bodies.
    pub activity: Arc<Activity>,
    /// The member's count of this exchange, released when the exchange ends.
    pub hold: Option<gatehouse_runtime::MemberGuard>,
    /// Where the backend connection goes after a clean completion.
    pub after: AfterUse,
    /// The backend connection, once the response ended and it may be reused.
    pub conn: Option<Box<BackendConn>>,
    pub completed: bool,
    pub outcome: Option<&'static str>,
}

impl Drop for Completion {
    fn drop(&mut self) {
        let now = Instant::now();
        if let (true, Some(conn)) = (self.completed, self.conn.take()) {
            match std::mem::replace(&mut self.after, AfterUse::Close) {
                AfterUse::Pool(target) => self.shared.upstreams.put(target, conn, now),
                AfterUse::Pin { ctx, target, member } => {
                    *ctx.pinned.lock().unwrap_or_else(|e| e.into_inner()) = Some(Pinned { target, member, conn });
                }
                AfterUse::Close => {}
            }
        }
        drop(self.hold.take());
        let r = &mut self.record;
        r.bytes_in = self.activity.bytes_in.load(Ordering::Relaxed);
        r.bytes_out = self.activity.bytes_out.load(Ordering::Relaxed);
        r.duration = now.saturating_duration_since(self.started);
        if !self.completed && r.outcome.is_none() {
            r.outcome = Some(self.outcome.unwrap_or("client went away"));
        }
        self.shared.access_log.log(r);
    }
}
