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

use std::sync::Arc;

use arc_swap::ArcSwap;
use gatehouse_model::Plan;
use gatehouse_runtime::health::start_checks;
use gatehouse_runtime::{CheckHandle, Health, PassiveHealth, Pool, Pools, Runtime};

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
