//! One client connection: a trusted balancer's PROXY header when one is due,
//! TLS (via the handshake phase), then HTTP/1.1 (behind the smuggling guard)
//! or HTTP/2 ([`crate::h2server`]), each request going through the client, route,
//! admit, pick, forward and log phases. The connection holds its
//! pinned backend connection, if NTLM or Negotiate pinned one; dropping the
//! connection drops it, which closes it.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use gatehouse_policy::ZoneId;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::body::ProxyBody;
use crate::client::{read_proxy_header, Origin};
use crate::coalesce::Coalesce;
use crate::ctx::{drive, ConnCtx};
use crate::error::BoxError;
use crate::guard::SmugglingGuard;
use crate::headers::ClientHeaders;
use crate::linger::Linger;
use crate::log::AccessGuard;
use crate::phases::{self, handle, Handling};
use crate::request_body::ClientBody;
use crate::shared::Shared;
use crate::state::{ListenerState, PlanState};

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
            AccessGuard::refused(ctx.clone(), status, why);
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
