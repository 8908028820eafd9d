//! TCP VIPs: accept, learn the client (a trusted load balancer's PROXY
//! header, or the peer itself), decide (zone and ACL), pick and connect
//! (retrying other members), optionally send a PROXY header, then stream.
//!
//! `max_connections` on a listener works like HAProxy's `maxconn`: at the
//! limit the VIP stops accepting and new clients wait in the kernel's
//! backlog until a connection closes, instead of being refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_model::topology::{ClientAddress, ProxyProtocol, Transport};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::stream::{self, Counters, Ending};
use super::{proxy_protocol, Shared, Vip, VipSlot};
use crate::metrics::VipMetrics;
use crate::pool::{MemberGuard, PickContext};

/// Accepts on one socket until `stop` is cancelled (reload removed the
/// socket, or shutdown began).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    bound: SocketAddr,
    vip: Arc<ArcSwap<Vip>>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    loop {
        let limit = {
            let current = vip.load();
            let max = current.listener().max_connections;
            max.map(|max| (max, Arc::clone(&current.metrics)))
        };
        if let Some((max, metrics)) = limit {
            loop {
                let freed = metrics.slot_freed.notified();
                tokio::pin!(freed);
                freed.as_mut().enable();
                if metrics.active.load(std::sync::atomic::Ordering::Acquire) < u64::from(max) {
                    break;
                }
                tokio::select! {
                    _ = freed => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.cancelled() => return,
        };
        match accepted {
            Ok((client, peer)) => {
                // The listener's configuration as of this accept.
                let current = vip.load_full();
                let slot = VipSlot::new(&current.metrics);
                let shared2 = Arc::clone(&shared);
                shared.tracker.spawn(serve(client, peer, bound, current, shared2, slot));
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of
                // spinning; the backlog keeps the clients meanwhile.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One client connection, from accept to close.
async fn serve(
    mut client: TcpStream,
    peer: SocketAddr,
    bound: SocketAddr,
    vip: Arc<Vip>,
    shared: Arc<Shared>,
    _slot: VipSlot,
) {
    // The address the client connected to: the bound one, unless the
    // socket listens on a wildcard address (saves a syscall per connection).
    let local = if bound.ip().is_unspecified() {
        match client.local_addr() {
            Ok(a) => a,
            Err(_) => return,
        }
    } else {
        bound
    };
    let listener = vip.listener();
    // accept: who the client is, then zone and ACL. Only a trusted peer's
    // header is read; anyone else is decided before a byte is read.
    let Some(origin) = client_of(&vip, &mut client, peer).await else {
        VipMetrics::add(&vip.metrics.bad_proxy_headers, 1);
        stream::reset(&client);
        return;
    };
    let admission = vip.gate.admit(listener, origin.ip(), Transport::Tcp, local.port());
    if !admission.is_allowed() {
        VipMetrics::add(&vip.metrics.denied, 1);
        stream::reset(&client);
        return;
    }
    VipMetrics::add(&vip.metrics.connections, 1);
    // pick + connect, retrying other members; source hashing follows the client.
    let Some((backend, guard)) = connect(&vip, &shared, origin, local).await else {
        VipMetrics::add(&vip.metrics.no_member, 1);
        tracing::warn!(listener = %listener.name.value, client = %origin, %peer, "no member available");
        stream::reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = backend.set_nodelay(true);
    if let Some(version) = listener.proxy_protocol {
        let header = match version {
            ProxyProtocol::V1 => proxy_protocol::v1(origin, local).into_bytes(),
            ProxyProtocol::V2 => proxy_protocol::v2(origin, local, Transport::Tcp),
        };
        if stream::write_all(&backend, &header).await.is_err() {
            VipMetrics::add(&vip.metrics.resets, 1);
            stream::reset(&client);
            return;
        }
    }
    // forward.
    let m = guard.metrics();
    let counters = Counters {
        vip_in: &vip.metrics.bytes_in,
        vip_out: &vip.metrics.bytes_out,
        member_in: &m.bytes_in,
        member_out: &m.bytes_out,
    };
    let idle = listener.idle_timeout.value;
    let ending = stream::forward(
        &client,
        &backend,
        idle,
        shared.options.buffer_size,
        &counters,
        shared.force.cancelled(),
    )
    .await;
    match ending {
        Ending::IdleTimeout => VipMetrics::add(&vip.metrics.idle_timeouts, 1),
        Ending::ClientReset | Ending::BackendReset => VipMetrics::add(&vip.metrics.resets, 1),
        Ending::Closed | Ending::Shutdown => {}
    }
    tracing::debug!(
        listener = %listener.name.value,
        client = %origin,
        %peer,
        member = %guard.member().key(),
        ending = ?ending,
        "connection closed"
    );
}

/// The client of a connection: the address a trusted peer's PROXY header
/// names (the peer itself when the header names none, as for a balancer's
/// health checks), or the peer when it is not trusted or the listener takes
/// no header. `None` when a trusted peer's header is missing, broken or
/// late (logged, rate-limited); the caller closes the connection.
async fn client_of(vip: &Vip, client: &mut TcpStream, peer: SocketAddr) -> Option<SocketAddr> {
    let listener = vip.listener();
    let takes_header = listener.client_address.as_ref().map(|c| c.value) == Some(ClientAddress::ProxyProtocol);
    if !takes_header || !vip.plan.trusts(listener, peer.ip()) {
        return Some(peer);
    }
    match proxy_protocol::read_header(client, proxy_protocol::HEADER_TIMEOUT).await {
        Ok(named) => Some(named.map_or(peer, |a| SocketAddr::new(a.ip().to_canonical(), a.port()))),
        Err(e) => {
            vip.gate.header_refused(listener, peer, &e);
            None
        }
    }
}

/// Picks members and connects until one answers, up to the configured
/// number of attempts; each failure is reported for passive health.
async fn connect(
    vip: &Vip,
    shared: &Shared,
    client: SocketAddr,
    local: SocketAddr,
) -> Option<(TcpStream, MemberGuard)> {
    let mut tried: Vec<usize> = Vec::new();
    for _ in 0..shared.options.connect_attempts.max(1) {
        let ctx = PickContext {
            exclude: &tried,
            ..PickContext::new(client.ip())
        };
        let guard = vip.pool.pick_queued(&ctx, shared.options.queue_timeout).await?;
        let addr = guard.addr(local.port());
        let why = match tokio::time::timeout(shared.options.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(backend)) => {
                guard.connect_succeeded();
                return Some((backend, guard));
            }
            Ok(Err(e)) => format!("connect to {addr}: {e}"),
            Err(_) => format!(
                "connect to {addr}: no answer within {:?}",
                shared.options.connect_timeout
            ),
        };
        VipMetrics::add(&vip.metrics.connect_errors, 1);
        tracing::debug!(listener = %vip.listener().name.value, member = %guard.member().key(), %why, "connect failed; trying another member");
        guard.connect_failed(&why);
        tried.push(guard.index());
    }
    None
}
