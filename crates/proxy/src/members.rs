//! The *pick* phase's members: the runtime's pools and health, the one
//! balancer of gatehouse (`gatehouse_runtime::pool`). The L4 VIPs, the web
//! routes and DNS load balancing then share one view of each member: its
//! health (active checks, passive ejection, draining) and its count of open
//! connections (least connections, `max_connections`).
//!
//! Picks follow the pools of the plan in service, not those of the plan a
//! client connection was accepted under: a member removed by a reload gets
//! no new requests, even from connections opened before it. The forward
//! phase therefore names members by their index in the pool in service and
//! reads their address from it.
//!
//! Under `gatehouse run` the pools are the [`Runtime`]'s, which reloads
//! them; a proxy started alone builds the pools of its plan, runs their
//! health checks and swaps them on its own reloads.

use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_model::topology::{Affinity, Pool as ModelPool};
use gatehouse_model::Plan;
use gatehouse_runtime::health::start_checks;
use gatehouse_runtime::pool::client_hash;
use gatehouse_runtime::{CheckHandle, Health, Member, MemberGuard, PassiveHealth, PickContext, Pool, Pools, Runtime};

use crate::backend::BackendConn;
use crate::ctx::{ConnCtx, Pinned};
use crate::routing::CompiledRoute;
use crate::upstream::Target;

/// Where the proxy's pools come from.
pub(crate) enum Members {
    /// `gatehouse run`: the runtime's, reloaded by the runtime.
    Runtime(Arc<Runtime>),
    /// A proxy on its own: pools of its plan, on a health registry of its own.
    Own { health: Health, current: ArcSwap<Checked> },
}

/// Pools and the health checks running on them.
pub(crate) struct Checked {
    pools: Arc<Pools>,
    _checks: CheckHandle,
}

/// Pools built for a reload, for [`Members::commit`].
pub(crate) struct PreparedPools(Option<Arc<Pools>>);

impl Members {
    /// The runtime's pools, or pools of `plan` on a registry of their own
    /// with `passive` ejection. Must be called inside a Tokio runtime.
    pub fn new(runtime: Option<Arc<Runtime>>, plan: &Plan, passive: PassiveHealth) -> Members {
        match runtime {
            Some(r) => Members::Runtime(r),
            None => {
                let health = Health::new(passive);
                let pools = Arc::new(Pools::build(plan, &health));
                let current = ArcSwap::from_pointee(Checked::start(pools));
                Members::Own { health, current }
            }
        }
    }

    /// Runs `f` on the pool named `name` in service, without taking a count
    /// on it: a pick is short, and every request makes one.
    pub fn with_pool<R>(&self, name: &str, f: impl FnOnce(&Pool) -> R) -> Option<R> {
        match self {
            Members::Runtime(r) => r.with_pools(|pools| pools.get(name).map(|p| f(p))),
            Members::Own { current, .. } => current.load().pools.get(name).map(|p| f(p)),
        }
    }

    /// The pools in service.
    pub fn pools(&self) -> Arc<Pools> {
        match self {
            Members::Runtime(r) => r.pools(),
            Members::Own { current, .. } => current.load().pools.clone(),
        }
    }

    /// The pools of `plan`, built without serving them: the runtime's are
    /// prepared by the runtime.
    pub fn prepare(&self, plan: &Plan) -> PreparedPools {
        match self {
            Members::Runtime(_) => PreparedPools(None),
            Members::Own { health, .. } => PreparedPools(Some(Arc::new(Pools::build(plan, health)))),
        }
    }

    /// Puts prepared pools in service and moves the health checks to them.
    pub fn commit(&self, prepared: PreparedPools) {
        if let (Members::Own { current, .. }, Some(pools)) = (self, prepared.0) {
            current.store(Arc::new(Checked::start(pools)));
        }
    }
}

impl Checked {
    fn start(pools: Arc<Pools>) -> Checked {
        let checks = start_checks(&pools);
        Checked { pools, _checks: checks }
    }
}

/// How a backend connection was obtained.
pub(crate) enum Via {
    Pooled,
    New,
    Pinned,
}

/// A member for one attempt, counted on until the guard is dropped.
pub(crate) struct Choice {
    /// Its index in the pool in service.
    pub member: usize,
    pub target: Target,
    pub via: Via,
    /// The pinned connection, when `via` is pinned.
    pub conn: Option<Box<BackendConn>>,
    pub guard: MemberGuard,
}

/// Picks from the route's pool in service: the member this client
/// connection is pinned to, else what the pool's balancer chooses for
/// `client` among the members not `tried`. `None` when no member can take
/// the request (or the pool is not in service).
pub(crate) fn choose(
    ctx: &ConnCtx,
    pool: &ModelPool,
    route: &CompiledRoute,
    sni: &Option<Arc<str>>,
    client: IpAddr,
    cookie_member: Option<usize>,
    tried: &[Arc<str>],
) -> Option<Choice> {
    let port = ctx.listener.port;
    ctx.shared
        .members
        .with_pool(&pool.name.value, |members| {
            if let Some(p) = take_pinned(ctx, members.members(), |m| target(m, route, port, sni)) {
                // A pinned connection stays on its member whatever its health.
                let guard = members.hold(p.member)?;
                return Some(Choice {
                    member: p.member,
                    target: p.target,
                    via: Via::Pinned,
                    conn: Some(p.conn),
                    guard,
                });
            }
            // Allocates only after a failed attempt.
            let exclude: Vec<usize> = tried.iter().filter_map(|n| members.index_of(n)).collect();
            let guard = members.pick(&PickContext {
                client,
                sticky_member: cookie_member.filter(|_| route.affinity == Affinity::Cookie),
                affinity: (route.affinity == Affinity::SourceIp).then(|| client_hash(client)),
                exclude: &exclude,
            })?;
            Some(Choice {
                member: guard.index(),
                target: target(guard.member(), route, port, sni),
                via: Via::New,
                conn: None,
                guard,
            })
        })
        .flatten()
}

/// The member as the access record names it: as written when it names its
/// port and the route does not override it, else the address connected to.
pub(crate) fn label(member: &Member, target: &Target, backend_port: Option<u16>) -> Arc<str> {
    match (member.port(), backend_port) {
        // IPv6 members are logged unbracketed, as always.
        (Some(_), None) if !member.host().contains(':') => member.name().clone(),
        _ => format!("{}:{}", target.host, target.port).into(),
    }
}

/// Where a member of the route's pool is reached. A function, not a
/// closure: a closure would keep its captures in the forward future.
fn target(member: &Member, route: &CompiledRoute, listener_port: u16, sni: &Option<Arc<str>>) -> Target {
    Target {
        host: member.shared_host().clone(),
        port: route.backend_port.or(member.port()).unwrap_or(listener_port),
        tls: sni.clone().map(|s| (route.pool.clone(), s)),
    }
}

/// Takes this connection's pinned backend connection if it serves the route's
/// pool (same member address); a pin to a connection that died is dropped.
fn take_pinned(ctx: &ConnCtx, members: &[Arc<Member>], target_of: impl Fn(&Member) -> Target) -> Option<Pinned> {
    if ctx.h2 {
        // Never pinned (see the module docs): spare every stream the lock.
        return None;
    }
    let mut slot = ctx.pinned.lock().unwrap_or_else(|e| e.into_inner());
    let p = slot.as_mut()?;
    if !p.conn.probably_open() {
        *slot = None;
        return None;
    }
    let member = members.iter().position(|m| target_of(m) == p.target)?;
    let mut p = slot.take()?;
    p.member = member;
    Some(p)
}
