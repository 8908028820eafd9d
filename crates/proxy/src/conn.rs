//! One client connection: a trusted balancer's PROXY header when one is due,
//! TLS (via the handshake phase), then HTTP/1.1 (behind the smuggling guard)
//! or HTTP/2 ([`crate::h2server`]), each request going through the client, route,
//! admit, pick, forward and log phases. The connection holds its
//! pinned backend connection, if NTLM or Negotiate pinned one; dropping the
//! connection drops it, which closes it.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use gatehouse_policy::ZoneId;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::backend::BackendConn;
use crate::body::{BoxError, ClientBody, ProxyBody};
use crate::client::{read_proxy_header, Client, Origin};
use crate::coalesce::Coalesce;
use crate::completion::AccessRecord;
use crate::guard::SmugglingGuard;
use crate::headers::ClientHeaders;
use crate::linger::Linger;
use crate::phases::{self, Routed};
use crate::state::{ListenerState, PlanState};
use crate::upstream::Target;
use crate::{forward, Shared};

/// The backend connection a client connection is pinned to.
pub(crate) struct Pinned {
    pub target: Target,
    pub member: usize,
    pub conn: Box<BackendConn>,
}

/// What every request on one client connection shares.
pub(crate) struct ConnCtx {
    pub shared: Arc<Shared>,
    pub plan: Arc<PlanState>,
    pub listener: Arc<ListenerState>,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The connection's client: the peer, or the address a trusted peer's
    /// PROXY header named. Requests may say otherwise under
    /// [`Origin::ForwardedFor`]; see [`phases::client`].
    pub client: IpAddr,
    pub origin: Origin,
    pub h2: bool,
    /// The TLS server name the client sent, lower-case, kept only where
    /// the listener is `strict_sni`.
    pub sni: Option<Box<str>>,
    /// `client`'s forwarding headers, rendered once.
    pub client_headers: ClientHeaders,
    /// Set once NTLM/Negotiate is seen (HTTP/1.1 only).
    pub pinned: Mutex<Option<Pinned>>,
}

impl ConnCtx {
    /// An access record for a request, before its outcome is known.
    pub fn record(
        &self,
        client: &Client,
        method: &http::Method,
        host: Arc<str>,
        route: Arc<str>,
        status: u16,
    ) -> AccessRecord {
        AccessRecord {
            client: client.addr,
            via: client.via,
            zone: self.plan.zone_names[client.zone.0 as usize].clone(),
            listener: self.listener.name.clone(),
            route,
            member: crate::completion::dash(),
            method: method.clone(),
            host,
            status,
            bytes_in: 0,
            bytes_out: 0,
            duration: Duration::ZERO,
            pinned: false,
            user: None,
            outcome: None,
        }
    }

    /// Logs a request gatehouse answered itself, before the forward phase:
    /// the log counts the page's bytes, which is what was sent.
    fn log_answer(
        &self,
        client: &Client,
        req: &http::Request<ClientBody>,
        route: Arc<str>,
        resp: &http::Response<ProxyBody>,
        why: &'static str,
        started: Instant,
    ) {
        use hyper::body::Body;
        let host = crate::routing::request_host(req).unwrap_or_else(crate::completion::dash);
        let mut r = self.record(client, req.method(), host, route, resp.status().as_u16());
        r.outcome = Some(why);
        r.duration = started.elapsed();
        r.bytes_out = resp.body().size_hint().exact().unwrap_or(0);
        self.shared.access_log.log(&r);
    }
}

impl ConnCtx {
    /// Logs a request refused before it was a request: its head did not
    /// parse, or its framing was ambiguous. Method, host and route are `-`.
    pub(crate) fn log_unparsed(&self, status: u16, why: &'static str) {
        let peer = self.peer.ip().to_canonical();
        let zone = match self.origin {
            Origin::Connection(zone) => zone,
            // A trusted proxy's client is in the head that did not parse.
            Origin::ForwardedFor => self.plan.plan.classify(peer),
        };
        let client = Client {
            addr: self.client,
            zone,
            via: (self.client != peer).then_some(peer),
            chain: None,
        };
        let unknown = http::Method::from_bytes(b"-").unwrap_or_default();
        let mut r = self.record(
            &client,
            &unknown,
            crate::completion::dash(),
            crate::completion::dash(),
            status,
        );
        r.outcome = Some(why);
        self.shared.access_log.log(&r);
    }
}

