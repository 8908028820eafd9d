//! Pools and the *pick* phase: which member gets a new connection.
//!
//! [`Pools`] holds every pool of one plan, built against a long-lived
//! [`Health`] registry so that member state survives reloads. A caller asks
//! [`Pool::pick`] for a member and gets a [`MemberGuard`]: while the guard
//! lives the member counts one more open connection (least-connections,
//! `max_connections`); dropping it releases the slot. The guard gives the
//! address to connect to and takes the outcome of the connect (passive
//! health).
//!
//! Which members are candidates:
//! 1. the primaries that are up (not down, not ejected, not draining), have
//!    an address, are below `max_connections` and have a non-zero weight;
//! 2. only when no primary is up at all: the backups, on the same terms;
//! 3. only when nothing is up at all: members that pass their checks but
//!    were ejected after connect failures (they may have recovered; better
//!    than refusing every client).
//!
//! Members whose only obstacle is `max_connections` do not bring in the
//! backups: a busy pool is not a dead one. [`Pool::pick_queued`] waits for
//! a slot in that case, as HAProxy queues connections on `maxconn`. Algorithms are described on
//! [`gatehouse_model::topology::Algorithm`]'s variants in `balance.rs`.

mod balance;
mod maglev;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use gatehouse_model::topology::{self, Algorithm, HealthCheck};
use gatehouse_model::Plan;

use crate::health::{Health, MemberKey, MemberState, Status};
use crate::metrics::MemberMetrics;
use crate::time::now_nanos;
use balance::Balancer;

pub use balance::client_hash;

/// Every pool of one plan, by name.
#[derive(Debug)]
pub struct Pools {
    pools: Vec<Arc<Pool>>,
}

