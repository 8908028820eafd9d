//! TCP VIPs: accept, decide (zone and ACL), pick and connect (retrying
//! other members), optionally send a PROXY header, then stream.
//!
//! `max_connections` on a listener works like HAProxy's `maxconn`: at the
//! limit the VIP stops accepting and new clients wait in the kernel's
//! backlog until a connection closes, instead of being refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use gatehouse_model::topology::{ProxyProtocol, Transport};
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
    client: TcpStream,
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
    // accept: zone and ACL, before reading a byte.
    let admission = vip
        .gate
        .admit(&vip.plan, listener, peer.ip(), Transport::Tcp, local.port());
    if !admission.is_allowed() {
        VipMetrics::add(&vip.metrics.denied, 1);
        stream::reset(&client);
        return;
    }
    VipMetrics::add(&vip.metrics.connections, 1);
    // pick + connect, retrying other members.
    let Some((backend, guard)) = connect(&vip, &shared, peer, local).await else {
        VipMetrics::add(&vip.metrics.no_member, 1);
        tracing::warn!(listener = %listener.name.value, client = %peer, "no member available");
        stream::reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = backend.set_nodelay(true);
    if let Some(version) = listener.proxy_protocol {
        let header = match version {
            ProxyProtocol::V1 => proxy_protocol::v1(peer, local).into_bytes(),
            ProxyProtocol::V2 => proxy_protocol::v2(peer, local, Transport::Tcp),
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
        client = %peer,
        member = %guard.member().key(),
        ending = ?ending,
        "connection closed"
    );
}

/// Picks members and connects until one answers, up to the configured
/// number of attempts; each failure is reported for passive health.
async fn connect(vip: &Vip, shared: &Shared, peer: SocketAddr, local: SocketAddr) -> Option<(TcpStream, MemberGuard)> {
    let mut tried: Vec<usize> = Vec::new();
    for _ in 0..shared.options.connect_attempts.max(1) {
        let ctx = PickContext {
            exclude: &tried,
            ..PickContext::new(peer.ip())
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