/// What the accept loop decided about a connection.
pub(crate) enum Accepted {
    /// The peer is the client, admitted in this zone.
    Client(ZoneId),
    /// A trusted peer on a `proxy-protocol` listener: its PROXY header
    /// names the client, who then faces the accept phase.
    ProxyHeader,
    /// A trusted peer on an `x-forwarded-for` listener: admitted as a
    /// trusted proxy; each request's client is decided per request.
    ForwardedFor,
}

/// Serves one accepted connection to completion (or shutdown).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    plan: Arc<PlanState>,
    listener: Arc<ListenerState>,
    mut tcp: TcpStream,
    peer: SocketAddr,
    accepted: Accepted,
    _permit: Option<OwnedSemaphorePermit>,
) {
    let _live = shared.tracker.enter();
    let (client, origin) = match accepted {
        Accepted::Client(zone) => (peer.ip().to_canonical(), Origin::Connection(zone)),
        Accepted::ForwardedFor => (peer.ip().to_canonical(), Origin::ForwardedFor),
        Accepted::ProxyHeader => match read_proxy_header(&mut tcp).await {
            Ok(named) => {
                // A header naming no client (the balancer's own health
                // checks) leaves the peer as the client.
                let client = named.unwrap_or_else(|| peer.ip().to_canonical());
                let Some(zone) = phases::accept(&plan, &listener, client) else {
                    return;
                };
                (client, Origin::Connection(zone))
            }
            Err(e) => {
                shared.bad_proxy_headers.fetch_add(1, Ordering::Relaxed);
                if shared.header_log.allow(Instant::now()) {
                    tracing::warn!(
                        listener = %listener.name,
                        %peer,
                        reason = %e,
                        suppressed = shared.header_log.take_suppressed(),
                        "trusted proxy sent no usable PROXY header; closed"
                    );
                }
                return;
            }
        },
    };
    let _ = tcp.set_nodelay(true);
    let mk = |h2, sni| {
        Arc::new(ConnCtx {
            shared: shared.clone(),
            plan: plan.clone(),
            listener: listener.clone(),
            peer,
            client,
            origin,
            h2,
            sni,
            client_headers: ClientHeaders::new(client, listener.proto()),
            pinned: Mutex::new(None),
        })
    };
    if listener.tls.is_some() {
        let Some((tls, h2)) = phases::handshake(&listener, tcp, plan.config.handshake_timeout).await else {
            return;
        };
        let sni = listener
            .strict_sni
            .then(|| tls.get_ref().1.server_name().map(|n| n.to_ascii_lowercase().into()))
            .flatten();
        if h2 {
            crate::h2server::serve(mk(true, sni), Coalesce::new(tls)).await
        } else {
            serve_h1(mk(false, sni), tls).await
        }
    } else {
        serve_h1(mk(false, None), tcp).await
    }
}

