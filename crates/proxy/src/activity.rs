//! What moved in one exchange and when: the clock every idle timeout of a
//! request reads, and the byte counts of its access record. A leaf: bodies,
//! tunnels and the log phase use it, and it uses no module of the crate.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Context;
use std::time::{Duration, Instant};

use tokio::time::Sleep;

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

/// Polls a gap timer: Ready(true) when `deadline()` has really passed.
pub(crate) fn gap_expired(sleep: &mut Option<Pin<Box<Sleep>>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    let deadline = tokio::time::Instant::from_std(deadline);
    let s = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if s.deadline() != deadline {
        s.as_mut().reset(deadline);
    }
    s.as_mut().poll(cx).is_ready()
}
