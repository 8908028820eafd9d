//! The loops that keep member state current: one task per member runs the
//! pool's active check every `interval` (the first at once) and, for
//! members named by host name, re-resolves the name.
//!
//! A member with neither its own port nor a check `port` cannot be checked
//! (it takes the client's port); it is logged once and relies on passive
//! health.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::probe::{probe, ProbeTarget};
use crate::pool::{Member, Pools};
use gatehouse_model::topology::HealthCheck;

/// How often a member named by host name is re-resolved when its pool has
/// no check to set the pace.
const RESOLVE_EVERY: Duration = Duration::from_secs(30);

/// The running checks of one [`Pools`]. Dropping it (or [`stop`](Self::stop))
/// stops them; member state keeps its last verdict.
#[derive(Debug)]
pub struct CheckHandle {
    cancel: CancellationToken,
}

impl CheckHandle {
    pub fn stop(&self) {
        self.cancel.cancel();
    }
}

impl Drop for CheckHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts the active checks and name resolution of every member of `pools`.
/// Must be called inside a Tokio runtime.
pub fn start_checks(pools: &Pools) -> CheckHandle {
    let cancel = CancellationToken::new();
    for pool in pools.iter() {
        for member in pool.members() {
            let check = pool.check().cloned();
            let is_name = member.host().parse::<std::net::IpAddr>().is_err();
            let port = check
                .as_ref()
                .and_then(|c| c.port.as_ref().map(|p| p.value))
                .or(member.port());
            let check = match (check, port) {
                (Some(c), Some(p)) => Some((c, p)),
                (Some(_), None) => {
                    tracing::warn!(
                        member = %member.key(),
                        "member takes the client's port and the check names no `port`: not actively checked"
                    );
                    None
                }
                (None, _) => None,
            };
            if check.is_none() && !is_name {
                continue;
            }
            let member = Arc::clone(member);
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = watch_member(&member, check, is_name) => {}
                }
            });
        }
    }
    CheckHandle { cancel }
}

async fn watch_member(member: &Member, check: Option<(HealthCheck, u16)>, is_name: bool) {
    loop {
        if is_name {
            resolve(member, check.as_ref().map_or(0, |c| c.1)).await;
        }
        let Some((check, port)) = &check else {
            tokio::time::sleep(RESOLVE_EVERY).await;
            continue;
        };
        if let Some(ip) = member.ip() {
            let target = ProbeTarget {
                addr: SocketAddr::new(ip, *port),
                host: check.host.clone().unwrap_or_else(|| member.host().to_string()),
            };
            let result = probe(check, &target).await.map_err(|e| e.0);
            if let Err(why) = &result {
                tracing::debug!(member = %member.key(), %why, "check failed");
            }
            member.state().record_check(result, check.rise.value, check.fall.value);
        }
        tokio::time::sleep(check.interval.value).await;
    }
}

async fn resolve(member: &Member, port: u16) {
    match tokio::net::lookup_host((member.host(), port)).await {
        Ok(mut addrs) => {
            if let Some(a) = addrs.next() {
                member.state().set_ip(Some(a.ip()));
            }
        }
        // Keep the last known address through a DNS outage.
        Err(e) => tracing::warn!(member = %member.key(), error = %e, "cannot resolve member"),
    }
}
