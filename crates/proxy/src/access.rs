//! The access record and where it goes: one line per request, written by
//! the log phase ([`crate::log::AccessGuard`]) on every way a request
//! ends.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

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
