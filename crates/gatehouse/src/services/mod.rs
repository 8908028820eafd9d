//! The devices a plan runs, started, reloaded and stopped together: the L4
//! VIPs with their pools and health checks (gatehouse-runtime), the
//! TLS-terminating reverse proxy (gatehouse-proxy), and the split-horizon
//! DNS server (gatehouse-dns). The proxy picks members from the runtime's
//! pools and DNS-balanced answers follow the runtime's health checks, so
//! every part sees one state per member.

mod picker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_dns::{DnsServer, MemberHealth};
use gatehouse_model::Plan;
use gatehouse_proxy::{HttpProxy, ProxyOptions};
use gatehouse_runtime::Runtime;

use picker::RuntimePicker;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Everything `gatehouse run` serves.
pub struct Services {
    l4: Arc<Runtime>,
    http: HttpProxy,
    dns: Option<DnsServer>,
    /// Tells the DNS server when member health changes.
    health_follower: Option<JoinHandle<()>>,
}

/// The runtime's health registry, as the DNS server asks for it.
struct PoolHealth(Arc<Runtime>);

impl MemberHealth for PoolHealth {
    fn is_up(&self, pool: &str, member: usize) -> bool {
        // A pool the runtime does not know (yet) counts as down; the DNS
        // server then serves every member, which is its documented fallback.
        self.0.pools().is_up(pool, member).unwrap_or(false)
    }
}

impl Services {
    /// Binds every socket of the plan. Certificate and key paths are relative
    /// to `base_dir`; `http_workers` threads serve web clients (one per core
    /// when `None`). Fails, leaving nothing running, if any socket cannot be
    /// bound or a certificate cannot be used.
    pub async fn start(plan: Arc<Plan>, base_dir: PathBuf, http_workers: Option<usize>) -> Result<Services, String> {
        let l4 = Arc::new(Runtime::start(plan.clone()).map_err(|e| e.to_string())?);
        let mut options = ProxyOptions::new(base_dir);
        options.picker = Arc::new(RuntimePicker::new(l4.clone()));
        if let Some(n) = http_workers {
            options.workers = n;
        }
        let http = match HttpProxy::start_with(plan.clone(), options).await {
            Ok(http) => http,
            Err(e) => {
                l4.shutdown(Duration::ZERO).await;
                return Err(e.to_string());
            }
        };
        let listen: Vec<_> = plan
            .topology
            .dns
            .iter()
            .flat_map(|d| d.listen.iter().map(|a| a.value))
            .collect();
        let (dns, health_follower) = if listen.is_empty() {
            info!("no [dns] listen addresses: the DNS server is off");
            (None, None)
        } else {
            let health = Arc::new(PoolHealth(l4.clone()));
            let dns = match DnsServer::start(plan.clone(), health, &listen) {
                Ok(dns) => dns,
                Err(e) => {
                    http.shutdown(Duration::ZERO).await;
                    l4.shutdown(Duration::ZERO).await;
                    return Err(e.to_string());
                }
            };
            for w in dns.warnings() {
                warn!("dns: {w}");
            }
            info!(addresses = ?dns.local_addrs(), "DNS server listening");
            let follower = follow_health(&l4, dns.clone());
            (Some(dns), Some(follower))
        };
        Ok(Services {
            l4,
            http,
            dns,
            health_follower,
        })
    }

    /// Swaps in a new plan: each part keeps its old plan if it cannot take
    /// the new one, and the parts already switched are put back, so that
    /// all of them serve the same plan.
    pub async fn reload(&self, old: Arc<Plan>, plan: Arc<Plan>) -> Result<(), String> {
        self.l4.reload(plan.clone()).map_err(|e| e.to_string())?;
        if let Err(e) = self.http.reload(plan.clone()).await {
            self.put_back(&old, false).await;
            return Err(e.to_string());
        }
        if let Some(dns) = &self.dns {
            if let Err(e) = dns.reload(plan) {
                self.put_back(&old, true).await;
                return Err(format!("DNS: {e}"));
            }
        }
        Ok(())
    }

    /// Returns the parts that took a new plan to the one still in service.
    async fn put_back(&self, old: &Arc<Plan>, http_too: bool) {
        if let Err(e) = self.l4.reload(old.clone()) {
            warn!("could not put the L4 VIPs back on the previous plan: {e}");
        }
        if http_too {
            if let Err(e) = self.http.reload(old.clone()).await {
                warn!("could not put the reverse proxy back on the previous plan: {e}");
            }
        }
    }

    /// Hits per ACL rule of the plan in service, the implicit deny last,
    /// summed over the L4 VIPs, the reverse proxy and the DNS server.
    pub fn acl_hits(&self) -> Vec<u64> {
        let mut total = self.l4.gate().counters().snapshot();
        let others = [Some(self.http.acl_hits()), self.dns.as_ref().map(|d| d.acl_hits())];
        for hits in others.into_iter().flatten() {
            // Parts on another plan (mid-reload) have another rule count.
            if hits.len() == total.len() {
                total.iter_mut().zip(hits).for_each(|(t, h)| *t += h);
            }
        }
        total
    }

    /// Stops accepting, lets connections finish up to `deadline`, then closes.
    pub async fn shutdown(self, deadline: Duration) {
        if let Some(f) = &self.health_follower {
            f.abort();
        }
        if let Some(dns) = &self.dns {
            dns.shutdown();
        }
        // Both drain at once: the deadline is for the whole stop.
        tokio::join!(self.http.shutdown(deadline), self.l4.shutdown(deadline));
    }
}

/// Refreshes DNS-balanced answers whenever a member's health changes.
fn follow_health(l4: &Runtime, dns: DnsServer) -> JoinHandle<()> {
    let mut changes = l4.health().changes();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            dns.refresh_health();
        }
    })
}
