//! The *pick* seam: which member of a pool gets a request.
//!
//! The proxy only talks to pools through [`MemberPicker`], so the runtime's
//! pools (health checks, shared health state across L4 and L7) can replace
//! the built-in [`RoundRobinPicker`] without touching the proxy. A member is
//! named by its pool and its index in that pool's `members` in the plan the
//! request runs on.
//!
//! Contract, in call order for one exchange:
//! 1. [`MemberPicker::pick`] returns an eligible member and a [`Hold`] on
//!    it, or `None` when the pool has none (the proxy answers 503).
//! 2. The proxy connects (or reuses a pooled connection) and reports
//!    [`Hold::connected`] or [`Hold::connect_failed`]; after a failure it
//!    drops the hold and may call `pick` again with the failed members in
//!    `exclude`.
//! 3. The exchange keeps the hold until it ends, and dropping it releases
//!    the member, so least-connections counts stay right.
//!
//! The hold travels with the request rather than being looked up by member
//! when the exchange ends: a shared table of holds cost a mutex and three
//! hashes per request, and every worker thread contended for it.

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

/// One exchange's claim on a member, from its pick until it is dropped.
/// Dropping it ends the exchange's count on the member.
pub trait Hold: Send {
    /// A connection to the member was established (or reused).
    fn connected(&mut self);
    /// Connecting to the member failed (refused, unreachable, timed out).
    fn connect_failed(&mut self);
}

/// A member chosen for a request: its index in the pool, and the hold on it.
pub struct Picked {
    pub member: usize,
    pub hold: Box<dyn Hold>,
}

/// Chooses pool members and learns from connection outcomes. Implementations
/// must be cheap: `pick` runs for every request.
pub trait MemberPicker: Send + Sync + 'static {
    /// A member of `req.pool`, or `None` when no member may be used.
    fn pick(&self, req: &PickRequest<'_>) -> Option<Picked>;
    /// A hold on a member that was not picked: a pinned (NTLM) backend
    /// connection carrying another request. `None` when the pool has no
    /// such member.
    fn hold(&self, pool: &Pool, member: usize) -> Option<Box<dyn Hold>>;
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
    policy: Arc<Ejection>,
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

/// The ejection policy and the clock its deadlines count from.
#[derive(Debug)]
struct Ejection {
    policy: EjectionPolicy,
    epoch: Instant,
}

impl Ejection {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

#[derive(Debug)]
struct PoolState {
    /// Identity of the plan's `Pool` this was built for; a reload gives a new one.
    source: usize,
    name: String,
    rr: AtomicUsize,
    members: Vec<Arc<MemberState>>,
    keys: Vec<String>,
    ejection: Arc<Ejection>,
}

/// The built-in picker's hold: counts as an active connection from
/// `connected` until dropped.
struct MemberHold {
    pool: Arc<PoolState>,
    member: usize,
    counted: bool,
}

impl Hold for MemberHold {
    fn connected(&mut self) {
        let m = &self.pool.members[self.member];
        m.failures.store(0, Ordering::Relaxed);
        if !self.counted {
            m.active.fetch_add(1, Ordering::Relaxed);
            self.counted = true;
        }
    }

    fn connect_failed(&mut self) {
        let (pool, m) = (&self.pool, &self.pool.members[self.member]);
        let failures = m.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let e = &pool.ejection;
        if failures >= e.policy.after_failures {
            m.ejected_until
                .store(e.now_ms() + e.policy.back_off.as_millis() as u64, Ordering::Relaxed);
            m.failures.store(0, Ordering::Relaxed);
            tracing::warn!(pool = %pool.name, member = %pool.keys[self.member], "member ejected after connect failures");
        }
    }
}

impl Drop for MemberHold {
    fn drop(&mut self) {
        if self.counted {
            self.pool.members[self.member].active.fetch_sub(1, Ordering::Relaxed);
        }
    }
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
            policy: Arc::new(Ejection {
                policy,
                epoch: Instant::now(),
            }),
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
            name: pool.name.value.clone(),
            ejection: self.policy.clone(),
            rr: AtomicUsize::new(old.map_or(0, |o| o.rr.load(Ordering::Relaxed))),
            members,
            keys,
        });
        pools.insert(pool.name.value.clone(), state.clone());
        state
    }

    /// Whether a member is currently ejected (for tests and metrics).
    pub fn is_ejected(&self, pool: &Pool, member: usize) -> bool {
        let s = self.state(pool);
        s.members
            .get(member)
            .is_some_and(|m| m.ejected_until.load(Ordering::Relaxed) > self.policy.now_ms())
    }
}

impl MemberPicker for RoundRobinPicker {
    fn pick(&self, req: &PickRequest<'_>) -> Option<Picked> {
        let state = self.state(req.pool);
        let member = choose(&state, req, self.policy.now_ms())?;
        Some(Picked {
            member,
            hold: Box::new(MemberHold {
                pool: state,
                member,
                counted: false,
            }),
        })
    }

    fn hold(&self, pool: &Pool, member: usize) -> Option<Box<dyn Hold>> {
        let state = self.state(pool);
        (member < state.members.len()).then(|| {
            Box::new(MemberHold {
                pool: state,
                member,
                counted: false,
            }) as Box<dyn Hold>
        })
    }
}

/// The pool's algorithm over the members that may take a request now.
fn choose(state: &PoolState, req: &PickRequest<'_>, now: u64) -> Option<usize> {
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
                    .map_or(usize::MAX, |p| p.member)
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
        let connect = |member: usize| {
            let mut hold = picker.hold(pool, member).unwrap();
            hold.connected();
            hold
        };
        let on_0: Vec<_> = (0..3).map(|_| connect(0)).collect();
        let _on_1 = connect(1);
        // A hold that never connected counts for nothing.
        let _idle = picker.hold(pool, 2).unwrap();
        assert_eq!(counts(&picks(&picker, pool, 6, &[]), 3), [0, 0, 6]);
        let _on_2 = connect(2);
        // 1 and 2 tie at one connection each.
        assert_eq!(counts(&picks(&picker, pool, 10, &[]), 3), [0, 5, 5]);
        drop(on_0);
        assert_eq!(counts(&picks(&picker, pool, 4, &[]), 3), [4, 0, 0]);
    }

    #[test]
    fn consecutive_connect_failures_eject_a_member_and_a_success_resets_the_count() {
        let plan = plan("round-robin", r#""10.0.0.1:80", "10.0.0.2:80""#);
        let pool = plan.pool("web").unwrap();
        let picker = RoundRobinPicker::default();
        let fail = |member: usize| picker.hold(pool, member).unwrap().connect_failed();
        fail(0);
        fail(0);
        picker.hold(pool, 0).unwrap().connected();
        fail(0);
        fail(0);
        assert!(
            !picker.is_ejected(pool, 0),
            "a success in between starts the count again"
        );
        fail(0);
        assert!(picker.is_ejected(pool, 0));
        assert_eq!(counts(&picks(&picker, pool, 6, &[]), 2), [0, 6]);
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