impl Pools {
    /// Builds the pools of `plan`, reusing the state of members that
    /// `health` already knows (same pool name and member address).
    pub fn build(plan: &Plan, health: &Health) -> Pools {
        let pools = plan
            .topology
            .pools
            .iter()
            .map(|p| Arc::new(Pool::build(p, health)))
            .collect();
        Pools { pools }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Pool>> {
        self.pools.iter().find(|p| p.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.iter()
    }

    /// Whether member `index` of pool `pool` takes new connections; `None`
    /// when there is no such pool or member.
    pub fn is_up(&self, pool: &str, index: usize) -> Option<bool> {
        Some(self.get(pool)?.member(index)?.is_up())
    }

    /// Sets a member draining (no new connections; open ones finish) or
    /// back in service. `member` is the address as written in the topology
    /// (`"10.0.2.11:443"`, or `"10.0.2.11"` for members without a port).
    /// Returns false when there is no such member.
    pub fn set_draining(&self, pool: &str, member: &str, draining: bool) -> bool {
        match self.get(pool).and_then(|p| p.index_of(member).map(|i| (p, i))) {
            Some((p, i)) => {
                p.members[i].set_draining(draining);
                true
            }
            None => false,
        }
    }
}

/// One pool of members and its balancing state.
#[derive(Debug)]
pub struct Pool {
    name: String,
    algorithm: Algorithm,
    members: Vec<Arc<Member>>,
    check: Option<HealthCheck>,
    balancer: Balancer,
}

impl Pool {
    fn build(p: &topology::Pool, health: &Health) -> Pool {
        let queue = Arc::new(Queue::default());
        let members: Vec<Arc<Member>> = p
            .members
            .iter()
            .map(|m| {
                let name = member_name(&m.host.value, m.port.as_ref().map(|p| p.value));
                let literal = m.host.value.parse::<IpAddr>().ok();
                let key = MemberKey {
                    pool: p.name.value.clone(),
                    member: name.clone(),
                };
                Arc::new(Member {
                    host: m.host.value.as_str().into(),
                    name: name.as_str().into(),
                    port: m.port.as_ref().map(|p| p.value),
                    weight: m.weight,
                    backup: m.backup,
                    max_connections: m.max_connections,
                    state: health.member_state(key, literal),
                    queue: Arc::clone(&queue),
                })
            })
            .collect();
        let balancer = Balancer::new(p.algorithm, &members);
        Pool {
            name: p.name.value.clone(),
            algorithm: p.algorithm,
            members,
            check: p.health.clone(),
            balancer,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The pool's active health check, as configured.
    pub fn check(&self) -> Option<&HealthCheck> {
        self.check.as_ref()
    }

    pub fn members(&self) -> &[Arc<Member>] {
        &self.members
    }

    pub fn member(&self, index: usize) -> Option<&Arc<Member>> {
        self.members.get(index)
    }

    /// The index of the member written as `name` (`host:port` or `host`).
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|m| m.key().member == name)
    }

    /// Whether member `index` takes new connections.
    pub fn is_up(&self, index: usize) -> bool {
        self.members.get(index).is_some_and(|m| m.is_up())
    }

    /// Counts one more connection on a member without picking it: for a
    /// connection that already exists and stays on that member (an
    /// NTLM-pinned backend connection), whatever the member's health.
    /// `None` when there is no such member.
    pub fn hold(&self, index: usize) -> Option<MemberGuard> {
        let member = self.members.get(index)?.clone();
        member.state.acquire();
        Some(MemberGuard { index, member })
    }

    /// Picks a member for a new connection, or `None` when no member can
    /// take it (all down, draining, excluded or at `max_connections`).
    ///
    /// `ctx.sticky_member` wins when that member can take the connection;
    /// `ctx.affinity` (or the pool's `source-hash` algorithm) picks
    /// consistently by key; otherwise the pool's algorithm decides.
    pub fn pick(&self, ctx: &PickContext<'_>) -> Option<MemberGuard> {
        let now = now_nanos();
        let tier = self.tier(now);
        let mut raced: Vec<usize> = Vec::new();
        // Each round either returns or excludes one more member, so this ends.
        for _ in 0..=self.members.len() {
            let usable = |i: usize| {
                let m = &self.members[i];
                let fits = match tier {
                    Tier::Primary => !m.backup && m.state.available(now),
                    Tier::Backup => m.backup && m.state.available(now),
                    Tier::LastResort => m.state.last_resort(now),
                };
                fits && m.weight > 0
                    && !ctx.exclude.contains(&i)
                    && !raced.contains(&i)
                    && m.max_connections.is_none_or(|max| m.state.active() < max)
            };
            let sticky = ctx.sticky_member.filter(|&i| {
                i < self.members.len() && {
                    let m = &self.members[i];
                    m.state.available(now)
                        && !ctx.exclude.contains(&i)
                        && !raced.contains(&i)
                        && m.max_connections.is_none_or(|max| m.state.active() < max)
                }
            });
            let index = match sticky {
                Some(i) => i,
                None => {
                    let key = ctx
                        .affinity
                        .or_else(|| (self.algorithm == Algorithm::SourceHash).then(|| client_hash(ctx.client)));
                    match key {
                        Some(key) => self.balancer.by_key(&self.members, tier, key, &usable)?,
                        None => self.balancer.choose(&self.members, &usable)?,
                    }
                }
            };
            let member = &self.members[index];
            if member.state.try_acquire(member.max_connections) {
                return Some(MemberGuard {
                    index,
                    member: Arc::clone(member),
                });
            }
            // Another connection took the last slot between the check and here.
            raced.push(index);
        }
        None
    }

    /// Like [`pick`](Self::pick), but when members are up and every one
    /// of them is at its `max_connections`, waits up to `timeout` for a
    /// slot instead of failing at once, as HAProxy queues on `maxconn`.
    /// Returns `None` when nothing is up, or when the wait times out.
    pub async fn pick_queued(&self, ctx: &PickContext<'_>, timeout: Duration) -> Option<MemberGuard> {
        if let Some(g) = self.pick(ctx) {
            return Some(g);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        self.members.first()?.queue.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = LeaveQueue(&self.members[0].queue);
        loop {
            if !self.saturated(ctx) {
                return self.pick(ctx);
            }
            let freed = self.members[0].queue.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(g) = self.pick(ctx) {
                return Some(g);
            }
            // Slots freed by connections of an older plan's pool signal
            // that pool's queue: look again at least every 100 ms.
            let tick = (tokio::time::Instant::now() + Duration::from_millis(100)).min(deadline);
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep_until(tick) => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return self.pick(ctx);
            }
        }
    }

    /// Some member could take the connection but for `max_connections`.
    fn saturated(&self, ctx: &PickContext<'_>) -> bool {
        let now = now_nanos();
        let tier = self.tier(now);
        self.members.iter().enumerate().any(|(i, m)| {
            let in_tier = match tier {
                Tier::Primary => !m.backup && m.state.available(now),
                Tier::Backup => m.backup && m.state.available(now),
                Tier::LastResort => m.state.last_resort(now),
            };
            in_tier && m.weight > 0 && !ctx.exclude.contains(&i) && m.max_connections.is_some()
        })
    }

    fn tier(&self, now: u64) -> Tier {
        let any = |backup: bool| {
            self.members
                .iter()
                .any(|m| m.backup == backup && m.state.available(now))
        };
        if any(false) {
            Tier::Primary
        } else if any(true) {
            Tier::Backup
        } else {
            Tier::LastResort
        }
    }
}

/// Connections waiting for a member slot (`max_connections`), and the
/// signal that one freed. Shared by the members of one pool.
#[derive(Debug, Default)]
struct Queue {
    waiting: AtomicUsize,
    freed: Notify,
}

/// Which members a pick draws from; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tier {
    Primary,
    Backup,
    LastResort,
}

/// What the caller knows about the connection being placed.
#[derive(Clone, Copy, Debug)]
pub struct PickContext<'a> {
    /// The client's address.
    pub client: IpAddr,
    /// A member the connection should stick to (affinity cookie, existing
    /// flow), used when it can take the connection.
    pub sticky_member: Option<usize>,
    /// A key to pick consistently by, whatever the pool's algorithm (for
    /// `affinity = "source-ip"` routes: [`client_hash`] of the client).
    pub affinity: Option<u64>,
    /// Members already tried for this connection (retry after a failed
    /// connect).
    pub exclude: &'a [usize],
}

