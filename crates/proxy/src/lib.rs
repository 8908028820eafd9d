//! The gatehouse TLS-terminating HTTP reverse proxy.
//!
//! [`HttpProxy`] binds every `http` and `https` listener of a [`Plan`]
//! (`tcp`/`udp` listeners belong to the L4 runtime) and runs each connection
//! through the named phases of [`phases`]: accept (zone + ACL, before TLS),
//! handshake (SNI, ALPN), route (host + longest prefix), admit (auth policy),
//! pick (from `gatehouse_runtime`'s pools, balancer and member health, the
//! `members` module), forward (streaming, pinning, timeouts) and log
//! ([`AccessLog`]).
//!
//! Behind another load balancer (`trusted_proxies` and `client_address`),
//! the client is the one the trusted balancer names, in a PROXY header or
//! in each request's `X-Forwarded-For`; anyone else is its own client and
//! its forwarding headers are stripped (see the `client` module).
//!
//! What it does for the products it publishes, with nothing to configure:
//! NTLM/Negotiate connections are pinned (HTTP/2 clients are told
//! `HTTP_1_1_REQUIRED`); bodies stream both ways unbuffered (1 GiB
//! `RPC_IN_DATA` uploads, MAPI/HTTP `PENDING` keep-alives); route timeouts
//! default to values that keep long polls alive; Exchange virtual directories
//! match case-insensitively; WebSocket is tunnelled on the routes that allow
//! it and every other `Upgrade` is refused; requests with
//! ambiguous framing get 400 and never reach a backend.
//!
//! Settings the topology has no keys for yet live in [`ProxyConfig`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use gatehouse_model::topology::ClientAddress;
use gatehouse_model::Plan;
use gatehouse_policy::LogLimiter;
use gatehouse_runtime::{PassiveHealth, Pools, Runtime};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod access;
mod activity;
mod affinity;
mod backend;
mod body;
mod client;
mod coalesce;
mod completion;
pub mod config;
mod conn;
mod ctx;
mod error;
mod forward;
mod framing;
#[doc(hidden)]
pub mod fuzz;
mod guard;
mod h2server;
pub mod headers;
mod linger;
mod log;
mod members;
pub mod pages;
pub mod phases;
mod request_body;
mod routing;
mod shared;
mod state;
mod tls;
mod tunnel;
mod upstream;
mod warnings;
mod wire;
mod workers;

pub use access::{AccessLog, AccessRecord, TracingAccessLog};
pub use config::{BackendConfig, BackendTls, BackendVerify, ProxyConfig};
pub use error::ProxyError;
pub use warnings::{certificate_warnings, certificate_warnings_at, CertificateWarning, EXPIRY_WARNING};

use shared::Shared;
use state::PlanState;

/// How to run the proxy beyond the plan itself.
pub struct ProxyOptions {
    /// The topology file's directory: certificate paths are relative to it.
    pub base_dir: PathBuf,
    /// The runtime whose pools and member health the proxy picks from, as
    /// `gatehouse run` shares them with the L4 VIPs and DNS; it reloads
    /// them. `None` (the default): the proxy builds the pools of its plan,
    /// runs their health checks and reloads them itself.
    pub runtime: Option<Arc<Runtime>>,
    /// Passive ejection of the proxy's own pools (not used with `runtime`).
    pub passive: PassiveHealth,
    /// Where access records go; the default is [`TracingAccessLog`].
    pub access_log: Arc<dyn AccessLog>,
    /// Threads serving client connections, each with a runtime of its own
    /// (see the `workers` module); the default is one per core. Zero serves
    /// them on the runtime that started the proxy.
    pub workers: usize,
}

