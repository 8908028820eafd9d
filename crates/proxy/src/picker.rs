//! The *pick* seam: which member of a pool gets a request.
//!
//! The proxy only talks to pools through [`MemberPicker`], so the runtime's
//! pools (health checks, shared health state across L4 and L7) can replace
//! the built-in [`RoundRobinPicker`] without touching the proxy. A member is
//! named by its pool and its index in that pool's `members` in the plan the
//! request runs on.
//!
//! Contract, in call order for one exchange:
//! 1. [`MemberPicker::pick`] returns an eligible member, or `None` when the
//!    pool has none (the proxy answers 503).
//! 2. The proxy connects (or reuses a pooled connection) and reports
//!    [`MemberPicker::connected`] or [`MemberPicker::connect_failed`]; after a
//!    failure it may call `pick` again with the failed members in `exclude`.
//! 3. [`MemberPicker::release`] once the exchange ends (for every `pick` whose
//!    connect succeeded), so least-connections counts stay right.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gatehouse_model::topology::{Algorithm, Pool};

/// What the route's affinity asks of the pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AffinityHint {
    /// No affinity: the pool's algorithm decides.
    None,
    /// The same client address should land on the same member.
    SourceIp,
    /// The affinity cookie names this member; honour it if it is up.
    Member(usize),
}

/// One pick.
#[derive(Debug)]
pub struct PickRequest<'a> {
    pub pool: &'a Pool,
    pub client: IpAddr,
    pub affinity: AffinityHint,
    /// Members already tried for this request.
    pub exclude: &'a [usize],
}

/// Chooses pool members and learns from connection outcomes. Implementations
/// must be cheap: `pick` runs for every request.
pub trait MemberPicker: Send + Sync + 'static {
    /// A member index of `req.pool`, or `None` when no member may be used.
    fn pick(&self, req: &PickRequest<'_>) -> Option<usize>;
    /// A connection to the member was established (or reused).
    fn connected(&self, pool: &Pool, member: usize);
    /// Connecting to the member failed (refused, unreachable, timed out).
    fn connect_failed(&self, pool: &Pool, member: usize);
    /// An exchange that `connected` ended.
    fn release(&self, pool: &Pool, member: usize);
}

/// Tuning of [`RoundRobinPicker`]'s passive ejection.
#[derive(Clone, Debug)]
pub struct EjectionPolicy {
    /// Consecutive connect failures that eject a member. Default 3.
    pub after_failures: u32,
    /// How long an ejected member is left out. Default 10 s.
    pub back_off: Duration,
}

impl Default for EjectionPolicy {
    fn default() -> Self {
        EjectionPolicy {
            after_failures: 3,
            back_off: Duration::from_secs(10),
        }
    }
}

/// The built-in picker: the pool's algorithm (round-robin, weighted
/// round-robin, least-connections, source-hash) over members that are not
/// ejected, backups only when no primary is left, passive ejection after
/// consecutive connect failures. Without active health checks, a member is
/// only known to be down once connecting to it has failed.
pub struct RoundRobinPicker {
    policy: EjectionPolicy,
    epoch: Instant,
    /// By pool name (configuration, not client input: a fast hash is safe).
    pools: RwLock<rustc_hash::FxHashMap<String, Arc<PoolState>>>,
}

#[derive(Debug, Default)]
struct MemberState {
    failures: AtomicU32,
    /// Milliseconds since `epoch`; 0 = not ejected.
    ejected_until: AtomicU64,
    active: AtomicU32,
}

#[derive(Debug)]
struct PoolState {
    /// Identity of the plan's `Pool` this was built for; a reload gives a new one.
    source: usize,
    rr: AtomicUsize,
    members: Vec<Arc<MemberState>>,
    keys: Vec<String>,
}

fn member_key(pool: &Pool, i: usize) -> String {
    let m = &pool.members[i];
    format!("{}:{}", m.host.value, m.port.as_ref().map_or(0, |p| p.value))
}

impl Default for RoundRobinPicker {
    fn default() -> Self {
        Self::new(EjectionPolicy::default())
    }
}

impl RoundRobinPicker {
    pub fn new(policy: EjectionPolicy) -> Self {
        RoundRobinPicker {
            policy,
            epoch: Instant::now(),
            pools: RwLock::default(),
        }
    }

