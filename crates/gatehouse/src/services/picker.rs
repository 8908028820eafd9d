//! The reverse proxy picks members from the runtime's pools, so that the L4
//! VIPs, the web routes and DNS load balancing share one view of each
//! member: its health (active checks, passive ejection, draining) and its
//! count of open connections (least connections, `max_connections`).
//!
//! The proxy names a member by its index in the pool of the plan a request
//! runs on; the runtime may already serve a newer plan, so members are
//! matched by name (`host:port`), not by index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use gatehouse_model::topology::Pool as ModelPool;
use gatehouse_proxy::{AffinityHint, MemberPicker, PickRequest};
use gatehouse_runtime::pool::client_hash;
use gatehouse_runtime::{member_name, MemberGuard, PickContext, Runtime};

/// A member, as the runtime names it: (pool, `host:port`).
type Key = (String, String);

pub struct RuntimePicker {
    l4: Arc<Runtime>,
    /// Guards of members picked whose connect has not been reported yet.
    picked: Mutex<HashMap<Key, Vec<MemberGuard>>>,
    /// Guards of exchanges in progress; each counts one open connection.
    open: Mutex<HashMap<Key, Vec<MemberGuard>>>,
}

impl RuntimePicker {
    pub fn new(l4: Arc<Runtime>) -> RuntimePicker {
        RuntimePicker {
            l4,
            picked: Mutex::default(),
            open: Mutex::default(),
        }
    }

    fn key(pool: &ModelPool, member: usize) -> Option<Key> {
        let m = pool.members.get(member)?;
        Some((
            pool.name.value.clone(),
            member_name(&m.host.value, m.port.as_ref().map(|p| p.value)),
        ))
    }

    fn take(map: &Mutex<HashMap<Key, Vec<MemberGuard>>>, key: &Key) -> Option<MemberGuard> {
        let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
        let guards = map.get_mut(key)?;
        let guard = guards.pop();
        if guards.is_empty() {
            map.remove(key);
        }
        guard
    }

    fn put(map: &Mutex<HashMap<Key, Vec<MemberGuard>>>, key: Key, guard: MemberGuard) {
        map.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .push(guard);
    }
}

impl MemberPicker for RuntimePicker {
    fn pick(&self, req: &PickRequest<'_>) -> Option<usize> {
        let pools = self.l4.pools();
        let pool = pools.get(&req.pool.name.value)?;
        // Translate the proxy's indices (its plan) to the runtime's (its plan).
        let to_runtime = |i: usize| Self::key(req.pool, i).and_then(|(_, name)| pool.index_of(&name));
        let exclude: Vec<usize> = req.exclude.iter().filter_map(|&i| to_runtime(i)).collect();
        let ctx = PickContext {
            client: req.client,
            sticky_member: match req.affinity {
                AffinityHint::Member(i) => to_runtime(i),
                _ => None,
            },
            affinity: (req.affinity == AffinityHint::SourceIp).then(|| client_hash(req.client)),
            exclude: &exclude,
        };
        let guard = pool.pick(&ctx)?;
        let name = guard.member().key().member.clone();
        let index = req
            .pool
            .members
            .iter()
            .position(|m| member_name(&m.host.value, m.port.as_ref().map(|p| p.value)) == name)?;
        Self::put(&self.picked, (req.pool.name.value.clone(), name), guard);
        Some(index)
    }

    fn connected(&self, pool: &ModelPool, member: usize) {
        let Some(key) = Self::key(pool, member) else { return };
        let guard = match Self::take(&self.picked, &key) {
            Some(g) => g,
            // No pick before it: an NTLM-pinned connection carrying another
            // request. It still counts as a connection on its member.
            None => {
                let pools = self.l4.pools();
                let Some(runtime_pool) = pools.get(&key.0) else { return };
                let Some(g) = runtime_pool.index_of(&key.1).and_then(|i| runtime_pool.hold(i)) else {
                    return;
                };
                g
            }
        };
        guard.connect_succeeded();
        Self::put(&self.open, key, guard);
    }

    fn connect_failed(&self, pool: &ModelPool, member: usize) {
        let Some(key) = Self::key(pool, member) else { return };
        if let Some(guard) = Self::take(&self.picked, &key) {
            guard.connect_failed("the reverse proxy could not connect");
        }
    }

    fn release(&self, pool: &ModelPool, member: usize) {
        if let Some(key) = Self::key(pool, member) {
            drop(Self::take(&self.open, &key));
        }
    }
}
