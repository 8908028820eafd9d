//! Sockets around the [`Engine`]: the UDP fast path and DNS over TCP.
//!
//! UDP: per listen address, one socket served by one plain thread per core:
//! each reads a batch of queries (`recvmmsg` on Linux), answers each, and
//! sends the batch (`sendmmsg`). No task, no allocation, no lock per query;
//! each thread keeps its own cached snapshot and counters. This is what lets
//! precomputed answers pay off. The threads share the socket rather than
//! binding one each with SO_REUSEPORT: the kernel then gives each datagram
//! to whichever thread is waiting, so the load spreads even when a few
//! resolvers send everything (SO_REUSEPORT hashes by flow and left a core
//! idle with 8 flows in bench/dns), and no other process can bind the port
//! beside us and take a share of the queries.
//!
//! TCP: one thread running a small tokio runtime; connections are capped
//! (`tcp_max_connections`), idle ones are closed (`tcp_idle_timeout`), and
//! queries on one connection are answered in order. A query that the engine
//! drops (gateway ACL, garbage) closes the connection.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use gatehouse_model::topology::Transport;
use gatehouse_model::Plan;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::DnsConfig;
use crate::engine::{Engine, PreparedData, Verdict, Worker};
use crate::health::MemberHealth;
use crate::stats::DnsStats;
use crate::DnsError;

/// How often a blocked UDP worker wakes to see whether to stop.
const UDP_POLL: Duration = Duration::from_millis(200);

/// A running authoritative DNS server. Cheap to clone; every clone controls
/// the same server, which stops on [`shutdown`](Self::shutdown) or when the
/// last clone is dropped.
#[derive(Clone)]
pub struct DnsServer {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    /// The listen addresses as written (port 0 included), in order.
    listen: Vec<SocketAddr>,
    local: Vec<SocketAddr>,
    /// A copy of each address's sockets, by `listen` index, so that a
    /// server replacing this one on reload can serve them too. Emptied on
    /// shutdown, so that the ports are free once it returns.
    sockets: Mutex<Vec<(UdpSocket, std::net::TcpListener)>>,
    stop: Arc<AtomicBool>,
    tcp_stop: tokio::sync::watch::Sender<bool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A server bound and compiled but not serving yet: [`DnsServer::prepare`]
/// makes it, [`serve`](Self::serve) starts it, and dropping it closes what
/// it bound and leaves everything else as it was.
pub struct PreparedServer {
    /// One per thread; each waits for its word before serving, and a
    /// dropped sender tells it to end. Dropped before `server`, whose
    /// drop waits for those threads.
    go: Vec<std::sync::mpsc::Sender<()>>,
    server: DnsServer,
    /// The server this one replaces, whose query counters carry over.
    replaces: Option<DnsServer>,
}

impl std::fmt::Debug for PreparedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedServer")
            .field("listen", &self.server.inner.listen)
            .finish_non_exhaustive()
    }
}

impl PreparedServer {
    /// Starts serving. Cannot fail: the sockets are bound and the threads
    /// running, waiting for this.
    pub fn serve(self) -> DnsServer {
        if let Some(old) = &self.replaces {
            self.server.inner.engine.carry_stats_from(&old.inner.engine);
        }
        for go in &self.go {
            let _ = go.send(());
        }
        self.server.clone()
    }
}

impl DnsServer {
    /// Starts serving `plan`'s views on UDP and TCP at every address in
    /// `listen` (port 0 picks a free port, the same for UDP and TCP; see
    /// [`local_addrs`](Self::local_addrs)), with the settings of the plan's
    /// `[dns]` section ([`DnsConfig::from_plan`]).
    /// Every socket is bound before this returns.
    pub fn start(plan: Arc<Plan>, health: Arc<dyn MemberHealth>, listen: &[SocketAddr]) -> Result<DnsServer, DnsError> {
        let config = DnsConfig::from_plan(&plan);
        DnsServer::start_with(plan, health, listen, config)
    }

    /// [`start`](Self::start) with explicit settings.
    pub fn start_with(
        plan: Arc<Plan>,
        health: Arc<dyn MemberHealth>,
        listen: &[SocketAddr],
        config: DnsConfig,
    ) -> Result<DnsServer, DnsError> {
        Ok(DnsServer::prepare(plan, health, listen, config, None)?.serve())
    }

