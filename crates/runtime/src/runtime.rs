//! [`Runtime`]: the L4 side of `gatehouse run`. Binds every tcp/udp
//! listener of a plan (http/https listeners belong to the reverse proxy),
//! runs the health checks of every pool, swaps plans atomically on reload,
//! and shuts down gracefully.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_model::topology::Transport;
use gatehouse_model::Plan;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::gate::Gate;
use crate::health::{start_checks, CheckHandle, Health, PassiveHealth};
use crate::l4::{self, Shared, Vip};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::pool::Pools;

/// Tuning that the topology does not carry. The defaults are what
/// `gatehouse run` uses; tests shorten them.
#[derive(Clone, Debug)]
pub struct RuntimeOptions {
    /// How long a connect to a member may take before the next member is
    /// tried. Default 5 s.
    pub connect_timeout: Duration,
    /// Members tried per connection before giving up. Default 3.
    pub connect_attempts: u32,
    /// How long a TCP connection waits for a member slot when every member
    /// is at its `max_connections` (HAProxy's `timeout queue`). Default 5 s.
    pub queue_timeout: Duration,
    pub passive: PassiveHealth,
    /// Bytes buffered per direction of a TCP connection while data moves.
    /// Default 32 KiB.
    pub buffer_size: usize,
    /// Flows per UDP VIP when its listener sets no `max_connections`.
    /// Default 16384.
    pub udp_max_flows: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 3,
            queue_timeout: Duration::from_secs(5),
            passive: PassiveHealth::default(),
            buffer_size: 32 * 1024,
            udp_max_flows: 16_384,
        }
    }
}

/// A listener socket that could not be bound.
#[derive(Debug)]
pub struct StartError {
    pub listener: String,
    pub transport: Transport,
    pub addr: SocketAddr,
    pub source: io::Error,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "listener \"{}\" cannot listen on {} {}: {}",
            self.listener,
            self.transport.keyword(),
            self.addr,
            self.source
        )?;
        let hint = match self.source.kind() {
            io::ErrorKind::AddrInUse => Some("another process (or another listener) already uses this port"),
            io::ErrorKind::AddrNotAvailable => Some("the address is not configured on any interface of this host"),
            io::ErrorKind::PermissionDenied => {
                Some("ports below 1024 need root or the CAP_NET_BIND_SERVICE capability")
            }
            _ => None,
        };
        if let Some(hint) = hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A reload that was refused; the previous plan keeps running.
#[derive(Debug)]
pub enum ReloadError {
    Bind(StartError),
    /// The runtime is shutting down.
    ShuttingDown,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Bind(e) => write!(f, "reload refused, the previous plan keeps running: {e}"),
            ReloadError::ShuttingDown => f.write_str("reload refused: shutting down"),
        }
    }
}

impl std::error::Error for ReloadError {}

/// No member of that name in that pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMember {
    pub pool: String,
    pub member: String,
}

impl fmt::Display for UnknownMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pool \"{}\" has no member \"{}\"", self.pool, self.member)
    }
}

impl std::error::Error for UnknownMember {}

/// Dropping a runtime without [`Runtime::shutdown`] closes everything at
/// once: listeners, connections and flows.
impl Drop for Runtime {
    fn drop(&mut self) {
        for bound in self.sockets.lock().unwrap_or_else(PoisonError::into_inner).values() {
            bound.stop.cancel();
        }
        self.shared.draining.cancel();
        self.shared.force.cancel();
        self.current.load().checks.stop();
    }
}

/// What one plan runs with.
struct Generation {
    plan: Arc<Plan>,
    pools: Arc<Pools>,
    gate: Arc<Gate>,
    checks: CheckHandle,
}

/// A bound socket and its accept (or receive) loop.
struct Bound {
    vip: Arc<ArcSwap<Vip>>,
    stop: CancellationToken,
}

/// A reload of the L4 VIPs made ready by [`Runtime::prepare`], for
/// [`Runtime::commit`].
pub struct PreparedReload {
    plan: Arc<Plan>,
    pools: Arc<Pools>,
    gate: Arc<Gate>,
    wanted: HashMap<SocketKey, Arc<Vip>>,
    fresh: Vec<(SocketKey, Fresh)>,
}