    /// The state of a pool, rebuilt (keeping the state of members that still
    /// exist) when the plan changed.
    fn state(&self, pool: &Pool) -> Arc<PoolState> {
        let source = pool as *const Pool as usize;
        if let Some(s) = self
            .pools
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&pool.name.value)
        {
            if s.source == source && s.members.len() == pool.members.len() {
                return s.clone();
            }
        }
        let mut pools = self.pools.write().unwrap_or_else(|e| e.into_inner());
        let old = pools.get(&pool.name.value).cloned();
        let keys: Vec<String> = (0..pool.members.len()).map(|i| member_key(pool, i)).collect();
        let members = keys
            .iter()
            .map(|k| {
                old.as_ref()
                    .and_then(|o| o.keys.iter().position(|x| x == k).map(|i| o.members[i].clone()))
                    .unwrap_or_default()
            })
            .collect();
        let state = Arc::new(PoolState {
            source,
            rr: AtomicUsize::new(old.map_or(0, |o| o.rr.load(Ordering::Relaxed))),
            members,
            keys,
        });
        pools.insert(pool.name.value.clone(), state.clone());
        state
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Whether a member is currently ejected (for tests and metrics).
    pub fn is_ejected(&self, pool: &Pool, member: usize) -> bool {
        let s = self.state(pool);
        s.members
            .get(member)
            .is_some_and(|m| m.ejected_until.load(Ordering::Relaxed) > self.now_ms())
    }
}

