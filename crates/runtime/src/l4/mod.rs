//! L4 VIPs: TCP and UDP listeners that balance connections (or flows) over
//! a pool, with the zone/ACL decision at accept.
//!
//! One socket is bound per address and port (a listener over a port range
//! gets one socket per port, as in HAProxy). Each socket reads its `Vip`
//! (the listener's configuration in the current plan) through an
//! `ArcSwap`, so a reload changes what new connections get without
//! touching the socket, and connections in flight keep the `Vip` they
//! started with.

pub mod proxy_protocol;
pub(crate) mod stream;
pub(crate) mod tcp;
pub(crate) mod udp;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use gatehouse_model::topology::Listener;
use gatehouse_model::Plan;
use socket2::{Domain, Protocol, Socket, Type};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::gate::Gate;
use crate::metrics::VipMetrics;
use crate::pool::Pool;
use crate::runtime::RuntimeOptions;

/// One listener of one plan, as the data path needs it.
#[derive(Debug)]
pub(crate) struct Vip {
    pub(crate) plan: Arc<Plan>,
    /// Index into `plan.topology.listeners`.
    pub(crate) index: usize,
    pub(crate) pool: Arc<Pool>,
    pub(crate) gate: Arc<Gate>,
    pub(crate) metrics: Arc<VipMetrics>,
}

impl Vip {
    pub(crate) fn listener(&self) -> &Listener {
        &self.plan.topology.listeners[self.index]
    }
}

/// What every VIP task shares with the runtime.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: RuntimeOptions,
    /// Every connection and flow task, for graceful shutdown.
    pub(crate) tracker: TaskTracker,
    /// Cancelled when shutdown starts: UDP VIPs stop opening flows.
    pub(crate) draining: CancellationToken,
    /// Cancelled when the shutdown deadline passes: everything closes.
    pub(crate) force: CancellationToken,
}

/// One open connection or flow on a VIP; counts in `active` until dropped.
pub(crate) struct VipSlot(Arc<VipMetrics>);

impl VipSlot {
    pub(crate) fn new(metrics: &Arc<VipMetrics>) -> VipSlot {
        metrics.active.fetch_add(1, Ordering::AcqRel);
        VipSlot(Arc::clone(metrics))
    }
}

impl Drop for VipSlot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.slot_freed.notify_waiters();
    }
}

/// A listening TCP socket: SO_REUSEADDR so a restart does not wait out
/// TIME_WAIT, IPv6 sockets v6-only so `::` and `0.0.0.0` can coexist.
pub(crate) fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    // The kernel caps this at net.core.somaxconn.
    socket.listen(4096)?;
    Ok(socket.into())
}

pub(crate) fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}
