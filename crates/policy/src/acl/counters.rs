//! Per-rule hit counters for an ACL, shared by every connection handler.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::Decision;

/// Shards per set: threads that count at once (the proxy's workers, the
/// DNS server's UDP threads, the L4 tasks) each keep to their own shard,
/// so that a hot rule's counter does not bounce between cores.
const SHARDS: usize = 16;

/// Eight counters on one cache line of their own: the type's alignment
/// makes every allocation of them start on a line, so no two shards
/// share one (separately allocated arrays would, malloc aligns to 16).
#[derive(Debug)]
#[repr(align(64))]
struct Line([AtomicU64; 8]);

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
    /// Lines per shard: `rules + 1` counters, rounded up to whole lines.
    per_shard: usize,
    /// `SHARDS * per_shard` lines, shard after shard.
    lines: Box<[Line]>,
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
        let per_shard = (rules + 1).div_ceil(8);
        AclCounters {
            rules,
            per_shard,
            lines: (0..SHARDS * per_shard)
                .map(|_| Line(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
        }
    }

    fn counter(&self, shard: usize, index: usize) -> &AtomicU64 {
        &self.lines[shard * self.per_shard + index / 8].0[index % 8]
    }

    /// Records one decision in shard `shard` (taken modulo the shard
    /// count): for threads that know their index, such as the DNS server's
    /// workers, which then skip the thread-local lookup on every query.
    pub fn count_in(&self, shard: usize, decision: &Decision) {
        let index = decision.rule.unwrap_or(self.rules);
        if index <= self.rules {
            self.counter(shard % SHARDS, index).fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one decision. A rule index beyond this ACL (a decision from
    /// another ACL, which is a wiring bug) is not counted.
    pub fn count(&self, decision: &Decision) {
        debug_assert!(
            decision.rule.is_none_or(|i| i < self.rules),
            "decision from a different ACL"
        );
        self.count_in(shard_of_thread(), decision);
    }

    /// Current values, summed over the shards: index `i` is rule `i`, the
    /// last entry is the implicit deny.
    pub fn snapshot(&self) -> Vec<u64> {
        (0..=self.rules)
            .map(|i| (0..SHARDS).map(|s| self.counter(s, i).load(Ordering::Relaxed)).sum())
            .collect()
    }
}
