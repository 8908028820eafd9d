//! UDP VIPs (STUN/TURN on 3478): a flow table keyed by client address.
//!
//! - The first datagram from a new client address is decided by the gate
//!   (zone and ACL) and, if allowed, opens a flow: a member is picked and a
//!   socket connected to it. Later datagrams from that client go to the
//!   same member: each client sticks to one member.
//! - Replies from the member are sent back through the VIP's own socket,
//!   so the client sees them come from the address it talked to.
//! - A flow with no datagram either way for the listener's `idle_timeout`
//!   expires and releases its member. A flow whose member goes down moves
//!   to another member on its next datagram; an ICMP port-unreachable from
//!   the member counts as a failed connect (passive health).
//! - Flows per VIP are capped by the listener's `max_connections`, or by
//!   [`RuntimeOptions::udp_max_flows`](crate::RuntimeOptions) when unset:
//!   each flow holds a socket, and file descriptors are finite.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use gatehouse_model::topology::Transport;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{Shared, Vip, VipSlot};
use crate::health::Status;
use crate::metrics::VipMetrics;
use crate::pool::{MemberGuard, PickContext};
use crate::time::{instant_of, now_nanos};

/// The largest datagram relayed.
const MAX_DATAGRAM: usize = 65_536;

type Flows = Mutex<HashMap<SocketAddr, Arc<Flow>>>;

struct Flow {
    upstream: UdpSocket,
    guard: MemberGuard,
    vip: Arc<Vip>,
    last: AtomicU64,
    closed: CancellationToken,
    _slot: VipSlot,
}

impl Flow {
    fn touch(&self) {
        self.last.store(now_nanos(), Ordering::Relaxed);
    }
}

/// Receives on one VIP socket until `stop` (reload removed it) or the end
/// of a shutdown; relays datagrams of existing flows meanwhile.
pub(crate) async fn recv_loop(socket: UdpSocket, vip: Arc<ArcSwap<Vip>>, shared: Arc<Shared>, stop: CancellationToken) {
    let socket = Arc::new(socket);
    let flows: Arc<Flows> = Arc::new(Mutex::new(HashMap::new()));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, client) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                // An ICMP error for an earlier send_to, reported here: not fatal.
                Err(_) => continue,
            },
            _ = stop.cancelled() => break,
            _ = shared.force.cancelled() => break,
        };
        let existing = flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&client)
            .cloned();
        let flow = match existing {
            Some(f) if f.guard.member().status() != Status::Down => f,
            stale => {
                if let Some(old) = stale {
                    // Its member went down: close it and place the client anew.
                    old.closed.cancel();
                    remove(&flows, client, &old);
                }
                if shared.draining.is_cancelled() {
                    continue;
                }
                match open(&socket, &flows, client, vip.load_full(), &shared) {
                    Some(f) => f,
                    None => continue,
                }
            }
        };
        flow.touch();
        // A direct non-blocking send: tokio's `try_send` reports WouldBlock
        // on a socket the reactor has not yet seen writable, which would
        // drop every flow's first datagram.
        match socket2::SockRef::from(&flow.upstream).send(&buf[..n]) {
            Ok(sent) => {
                VipMetrics::add(&flow.vip.metrics.bytes_in, sent as u64);
                flow.guard.metrics().bytes_in.fetch_add(sent as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                flow.guard.connect_failed("ICMP port unreachable");
                flow.closed.cancel();
                remove(&flows, client, &flow);
            }
            // A full send buffer drops the datagram, as the network would.
            Err(_) => {}
        }
    }
    // Stopping: close every flow.
    for (_, f) in flows.lock().unwrap_or_else(PoisonError::into_inner).drain() {
        f.closed.cancel();
    }
}