    /// Compiles `plan`'s views and binds every address in `listen`, ready
    /// to [`serve`](PreparedServer::serve). With `replaces`, the addresses
    /// that server also listens on are not bound again but shared with it
    /// (both serve them until it is shut down), so that a reload that
    /// changes the listen addresses drops no query on the ones it keeps.
    pub fn prepare(
        plan: Arc<Plan>,
        health: Arc<dyn MemberHealth>,
        listen: &[SocketAddr],
        config: DnsConfig,
        replaces: Option<&DnsServer>,
    ) -> Result<PreparedServer, DnsError> {
        let workers = match config.udp_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let tcp_shard = workers * listen.len();
        let engine = Arc::new(Engine::new(plan, health, config.clone(), tcp_shard + 1)?);
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        let mut local = Vec::new();
        let mut sockets = Vec::new();
        for addr in listen {
            let shared = replaces.and_then(|old| old.shared_sockets(*addr));
            let io_error = |e| DnsError::Io(*addr, e);
            let (first, listener, bound) = match shared {
                Some(Ok(s)) => s,
                Some(Err(e)) => return Err(io_error(e)),
                None => bind(*addr).map_err(io_error)?,
            };
            let mut socks = Vec::new();
            for _ in 1..workers {
                socks.push(first.try_clone().map_err(io_error)?);
            }
            sockets.push((
                first.try_clone().map_err(io_error)?,
                listener.try_clone().map_err(io_error)?,
            ));
            socks.push(first);
            udp.push(socks);
            tcp.push(listener);
            local.push(bound);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (tcp_stop, tcp_rx) = tokio::sync::watch::channel(false);
        let mut threads = Vec::new();
        let mut go = Vec::new();
        // Whatever fails below drops `go`, which ends the threads started.
        for (li, socks) in udp.into_iter().enumerate() {
            for (wi, sock) in socks.into_iter().enumerate() {
                let (engine, stop) = (engine.clone(), stop.clone());
                let shard = li * workers + wi;
                let (tell, wait) = std::sync::mpsc::channel::<()>();
                let t = std::thread::Builder::new()
                    .name(format!("dns-udp-{shard}"))
                    .spawn(move || {
                        if wait.recv().is_ok() {
                            udp_loop(sock, &engine, shard, &stop)
                        }
                    })
                    .map_err(|e| DnsError::Io(local[li], e))?;
                go.push(tell);
                threads.push(t);
            }
        }
        let io_error = |e| DnsError::Io(local.first().copied().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))), e);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io_error)?;
        let eng = engine.clone();
        let (tell, wait) = std::sync::mpsc::channel::<()>();
        let t = std::thread::Builder::new()
            .name("dns-tcp".into())
            .spawn(move || {
                if wait.recv().is_ok() {
                    rt.block_on(tcp_main(tcp, eng, config, tcp_shard, tcp_rx))
                }
            })
            .map_err(io_error)?;
        go.push(tell);
        threads.push(t);
        Ok(PreparedServer {
            go,
            server: DnsServer {
                inner: Arc::new(Inner {
                    engine,
                    listen: listen.to_vec(),
                    local,
                    sockets: Mutex::new(sockets),
                    stop,
                    tcp_stop,
                    threads: Mutex::new(threads),
                }),
            },
            replaces: replaces.cloned(),
        })
    }

    /// Copies of this server's sockets for listen address `addr` as
    /// written; `None` when it does not listen there.
    fn shared_sockets(&self, addr: SocketAddr) -> Option<io::Result<(UdpSocket, std::net::TcpListener, SocketAddr)>> {
        let i = self.inner.listen.iter().position(|a| *a == addr)?;
        let sockets = self.inner.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let (udp, tcp) = sockets.get(i)?;
        Some((|| Ok((udp.try_clone()?, tcp.try_clone()?, self.inner.local[i])))())
    }

    /// The listen addresses as written, in order.
    pub fn listen(&self) -> &[SocketAddr] {
        &self.inner.listen
    }

    /// The addresses actually bound, in `listen` order.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.inner.local
    }

    /// Atomically replaces the zone data and settings with `plan`'s. Queries
    /// see the old data or the new, never a mix. On error the old data stays.
    /// The listen sockets (and the TCP limits) are not changed.
    pub fn reload(&self, plan: Arc<Plan>) -> Result<(), DnsError> {
        let config = DnsConfig::from_plan(&plan);
        self.inner.engine.reload(plan, Some(config))
    }

    /// [`reload`](Self::reload) with new settings (all but the socket
    /// settings `udp_workers` and the TCP limits take effect).
    pub fn reload_with(&self, plan: Arc<Plan>, config: DnsConfig) -> Result<(), DnsError> {
        self.inner.engine.reload(plan, Some(config))
    }

    /// The first half of [`reload`](Self::reload): `plan`'s views compiled
    /// beside the ones in service.
    pub fn prepare_reload(&self, plan: Arc<Plan>) -> Result<PreparedData, DnsError> {
        let config = DnsConfig::from_plan(&plan);
        self.inner.engine.prepare(plan, Some(config))
    }

    /// The second half: the prepared views answer from here on.
    pub fn commit_reload(&self, prepared: PreparedData) {
        self.inner.engine.commit(prepared)
    }

    /// Tells the server that member health may have changed: DNS-balanced
    /// answers are rebuilt (and swapped in atomically) if it did. Cheap when
    /// nothing changed. Returns whether the answers changed.
    pub fn refresh_health(&self) -> bool {
        self.inner.engine.refresh_health()
    }

    /// Query counters since start (carried across reloads).
    pub fn stats(&self) -> DnsStats {
        self.inner.engine.stats()
    }

    /// Gateway ACL decisions on port 53 since the last reload, per rule and
    /// then the implicit deny. One decision per UDP query and per TCP query.
    pub fn acl_hits(&self) -> Vec<u64> {
        self.inner.engine.acl_hits()
    }

    /// Warnings about the current data (also logged at start and reload).
    pub fn warnings(&self) -> Vec<String> {
        self.inner.engine.current().load().compiled.warnings.clone()
    }

    /// Stops serving and waits for the server's threads to end (about
    /// 200 ms). Idempotent.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.tcp_stop.send(true);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds a UDP socket and a TCP listener on the same port.
