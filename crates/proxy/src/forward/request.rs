//! The request as the backend will see it: runs once per request, before
//! the first pick, and cannot fail. Hop-by-hop fields, forwarding fields a
//! client sent itself, underscored names and the affinity cookie are
//! stripped; gatehouse's own forwarding fields, the host and the server
//! name for a pool that re-encrypts are decided once for every attempt.

use std::net::IpAddr;
use std::sync::Arc;

use gatehouse_model::topology::{Affinity, Pool as ModelPool};
use http::header::{self, HeaderValue};
use http::request::Parts;
use http::HeaderMap;

use crate::affinity::strip_cookie;
use crate::ctx::ConnCtx;
use crate::headers::{strip_client_supplied, strip_hop_by_hop, strip_underscored, ForwardedFor, Rendered};
use crate::routing::CompiledRoute;
use crate::state::BackendPool;
use crate::wire::RequestHead;

/// Strips what the backend must not see. `upgrade` keeps the `Upgrade`
/// fields of a request that may become a tunnel.
pub(crate) fn strip(headers: &mut HeaderMap, upgrade: bool, route: &CompiledRoute, pool: &ModelPool) {
    strip_hop_by_hop(headers, upgrade);
    strip_client_supplied(headers);
    strip_underscored(headers);
    if route.affinity == Affinity::Cookie {
        strip_cookie(headers, pool);
    }
}

/// The host the client asked for, as sent: `:authority` (or an
/// absolute-form URI), else `Host`.
pub(crate) fn original_host(parts: &Parts) -> Option<&[u8]> {
    match parts.uri.authority() {
        Some(a) => Some(a.as_str().as_bytes()),
        None => parts.headers.get(header::HOST).map(HeaderValue::as_bytes),
    }
}

/// gatehouse's forwarding fields for the request's client: the
/// connection's, rendered once per connection, or a trusted proxy's client.
pub(crate) fn forwarding<'a>(
    ctx: &'a ConnCtx,
    client: IpAddr,
    chain: Option<&'a HeaderValue>,
    host: Option<&'a [u8]>,
) -> ForwardedFor<'a> {
    ForwardedFor {
        client: if client == ctx.client_headers.addr {
            Rendered::Ready(&ctx.client_headers)
        } else {
            Rendered::Fresh(client, ctx.listener.proto())
        },
        chain,
        host,
    }
}

/// The request head sent on every attempt, and the server name for a pool
/// that re-encrypts.
pub(crate) fn head<'a>(
    parts: &'a Parts,
    forwarding: &'a ForwardedFor<'a>,
    route: &'a CompiledRoute,
    backend: &BackendPool,
    host: &Arc<str>,
) -> (RequestHead<'a>, Option<Arc<str>>) {
    let backend_host = route
        .host_rewrite
        .as_ref()
        .map(HeaderValue::as_bytes)
        .or(forwarding.host);
    let head = RequestHead {
        method: &parts.method,
        // Origin form: the path and query alone.
        target: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        host: backend_host,
        headers: &parts.headers,
        forwarding: Some(forwarding),
    };
    (head, sni_for(backend, backend_host, host))
}

/// The server name to send to a pool that re-encrypts: the configured one,
/// else the host the backend is sent, else the host the client asked for.
fn sni_for(backend: &BackendPool, backend_host: Option<&[u8]>, host: &Arc<str>) -> Option<Arc<str>> {
    backend.tls.as_ref()?;
    if let Some(configured) = &backend.server_name {
        return Some(configured.clone());
    }
    let from_host = backend_host
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
        .map(|a| Arc::from(a.host()));
    Some(from_host.unwrap_or_else(|| host.clone()))
}
