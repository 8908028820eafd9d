//! The life of a request through gatehouse, as named phases. Each phase
//! says when it runs and what returning early means; [`handle`] runs them
//! in order for every request, on HTTP/1.1 and HTTP/2 alike.
//!
//! | phase     | where                          | returning early means                         |
//! |-----------|--------------------------------|-----------------------------------------------|
//! | accept    | [`accept`]                     | the TCP connection is closed, no TLS, no byte |
//! | handshake | [`handshake`]                  | the connection is closed                      |
//! | client    | [`client`]                     | 403 (the request's client is denied)          |
//! | route     | [`route`]                      | 400, 421, 405, 404, or a redirect to HTTPS    |
//! | admit     | [`admit`]                      | 403 (`deny`), 503 (pre-auth not enforced)     |
//! | pick      | [`crate::forward::forward`] (its `pick` step) | 503 when the pool has no usable member |
//! | forward   | [`crate::forward::forward`]    | 502 / 504 before the response head, else abort|
//! | log       | [`crate::log::AccessGuard`]    | never: it runs on every outcome               |
//!
//! The forward phase's own steps (request, pick, connect, exchange, pin,
//! response) are listed in [`crate::forward`].

use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use gatehouse_model::topology::Transport;
use gatehouse_model::web::{redirect_location, Head, Outcome, Refusal};
use gatehouse_policy::ZoneId;
use http::{header, HeaderValue, Request, Response, StatusCode};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::body::ProxyBody;
use crate::client::{forwarded_chain, forwarded_client, Client, Origin};
use crate::ctx::ConnCtx;
use crate::error::BoxError;
use crate::forward;
use crate::log::AccessGuard;
use crate::pages;
use crate::pages::page;
use crate::request_body::ClientBody;
use crate::routing::{request_host, CompiledRoute};
use crate::state::{ListenerState, PlanState};

/// **accept** — runs once per TCP connection: the client's zone by source
/// address, the gateway ACL for the listener's port, and the listener's own
/// zone list. `None` means the connection is refused: it is closed before
/// the TLS handshake, counted in the ACL counters and logged (rate-limited).
///
/// The client is the peer, read before any byte; or, when the peer is a
/// trusted proxy sending a PROXY header, the address the header names
/// (read first, see [`crate::client`]). A trusted proxy on an
/// `x-forwarded-for` listener skips this phase: it is admitted as a trusted
/// proxy, because the real clients are not known until their requests
/// arrive, and each of them faces the same checks in [`client`].
pub(crate) fn accept(state: &PlanState, listener: &ListenerState, client: IpAddr) -> Option<ZoneId> {
    decide(state, listener, client.to_canonical(), "connection denied")
}

/// Zone, gateway ACL (tcp, the listener's port) and listener zones for one
/// client, as the plan decides them for every part ([`Plan::accept`],
/// which counts the ACL decision); logs a denial (rate-limited).
///
/// [`Plan::accept`]: gatehouse_model::Plan::accept
fn decide(state: &PlanState, listener: &ListenerState, src: IpAddr, what: &'static str) -> Option<ZoneId> {
    let plan = &state.plan;
    let accept = plan.accept(src, Transport::Tcp, listener.port, Some(listener.listener(plan)));
    if !accept.is_allowed() {
        if state.deny_log.allow(Instant::now()) {
            tracing::info!(
                client = %src,
                zone = %plan.zone_name(accept.zone),
                listener = %listener.name,
                reason = %plan.refusal(accept.verdict),
                suppressed = state.deny_log.take_suppressed(),
                "{what}"
            );
        }
        return None;
    }
    Some(accept.zone)
}

