//! The *log* phase: one access-log line per request, on every outcome, and
//! the clean-up that must happen however an exchange ends.
//!
//! A [`Completion`] travels with the response body. When it is dropped (the
//! body ended, failed, timed out, or the client went away) it gives the
//! backend connection back to its pool, or to the client connection it is
//! pinned to, if the exchange completed cleanly,
//! releases the member in its pool, and writes the access record.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::access::AccessRecord;
use crate::activity::Activity;
use crate::backend::BackendConn;
use crate::ctx::{ConnCtx, Pinned};
use crate::shared::Shared;
use crate::upstream::Target;

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
