//! The **pick** phase: which member of the route's pool takes a request,
//! and over which backend connection. The member this client connection
//! is pinned to (NTLM/Negotiate), else the balancer's choice among the
//! members not tried yet (affinity by cookie or source address, least
//! connections, health: [`crate::members`]), else nobody: 503, or 502 once
//! a member was tried. A pooled idle connection to the member is used when
//! there is one.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use gatehouse_model::topology::{Affinity, Pool as ModelPool};
use gatehouse_runtime::pool::client_hash;
use gatehouse_runtime::{Member, MemberGuard, PickContext};

use crate::backend::BackendConn;
use crate::ctx::{ConnCtx, Pinned};
use crate::routing::CompiledRoute;
use crate::state::BackendPool;
use crate::upstream::Target;

/// The route's pool in the client connection's plan: the members as the
/// topology names them, and how they are reached. `None` when the route
/// names no pool of the plan (503).
pub(crate) fn pool<'a>(ctx: &'a ConnCtx, route: &CompiledRoute) -> Option<(&'a ModelPool, &'a BackendPool)> {
    let state = &ctx.plan;
    let index = route.pool_index.unwrap_or(usize::MAX);
    Some((state.plan.topology.pools.get(index)?, state.pools.get(index)?))
}

/// The member the request's affinity cookie names, on routes with cookie
/// affinity: checked before the cookie is stripped from the request.
pub(crate) fn cookie_member(
    ctx: &ConnCtx,
    route: &CompiledRoute,
    pool: &ModelPool,
    headers: &http::HeaderMap,
) -> Option<usize> {
    match route.affinity {
        Affinity::Cookie => ctx
            .shared
            .members
            .with_pool(&pool.name.value, |m| ctx.shared.signer.member_from(headers, pool, m))
            .flatten(),
        _ => None,
    }
}

/// Takes an idle pooled connection to the chosen member, unless the choice
/// brought its pinned one or the request pins a new one. `now` is the
/// caller's recent reading of the clock.
pub(crate) fn reuse_pooled(ctx: &ConnCtx, choice: &mut Choice, wants_pin: bool, now: Instant) {
    if choice.conn.is_none() && !wants_pin {
        choice.conn = ctx.shared.upstreams.take(&choice.target, now);
        if choice.conn.is_some() {
            choice.via = Via::Pooled;
        }
    }
}

/// Whether the response sets the affinity cookie: on routes with cookie
/// affinity, when the cookie did not already name the member that answered.
pub(crate) fn sets_cookie(route: &CompiledRoute, cookie_member: Option<usize>, member: usize) -> bool {
    route.affinity == Affinity::Cookie && cookie_member != Some(member)
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