fn bind(addr: SocketAddr) -> io::Result<(UdpSocket, std::net::TcpListener, SocketAddr)> {
    let mut last = None;
    // With port 0 the kernel picks a UDP port that may be taken for TCP;
    // try a few.
    for _ in 0..if addr.port() == 0 { 20 } else { 1 } {
        let first = udp_socket(addr)?;
        let bound = first.local_addr()?;
        match tcp_listener(bound) {
            Ok(l) => return Ok((first, l, bound)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port")))
}

fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() && !addr.ip().is_unspecified() {
        s.set_only_v6(true)?;
    }
    // A burst must not overflow the queue while a worker is busy; the
    // kernel caps this at net.core.rmem_max, so failure is not an error.
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&addr.into())?;
    s.set_read_timeout(Some(UDP_POLL))?;
    Ok(s.into())
}

fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() && !addr.ip().is_unspecified() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// The UDP fast path on Linux: batches of queries per system call.
#[cfg(target_os = "linux")]
fn udp_loop(sock: UdpSocket, engine: &Engine, shard: usize, stop: &AtomicBool) {
    let mut batch = crate::batch::Batch::default();
    let mut w = Worker::new(shard);
    let port = sock.local_addr().map_or(53, |a| a.port());
    let mut cache = arc_swap::Cache::new(engine.current());
    while !stop.load(Ordering::Relaxed) {
        let n = match batch.recv(&sock) {
            Ok(n) => n,
            // Timeouts (to look at `stop`) and ICMP errors from earlier
            // sends surface here; keep serving.
            Err(_) => continue,
        };
        let snap = cache.load();
        for i in 0..n {
            let mut out = std::mem::take(&mut batch.tx[i]);
            out.clear();
            let (msg, src) = batch.datagram(i);
            // Port 0 cannot be answered; such packets are forged.
            if let Some(src) = src.filter(|s| s.port() != 0) {
                if engine.respond(snap, &mut w, msg, src.ip(), Transport::Udp, port, &mut out) == Verdict::Drop {
                    out.clear();
                }
            }
            batch.tx[i] = out;
        }
        batch.send(&sock, n);
    }
}

/// The portable UDP path: one query per system call.
#[cfg(not(target_os = "linux"))]
fn udp_loop(sock: UdpSocket, engine: &Engine, shard: usize, stop: &AtomicBool) {
    let mut buf = [0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    let mut w = Worker::new(shard);
    let port = sock.local_addr().map_or(53, |a| a.port());
    let mut cache = arc_swap::Cache::new(engine.current());
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, src)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if src.port() == 0 {
            continue;
        }
        let snap = cache.load();
        if engine.respond(snap, &mut w, &buf[..n], src.ip(), Transport::Udp, port, &mut out) == Verdict::Send {
            let _ = sock.send_to(&out, src);
        }
    }
}

async fn tcp_main(
    listeners: Vec<std::net::TcpListener>,
    engine: Arc<Engine>,
    config: DnsConfig,
    shard: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let limit = Arc::new(tokio::sync::Semaphore::new(config.tcp_max_connections.max(1)));
    let rotation = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        let Ok(l) = tokio::net::TcpListener::from_std(l) else {
            continue;
        };
        let (engine, limit, rotation, mut stop) = (engine.clone(), limit.clone(), rotation.clone(), stop.clone());
        let idle = config.tcp_idle_timeout;
        tasks.spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = l.accept() => {
                        let Ok((stream, src)) = accepted else { continue };
                        // Over the cap: close at once rather than queue.
                        let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
                        let w = Worker::with_rotation(shard, rotation.fetch_add(1, Ordering::Relaxed));
                        let engine = engine.clone();
                        conns.spawn(async move {
                            tcp_conn(stream, src, &engine, w, idle).await;
                            drop(permit);
                        });
                        while conns.try_join_next().is_some() {}
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    let mut stop = stop;
    let _ = stop.wait_for(|s| *s).await;
    tasks.abort_all();
}

async fn tcp_conn(mut stream: tokio::net::TcpStream, src: SocketAddr, engine: &Engine, mut w: Worker, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let port = stream.local_addr().map_or(53, |a| a.port());
    let mut buf = Vec::new();
    let mut out = Vec::with_capacity(4096);
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        match tokio::time::timeout(idle, stream.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let snap = engine.current().load_full();
        if engine.respond(&snap, &mut w, &buf, src.ip(), Transport::Tcp, port, &mut out) == Verdict::Drop {
            return;
        }
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&(out.len() as u16).to_be_bytes());
        framed.extend_from_slice(&out);
        if !matches!(tokio::time::timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
    }
}
