//! The response phase: the backend's response head and body become the
//! client's response. Runs once per request, after the response head came
//! and the pin phase let it through; it cannot fail. Hop-by-hop fields go,
//! the affinity cookie and the route's HSTS policy are set, and the body
//! streams with the route's idle and total timeouts, carrying the
//! [`Completion`] that ends the exchange and writes the record.

use std::sync::Arc;
use std::time::Instant;

use gatehouse_model::topology::Pool as ModelPool;
use gatehouse_runtime::Member;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use super::pin::Keep;
use crate::activity::Activity;
use crate::backend::BackendBody;
use crate::body::{ProxyBody, UpstreamBody};
use crate::completion::Completion;
use crate::ctx::ConnCtx;
use crate::headers::strip_hop_by_hop;
use crate::routing::CompiledRoute;

/// The backend's fields as the client gets them. `upgrade`: the request
/// asked for a WebSocket; if it did not become a tunnel, the connection
/// closes after this response.
pub(crate) fn headers(mut headers: HeaderMap, keep: Keep, upgrade: bool) -> HeaderMap {
    let tunnel = keep == Keep::Tunnel;
    strip_hop_by_hop(&mut headers, tunnel);
    if upgrade && !tunnel {
        // The smuggling guard stepped aside for the Upgrade head: close.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers
}

/// Sets the affinity cookie naming `member` (see [`super::pick::sets_cookie`]).
pub(crate) fn set_cookie(headers: &mut HeaderMap, ctx: &ConnCtx, pool: &ModelPool, member: &Member) {
    headers.append(
        header::SET_COOKIE,
        ctx.shared.signer.set_cookie(pool, member, ctx.listener.tls.is_some()),
    );
}

/// The client's response: the backend's status and fields, the route's
/// HSTS policy, and the backend's body with the route's timeouts. From
/// here the body's [`Completion`] logs the request and releases the member.
pub(crate) fn respond(
    status: StatusCode,
    mut headers: HeaderMap,
    completion: Completion,
    inner: BackendBody,
    activity: Arc<Activity>,
    total: Option<Instant>,
    route: &CompiledRoute,
) -> Response<ProxyBody> {
    let mut body = UpstreamBody {
        inner,
        activity,
        idle: route.idle_timeout,
        total,
        sleep: None,
        completion: Some(completion),
    };
    if body.inner.ended() {
        // hyper never polls a body that has already ended.
        body.complete();
    }
    if let Some(hsts) = &route.hsts {
        // The gateway's policy, not whatever the backend sent.
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    let mut resp = Response::new(ProxyBody::Upstream(Box::new(body)));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}
