//! The demo backends: one in-process server per pool member of the
//! translated topology, on the member's loopback address and on every port
//! the plan sends it traffic to. Each says who it is (`x-lab-member` and
//! the body on the web, the banner or reply elsewhere).
//!
//! Every socket is bound before anything is served, so a port that is
//! taken fails the start with its address and nothing is left running.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_model::topology::{Product, Protocol, Tier};
use gatehouse_model::Plan;
use tokio::sync::watch;

use super::certs::LabCa;
use super::translate::Translation;
use super::{web, wire};

/// What a member emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Exchange Client Access.
    Cas,
    /// SharePoint web front end.
    Wfe,
    /// Lync front end.
    Fe,
    /// Lync Edge (external interface).
    Edge,
    /// Office Web Apps.
    Wac,
}

impl Kind {
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Cas => "cas",
            Kind::Wfe => "wfe",
            Kind::Fe => "fe",
            Kind::Edge => "edge",
            Kind::Wac => "wac",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Cas => "Exchange Client Access",
            Kind::Wfe => "SharePoint web front end",
            Kind::Fe => "Lync front end",
            Kind::Edge => "Lync Edge",
            Kind::Wac => "Office Web Apps",
        }
    }
}

/// One demo member.
#[derive(Clone, Debug)]
pub struct Member {
    pub name: String,
    pub kind: Kind,
    pub addr: Ipv4Addr,
    pub pools: BTreeSet<String>,
    pub tcp: BTreeSet<u16>,
    pub udp: BTreeSet<u16>,
}

impl Member {
    /// The address the topology gives this member.
    pub fn original_address(&self, t: &Translation) -> String {
        t.hosts
            .get(&self.addr)
            .cloned()
            .unwrap_or_else(|| self.addr.to_string())
    }
}

/// How many ports of a listener's port range a member serves (the media
/// range 50000-59999 would be ten thousand sockets per Edge).
const RANGE_PORTS: u16 = 4;

/// The members of the plan, named by kind in address order (`cas1`, `cas2`, ...).
/// Back-end tiers (application, database) get none: gatehouse never sends
/// them traffic.
pub fn inventory(plan: &Plan) -> Vec<Member> {
    let t = &plan.topology;
    let mut by_addr: BTreeMap<Ipv4Addr, Member> = BTreeMap::new();
    for p in &t.pools {
        let product = t
            .services
            .iter()
            .find(|s| s.name.value == p.service.value)
            .map(|s| s.product.value);
        let kind = match (product, p.tier) {
            (_, Tier::Application | Tier::Database) => continue,
            (Some(Product::Lync), Tier::Edge) => Kind::Edge,
            (Some(Product::Lync), _) => Kind::Fe,
            (Some(Product::Exchange), _) => Kind::Cas,
            (Some(Product::SharePoint), _) => Kind::Wfe,
            (Some(Product::OfficeWebApps), _) => Kind::Wac,
            _ => continue,
        };
        let pool = p.name.value.as_str();
        let listeners: Vec<_> = t
            .listeners
            .iter()
            .filter(|l| l.pool.as_ref().is_some_and(|x| x.value == pool))
            .collect();
        let routes: Vec<_> = t.routes.iter().filter(|r| r.pool.value == pool).collect();
        for m in &p.members {
            let Ok(addr) = m.host.value.parse::<Ipv4Addr>() else {
                continue;
            };
            let entry = by_addr.entry(addr).or_insert_with(|| Member {
                name: String::new(),
                kind,
                addr,
                pools: BTreeSet::new(),
                tcp: BTreeSet::new(),
                udp: BTreeSet::new(),
            });
            entry.pools.insert(pool.to_string());
            let fixed = m.port.as_ref().map(|p| p.value);
            if let Some(port) = fixed {
                entry.tcp.insert(port);
            }
            for l in &listeners {
                if fixed.is_some() {
                    continue;
                }
                let r = l.ports.value;
                let ports = r.first..=r.last.min(r.first.saturating_add(RANGE_PORTS - 1));
                match l.protocol.value {
                    Protocol::Udp => entry.udp.extend(ports),
                    _ => entry.tcp.extend(ports),
                }
            }
            for r in &routes {
                match (r.backend_port.as_ref(), fixed) {
                    (Some(bp), _) => {
                        entry.tcp.insert(bp.value);
                    }
                    (None, Some(_)) => {}
                    (None, None) => {
                        for l in r.listeners.iter().filter_map(|n| plan.listener(&n.value)) {
                            entry.tcp.insert(l.ports.value.first);
                        }
                    }
                }
            }
            if let Some(port) = p.health.as_ref().and_then(|h| h.port.as_ref()) {
                entry.tcp.insert(port.value);
            }
        }
    }
    let mut counters: BTreeMap<Kind, usize> = BTreeMap::new();
    by_addr
        .into_values()
        .map(|mut m| {
            let n = counters.entry(m.kind).or_default();
            *n += 1;
            m.name = format!("{}{n}", m.kind.prefix());
            m
        })
        .collect()
}

