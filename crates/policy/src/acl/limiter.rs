//! A pure rate limiter for denial log lines: the caller passes the time in,
//! so it can be tested with synthetic instants and never reads a clock.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Allows at most `per_window` log lines per `window` (fixed windows).
///
/// A window starts at the first call after the previous one ended, so an
/// idle limiter costs nothing. Fixed windows can let up to twice
/// `per_window` through around a window boundary; that is fine for logs,
/// where the aim is "bounded", not "smooth". Denials that were not logged
/// are counted so the caller can report them (see
/// [`take_suppressed`](Self::take_suppressed)).
///
/// `per_window == 0` never allows; `window == Duration::ZERO` always allows
/// (every call starts a new window), which is why the model requires a
/// non-zero window.
///
/// It uses a `Mutex` rather than lock-free tricks: it is only consulted on
/// the denial path, and an uncontended lock there is cheap and obviously
/// correct.
#[derive(Debug)]
pub struct LogLimiter {
    per_window: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Start of the current window; `None` before the first call.
    start: Option<Instant>,
    /// Lines allowed in the current window.
    used: u32,
    /// Lines refused since the last `take_suppressed`.
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(per_window: u32, window: Duration) -> LogLimiter {
        LogLimiter {
            per_window,
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// Whether a log line may be written at `now`. Instants slightly out of
    /// order (threads race between reading the clock and calling this) are
    /// treated as belonging to the current window.
    pub fn allow(&self, now: Instant) -> bool {
        // Nothing panics while the lock is held, but if something ever did,
        // the counts are still meaningful: keep limiting rather than panic.
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = s
            .start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if expired {
            s.start = Some(now);
            s.used = 0;
        }
        if s.used < self.per_window {
            s.used += 1;
            true
        } else {
            s.suppressed += 1;
            false
        }
    }

    /// Returns how many lines were refused since the last call, and resets
    /// that count, so the caller can log "N more denials suppressed".
    pub fn take_suppressed(&self) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut s.suppressed)
    }
}
