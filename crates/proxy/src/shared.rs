//! What every connection of every plan shares, and the count of live
//! connections shutdown waits for.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use gatehouse_policy::LogLimiter;
use tokio::sync::{watch, Notify};

use crate::access::AccessLog;
use crate::affinity::CookieSigner;
use crate::members::Members;
use crate::upstream::Upstreams;
use crate::workers::Workers;

/// Counts live client connections so that shutdown can wait for them.
#[derive(Default)]
pub(crate) struct Tracker {
    pub live: AtomicUsize,
    pub idle: Notify,
}

pub(crate) struct Live(Arc<Tracker>);

impl Tracker {
    pub fn enter(self: &Arc<Self>) -> Live {
        self.live.fetch_add(1, Ordering::SeqCst);
        Live(self.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// What every connection of every plan shares.
pub(crate) struct Shared {
    pub members: Members,
    pub access_log: Arc<dyn AccessLog>,
    pub signer: CookieSigner,
    pub upstreams: Arc<Upstreams>,
    pub workers: Workers,
    pub tracker: Arc<Tracker>,
    /// 0 running, 1 graceful shutdown, 2 close everything now.
    pub stop: watch::Sender<u8>,
    /// Connections from trusted proxies closed for a missing, malformed or
    /// late PROXY header; logged through `header_log`.
    pub bad_proxy_headers: AtomicU64,
    pub header_log: LogLimiter,
}