/// Settings every backend shares.
pub struct Shared {
    pub tls: Arc<rustls::ServerConfig>,
    /// How long an ActiveSync Ping holds its answer.
    pub ping_hold: Duration,
    /// The back-end tiers a web front end names in its answers, by product.
    pub tiers: BTreeMap<String, String>,
    pub port_offset: u16,
}

impl Shared {
    /// The port as the topology writes it.
    pub fn original_port(&self, port: u16) -> u16 {
        let o = self.port_offset;
        if o > 0 && port >= o && port - o < 1024 {
            port - o
        } else {
            port
        }
    }
}

/// The running backends; dropping the sender stops them.
pub struct Backends {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Names of the back-end tier members, for the WFE's `x-lab-tiers`.
pub fn tiers(plan: &Plan) -> BTreeMap<String, String> {
    let t = &plan.topology;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in t
        .pools
        .iter()
        .filter(|p| matches!(p.tier, Tier::Application | Tier::Database))
    {
        let members: Vec<String> = p
            .members
            .iter()
            .map(|m| format!("{}{}", m.host.value, if m.backup { " (backup)" } else { "" }))
            .collect();
        out.entry(p.service.value.clone())
            .or_default()
            .push(format!("{}={}", p.name.value, members.join(" ")));
    }
    out.into_iter().map(|(k, v)| (k, v.join("; "))).collect()
}

fn bind_error(addr: SocketAddr, who: &str, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!("port {addr} ({who}) is already in use by another program; free it, or start the lab with another --port-offset")
    } else {
        format!("cannot bind {addr} ({who}): {e}")
    }
}

/// Binds every member's sockets, then serves them.
pub fn start(
    members: Vec<Member>,
    plan: &Plan,
    ca: &LabCa,
    ping_hold: Duration,
    port_offset: u16,
) -> Result<Backends, String> {
    let shared = Arc::new(Shared {
        tls: super::certs::server_config(ca, &[b"http/1.1"])?,
        ping_hold,
        tiers: tiers(plan),
        port_offset,
    });
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for m in &members {
        let who = format!("demo backend {}", m.name);
        for &port in &m.tcp {
            let addr = SocketAddr::from((m.addr, port));
            let l = std::net::TcpListener::bind(addr).map_err(|e| bind_error(addr, &who, e))?;
            l.set_nonblocking(true).map_err(|e| bind_error(addr, &who, e))?;
            tcp.push((m.clone(), port, l));
        }
        for &port in &m.udp {
            let addr = SocketAddr::from((m.addr, port));
            let s = std::net::UdpSocket::bind(addr).map_err(|e| bind_error(addr, &format!("{who}, udp"), e))?;
            s.set_nonblocking(true).map_err(|e| bind_error(addr, &who, e))?;
            udp.push((m.clone(), s));
        }
    }
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for (m, port, l) in tcp {
        let l = tokio::net::TcpListener::from_std(l).map_err(|e| e.to_string())?;
        let shared = shared.clone();
        let mut stopped = stopped.clone();
        let original = shared.original_port(port);
        tasks.push(tokio::spawn(async move {
            let m = Arc::new(m);
            loop {
                let conn = tokio::select! {
                    c = l.accept() => c,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = conn else { continue };
                let (m, shared, mut stopped) = (m.clone(), shared.clone(), stopped.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = serve(stream, m, original, shared.clone()) => {}
                        _ = stopped.changed() => {}
                    }
                });
            }
        }));
    }
    for (m, s) in udp {
        let s = tokio::net::UdpSocket::from_std(s).map_err(|e| e.to_string())?;
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                _ = wire::udp_responder(s, &m.name) => {}
                _ = stopped.changed() => {}
            }
        }));
    }
    Ok(Backends { stop, tasks })
}

/// One accepted connection, by what the member is and the port's role.
async fn serve(stream: tokio::net::TcpStream, m: Arc<Member>, port: u16, shared: Arc<Shared>) {
    let name = m.name.as_str();
    match (m.kind, port) {
        (Kind::Cas, 25 | 587) => wire::smtp(stream, name, shared.tls.clone()).await,
        (Kind::Cas, 110) => wire::pop3(stream, name).await,
        (Kind::Cas, 995) => wire::over_tls(stream, shared.tls.clone(), |s| wire::pop3(s, name)).await,
        (Kind::Cas, 143) => wire::imap(stream, name).await,
        (Kind::Cas, 993) => wire::over_tls(stream, shared.tls.clone(), |s| wire::imap(s, name)).await,
        (Kind::Edge, 443) | (Kind::Edge | Kind::Fe, 5061) => {
            wire::over_tls(stream, shared.tls.clone(), |s| wire::sip(s, name)).await
        }
        (Kind::Edge, 5269) => wire::xmpp(stream, name).await,
        (Kind::Edge, _) => wire::media(stream, name).await,
        _ => web::serve(stream, m.clone(), shared).await,
    }
}

impl Backends {
    /// Stops every backend and waits for its sockets to close.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
