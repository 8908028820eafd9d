//! The life of a request through gatehouse, as named phases. Each phase
//! says when it runs and what returning early means; [`handle`] runs them
//! in order for every request, on HTTP/1.1 and HTTP/2 alike.
//!
//! | phase     | where                          | returning early means                         |
//! |-----------|--------------------------------|-----------------------------------------------|
//! | accept    | [`accept`]                     | the TCP connection is closed, no TLS, no byte |
//! | handshake | [`handshake`]                  | the connection is closed                      |
//! | client    | [`client`]                     | 403 (the request's client is denied)          |
//! | route     | [`route`]                      | 400, 421, 404, or a redirect to HTTPS         |
//! | admit     | [`admit`]                      | 403 (`deny`), 503 (pre-auth not enforced)     |
//! | pick      | [`crate::forward::forward`] (its `pick` step) | 503 when the pool has no usable member |
//! | forward   | [`crate::forward::forward`]    | 502 / 504 before the response head, else abort|
//! | log       | [`crate::log::AccessGuard`]    | never: it runs on every outcome               |
//!
//! The forward phase's own steps (request, pick, connect, exchange, pin,
//! response) are listed in [`crate::forward`].

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use gatehouse_model::topology::Transport;
use gatehouse_model::Admission;
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

/// **route** — runs for every request once its head is read: host, then the
/// longest path prefix, picks a route on this listener. Early answers: 400
/// without a usable host, 404 when nothing matches or the route excludes the
/// client's zone (404, not 403, so that e.g. admin names are not revealed),
/// a redirect to HTTPS on plain listeners for routes not marked `plain`.
pub(crate) fn route<B>(ctx: &ConnCtx, client: &Client, req: &Request<B>) -> Routed {
    let lang = || pages::negotiate(req.headers());
    // `:scheme` (or an absolute-form scheme) must be the listener's own: a
    // backend told `http` over TLS may build links or cookies for plain HTTP.
    if let Some(scheme) = req.uri().scheme() {
        let own = if ctx.listener.tls.is_some() {
            &http::uri::Scheme::HTTPS
        } else {
            &http::uri::Scheme::HTTP
        };
        if scheme != own {
            return Routed::Respond(page(StatusCode::BAD_REQUEST, lang()), "scheme differs from listener");
        }
    }
    let Some(host) = request_host(req) else {
        return Routed::Respond(page(StatusCode::BAD_REQUEST, lang()), "invalid host");
    };
    // `strict_sni`: the name that chose the certificate must be the name
    // that chooses the route, or one site's name reaches another's routes.
    // HTTP/2 gets 421: a browser may reuse a connection for another name
    // its certificate covers (RFC 9113 9.1.1), and retries 421 on a new one.
    if ctx.sni.as_deref().is_some_and(|sni| sni != &*host) {
        let status = if ctx.h2 {
            StatusCode::MISDIRECTED_REQUEST
        } else {
            StatusCode::BAD_REQUEST
        };
        return Routed::Respond(page(status, lang()), "host differs from SNI");
    }
    if req.method() == http::Method::CONNECT {
        return Routed::Respond(page(StatusCode::METHOD_NOT_ALLOWED, lang()), "CONNECT refused");
    }
    let path = req.uri().path();
    let found = ctx.listener.routes.lookup(&host, path);
    let https = ctx.listener.tls.is_some();
    match found {
        Some(r) if !r.admits_zone(client.zone) => {
            Routed::Respond(page(StatusCode::NOT_FOUND, lang()), "zone not on route")
        }
        Some(r) if https || r.plain => Routed::Forward(r.clone(), host),
        _ if !https && ctx.plan.https_port.contains_key(&*host) => {
            Routed::Respond(redirect(ctx, req, &host), "redirect to https")
        }
        _ => Routed::Respond(page(StatusCode::NOT_FOUND, lang()), "no route"),
    }
}

/// **admit** — runs after route: the route's auth policy for the client's
/// zone, as the model decides it ([`gatehouse_model::Topology::admission`]). `deny` answers
/// 403. A provider whose method gatehouse does not enforce (today: every
/// one) answers 503, sign-in unavailable, so that a route meant to be
/// pre-authenticated never reaches its pool unauthenticated. `Some` carries
/// the answer and the reason the access log records.
pub(crate) fn admit<B>(
    ctx: &ConnCtx,
    client: &Client,
    route: &CompiledRoute,
    req: &Request<B>,
) -> Option<(Response<ProxyBody>, &'static str)> {
    let lang = || pages::negotiate(req.headers());
    match ctx.plan.plan.topology.admission(route.auth_for(client.zone)) {
        Admission::Forward => None,
        Admission::Deny => Some((page(StatusCode::FORBIDDEN, lang()), "auth policy deny")),
        Admission::SignInUnavailable { .. } => Some((
            pages::sign_in_unavailable(lang()).map(ProxyBody::full),
            "pre-authentication not enforced",
        )),
    }
}

fn redirect<B>(ctx: &ConnCtx, req: &Request<B>, host: &str) -> Response<ProxyBody> {
    let port = ctx.plan.https_port.get(host).copied().unwrap_or(443);
    let authority = if port == 443 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{authority}{pq}");
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
    if let Err(why) = crate::routing::normalise_path(&mut req) {
        let resp = page(http::StatusCode::BAD_REQUEST, crate::pages::negotiate(req.headers()));
        log.answered(&req, &resp, why.as_str());
        return Handling::Answered(Some(resp));
    }
    match route(log.ctx(), &client, &req) {
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