async fn serve_h1<IO>(ctx: Arc<ConnCtx>, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = ctx.shared.clone();
    let svc_ctx = ctx.clone();
    let svc = service_fn(move |req: http::Request<Incoming>| {
        // The smuggling guard stepped aside for this head: whatever answers
        // it, short of a tunnel, must end the connection.
        let unguarded = req.method() == http::Method::CONNECT || req.headers().contains_key(http::header::UPGRADE);
        CloseUnlessSwitched {
            handling: handle(svc_ctx.clone(), req.map(ClientBody::H1)),
            unguarded,
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.plan.config.client_header_timeout)
        .max_buf_size(crate::guard::MAX_REQUEST_HEAD)
        .max_headers(crate::guard::MAX_REQUEST_HEADERS);
    let warn_ctx = ctx.clone();
    // The guard spoils an ambiguous head so that hyper refuses it; the
    // refusal is then logged as what it was.
    let ambiguous = Arc::new(AtomicBool::new(false));
    let spoiled = ambiguous.clone();
    let guard = SmugglingGuard::new(Linger::new(io)).on_ambiguous(move || {
        spoiled.store(true, Ordering::Relaxed);
        let shared = &warn_ctx.shared;
        // Rate-limited: a client can send one such head per connection, and
        // open connections without end.
        if shared.header_log.allow(Instant::now()) {
            tracing::warn!(
                listener = %warn_ctx.listener.name,
                client = %warn_ctx.client,
                peer = %warn_ctx.peer,
                suppressed = shared.header_log.take_suppressed(),
                "ambiguous request framing (smuggling attempt?); answered 400 and closed"
            );
        }
    });
    let conn = builder.serve_connection(TokioIo::new(guard), svc).with_upgrades();
    if let Some(e) = drive(&shared, conn, |c| c.graceful_shutdown()).await {
        if let Some((status, why)) = parser_refusal(&e) {
            let why = if ambiguous.load(Ordering::Relaxed) {
                "ambiguous request framing"
            } else {
                why
            };
            ctx.log_unparsed(status, why);
        }
    }
    // Dropping the context drops a pinned backend connection with it.
    drop(ctx);
}

/// What hyper answered a request head it could not parse, and why, for
/// the access log; `None` for errors that are not about a request (a
/// client going away, a timeout between requests).
fn parser_refusal(e: &hyper::Error) -> Option<(u16, &'static str)> {
    if e.is_parse_too_large() {
        // hyper tells the two apart only in its message.
        return Some(if e.to_string().contains("URI") {
            (414, "request URI too long")
        } else {
            (431, "request head too large")
        });
    }
    e.is_parse().then_some((400, "unparsable request head"))
}

/// Runs a client connection, starting a graceful shutdown when asked and
/// dropping it when the shutdown deadline passes. Returns the error the
/// connection ended with, if it ended with one.
pub(crate) async fn drive<C, E>(shared: &Shared, conn: C, graceful: impl Fn(std::pin::Pin<&mut C>)) -> Option<E>
where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut stop = shared.stop.subscribe();
    tokio::pin!(conn);
    let mut asked = false;
    loop {
        let level = *stop.borrow_and_update();
        if level >= 2 {
            return None;
        }
        if level == 1 && !asked {
            asked = true;
            graceful(conn.as_mut());
        }
        tokio::select! {
            r = conn.as_mut() => {
                let e = r.err()?;
                tracing::debug!("client connection ended: {e}");
                return Some(e);
            }
            changed = stop.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
        }
    }
}

/// One request, phase by phase (see [`crate::phases`]). The phases up to
/// admit run here and now; only forwarding waits.
pub(crate) fn handle(ctx: Arc<ConnCtx>, mut req: http::Request<ClientBody>) -> Handling {
    let started = Instant::now();
    let client = match phases::client(&ctx, &req) {
        Ok(client) => client,
        Err(denied) => {
            let resp = phases::page(http::StatusCode::FORBIDDEN, crate::pages::negotiate(req.headers()));
            ctx.log_answer(
                &denied,
                &req,
                crate::completion::dash(),
                &resp,
                "client denied",
                started,
            );
            return Handling::Answered(Some(resp));
        }
    };
    if let Err(why) = crate::routing::normalise_path(&mut req) {
        let resp = phases::page(http::StatusCode::BAD_REQUEST, crate::pages::negotiate(req.headers()));
        ctx.log_answer(&client, &req, crate::completion::dash(), &resp, why.as_str(), started);
        return Handling::Answered(Some(resp));
    }
    match phases::route(&ctx, &client, &req) {
        Routed::Respond(resp, why) => {
            ctx.log_answer(&client, &req, crate::completion::dash(), &resp, why, started);
            Handling::Answered(Some(resp))
        }
        Routed::Forward(route, host) => {
            if let Some((resp, why)) = phases::admit(&ctx, &client, &route, &req) {
                let resp = route.with_hsts(resp);
                ctx.log_answer(&client, &req, route.name.clone(), &resp, why, started);
                return Handling::Answered(Some(resp));
            }
            Handling::Forwarding(Box::pin(forward::forward(ctx, client, route, host, req, started)))
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

/// An HTTP/1.1 request's handling, closing the connection after any answer
/// but a 101 when the request's head made the smuggling guard step aside
/// (`Upgrade`, `CONNECT`): bytes after such a head were never judged, so the
/// connection must not carry another request.
pub(crate) struct CloseUnlessSwitched {
    handling: Handling,
    unguarded: bool,
}

impl Future for CloseUnlessSwitched {
    type Output = Result<http::Response<ProxyBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut resp = std::task::ready!(Pin::new(&mut this.handling).poll(cx))?;
        if this.unguarded && resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            resp.headers_mut()
                .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(resp))
    }
}
