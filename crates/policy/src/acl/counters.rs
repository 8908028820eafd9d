//! Per-rule hit counters for an ACL, shared by every connection handler.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Decision;

/// One hit counter per rule plus one for the implicit deny.
///
/// Counters are independent statistics, so they use relaxed atomics: a
/// [`snapshot`](Self::snapshot) taken while traffic flows is not one
/// consistent cut across rules, but each value is exact at some instant.
/// Counters belong to one compiled ACL; a reload starts a new set.
#[derive(Debug)]
pub struct AclCounters {
    /// `rules + 1` entries; the last is the implicit deny.
    hits: Box<[AtomicU64]>,
}

impl AclCounters {
    /// Zeroed counters for an ACL of `rules` rules.
    pub fn new(rules: usize) -> AclCounters {
        AclCounters {
            hits: (0..=rules).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records one decision. A rule index beyond this ACL (a decision from
    /// another ACL, which is a wiring bug) is not counted.
    pub fn count(&self, decision: &Decision) {
        let implicit = self.hits.len() - 1;
        let index = decision.rule.unwrap_or(implicit);
        debug_assert!(index <= implicit, "decision from a different ACL");
        if let Some(counter) = self.hits.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Current values: index `i` is rule `i`, the last entry is the implicit
    /// deny.
    pub fn snapshot(&self) -> Vec<u64> {
        self.hits.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }
}