impl MemberPicker for RoundRobinPicker {
    fn pick(&self, req: &PickRequest<'_>) -> Option<usize> {
        let state = self.state(req.pool);
        let now = self.now_ms();
        let usable = |i: usize| {
            let m = &state.members[i];
            // Weight 0 takes no traffic, as in the runtime's pools.
            req.pool.members[i].weight > 0
                && !req.exclude.contains(&i)
                && m.ejected_until.load(Ordering::Relaxed) <= now
                && req.pool.members[i]
                    .max_connections
                    .is_none_or(|max| m.active.load(Ordering::Relaxed) < max)
        };
        if let AffinityHint::Member(i) = req.affinity {
            if i < state.members.len() && usable(i) {
                return Some(i);
            }
        }
        // The primaries, or the backups when no primary is usable. An
        // iterator walked more than once rather than a list: picking runs on
        // every request and pools are small.
        let n = req.pool.members.len();
        let tier = |backup: bool| (0..n).filter(move |&i| req.pool.members[i].backup == backup && usable(i));
        let backup = match (tier(false).next(), tier(true).next()) {
            (Some(_), _) => false,
            (None, Some(_)) => true,
            (None, None) => return None,
        };
        let eligible = || tier(backup);
        let source_hash = req.affinity == AffinityHint::SourceIp || req.pool.algorithm == Algorithm::SourceHash;
        if source_hash {
            // Rendezvous hashing: losing a member only moves its own clients.
            return eligible().max_by_key(|&i| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                req.client.hash(&mut h);
                state.keys[i].hash(&mut h);
                h.finish()
            });
        }
        let turn = state.rr.fetch_add(1, Ordering::Relaxed);
        let active = |i: usize| state.members[i].active.load(Ordering::Relaxed);
        match req.pool.algorithm {
            Algorithm::LeastConnections => {
                let least = eligible().map(active).min()?;
                let tied = eligible().filter(|&i| active(i) == least).count();
                eligible().filter(|&i| active(i) == least).nth(turn % tied)
            }
            Algorithm::WeightedRoundRobin => {
                let weight = |i: usize| req.pool.members[i].weight as usize;
                let total: usize = eligible().map(weight).sum();
                let mut slot = turn % total;
                for i in eligible() {
                    if slot < weight(i) {
                        return Some(i);
                    }
                    slot -= weight(i);
                }
                eligible().next()
            }
            _ => {
                let count = eligible().count();
                eligible().nth(turn % count)
            }
        }
    }

    fn connected(&self, pool: &Pool, member: usize) {
        let s = self.state(pool);
        if let Some(m) = s.members.get(member) {
            m.failures.store(0, Ordering::Relaxed);
            m.active.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn connect_failed(&self, pool: &Pool, member: usize) {
        let s = self.state(pool);
        if let Some(m) = s.members.get(member) {
            let failures = m.failures.fetch_add(1, Ordering::Relaxed) + 1;
            if failures >= self.policy.after_failures {
                let until = self.now_ms() + self.policy.back_off.as_millis() as u64;
                m.ejected_until.store(until, Ordering::Relaxed);
                m.failures.store(0, Ordering::Relaxed);
                tracing::warn!(pool = %pool.name.value, member = %s.keys[member], "member ejected after connect failures");
            }
        }
    }

    fn release(&self, pool: &Pool, member: usize) {
        let s = self.state(pool);
        if let Some(m) = s.members.get(member) {
            // Saturating: a release without a matching connect must not wrap.
            let _ = m
                .active
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |a| Some(a.saturating_sub(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(algorithm: &str, members: &str) -> gatehouse_model::Plan {
        let text = format!(
            "[gatehouse]\nname = \"t\"\ndefault_zone = \"lab\"\n[zones.lab]\nprefixes = [\"127.0.0.0/8\"]\n\
             [services.web]\nproduct = \"generic\"\nclass = \"sharepoint\"\n\
             [pools.web]\nservice = \"web\"\nalgorithm = \"{algorithm}\"\nmembers = [{members}]\n"
        );
        let checked = gatehouse_model::check(&text);
        checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics))
    }

    fn picks(picker: &RoundRobinPicker, pool: &Pool, n: usize, exclude: &[usize]) -> Vec<usize> {
        (0..n)
            .map(|_| {
                picker
                    .pick(&PickRequest {
                        pool,
                        client: "127.0.0.1".parse().unwrap(),
                        affinity: AffinityHint::None,
                        exclude,
                    })
                    .unwrap_or(usize::MAX)
            })
            .collect()
    }

    fn counts(picked: &[usize], members: usize) -> Vec<usize> {
        (0..members)
            .map(|m| picked.iter().filter(|&&p| p == m).count())
            .collect()
    }

    #[test]
    fn round_robin_turns_over_the_primaries_and_skips_excluded_ones() {
        let plan = plan(
            "round-robin",
            r#""10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", { address = "10.0.0.9:80", backup = true }"#,
        );
        let pool = plan.pool("web").unwrap();
        let picker = RoundRobinPicker::default();
        assert_eq!(counts(&picks(&picker, pool, 30, &[]), 4), [10, 10, 10, 0]);
        assert_eq!(counts(&picks(&picker, pool, 30, &[1]), 4), [15, 0, 15, 0]);
        // Backups only once no primary is left.
        assert_eq!(counts(&picks(&picker, pool, 5, &[0, 1, 2]), 4), [0, 0, 0, 5]);
        assert_eq!(picks(&picker, pool, 1, &[0, 1, 2, 3]), [usize::MAX]);
    }

    #[test]
    fn weighted_round_robin_follows_the_weights_and_weight_0_gets_nothing() {
        let plan = plan(
            "weighted-round-robin",
            r#"{ address = "10.0.0.1:80", weight = 3 }, { address = "10.0.0.2:80", weight = 1 }, { address = "10.0.0.3:80", weight = 0 }"#,
        );
        let pool = plan.pool("web").unwrap();
        let picker = RoundRobinPicker::default();
        assert_eq!(counts(&picks(&picker, pool, 40, &[]), 3), [30, 10, 0]);
    }

    #[test]
    fn least_connections_prefers_the_least_busy_and_shares_ties() {
        let plan = plan("least-connections", r#""10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80""#);
        let pool = plan.pool("web").unwrap();
        let picker = RoundRobinPicker::default();
        for _ in 0..3 {
            picker.connected(pool, 0);
        }
        picker.connected(pool, 1);
        assert_eq!(counts(&picks(&picker, pool, 6, &[]), 3), [0, 0, 6]);
        picker.connected(pool, 2);
        // 1 and 2 tie at one connection each.
        assert_eq!(counts(&picks(&picker, pool, 10, &[]), 3), [0, 5, 5]);
        picker.release(pool, 0);
        picker.release(pool, 0);
        picker.release(pool, 0);
        assert_eq!(counts(&picks(&picker, pool, 4, &[]), 3), [4, 0, 0]);
    }

    #[test]
    fn source_hash_keeps_a_client_on_one_member() {
        let plan = plan("source-hash", r#""10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80""#);
        let pool = plan.pool("web").unwrap();
        let picker = RoundRobinPicker::default();
        let first = picks(&picker, pool, 1, &[])[0];
        assert_eq!(counts(&picks(&picker, pool, 20, &[]), 3)[first], 20);
    }
}
