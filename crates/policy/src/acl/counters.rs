//! Per-rule hit counters for an ACL, shared by every connection handler.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::Decision;

/// Shards per set: threads that count at once (the proxy's workers, the
/// DNS server's UDP threads, the L4 tasks) each keep to their own shard,
/// so that a hot rule's counter does not bounce between cores.
const SHARDS: usize = 16;

/// One shard's counters, on cache lines of its own.
#[derive(Debug)]
#[repr(align(64))]
struct Shard(Box<[AtomicU64]>);

/// One hit counter per rule plus one for the implicit deny.
///
/// Counters are independent statistics, so they use relaxed atomics: a
/// [`snapshot`](Self::snapshot) taken while traffic flows is not one
/// consistent cut across rules, but each value is exact at some instant.
/// Counters belong to one compiled ACL; a reload starts a new set.
#[derive(Debug)]
pub struct AclCounters {
    /// The rules counted; index `rules` is the implicit deny.
    rules: usize,
    /// Each with `rules + 1` counters (and padding to a whole cache line).
    shards: Box<[Shard]>,
}

/// The shard of the calling thread, given out in turn.
fn shard_of_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl AclCounters {
    /// Zeroed counters for an ACL of `rules` rules.
    pub fn new(rules: usize) -> AclCounters {
        // Each shard's counters padded to whole cache lines, so that two
        // shards never share one.
        let per_line = 64 / std::mem::size_of::<AtomicU64>();
        let len = (rules + 1).div_ceil(per_line) * per_line;
        AclCounters {
            rules,
            shards: (0..SHARDS)
                .map(|_| Shard((0..len).map(|_| AtomicU64::new(0)).collect()))
                .collect(),
        }
    }

    /// Records one decision. A rule index beyond this ACL (a decision from
    /// another ACL, which is a wiring bug) is not counted.
    pub fn count(&self, decision: &Decision) {
        let shard = &self.shards[shard_of_thread()].0;
        let implicit = self.rules;
        let index = decision.rule.unwrap_or(implicit);
        debug_assert!(index <= implicit, "decision from a different ACL");
        if index <= implicit {
            shard[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Current values, summed over the shards: index `i` is rule `i`, the
    /// last entry is the implicit deny.
    pub fn snapshot(&self) -> Vec<u64> {
        (0..=self.rules)
            .map(|i| self.shards.iter().map(|s| s.0[i].load(Ordering::Relaxed)).sum())
            .collect()
    }
}
