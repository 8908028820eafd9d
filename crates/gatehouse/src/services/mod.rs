//! The devices a plan runs, started, reloaded and stopped together: the L4
//! VIPs with their pools and health checks (gatehouse-runtime), the
//! TLS-terminating reverse proxy (gatehouse-proxy), and the split-horizon
//! DNS server (gatehouse-dns). The proxy picks members from the runtime's
//! pools and DNS-balanced answers follow the runtime's health checks, so
//! every part sees one state per member.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gatehouse_dns::{DnsConfig, DnsServer, MemberHealth, PreparedData, PreparedServer};
use gatehouse_model::Plan;
use gatehouse_proxy::{HttpProxy, ProxyOptions};
use gatehouse_runtime::Runtime;

use tokio::task::JoinHandle;
use tracing::{info, warn};

/// Everything `gatehouse run` serves.
pub struct Services {
    l4: Arc<Runtime>,
    http: HttpProxy,
    /// The DNS server and what tells it when member health changes; `None`
    /// while the plan has no `[dns]` listen address. A reload may start,
    /// replace or stop it.
    dns: Mutex<Option<Dns>>,
}

struct Dns {
    server: DnsServer,
    health_follower: JoinHandle<()>,
}

/// What a reload does to the DNS server, once every part is prepared.
enum DnsStep {
    /// No `[dns]` before or after.
    None,
    /// Same listen addresses: new views on the same sockets. Boxed: the
    /// compiled views are large.
    Reload(Box<PreparedData>),
    /// Listen addresses added, changed or removed: a new server, sharing
    /// the sockets it keeps with the one it replaces.
    Replace(PreparedServer),
    /// `[dns]` went away, or lost its listen addresses.
    Stop,
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

/// The DNS listen addresses a plan states.
fn dns_listen(plan: &Plan) -> Vec<SocketAddr> {
    plan.topology
        .dns
        .iter()
        .flat_map(|d| d.listen.iter().map(|a| a.value))
        .collect()
}

impl Services {
    /// Binds every socket of the plan. Certificate and key paths are relative
    /// to `base_dir`; `http_workers` threads serve web clients (one per core
    /// when `None`). Fails, leaving nothing running, if any socket cannot be
    /// bound or a certificate cannot be used.
    pub async fn start(plan: Arc<Plan>, base_dir: PathBuf, http_workers: Option<usize>) -> Result<Services, String> {
        let l4 = Arc::new(Runtime::start(plan.clone()).map_err(|e| e.to_string())?);
        let mut options = ProxyOptions::new(base_dir);
        options.runtime = Some(l4.clone());
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
        let listen = dns_listen(&plan);
        let dns = if listen.is_empty() {
            info!("no [dns] listen addresses: the DNS server is off");
            None
        } else {
            let health = Arc::new(PoolHealth(l4.clone()));
            let config = DnsConfig::from_plan(&plan);
            match DnsServer::prepare(plan.clone(), health, &listen, config, None) {
                Ok(prepared) => Some(Dns::serve(&l4, prepared)),
                Err(e) => {
                    http.shutdown(Duration::ZERO).await;
                    l4.shutdown(Duration::ZERO).await;
                    return Err(format!("DNS: {e}"));
                }
            }
        };
        Ok(Services {
            l4,
            http,
            dns: Mutex::new(dns),
        })
    }

    /// Swaps in a new plan, all or nothing. First every part makes itself
    /// ready from `plan` without serving it: the L4 VIPs, the reverse
    /// proxy and the DNS server compile their tables, load certificates
    /// and bind the sockets the plan adds. If any of them cannot, nothing
    /// has changed, and the error names the part. Then all of them switch
    /// at once, in steps that cannot fail; connections in flight finish on
    /// the plan they started on.
    pub async fn reload(&self, plan: Arc<Plan>) -> Result<(), String> {
        let l4 = self.l4.prepare(plan.clone()).map_err(|e| format!("L4 VIPs: {e}"))?;
        let http = self
            .http
            .prepare(plan.clone())
            .await
            .map_err(|e| format!("reverse proxy: {e}"))?;
        let dns = self.prepare_dns(&plan).map_err(|e| format!("DNS: {e}"))?;
        // Committed from here on: nothing below can fail.
        self.l4.commit(l4);
        self.http.commit(http).await;
        let mut current = self.dns.lock().unwrap_or_else(PoisonError::into_inner);
        match dns {
            DnsStep::None => {}
            DnsStep::Reload(data) => {
                if let Some(d) = current.as_ref() {
                    d.server.commit_reload(*data);
                }
            }
            DnsStep::Replace(prepared) => {
                let new = Dns::serve(&self.l4, prepared);
                if let Some(old) = current.replace(new) {
                    old.stop();
                }
            }
            DnsStep::Stop => {
                if let Some(old) = current.take() {
                    old.stop();
                    info!("no [dns] listen addresses: the DNS server is off");
                }
            }
        }
        Ok(())
    }

    fn prepare_dns(&self, plan: &Arc<Plan>) -> Result<DnsStep, gatehouse_dns::DnsError> {
        let listen = dns_listen(plan);
        let current = self.dns.lock().unwrap_or_else(PoisonError::into_inner);
        let running = current.as_ref().map(|d| &d.server);
        Ok(match running {
            None if listen.is_empty() => DnsStep::None,
            Some(_) if listen.is_empty() => DnsStep::Stop,
            Some(server) if server.listen() == listen.as_slice() => {
                DnsStep::Reload(Box::new(server.prepare_reload(plan.clone())?))
            }
            _ => {
                let health = Arc::new(PoolHealth(self.l4.clone()));
                let config = DnsConfig::from_plan(plan);
                DnsStep::Replace(DnsServer::prepare(plan.clone(), health, &listen, config, running)?)
            }
        })
    }

    /// Hits per ACL rule of the plan in service, the implicit deny last:
    /// the plan's one set, which the L4 VIPs, the reverse proxy and the DNS
    /// server all count into.
    pub fn acl_hits(&self) -> Vec<u64> {
        self.l4.plan().acl_hits.snapshot()
    }

    /// Stops accepting, lets connections finish up to `deadline`, then closes.
    pub async fn shutdown(self, deadline: Duration) {
        if let Some(dns) = self.dns.into_inner().unwrap_or_else(PoisonError::into_inner) {
            dns.stop();
        }
        // Both drain at once: the deadline is for the whole stop.
        tokio::join!(self.http.shutdown(deadline), self.l4.shutdown(deadline));
    }
}

impl Dns {
    /// Starts a prepared server and the task that refreshes its
    /// DNS-balanced answers whenever a member's health changes.
    fn serve(l4: &Runtime, prepared: PreparedServer) -> Dns {
        let server = prepared.serve();
        for w in server.warnings() {
            warn!("dns: {w}");
        }
        info!(addresses = ?server.local_addrs(), "DNS server listening");
        let mut changes = l4.health().changes();
        let follower = server.clone();
        let health_follower = tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                follower.refresh_health();
            }
        });
        Dns {
            server,
            health_follower,
        }
    }

    fn stop(self) {
        self.health_follower.abort();
        self.server.shutdown();
    }
}