impl<'a> PickContext<'a> {
    /// A plain pick for `client`: the pool's algorithm decides.
    pub fn new(client: IpAddr) -> PickContext<'static> {
        PickContext {
            client,
            sticky_member: None,
            affinity: None,
            exclude: &[],
        }
    }
}

/// One member of a pool.
#[derive(Debug)]
pub struct Member {
    /// Shared: the reverse proxy names it in every backend connection's key.
    host: Arc<str>,
    /// The member as written ([`member_name`]), shared for access records.
    name: Arc<str>,
    port: Option<u16>,
    weight: u32,
    backup: bool,
    max_connections: Option<u32>,
    state: Arc<MemberState>,
    queue: Arc<Queue>,
}

impl Member {
    /// The host as written: an IP address or a DNS name.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// [`host`](Self::host), shared.
    pub fn shared_host(&self) -> &Arc<str> {
        &self.host
    }

    /// The member as written: `host:port`, `[v6]:port`, or `host`.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The member's own port; `None` means "the port the client connected to".
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn weight(&self) -> u32 {
        self.weight
    }

    pub fn is_backup(&self) -> bool {
        self.backup
    }

    pub fn max_connections(&self) -> Option<u32> {
        self.max_connections
    }

    /// The member's address: the literal, or the name's current resolution.
    pub fn ip(&self) -> Option<IpAddr> {
        self.state.ip()
    }

    /// The pool name and the member as written: the key of its state.
    pub fn key(&self) -> &MemberKey {
        &self.state.key
    }

    pub fn status(&self) -> Status {
        self.state.status()
    }

    /// Takes new connections: up, and with an address.
    pub fn is_up(&self) -> bool {
        self.state.available(now_nanos())
    }

    /// Open connections on this member, across every plan.
    pub fn active(&self) -> u32 {
        self.state.active()
    }

    pub fn metrics(&self) -> &MemberMetrics {
        &self.state.metrics
    }

    /// See [`Pools::set_draining`].
    pub fn set_draining(&self, draining: bool) {
        self.state.set_draining(draining);
    }

    pub(crate) fn state(&self) -> &Arc<MemberState> {
        &self.state
    }
}

/// A member picked for one connection. Counts as an open connection on the
/// member until dropped.
#[derive(Debug)]
pub struct MemberGuard {
    index: usize,
    member: Arc<Member>,
}

impl MemberGuard {
    /// The member's index in its pool.
    pub fn index(&self) -> usize {
        self.index
    }

    pub fn member(&self) -> &Member {
        &self.member
    }

    /// Where to connect for a client that connected to `client_port`: the
    /// member's own port, or `client_port` for members without one.
    pub fn addr(&self, client_port: u16) -> SocketAddr {
        self.addr_on(self.member.port.unwrap_or(client_port))
    }

    /// Where to connect on an explicit port (a route's `backend_port`).
    pub fn addr_on(&self, port: u16) -> SocketAddr {
        // A pick only returns members with an address; a name that stopped
        // resolving since falls back to the unspecified address, whose
        // connect fails and is reported like any other failure.
        let ip = self.member.ip().unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        SocketAddr::new(ip, port)
    }

    /// Reports a failed connect (refused, unreachable, timed out): passive
    /// health may eject the member. `why` goes into the log.
    pub fn connect_failed(&self, why: &str) {
        self.member.state.connect_failed(why);
    }