/// Decides, picks and opens a flow for a new client.
fn open(
    socket: &Arc<UdpSocket>,
    flows: &Arc<Flows>,
    client: SocketAddr,
    vip: Arc<Vip>,
    shared: &Arc<Shared>,
) -> Option<Arc<Flow>> {
    let local = socket.local_addr().ok()?;
    let listener = vip.listener();
    let admission = vip.gate.admit(listener, client.ip(), Transport::Udp, local.port());
    if !admission.is_allowed() {
        VipMetrics::add(&vip.metrics.denied, 1);
        return None;
    }
    let limit = listener
        .max_connections
        .map_or(shared.options.udp_max_flows, |m| m as usize);
    if flows.lock().unwrap_or_else(PoisonError::into_inner).len() >= limit {
        VipMetrics::add(&vip.metrics.over_limit, 1);
        tracing::debug!(listener = %listener.name.value, %client, limit, "flow table full; datagram dropped");
        return None;
    }
    let mut tried = Vec::new();
    let (upstream, guard) = loop {
        let ctx = PickContext {
            exclude: &tried,
            ..PickContext::new(client.ip())
        };
        let Some(guard) = vip.pool.pick(&ctx) else {
            VipMetrics::add(&vip.metrics.no_member, 1);
            tracing::warn!(listener = %listener.name.value, %client, "no member available");
            return None;
        };
        match connect(guard.addr(local.port())) {
            Ok(s) => break (s, guard),
            Err(e) => {
                VipMetrics::add(&vip.metrics.connect_errors, 1);
                guard.connect_failed(&e.to_string());
                tried.push(guard.index());
                if tried.len() >= shared.options.connect_attempts.max(1) as usize {
                    return None;
                }
            }
        }
    };
    guard.connect_succeeded();
    VipMetrics::add(&vip.metrics.connections, 1);
    let flow = Arc::new(Flow {
        upstream,
        _slot: VipSlot::new(&vip.metrics),
        guard,
        vip,
        last: AtomicU64::new(now_nanos()),
        closed: CancellationToken::new(),
    });
    flows
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(client, Arc::clone(&flow));
    shared.tracker.spawn(relay_replies(
        Arc::clone(socket),
        Arc::clone(flows),
        client,
        Arc::clone(&flow),
        Arc::clone(shared),
    ));
    Some(flow)
}

/// A socket connected to the member, from an ephemeral port.
fn connect(member: SocketAddr) -> io::Result<UdpSocket> {
    let any = match member.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let s = std::net::UdpSocket::bind(SocketAddr::new(any, 0))?;
    s.connect(member)?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

/// Member → client through the VIP socket, until the flow idles out or is
/// closed.
async fn relay_replies(
    vip_socket: Arc<UdpSocket>,
    flows: Arc<Flows>,
    client: SocketAddr,
    flow: Arc<Flow>,
    shared: Arc<Shared>,
) {
    let idle = flow.vip.listener().idle_timeout.value;
    let idle_nanos = idle.as_nanos() as u64;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let timer = tokio::time::sleep(idle);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            r = flow.upstream.recv(&mut buf) => match r {
                Ok(n) => {
                    flow.touch();
                    if vip_socket.send_to(&buf[..n], client).await.is_ok() {
                        VipMetrics::add(&flow.vip.metrics.bytes_out, n as u64);
                        flow.guard.metrics().bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    flow.guard.connect_failed("ICMP port unreachable");
                    break;
                }
                Err(_) => break,
            },
            _ = &mut timer => {
                let deadline = flow.last.load(Ordering::Relaxed) + idle_nanos;
                if now_nanos() >= deadline {
                    VipMetrics::add(&flow.vip.metrics.idle_timeouts, 1);
                    tracing::debug!(listener = %flow.vip.listener().name.value, %client, "flow expired");
                    break;
                }
                timer.as_mut().reset(instant_of(deadline).into());
            }
            _ = flow.closed.cancelled() => break,
            _ = shared.force.cancelled() => break,
        }
    }
    remove(&flows, client, &flow);
}

/// Removes `client`'s flow if it is still `flow` (not a newer one).
fn remove(flows: &Flows, client: SocketAddr, flow: &Arc<Flow>) {
    let mut map = flows.lock().unwrap_or_else(PoisonError::into_inner);
    if map.get(&client).is_some_and(|f| Arc::ptr_eq(f, flow)) {
        map.remove(&client);
    }
}