impl ProxyOptions {
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        ProxyOptions {
            base_dir: base_dir.into(),
            runtime: None,
            passive: PassiveHealth::default(),
            access_log: Arc::new(TracingAccessLog),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// A bound listening socket, ready for its accept loops.
enum Listening {
    /// No workers: one loop on the caller's runtime.
    Here(TcpListener),
    /// One duplicate of the socket per worker.
    Workers(Vec<std::net::TcpListener>),
}

/// A reload made ready by [`HttpProxy::prepare`], for [`HttpProxy::commit`].
pub struct PreparedReload {
    state: PlanState,
    pools: members::PreparedPools,
    fresh: Vec<(SocketAddr, Listening)>,
}

impl std::fmt::Debug for PreparedReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedReload")
            .field("new_listeners", &self.fresh.iter().map(|(a, _)| *a).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The running proxy.
pub struct HttpProxy {
    shared: Arc<Shared>,
    current: Arc<ArcSwap<PlanState>>,
    /// Each listening socket's accept loops, one per worker.
    sockets: Mutex<HashMap<SocketAddr, Vec<JoinHandle<()>>>>,
    base_dir: PathBuf,
    generated: tls::GeneratedCache,
}

impl HttpProxy {
    /// Starts with default options; certificate paths are relative to `base_dir`.
    pub async fn start(plan: Arc<Plan>, base_dir: impl Into<PathBuf>) -> Result<HttpProxy, ProxyError> {
        Self::start_with(plan, ProxyOptions::new(base_dir)).await
    }

    /// Loads certificates, binds every http/https listener of `plan` and
    /// starts accepting. Fails without binding anything if a certificate or
    /// backend TLS setting is unusable.
    pub async fn start_with(plan: Arc<Plan>, options: ProxyOptions) -> Result<HttpProxy, ProxyError> {
        let generated = tls::GeneratedCache::default();
        let state = PlanState::build(plan, &options.base_dir, &generated)?;
        let (stop, _) = watch::channel(0u8);
        let workers = workers::Workers::start(options.workers).map_err(|e| ProxyError::Settings {
            message: format!("cannot start {} connection workers: {e}", options.workers),
        })?;
        // The cookie key and the backend connection pool live as long as the
        // proxy: a reload does not log anyone out or drop idle connections.
        let shared = Arc::new(Shared {
            signer: affinity::CookieSigner::new(state.config.affinity_secret.as_deref()),
            upstreams: Arc::new(upstream::Upstreams::new(&state.config, workers.slots())),
            workers,
            members: members::Members::new(options.runtime, &state.plan, options.passive),
            access_log: options.access_log,
            tracker: Arc::default(),
            stop,
            bad_proxy_headers: AtomicU64::new(0),
            header_log: LogLimiter::new(20, Duration::from_secs(10)),
        });
        let proxy = HttpProxy {
            shared,
            current: Arc::new(ArcSwap::from_pointee(state)),
            sockets: Mutex::new(HashMap::new()),
            base_dir: options.base_dir,
            generated,
        };
        proxy.bind_missing().await?;
        Ok(proxy)
    }

    /// Swaps in a new plan atomically. New connections use it; connections
    /// in flight finish on the plan they were accepted under. Listeners that
    /// appeared are bound, listeners that went away stop accepting. On error
    /// the old plan stays in force.
    pub async fn reload(&self, plan: Arc<Plan>) -> Result<(), ProxyError> {
        let prepared = self.prepare(plan).await?;
        self.commit(prepared).await;
        Ok(())
    }

    /// The first half of a reload: loads the new plan's certificates,
    /// compiles its route tables and binds the listeners it adds, serving
    /// nothing yet. Dropping the result changes nothing (its sockets close).
    /// Reloads must not overlap: the caller prepares and commits one at a
    /// time.
    pub async fn prepare(&self, plan: Arc<Plan>) -> Result<PreparedReload, ProxyError> {
        let state = PlanState::build(plan, &self.base_dir, &self.generated)?;
        let fresh = self.bind_new(&state).await?;
        let pools = self.shared.members.prepare(&state.plan);
        Ok(PreparedReload { state, pools, fresh })
    }

    /// The second half: the prepared plan is in service from here on; new
    /// listeners accept, listeners that went away stop. It cannot fail.
    pub async fn commit(&self, prepared: PreparedReload) {
        let PreparedReload { state, pools, fresh } = prepared;
        let wanted: Vec<SocketAddr> = state.listeners.keys().copied().collect();
        self.current.store(Arc::new(state));
        self.shared.members.commit(pools);
        let mut started = Vec::new();
        for (addr, listening) in fresh {
            tracing::info!(%addr, "listening");
            started.push((addr, self.start_accepting(addr, listening).await));
        }
        let mut dropped = Vec::new();
        {
            let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
            let gone: Vec<SocketAddr> = sockets.keys().filter(|a| !wanted.contains(a)).copied().collect();
            for addr in gone {
                if let Some(tasks) = sockets.remove(&addr) {
                    for task in tasks {
                        task.abort();
                        dropped.push(task);
                    }
                }
            }
            sockets.extend(started);
        }
        // The sockets of listeners that went away are closed once their
        // accept loops have ended.
        for task in dropped {
            let _ = task.await;
        }
    }

    /// Binds the listeners of `state` that are not bound yet; all or none.
    async fn bind_new(&self, state: &PlanState) -> Result<Vec<(SocketAddr, Listening)>, ProxyError> {
        let mut addrs: Vec<SocketAddr> = state.listeners.keys().copied().collect();
        addrs.sort();
        let mut fresh = Vec::new();
        for addr in addrs {
            if self
                .sockets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&addr)
            {
                continue;
            }
            let socket = TcpListener::bind(addr)
                .await
                .map_err(|source| ProxyError::Bind { address: addr, source })?;
            fresh.push((addr, self.copies_for_workers(addr, socket)?));
        }
        Ok(fresh)
    }

    async fn bind_missing(&self) -> Result<(), ProxyError> {
        let state = self.current.load_full();
        let fresh = self.bind_new(&state).await?;
        for (addr, listening) in fresh {
            tracing::info!(%addr, "listening");
            let tasks = self.start_accepting(addr, listening).await;
            self.sockets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(addr, tasks);
        }
        Ok(())
    }

    /// The copies of a listening socket its accept loops take: one per
    /// worker, or the socket itself without workers. Made before anything
    /// is swapped in, since making them can fail.
    fn copies_for_workers(&self, addr: SocketAddr, socket: TcpListener) -> Result<Listening, ProxyError> {
        let workers = &self.shared.workers;
        if workers.is_empty() {
            return Ok(Listening::Here(socket));
        }
        let bind_error = |source| ProxyError::Bind { address: addr, source };
        let socket = socket.into_std().map_err(bind_error)?;
        let copies = (0..workers.len())
            .map(|_| socket.try_clone())
            .collect::<Result<Vec<_>, _>>()
            .map_err(bind_error)?;
        Ok(Listening::Workers(copies))
    }

    /// Starts the accept loops of one listening socket. The socket closes
    /// once every loop has ended.
    async fn start_accepting(&self, addr: SocketAddr, listening: Listening) -> Vec<JoinHandle<()>> {
        let copies = match listening {
            Listening::Here(socket) => {
                return vec![tokio::spawn(accept_loop(
                    self.shared.clone(),
                    self.current.clone(),
                    socket,
                    addr,
                ))]
            }
            Listening::Workers(copies) => copies,
        };
        let mut tasks = Vec::with_capacity(copies.len());
        for (i, copy) in copies.into_iter().enumerate() {
            let (shared, current) = (self.shared.clone(), self.current.clone());
            let task = self.shared.workers.spawn_on(i, move || async move {
                match TcpListener::from_std(copy) {
                    Ok(socket) => accept_loop(shared, current, socket, addr).await,
                    Err(e) => tracing::error!(%addr, "worker cannot accept on the socket: {e}"),
                }
            });
            tasks.extend(task.await);
        }
        tasks
    }

    /// The addresses being listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = self
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect();
        v.sort();
        v
    }

    /// Hits per gateway ACL rule of the current plan (the last entry is the
    /// implicit deny): the plan's one set, which every part serving the
    /// plan counts into ([`Plan::accept`]).
    pub fn acl_hits(&self) -> Vec<u64> {
        self.current.load().plan.acl_hits.snapshot()
    }

    /// The pools requests are balanced over, with their members' health:
    /// the runtime's when the proxy was given one.
    pub fn pools(&self) -> Arc<Pools> {
        self.shared.members.pools()
    }

    /// Connections from trusted proxies closed because their PROXY header
    /// was missing, malformed or late (since start, across reloads).
    pub fn refused_proxy_headers(&self) -> u64 {
        self.shared.bad_proxy_headers.load(Ordering::Relaxed)
    }

    /// Live client connections.
    pub fn connections(&self) -> usize {
        self.shared.tracker.live.load(Ordering::SeqCst)
    }

    /// Stops accepting, lets requests in flight finish until `deadline`
    /// from now, then closes whatever is left.
    pub async fn shutdown(self, deadline: Duration) {
        let accepting: Vec<JoinHandle<()>> = self
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .flat_map(|(_, tasks)| tasks)
            .collect();
        // Waiting for the aborted accept loops closes their sockets before
        // this returns, so that the ports are free for whoever comes next.
        for task in accepting {
            task.abort();
            let _ = task.await;
        }
        let _ = self.shared.stop.send(1);
        let until = Instant::now() + deadline;
        let tracker = self.shared.tracker.clone();
        loop {
            let notified = tracker.idle.notified();
            if tracker.live.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(until.into(), notified).await.is_err() {
                break;
            }
        }
        let _ = self.shared.stop.send(2);
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                let notified = tracker.idle.notified();
                if tracker.live.load(Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
        })
        .await;
    }
}

