//! Member health as the DNS server sees it.
//!
//! The server only asks [`MemberHealth::is_up`] while it builds answers, and
//! rebuilds when told that health changed ([`crate::DnsServer::refresh_health`]).
//! The runtime's health registry implements the trait in production;
//! [`TcpHealthChecker`] is a self-contained implementation that runs real
//! TCP-connect checks against the members of DNS-balanced pools, with each
//! pool's own interval, timeout, rise and fall.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use gatehouse_model::Plan;

/// Whether a pool member may be handed out. `member` indexes the pool's
/// `members` as written in the topology.
pub trait MemberHealth: Send + Sync {
    fn is_up(&self, pool: &str, member: usize) -> bool;
}

/// Every member is up: for servers without health checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllUp;

impl MemberHealth for AllUp {
    fn is_up(&self, _pool: &str, _member: usize) -> bool {
        true
    }
}

type Callback = Arc<dyn Fn() + Send + Sync>;

struct Member {
    pool: String,
    index: usize,
    target: SocketAddr,
    up: AtomicBool,
}

/// TCP-connect health checks for the members of DNS-balanced pools.
///
/// A member starts up (so a fresh server answers with every member), goes
/// down after `fall` consecutive failed connects and comes back after
/// `rise` consecutive successes. Members given by name, or without a port
/// to check, are never checked and stay up. Checks run on a thread of their
/// own until [`stop`](Self::stop) or drop.
pub struct TcpHealthChecker {
    members: HashMap<(String, usize), Arc<Member>>,
    on_change: Arc<RwLock<Option<Callback>>>,
    stop: Arc<tokio::sync::Notify>,
    stopped: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl TcpHealthChecker {
    /// Starts checking every member of `plan`'s DNS-balanced pools.
    pub fn start(plan: &Plan) -> std::io::Result<Arc<TcpHealthChecker>> {
        let mut members = HashMap::new();
        let mut jobs = Vec::new();
        for pool in plan.topology.pools.iter().filter(|p| p.dns_balanced) {
            let Some(check) = &pool.health else { continue };
            for (i, m) in pool.members.iter().enumerate() {
                let Ok(ip) = m.host.value.parse::<IpAddr>() else {
                    continue;
                };
                let Some(port) = check.port.as_ref().or(m.port.as_ref()).map(|p| p.value) else {
                    continue;
                };
                let member = Arc::new(Member {
                    pool: pool.name.value.clone(),
                    index: i,
                    target: SocketAddr::new(ip, port),
                    up: AtomicBool::new(true),
                });
                members.insert((member.pool.clone(), i), member.clone());
                jobs.push((
                    member,
                    check.interval.value,
                    check.timeout.value,
                    check.rise.value.max(1),
                    check.fall.value.max(1),
                ));
            }
        }
        let on_change: Arc<RwLock<Option<Callback>>> = Arc::default();
        let stop = Arc::new(tokio::sync::Notify::new());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (cb, st) = (on_change.clone(), stop.clone());
        let thread = std::thread::Builder::new().name("dns-health".into()).spawn(move || {
            rt.block_on(async move {
                let mut tasks = tokio::task::JoinSet::new();
                for (m, interval, timeout, rise, fall) in jobs {
                    tasks.spawn(check_loop(m, interval, timeout, rise, fall, cb.clone()));
                }
                st.notified().await;
                tasks.abort_all();
            });
        })?;
        Ok(Arc::new(TcpHealthChecker {
            members,
            on_change,
            stop,
            stopped: AtomicBool::new(false),
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// Called (from the checker's thread) whenever a member goes up or down.
    pub fn on_change(&self, f: impl Fn() + Send + Sync + 'static) {
        *self.on_change.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(f));
    }

    /// Stops the checks; states stay as they were last seen.
    pub fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            self.stop.notify_one();
            if let Some(t) = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for TcpHealthChecker {
    fn drop(&mut self) {
        self.stop();
    }
}

impl MemberHealth for TcpHealthChecker {
    fn is_up(&self, pool: &str, member: usize) -> bool {
        self.members
            .get(&(pool.to_string(), member))
            .is_none_or(|m| m.up.load(Ordering::Acquire))
    }
}

async fn check_loop(
    m: Arc<Member>,
    interval: Duration,
    timeout: Duration,
    rise: u32,
    fall: u32,
    on_change: Arc<RwLock<Option<Callback>>>,
) {
    let (mut ok_run, mut fail_run) = (0u32, 0u32);
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let ok = matches!(
            tokio::time::timeout(timeout, tokio::net::TcpStream::connect(m.target)).await,
            Ok(Ok(_))
        );
        if ok {
            ok_run += 1;
            fail_run = 0;
        } else {
            fail_run += 1;
            ok_run = 0;
        }
        let was = m.up.load(Ordering::Acquire);
        let now = if was { fail_run < fall } else { ok_run >= rise };
        if now != was {
            m.up.store(now, Ordering::Release);
            tracing::info!(pool = %m.pool, member = m.index, target = %m.target, up = now, "DNS pool member health changed");
            let cb = on_change.read().unwrap_or_else(PoisonError::into_inner).clone();
            if let Some(cb) = cb {
                cb();
            }
        }
    }
}
