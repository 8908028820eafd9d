//! Everything compiled from one plan for the proxy: per-listener route tables
//! and TLS acceptors, backend TLS configs. Built off to the
//! side on start and reload, then swapped in whole; a connection keeps the
//! state it was accepted under until it closes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_model::topology::{Listener, Protocol};
use gatehouse_model::Plan;
use gatehouse_policy::LogLimiter;
use rustls::ClientConfig;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::config::ProxyConfig;
use crate::routing::RouteTable;
use crate::tls::{self, GeneratedCache};
use crate::upstream;
use crate::ProxyError;

/// One HTTP(S) listener under one plan.
pub(crate) struct ListenerState {
    pub name: Arc<str>,
    pub index: usize,
    /// `None` on plain-HTTP listeners.
    pub tls: Option<TlsAcceptor>,
    pub routes: RouteTable,
    pub port: u16,
    pub limit: Option<Arc<Semaphore>>,
    /// Requests must name the TLS server name as their host (`strict_sni`);
    /// the connection then keeps it, for the route decision.
    pub strict_sni: bool,
}

impl ListenerState {
    pub fn listener<'a>(&self, plan: &'a Plan) -> &'a Listener {
        &plan.topology.listeners[self.index]
    }

    pub fn proto(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

/// One pool as the forward phase needs it. Routes name it by its index in
/// the topology's pools, resolved when the route table is compiled.
/// Its members are the runtime pool's of the same name (`members` module).
pub(crate) struct BackendPool {
    /// Set when the pool re-encrypts to its members.
    pub tls: Option<Arc<ClientConfig>>,
    /// The server name configured for that, if any.
    pub server_name: Option<Arc<str>>,
}

/// The proxy's view of one plan.
pub(crate) struct PlanState {
    pub plan: Arc<Plan>,
    /// By bound address.
    pub listeners: HashMap<SocketAddr, Arc<ListenerState>>,
    pub deny_log: LogLimiter,
    pub zone_names: Vec<Arc<str>>,
    /// By the pool's index in the topology.
    pub pools: Vec<BackendPool>,
    /// The `[http]` settings and backend TLS of this plan.
    pub config: ProxyConfig,
}

impl PlanState {
    pub fn build(plan: Arc<Plan>, base_dir: &Path, cache: &GeneratedCache) -> Result<PlanState, ProxyError> {
        let config = ProxyConfig::from_plan(&plan, base_dir)?;
        let certs = tls::load_all(&plan, base_dir, cache)?;
        let mut listeners = HashMap::new();
        for (index, l) in plan.topology.listeners.iter().enumerate() {
            if !l.protocol.value.is_http() {
                continue;
            }
            let https = l.protocol.value == Protocol::Https;
            let tls = if https {
                Some(TlsAcceptor::from(tls::server_config(l, &certs)?))
            } else {
                None
            };
            let ports = l.ports.value;
            if ports.last - ports.first > 64 {
                return Err(ProxyError::Listener {
                    listener: l.name.value.clone(),
                    message: format!("an HTTP listener may span at most 64 ports, not {}", ports),
                });
            }
            for port in ports.first..=ports.last {
                let state = Arc::new(ListenerState {
                    name: l.name.value.as_str().into(),
                    index,
                    tls: tls.clone(),
                    routes: RouteTable::compile(&plan, index),
                    port,
                    limit: l.max_connections.map(|m| Arc::new(Semaphore::new(m as usize))),
                    strict_sni: l.strict_sni(),
                });
                listeners.insert(SocketAddr::new(l.address.value, port), state);
            }
        }
        let mut backend_tls = upstream::backend_tls_configs(&config, base_dir, &certs)?;
        let pools = plan
            .topology
            .pools
            .iter()
            .map(|p| BackendPool {
                tls: backend_tls.remove(&p.name.value),
                server_name: config
                    .backend(&p.name.value)
                    .tls
                    .as_ref()
                    .and_then(|t| t.server_name.as_deref())
                    .map(Arc::from),
            })
            .collect();
        Ok(PlanState {
            deny_log: LogLimiter::new(20, Duration::from_secs(10)),
            zone_names: plan.zone_names.iter().map(|z| Arc::from(z.as_str())).collect(),
            config,
            pools,
            listeners,
            plan,
        })
    }
}
