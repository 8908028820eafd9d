//! What must happen however an exchange with a backend ends, once its
//! response head came: the clean-up before the log phase writes the record.
//!
//! A [`Completion`] travels with the response body. When it is dropped (the
//! body ended, failed, timed out, or the client went away) it gives the
//! backend connection back to its pool, or to the client connection it is
//! pinned to, if the exchange completed cleanly, releases the member in its
//! pool, and then lets go of the request's [`AccessGuard`], which writes
//! the record.

use std::time::Instant;

use crate::backend::BackendConn;
use crate::ctx::Pinned;
use crate::log::AccessGuard;
use crate::upstream::Target;

/// Where a backend connection goes when its exchange completes cleanly.
pub(crate) enum AfterUse {
    /// To the idle pool, for anyone's next request.
    Pool(Target),
    /// Back to the one client connection it is pinned to (NTLM/Negotiate):
    /// the one the access guard's request came on.
    Pin { target: Target, member: usize },
    /// Closed: it carried a tunnel, or cannot be trusted with another request.
    Close,
}

/// What must happen when an exchange ends; see the module docs.
pub(crate) struct Completion {
    /// The request's record, written when this is dropped, after the rest.
    pub log: Box<AccessGuard>,
    /// The member's count of this exchange, released when the exchange ends.
    pub hold: Option<gatehouse_runtime::MemberGuard>,
    /// Where the backend connection goes after a clean completion.
    pub after: AfterUse,
    /// The backend connection, once the response ended and it may be reused.
    pub conn: Option<Box<BackendConn>>,
    pub completed: bool,
    pub outcome: Option<&'static str>,
}

impl Completion {
    /// The exchange whose response head came, holding `hold` on its member.
    pub fn new(log: Box<AccessGuard>, hold: Option<gatehouse_runtime::MemberGuard>, after: AfterUse) -> Self {
        Completion {
            log,
            hold,
            after,
            conn: None,
            completed: false,
            outcome: None,
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        let now = Instant::now();
        if let (true, Some(conn)) = (self.completed, self.conn.take()) {
            let ctx = self.log.ctx();
            match std::mem::replace(&mut self.after, AfterUse::Close) {
                AfterUse::Pool(target) => ctx.shared.upstreams.put(target, conn, now),
                AfterUse::Pin { target, member } => {
                    *ctx.pinned.lock().unwrap_or_else(|e| e.into_inner()) = Some(Pinned { target, member, conn });
                }
                AfterUse::Close => {}
            }
        }
        drop(self.hold.take());
        let why = (!self.completed).then(|| self.outcome.unwrap_or("client went away"));
        self.log.ended(now, why);
        // `log` is dropped next, with the other fields: the record is written.
    }
}
