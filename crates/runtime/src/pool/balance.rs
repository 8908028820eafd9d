//! The balancing algorithms. Each chooses among the members that the
//! caller's `usable` predicate accepts (see the module docs of `pool` for
//! what makes a member usable), so health, draining, backups and
//! `max_connections` are handled in one place and not per algorithm.
//!
//! - **round-robin**: members in turn; weights are ignored, except that a
//!   weight of 0 means no traffic.
//! - **weighted-round-robin**: nginx's *smooth* weighted round robin: with
//!   weights 5,1,1 the order is a a b a c a a, never five a's in a row.
//! - **least-connections**: the member with the fewest open connections
//!   relative to its weight; ties go round robin so that an idle pool is
//!   not drained onto its first member.
//! - **source-hash**: Maglev consistent hashing of the client address
//!   (Eisenbud et al., NSDI 2016). Adding or removing a member moves about
//!   its own share of clients and little else. A client whose member is
//!   down is re-hashed with another seed, so clients of healthy members
//!   never move because another member failed, and come back when it does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use gatehouse_model::topology::Algorithm;

use super::maglev::Maglev;
use super::{Member, Tier};
use std::net::IpAddr;
use std::sync::Arc;

/// How many seeds a key tries in the Maglev table before falling back to a
/// scan of the usable members.
const PROBES: u64 = 16;

#[derive(Debug)]
pub(crate) struct Balancer {
    next: AtomicUsize,
    /// Smooth WRR current weights, one per member.
    current: Mutex<Vec<i64>>,
    /// Maglev tables for primaries and backups, built on first use: every
    /// pool may be asked for source-ip affinity by an L7 route.
    tables: OnceLock<(Maglev, Maglev)>,
    algorithm: Algorithm,
    names: Vec<(String, u32, bool)>,
}

impl Balancer {
    pub(crate) fn new(algorithm: Algorithm, members: &[Arc<Member>]) -> Balancer {
        Balancer {
            next: AtomicUsize::new(0),
            current: Mutex::new(vec![0; members.len()]),
            tables: OnceLock::new(),
            algorithm,
            names: members
                .iter()
                .map(|m| (m.key().member.clone(), m.weight, m.backup))
                .collect(),
        }
    }

    /// The pool algorithm's choice among usable members.
    pub(crate) fn choose(&self, members: &[Arc<Member>], usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        match self.algorithm {
            Algorithm::RoundRobin => self.round_robin(members.len(), usable),
            Algorithm::WeightedRoundRobin => self.smooth_weighted(members, usable),
            Algorithm::LeastConnections => self.least_connections(members, usable),
            // A source-hash pool without a key (never from `Pool::pick`).
            Algorithm::SourceHash => self.round_robin(members.len(), usable),
        }
    }

    fn round_robin(&self, n: usize, usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        let count = (0..n).filter(|&i| usable(i)).count();
        if count == 0 {
            return None;
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed) % count;
        (0..n).filter(|&i| usable(i)).nth(k)
    }

    fn smooth_weighted(&self, members: &[Arc<Member>], usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total: i64 = 0;
        let mut best: Option<usize> = None;
        for (i, m) in members.iter().enumerate() {
            if !usable(i) {
                continue;
            }
            let w = i64::from(m.weight);
            current[i] += w;
            total += w;
            if best.is_none_or(|b| current[i] > current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        current[best] -= total;
        Some(best)
    }

    fn least_connections(&self, members: &[Arc<Member>], usable: &dyn Fn(usize) -> bool) -> Option<usize> {
        let n = members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let mut best: Option<(usize, u64, u64)> = None; // (index, active, weight)
        for k in 0..n {
            let i = (start + k) % n;
            if !usable(i) {
                continue;
            }
            let (active, weight) = (u64::from(members[i].active()), u64::from(members[i].weight.max(1)));
            // active/weight < best_active/best_weight, without division.
            if best.is_none_or(|(_, ba, bw)| active * bw < ba * weight) {
                best = Some((i, active, weight));
            }
        }
        best.map(|(i, _, _)| i)
    }

    /// Consistent choice by `key` (source hash or affinity).
    pub(crate) fn by_key(
        &self,
        members: &[Arc<Member>],
        tier: Tier,
        key: u64,
        usable: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let (primary, backup) = self.tables.get_or_init(|| {
            let side = |backup: bool| {
                Maglev::new(
                    self.names
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, _, b))| *b == backup)
                        .map(|(i, (name, w, _))| (i, name.as_str(), *w)),
                )
            };
            (side(false), side(true))
        });
        let table = match tier {
            Tier::Backup => backup,
            Tier::Primary | Tier::LastResort => primary,
        };
        for seed in 0..PROBES {
            if let Some(i) = table.lookup(mix(key ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15))) {
                if usable(i) {
                    return Some(i);
                }
            }
        }
        // Everything the table offered is unusable (e.g. last resort among
        // backups): take the usable members in a key-determined order.
        let count = (0..members.len()).filter(|&i| usable(i)).count();
        if count == 0 {
            return None;
        }
        let k = (key % count as u64) as usize;
        (0..members.len()).filter(|&i| usable(i)).nth(k)
    }
}

/// The hash of a client address used by source-hash pools and source-ip
/// affinity. IPv4-mapped IPv6 addresses hash as the IPv4 address. Stable
/// across processes and versions, so that several gatehouses in front of
/// the same pool send a client to the same member.
pub fn client_hash(client: IpAddr) -> u64 {
    match client.to_canonical() {
        IpAddr::V4(a) => mix(u64::from(u32::from(a)) ^ 0x4),
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            mix(mix(bits as u64) ^ (bits >> 64) as u64 ^ 0x6)
        }
    }
}

/// The MurmurHash3 64-bit finalizer.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hash_treats_mapped_v4_as_v4() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_hash(v4), client_hash(mapped));
        assert_ne!(client_hash(v4), client_hash("192.0.2.8".parse().unwrap()));
    }
}