impl fmt::Debug for PreparedReload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedReload")
            .field("new_sockets", &self.fresh.len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SocketKey {
    transport: Transport,
    addr: SocketAddr,
}

/// A socket bound during start or reload, not yet serving.
enum Fresh {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// The L4 runtime. See the module docs.
pub struct Runtime {
    shared: Arc<Shared>,
    health: Health,
    metrics: Metrics,
    current: ArcSwap<Generation>,
    sockets: Mutex<HashMap<SocketKey, Bound>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// Binds every tcp/udp listener of `plan` and starts its health checks.
    /// Must be called inside a Tokio runtime. Fails, binding nothing, if
    /// any socket cannot be bound.
    pub fn start(plan: Arc<Plan>) -> Result<Runtime, StartError> {
        Runtime::start_with(plan, RuntimeOptions::default())
    }

    pub fn start_with(plan: Arc<Plan>, options: RuntimeOptions) -> Result<Runtime, StartError> {
        raise_fd_limit();
        let health = Health::new(options.passive);
        let metrics = Metrics::default();
        let (pools, gate) = (Arc::new(Pools::build(&plan, &health)), Arc::new(Gate::new(&plan)));
        let wanted = vips(&plan, &pools, &gate, &metrics);
        let fresh = bind_all(wanted.iter().map(|(k, v)| (*k, v)))?;
        let shared = Arc::new(Shared {
            options,
            tracker: TaskTracker::new(),
            draining: CancellationToken::new(),
            force: CancellationToken::new(),
        });
        let checks = start_checks(&pools);
        let runtime = Runtime {
            shared,
            health,
            metrics,
            current: ArcSwap::from_pointee(Generation {
                plan: plan.clone(),
                pools,
                gate,
                checks,
            }),
            sockets: Mutex::new(HashMap::new()),
        };
        let mut sockets = runtime.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wanted = wanted;
        for (key, socket) in fresh {
            let vip = wanted.remove(&key).expect("bound sockets are wanted");
            sockets.insert(key, runtime.serve(key, socket, vip));
        }
        drop(sockets);
        log_listeners(&plan, "listening");
        Ok(runtime)
    }

    /// Swaps in a new plan. New connections use it; connections in flight
    /// finish on the plan they started with. Sockets the new plan still
    /// wants are kept (no connection is refused during a reload), new ones
    /// are bound, dropped ones stop accepting. If any new socket cannot be
    /// bound, nothing changes and the old plan keeps running.
    pub fn reload(&self, plan: Arc<Plan>) -> Result<(), ReloadError> {
        let prepared = self.prepare(plan)?;
        self.commit(prepared);
        Ok(())
    }

    /// The first half of a reload: builds the new plan's pools and VIPs and
    /// binds the sockets it adds, serving nothing yet. Dropping the result
    /// changes nothing (its sockets close). Reloads must not overlap: the
    /// caller prepares and commits one at a time.
    pub fn prepare(&self, plan: Arc<Plan>) -> Result<PreparedReload, ReloadError> {
        if self.shared.draining.is_cancelled() {
            return Err(ReloadError::ShuttingDown);
        }
        let (pools, gate) = (Arc::new(Pools::build(&plan, &self.health)), Arc::new(Gate::new(&plan)));
        let wanted = vips(&plan, &pools, &gate, &self.metrics);
        let fresh = {
            let sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
            bind_all(
                wanted
                    .iter()
                    .filter(|(k, _)| !sockets.contains_key(k))
                    .map(|(k, v)| (*k, v)),
            )
            .map_err(ReloadError::Bind)?
        };
        Ok(PreparedReload {
            plan,
            pools,
            gate,
            wanted,
            fresh,
        })
    }

    /// The second half: the prepared plan is in service from here on. It
    /// cannot fail: whatever could fail happened in [`prepare`](Self::prepare).
    pub fn commit(&self, prepared: PreparedReload) {
        let PreparedReload {
            plan,
            pools,
            gate,
            mut wanted,
            fresh,
        } = prepared;
        let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let checks = start_checks(&pools);
        // Kept sockets switch to the new plan; dropped ones stop accepting.
        sockets.retain(|key, bound| match wanted.remove(key) {
            Some(vip) => {
                bound.vip.store(vip);
                true
            }
            None => {
                bound.stop.cancel();
                false
            }
        });
        for (key, socket) in fresh {
            if let Some(vip) = wanted.remove(&key) {
                sockets.insert(key, self.serve(key, socket, vip));
            }
        }
        let old = self.current.swap(Arc::new(Generation {
            plan: plan.clone(),
            pools,
            gate,
            checks,
        }));
        old.checks.stop();
        log_listeners(&plan, "reloaded");
    }

    /// Stops accepting, lets open connections and flows finish for up to
    /// `deadline`, then closes what is left. Health checks stop.
    pub async fn shutdown(&self, deadline: Duration) {
        self.shared.draining.cancel();
        for (key, bound) in self.sockets.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            // UDP sockets keep relaying for open flows (they open no new
            // ones while draining) until `force`.
            if key.transport == Transport::Tcp {
                bound.stop.cancel();
            }
        }
        self.shared.tracker.close();
        let open = self.shared.tracker.len();
        if open > 0 {
            tracing::info!(open, ?deadline, "shutting down: waiting for open connections");
        }
        if tokio::time::timeout(deadline, self.shared.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.shared.tracker.len(),
                "shutdown deadline passed: closing open connections"
            );
        }
        self.shared.force.cancel();
        // Tasks close their sockets promptly once forced.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.shared.tracker.wait()).await;
        self.current.load().checks.stop();
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The current plan.
    pub fn plan(&self) -> Arc<Plan> {
        self.current.load().plan.clone()
    }

    /// The current plan's pools: for the reverse proxy and DNS.
    pub fn pools(&self) -> Arc<Pools> {
        self.current.load().pools.clone()
    }

    /// Runs `f` on the current plan's pools without taking a count on
    /// them: for work as short as one pick, which every request does.
    pub fn with_pools<R>(&self, f: impl FnOnce(&Pools) -> R) -> R {
        f(&self.current.load().pools)
    }

    /// The current plan's accept-phase gate and ACL counters.
    pub fn gate(&self) -> Arc<Gate> {
        self.current.load().gate.clone()
    }

    /// Member state registry: subscribe here for health changes.
    pub fn health(&self) -> &Health {
        &self.health
    }

    pub fn metrics(&self) -> MetricsSnapshot {
        self.metrics.snapshot(&self.current.load().pools)
    }

    /// Open connections and flows, on every plan.
    pub fn open_connections(&self) -> usize {
        self.shared.tracker.len()
    }

    /// Sets a member draining or back in service (admin API).
    pub fn set_draining(&self, pool: &str, member: &str, draining: bool) -> Result<(), UnknownMember> {
        if self.pools().set_draining(pool, member, draining) {
            Ok(())
        } else {
            Err(UnknownMember {
                pool: pool.to_string(),
                member: member.to_string(),
            })
        }
    }

    fn serve(&self, key: SocketKey, socket: Fresh, vip: Arc<Vip>) -> Bound {
        let vip = Arc::new(ArcSwap::new(vip));
        let stop = CancellationToken::new();
        let shared = Arc::clone(&self.shared);
        let spawned = match socket {
            Fresh::Tcp(s) => tokio::net::TcpListener::from_std(s)
                .map(|l| tokio::spawn(l4::tcp::accept_loop(l, key.addr, vip.clone(), shared, stop.clone()))),
            Fresh::Udp(s) => tokio::net::UdpSocket::from_std(s)
                .map(|u| tokio::spawn(l4::udp::recv_loop(u, vip.clone(), shared, stop.clone()))),
        };
        if let Err(e) = spawned {
            // Only fails outside a Tokio runtime, which `start` documents.
            tracing::error!(addr = %key.addr, error = %e, "cannot register socket");
        }
        Bound { vip, stop }
    }
}

/// The VIP of every socket the plan wants, keyed by transport and address.
fn vips(plan: &Arc<Plan>, pools: &Pools, gate: &Arc<Gate>, metrics: &Metrics) -> HashMap<SocketKey, Arc<Vip>> {
    let mut out = HashMap::new();
    for (index, l) in plan.topology.listeners.iter().enumerate() {
        if l.protocol.value.is_http() {
            continue;
        }
        let Some(pool) = l.pool.as_ref().and_then(|p| pools.get(&p.value)) else {
            continue; // validation guarantees a pool; nothing to serve without one
        };
        let vip = Arc::new(Vip {
            plan: Arc::clone(plan),
            index,
            pool: Arc::clone(pool),
            gate: Arc::clone(gate),
            metrics: metrics.vip(&l.name.value),
        });
        let transport = l.protocol.value.transport();
        for port in l.ports.value.first..=l.ports.value.last {
            let key = SocketKey {
                transport,
                addr: SocketAddr::new(l.address.value, port),
            };
            out.insert(key, Arc::clone(&vip));
        }
    }
    out
}

/// Binds every socket or none.
fn bind_all<'a>(
    wanted: impl Iterator<Item = (SocketKey, &'a Arc<Vip>)>,
) -> Result<Vec<(SocketKey, Fresh)>, StartError> {
    let mut fresh = Vec::new();
    for (key, vip) in wanted {
        let bound = match key.transport {
            Transport::Tcp => l4::bind_tcp(key.addr).map(Fresh::Tcp),
            Transport::Udp => l4::bind_udp(key.addr).map(Fresh::Udp),
        };
        match bound {
            Ok(s) => fresh.push((key, s)),
            Err(source) => {
                return Err(StartError {
                    listener: vip.listener().name.value.clone(),
                    transport: key.transport,
                    addr: key.addr,
                    source,
                })
            }
        }
    }
    Ok(fresh)
}

fn log_listeners(plan: &Plan, what: &str) {
    for l in plan.topology.listeners.iter().filter(|l| !l.protocol.value.is_http()) {
        tracing::info!(
            listener = %l.name.value,
            address = %l.address.value,
            port = %l.ports.value,
            protocol = l.protocol.value.keyword(),
            pool = l.pool.as_ref().map_or("", |p| p.value.as_str()),
            "{what}"
        );
    }
}

/// A VIP over a port range holds one socket per port, and every connection
/// two descriptors: raise the soft descriptor limit to the hard one, as
/// HAProxy does.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                tracing::debug!("cannot raise the file descriptor limit");
            }
        }
    }
}