/// **client** — runs for every request once its head is read, before
/// route: who the request's client is. Usually the connection's client,
/// decided at accept. On a connection from a trusted proxy of an
/// `x-forwarded-for` listener, it is the rightmost `X-Forwarded-For`
/// address that is not itself a trusted proxy (the proxy itself when there
/// is none), and that client faces the accept phase's checks now.
/// `Err` carries a denied client: the answer is 403, saying no more.
pub(crate) fn client<B>(ctx: &ConnCtx, req: &Request<B>) -> Result<Client, Client> {
    let Origin::Connection(zone) = ctx.origin else {
        let plan = &ctx.plan.plan;
        let peer = ctx.peer.ip().to_canonical();
        let named = forwarded_client(req.headers(), plan, ctx.listener.listener(plan));
        let addr = named.unwrap_or(peer);
        let verdict = decide(&ctx.plan, &ctx.listener, addr, "request denied");
        let client = Client {
            addr,
            zone: verdict.unwrap_or_else(|| plan.classify(addr)),
            via: Some(peer),
            chain: forwarded_chain(req.headers(), peer),
        };
        return if verdict.is_some() { Ok(client) } else { Err(client) };
    };
    let peer = ctx.peer.ip().to_canonical();
    Ok(Client {
        addr: ctx.client,
        zone,
        via: (ctx.client != peer).then_some(peer),
        chain: None,
    })
}

/// **handshake** — runs after accept on https listeners: SNI picks the
/// certificate (the listener's default for clients without SNI), ALPN picks
/// HTTP/2 or HTTP/1.1. `None` (handshake failure or timeout) closes the
/// connection. Returns the stream and whether HTTP/2 was negotiated.
pub(crate) async fn handshake(
    listener: &ListenerState,
    tcp: TcpStream,
    timeout: std::time::Duration,
) -> Option<(TlsStream<TcpStream>, bool)> {
    let acceptor = listener.tls.as_ref()?;
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            Some((tls, h2))
        }
        Ok(Err(e)) => {
            tracing::debug!(listener = %listener.name, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(listener = %listener.name, "TLS handshake timed out");
            None
        }
    }
}