    /// Reports a successful connect: resets the passive failure count and
    /// counts the connection in the member's metrics.
    pub fn connect_succeeded(&self) {
        self.member.state.connect_succeeded();
        let c = &self.member.state.metrics.connections;
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn metrics(&self) -> &MemberMetrics {
        &self.member.state.metrics
    }
}

impl Drop for MemberGuard {
    fn drop(&mut self) {
        self.member.state.release();
        // Only pay for the wake-up when someone queues.
        if self.member.queue.waiting.load(Ordering::Acquire) > 0 {
            self.member.queue.freed.notify_waiters();
        }
    }
}

struct LeaveQueue<'a>(&'a Queue);

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `host:port`, `[v6]:port`, or the bare host for members without a port.
/// A member as written in the topology, `host` or `host:port`: the name
/// that [`Pool::index_of`] and [`Pools::set_draining`] take.
pub fn member_name(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if host.contains(':') => format!("[{host}]:{p}"),
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contoso() -> Plan {
        gatehouse_model::check(gatehouse_model::CONTOSO).plan.expect("valid")
    }

    #[test]
    fn contoso_pools_carry_every_member_as_written() {
        let plan = contoso();
        let pools = Pools::build(&plan, &Health::default());
        assert_eq!(pools.iter().count(), plan.topology.pools.len());
        let smtp = pools.get("exchange-smtp").unwrap();
        assert_eq!(smtp.index_of("10.0.2.12"), Some(1));
        assert_eq!(smtp.members()[1].port(), None, "takes the client's port");
        let sql = pools.get("sharepoint-sql").unwrap();
        assert!(sql.members()[1].is_backup());
        assert_eq!(pools.is_up("exchange-owa", 0), Some(true));
        assert_eq!(pools.is_up("exchange-owa", 9), None);
    }

    #[test]
    fn member_state_is_shared_by_plans_built_on_one_registry() {
        let health = Health::default();
        let (a, b) = (Pools::build(&contoso(), &health), Pools::build(&contoso(), &health));
        assert!(a.set_draining("exchange-owa", "10.0.2.11:443", true));
        assert_eq!(b.get("exchange-owa").unwrap().members()[0].status(), Status::Draining);
        // Same address in another pool: separate state.
        assert_eq!(b.get("exchange-ecp").unwrap().members()[0].status(), Status::Up);
        assert!(!a.set_draining("exchange-owa", "10.9.9.9:443", true));
    }

    #[test]
    fn a_guard_counts_one_connection_until_dropped() {
        let pools = Pools::build(&contoso(), &Health::default());
        let pool = pools.get("exchange-smtp").unwrap();
        let client = "40.92.1.1".parse().unwrap();
        let guard = pool.pick(&PickContext::new(client)).unwrap();
        assert_eq!(guard.addr(25), SocketAddr::new("10.0.2.11".parse().unwrap(), 25));
        assert_eq!(guard.addr_on(2525).port(), 2525);
        assert_eq!(pool.members()[guard.index()].active(), 1);
        drop(guard);
        assert_eq!(pool.members()[0].active(), 0);
    }

    #[test]
    fn a_held_connection_counts_even_on_a_draining_member() {
        let pools = Pools::build(&contoso(), &Health::default());
        let pool = pools.get("exchange-owa").unwrap();
        pool.members()[1].set_draining(true);
        let held = pool.hold(1).expect("member 1 exists");
        assert_eq!((held.index(), pool.members()[1].active()), (1, 1));
        // Least connections now avoids it even once it is back.
        pool.members()[1].set_draining(false);
        let picked = pool.pick(&PickContext::new("10.1.2.3".parse().unwrap())).unwrap();
        assert_ne!(picked.index(), 1);
        drop(held);
        assert_eq!(pool.members()[1].active(), 0);
        assert!(pool.hold(7).is_none());
    }

    #[test]
    fn sticky_member_wins_while_it_can_take_the_connection() {
        let pools = Pools::build(&contoso(), &Health::default());
        let pool = pools.get("exchange-owa").unwrap();
        let ctx = PickContext {
            sticky_member: Some(2),
            ..PickContext::new("10.1.2.3".parse().unwrap())
        };
        assert_eq!(pool.pick(&ctx).unwrap().index(), 2);
        pool.members()[2].set_draining(true);
        assert_ne!(pool.pick(&ctx).unwrap().index(), 2);
    }

    #[test]
    fn affinity_picks_consistently_whatever_the_algorithm() {
        let pools = Pools::build(&contoso(), &Health::default());
        let pool = pools.get("lync-web-external").unwrap();
        assert_eq!(pool.algorithm(), Algorithm::LeastConnections);
        for i in 0..50u8 {
            let client: IpAddr = std::net::Ipv4Addr::new(192, 0, 2, i).into();
            let ctx = PickContext {
                affinity: Some(client_hash(client)),
                ..PickContext::new(client)
            };
            // Hold the first guard so that least-connections would move on.
            let first = pool.pick(&ctx).unwrap();
            let second = pool.pick(&ctx).unwrap();
            assert_eq!(first.index(), second.index());
        }
    }
}
