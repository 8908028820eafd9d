//! Helpers for the runtime's socket tests: free ports, test topologies,
//! backends that say who they are, and clients bound to chosen source
//! addresses (all of 127.0.0.0/8 is local, so a client can come from
//! 127.0.0.2 to land in a "partners" zone).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod http;

use gatehouse_model::Plan;
use gatehouse_runtime::{PassiveHealth, Runtime, RuntimeOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A port free on `ip` for both TCP and UDP right now, chosen below the
/// kernel's ephemeral range: outgoing connections take ephemeral ports, and
/// a backend restarted on a port some client socket has taken since would
/// fail to bind.
pub fn free_port(ip: IpAddr) -> u16 {
    free_range(ip, 1)
}

/// `n` consecutive ports free for TCP and UDP on `ip`.
pub fn free_range(ip: IpAddr, n: u16) -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32768);
    let (base, span) = (10_000usize, low.saturating_sub(10_000).max(1000));
    if NEXT.load(Ordering::Relaxed) == 0 {
        let seed = std::process::id() as usize * 7919
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() as usize);
        let _ = NEXT.compare_exchange(0, seed % span + 1, Ordering::Relaxed, Ordering::Relaxed);
    }
    loop {
        let first = (base + NEXT.fetch_add(n as usize, Ordering::Relaxed) % span) as u16;
        let ok = (first..first.saturating_add(n))
            .all(|p| std::net::TcpListener::bind((ip, p)).is_ok() && std::net::UdpSocket::bind((ip, p)).is_ok());
        if ok && first.checked_add(n).is_some() {
            return first;
        }
    }
}

/// Compiles a topology, failing the test with its diagnostics.
pub fn plan(text: &str) -> Arc<Plan> {
    let checked = gatehouse_model::check(text);
    match checked.plan {
        Some(p) => Arc::new(p),
        None => panic!("test topology invalid: {:#?}\n{text}", checked.diagnostics),
    }
}

/// A topology with one pool and one tcp VIP on `vip`, reachable from the
/// internet zone (everything but 127.0.0.2, which is "partners").
/// `pool_extra` goes into the pool table (algorithm, health...), `members`
/// is the TOML array's contents.
pub fn topology(vip: SocketAddr, members: &str, pool_extra: &str, listener_extra: &str) -> String {
    format!(
        r#"
[gatehouse]
name = "test"

[zones.internet]
[zones.partners]
prefixes = ["127.0.0.2/32"]

[services.mail]
product = "exchange"
class = "exchange-mail"

[pools.p]
service = "mail"
members = [{members}]
{pool_extra}

[listeners.vip]
address = "{}"
port = {}
protocol = "tcp"
zones = ["internet"]
pool = "p"
{listener_extra}

[[acl]]
name = "vip-from-internet"
action = "allow"
from = ["internet"]
protocol = "tcp"
ports = [{}]
"#,
        vip.ip(),
        vip.port(),
        vip.port()
    )
}

/// Options with short passive ejections, so tests need not wait 10 s.
pub fn options() -> RuntimeOptions {
    RuntimeOptions {
        connect_timeout: Duration::from_secs(2),
        passive: PassiveHealth {
            failures: 1,
            base_ejection: Duration::from_secs(2),
            max_ejection: Duration::from_secs(4),
        },
        ..RuntimeOptions::default()
    }
}

pub fn start(text: &str) -> Runtime {
    init_logs();
    Runtime::start_with(plan(text), options()).expect("runtime starts")
}

/// A TCP backend that writes its name and a newline, then echoes, passing
/// on a half-close. `kill` resets every open connection and stops
/// listening, like a crashed server.
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    kill: Arc<Notify>,
    task: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Backend {
    pub async fn start(name: &str, addr: SocketAddr) -> Backend {
        let listener = bind_reusable(addr);
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let kill = Arc::new(Notify::new());
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let task = {
            let (name, accepted, kill, conns) = (name.to_string(), accepted.clone(), kill.clone(), conns.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = listener.accept().await else {
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let (name, kill) = (name.clone(), kill.clone());
                    let h = tokio::spawn(async move {
                        let echo = async {
                            s.write_all(format!("{name}\n").as_bytes()).await?;
                            let mut buf = vec![0u8; 16384];
                            loop {
                                let n = s.read(&mut buf).await?;
                                if n == 0 {
                                    s.shutdown().await?;
                                    return Ok::<_, std::io::Error>(());
                                }
                                s.write_all(&buf[..n]).await?;
                            }
                        };
                        tokio::select! {
                            _ = echo => {}
                            _ = kill.notified() => {
                                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                            }
                        }
                    });
                    conns.lock().unwrap().push(h);
                }
            })
        };
        Backend {
            name: name.to_string(),
            addr,
            accepted,
            kill,
            task,
            conns,
        }
    }

    /// Stops listening and resets every open connection.
    pub async fn kill(&self) {
        self.task.abort();
        self.kill.notify_waiters();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

pub fn bind_reusable(addr: SocketAddr) -> TcpListener {
    let s = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_nonblocking(true).unwrap();
    s.bind(&addr.into()).unwrap();
    s.listen(1024).unwrap();
    TcpListener::from_std(s.into()).unwrap()
}

/// Connects to `to` from source address `from`.
pub async fn connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if from.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Let connect() choose the port knowing the destination, as it does
    // without a bind: a port chosen at bind time can collide with one of
    // the test's own TIME_WAIT connections to the same VIP.
    if from.is_ipv4() {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt reads an int from a valid pointer of that size.
        unsafe {
            use std::os::fd::AsRawFd;
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// Connects and reads the backend's name line.
pub async fn who(from: IpAddr, vip: SocketAddr) -> (String, BufReader<TcpStream>) {
    let s = connect_from(from, vip).await.expect("connect to the VIP");
    let mut r = BufReader::new(s);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
        .await
        .expect("a backend answers within 5s")
        .expect("read the backend's name");
    assert!(line.ends_with('\n'), "no backend answered: got {line:?}");
    line.pop();
    (line, r)
}

/// Counts how many of `n` sequential connections each backend took.
pub async fn distribution(from: IpAddr, vip: SocketAddr, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let (name, _) = who(from, vip).await;
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

/// Waits until `f` holds, failing after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// A TCP connection that the peer reset reads as ECONNRESET (or EOF when
/// the RST raced the close); this says which.
pub async fn read_outcome(s: &mut (impl AsyncReadExt + Unpin)) -> Result<usize, std::io::ErrorKind> {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.kind()),
        Err(_) => Err(std::io::ErrorKind::TimedOut),
    }
}