/// What the route phase decided.
pub(crate) enum Routed {
    Forward(Arc<CompiledRoute>, Arc<str>),
    Respond(Response<ProxyBody>, &'static str),
}

/// **route** — runs for every request once its head is read: the plan's
/// route decision ([`gatehouse_model::Plan::route_request`], the one
/// `explain` prints): the path's normal form, then host, then the longest
/// path prefix on this listener. Early answers: 400 for a refused path, a
/// foreign scheme or no usable host; 400 or 421 for a host that is not the
/// SNI; 405 for CONNECT; 404 when nothing matches or the route hides itself
/// from the client's zone; a redirect to HTTPS on plain listeners. A path
/// that was not in normal form is rewritten to it, for routing, logging and
/// forwarding alike.
pub(crate) fn route<B>(ctx: &ConnCtx, client: &Client, req: &mut Request<B>) -> Routed {
    let plan = &ctx.plan.plan;
    let host = request_host(req);
    let head = Head {
        connect: req.method() == http::Method::CONNECT,
        scheme: req.uri().scheme_str(),
        host: host.as_deref(),
        sni: ctx.sni.as_deref(),
        h2: ctx.h2,
        path: req.uri().path(),
    };
    let decided = plan.route_request(ctx.listener.index, client.zone, &head);
    let (outcome, route) = (decided.outcome, decided.route.map(|m| m.route));
    if let Cow::Owned(normal) = decided.path {
        if set_path(req, normal).is_err() {
            let why = gatehouse_model::path::PathRefusal::BadEscape.as_str();
            return Routed::Respond(page(StatusCode::BAD_REQUEST, pages::negotiate(req.headers())), why);
        }
    }
    match (outcome, route, host) {
        (Outcome::Forward, Some(r), Some(host)) => match ctx.listener.routes.get(r) {
            Some(route) => Routed::Forward(route.clone(), host),
            None => Routed::Respond(page(StatusCode::NOT_FOUND, pages::negotiate(req.headers())), "no route"),
        },
        (Outcome::Redirect { port }, _, Some(host)) => Routed::Respond(redirect(req, &host, port), "redirect to https"),
        (Outcome::Refuse(why), ..) => Routed::Respond(refusal(why, req), why.reason()),
        // Forward and redirect always come with a host and route.
        _ => Routed::Respond(page(StatusCode::NOT_FOUND, pages::negotiate(req.headers())), "no route"),
    }
}

/// **admit** — runs after route: the route's auth policy for the client's
/// zone, as the plan decides it ([`gatehouse_model::Plan::admit_request`]).
/// `deny` answers 403. A provider whose method gatehouse does not enforce
/// (today: every one) answers 503, sign-in unavailable, so that a route
/// meant to be pre-authenticated never reaches its pool unauthenticated.
/// `Some` carries the answer and the reason the access log records.
pub(crate) fn admit<B>(
    ctx: &ConnCtx,
    client: &Client,
    route: &CompiledRoute,
    req: &Request<B>,
) -> Option<(Response<ProxyBody>, &'static str)> {
    let why = ctx.plan.plan.admit_request(route.index, client.zone).err()?;
    Some((refusal(why, req), why.reason()))
}

/// gatehouse's own answer to a refused request, in the client's language.
fn refusal<B>(why: Refusal<'_>, req: &Request<B>) -> Response<ProxyBody> {
    let lang = pages::negotiate(req.headers());
    match why {
        Refusal::SignInUnavailable { .. } => pages::sign_in_unavailable(lang).map(ProxyBody::full),
        other => page(
            StatusCode::from_u16(other.status()).unwrap_or(StatusCode::BAD_REQUEST),
            lang,
        ),
    }
}

/// Puts a path in normal form into the request's target, keeping the query.
fn set_path<B>(req: &mut Request<B>, normal: String) -> Result<(), ()> {
    let pq = match req.uri().query() {
        Some(q) => format!("{normal}?{q}"),
        None => normal,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq.parse().map_err(|_| ())?);
    *req.uri_mut() = http::Uri::from_parts(parts).map_err(|_| ())?;
    Ok(())
}

fn redirect<B>(req: &Request<B>, host: &str, port: u16) -> Response<ProxyBody> {
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = redirect_location(host, port, pq);
    // 301 for safe methods; 308 keeps the method and body of the others.
    let status = if matches!(*req.method(), http::Method::GET | http::Method::HEAD) {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    let mut r = Response::new(ProxyBody::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// One request, phase by phase (see [`crate::phases`]). The phases up to
/// admit run here and now; only forwarding waits. The request's access
/// guard is made first and goes wherever the request goes, so that every
/// way out of here or of forwarding writes its one record.
pub(crate) fn handle(ctx: Arc<ConnCtx>, mut req: http::Request<ClientBody>) -> Handling {
    let mut log = AccessGuard::new(ctx, req.method(), Instant::now());
    let client = match client(log.ctx(), &req) {
        Ok(client) => client,
        Err(denied) => {
            log.client(&denied);
            let resp = page(http::StatusCode::FORBIDDEN, crate::pages::negotiate(req.headers()));
            log.answered(&req, &resp, "client denied");
            return Handling::Answered(Some(resp));
        }
    };
    log.client(&client);
    match route(log.ctx(), &client, &mut req) {
        Routed::Respond(resp, why) => {
            log.answered(&req, &resp, why);
            Handling::Answered(Some(resp))
        }
        Routed::Forward(route, host) => {
            log.routed(route.name.clone(), host.clone());
            if let Some((resp, why)) = admit(log.ctx(), &client, &route, &req) {
                let resp = route.with_hsts(resp);
                log.answered(&req, &resp, why);
                return Handling::Answered(Some(resp));
            }
            // Boxed: the guard waits in the forward phase's future, which
            // must stay small, and moves on into the response body.
            Handling::Forwarding(Box::pin(forward::forward(Box::new(log), client, route, host, req)))
        }
    }
}

/// A request past its early phases: answered already, or being forwarded.
/// A plain enum rather than an `async fn`: an HTTP/2 connection keeps one
/// per stream, and an async function would keep room for the request and
/// every phase's result across its one wait.
pub(crate) enum Handling {
    Answered(Option<http::Response<ProxyBody>>),
    /// Boxed: forwarding's state is kilobytes.
    Forwarding(Pin<Box<dyn Future<Output = Result<http::Response<ProxyBody>, BoxError>> + Send>>),
}

impl Future for Handling {
    type Output = Result<http::Response<ProxyBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Handling::Answered(resp) => match resp.take() {
                Some(resp) => Poll::Ready(Ok(resp)),
                None => Poll::Ready(Err("request polled after its answer".into())),
            },
            Handling::Forwarding(forwarding) => forwarding.as_mut().poll(cx),
        }
    }
}