/// Dropping the proxy without [`HttpProxy::shutdown`] stops accepting at
/// once. The accept loops run on the workers' runtimes, which outlive this
/// handle, so they must be told; connections in flight run to their end.
impl Drop for HttpProxy {
    fn drop(&mut self) {
        let sockets = self.sockets.get_mut().unwrap_or_else(|e| e.into_inner());
        for task in sockets.values().flatten() {
            task.abort();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, current: Arc<ArcSwap<PlanState>>, socket: TcpListener, addr: SocketAddr) {
    loop {
        let (tcp, peer) = match socket.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(%addr, "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = current.load_full();
        let Some(listener) = state.listeners.get(&addr).cloned() else {
            continue;
        };
        let config = listener.listener(&state.plan);
        let trusted = config
            .client_address
            .as_ref()
            .map(|c| c.value)
            .filter(|_| state.plan.trusts(config, peer.ip()));
        let accepted = match trusted {
            None => match phases::accept(&state, &listener, peer.ip()) {
                Some(zone) => conn::Accepted::Client(zone),
                None => continue,
            },
            // Read in the connection's task, so that a slow balancer does
            // not hold up the accept loop.
            Some(ClientAddress::ProxyProtocol) => conn::Accepted::ProxyHeader,
            // Admitted as a trusted proxy: its clients are not known until
            // their requests arrive, and each faces the checks then.
            Some(ClientAddress::XForwardedFor) => conn::Accepted::ForwardedFor,
        };
        let permit = match &listener.limit {
            Some(limit) => match limit.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    tracing::info!(listener = %listener.name, "connection limit reached; closing");
                    continue;
                }
            },
            None => None,
        };
        // On the runtime this accept loop runs on: a worker's, when there are workers.
        tokio::spawn(conn::serve(
            shared.clone(),
            state,
            listener,
            tcp,
            peer,
            accepted,
            permit,
        ));
    }
}
