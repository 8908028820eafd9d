//! Connections, bytes and errors per VIP and per member, as relaxed atomic
//! counters that the data path bumps and the admin API reads.
//!
//! Counters are monotonic for the life of the process: VIP counters are
//! keyed by listener name and member counters live with the member's health
//! state, so both carry across reloads. A [`MetricsSnapshot`] is a
//! serialisable copy for the admin API; each value is exact at some instant,
//! but a snapshot taken under traffic is not one consistent cut.
//!
//! Directions are named from the client's side: `bytes_in` is what clients
//! sent (towards the members), `bytes_out` what they received.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use tokio::sync::Notify;

use crate::health::{MemberKey, Status};
use crate::pool::Pools;

/// Counters of one VIP (listener).
#[derive(Debug, Default)]
pub struct VipMetrics {
    /// Connections (TCP) or flows (UDP) admitted by the gate.
    pub connections: AtomicU64,
    /// Connections or datagrams refused by the zone/ACL decision.
    pub denied: AtomicU64,
    /// Open connections or flows, admitted or not yet decided.
    pub active: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Connect attempts to members that failed (each retry counts).
    pub connect_errors: AtomicU64,
    /// Connections closed because no member was available.
    pub no_member: AtomicU64,
    /// UDP datagrams dropped because the VIP's flow table was full.
    pub over_limit: AtomicU64,
    /// Connections closed by the idle timeout.
    pub idle_timeouts: AtomicU64,
    /// Connections ended by a reset or I/O error on either side.
    pub resets: AtomicU64,
    /// Connections from trusted proxies closed because their PROXY header
    /// was missing, malformed or late.
    pub bad_proxy_headers: AtomicU64,
    /// Wakes accept loops waiting under `max_connections`.
    pub(crate) slot_freed: Notify,
}

impl VipMetrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Counters of one pool member. Open connections are counted by the
/// member's state ([`crate::pool::Member::active`]).
#[derive(Debug, Default)]
pub struct MemberMetrics {
    /// Connections established to the member.
    pub connections: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Connect attempts that failed.
    pub connect_failures: AtomicU64,
}

/// The registry of VIP counters, outliving plans.
#[derive(Debug, Default)]
pub struct Metrics {
    vips: Mutex<HashMap<String, Arc<VipMetrics>>>,
}

impl Metrics {
    /// The counters of the listener `name`, created on first use.
    pub fn vip(&self, name: &str) -> Arc<VipMetrics> {
        let mut vips = self.vips.lock().unwrap_or_else(PoisonError::into_inner);
        vips.entry(name.to_string()).or_default().clone()
    }

    /// Every VIP's counters and every member of `pools`.
    pub fn snapshot(&self, pools: &Pools) -> MetricsSnapshot {
        let vips = self.vips.lock().unwrap_or_else(PoisonError::into_inner);
        let mut vip_list: Vec<VipSnapshot> = vips
            .iter()
            .map(|(name, v)| {
                let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
                VipSnapshot {
                    listener: name.clone(),
                    connections: load(&v.connections),
                    denied: load(&v.denied),
                    active: load(&v.active),
                    bytes_in: load(&v.bytes_in),
                    bytes_out: load(&v.bytes_out),
                    connect_errors: load(&v.connect_errors),
                    no_member: load(&v.no_member),
                    over_limit: load(&v.over_limit),
                    idle_timeouts: load(&v.idle_timeouts),
                    resets: load(&v.resets),
                    bad_proxy_headers: load(&v.bad_proxy_headers),
                }
            })
            .collect();
        vip_list.sort_by(|a, b| a.listener.cmp(&b.listener));
        let members = pools
            .iter()
            .flat_map(|p| p.members().iter())
            .map(|m| {
                let c = m.metrics();
                let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
                MemberSnapshot {
                    member: m.key().clone(),
                    status: m.status(),
                    active: m.active(),
                    connections: load(&c.connections),
                    bytes_in: load(&c.bytes_in),
                    bytes_out: load(&c.bytes_out),
                    connect_failures: load(&c.connect_failures),
                }
            })
            .collect();
        MetricsSnapshot {
            vips: vip_list,
            members,
        }
    }
}

/// A copy of every counter, for the admin API.
#[derive(Clone, Debug, Serialize)]
pub struct MetricsSnapshot {
    pub vips: Vec<VipSnapshot>,
    pub members: Vec<MemberSnapshot>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VipSnapshot {
    pub listener: String,
    pub connections: u64,
    pub denied: u64,
    pub active: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub connect_errors: u64,
    pub no_member: u64,
    pub over_limit: u64,
    pub idle_timeouts: u64,
    pub resets: u64,
    pub bad_proxy_headers: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct MemberSnapshot {
    pub member: MemberKey,
    pub status: Status,
    pub active: u32,
    pub connections: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub connect_failures: u64,
}
