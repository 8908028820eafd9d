//! A process-wide monotonic clock in nanoseconds, so that deadlines and
//! activity stamps fit in an atomic `u64` on hot paths.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the first call in this process; never 0, so that 0
/// can mean "unset" in atomics.
pub(crate) fn now_nanos() -> u64 {
    // u64 nanoseconds last 584 years.
    epoch().elapsed().as_nanos() as u64 + 1
}

/// The `Instant` of a stamp from [`now_nanos`].
pub(crate) fn instant_of(nanos: u64) -> Instant {
    epoch() + Duration::from_nanos(nanos.saturating_sub(1))
}
