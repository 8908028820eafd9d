//! One client connection: TLS (via the handshake phase), then HTTP/1.1 (behind
//! the smuggling guard) or HTTP/2 served by hyper, each request going through
//! the route, admit, pick, forward and log phases. The connection holds its
//! pinned backend connection, if NTLM or Negotiate pinned one; dropping the
//! connection drops it, which closes it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_policy::ZoneId;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::body::{BoxError, ProxyBody};
use crate::exchange::AccessRecord;
use crate::guard::SmugglingGuard;
use crate::phases::{self, Routed};
use crate::state::{ListenerState, PlanState};
use crate::upstream::{Sender, Target};
use crate::{forward, Shared};

/// The backend connection a client connection is pinned to.
pub(crate) struct Pinned {
    pub target: Target,
    pub member: usize,
    pub sender: Sender,
}

/// What every request on one client connection shares.
pub(crate) struct ConnCtx {
    pub shared: Arc<Shared>,
    pub plan: Arc<PlanState>,
    pub listener: Arc<ListenerState>,
    pub client: SocketAddr,
    pub zone: ZoneId,
    pub h2: bool,
    /// Set once NTLM/Negotiate is seen (HTTP/1.1 only).
    pub pinned: Mutex<Option<Pinned>>,
}

impl ConnCtx {
    /// An access record for a request, before its outcome is known.
    pub fn record(&self, method: &http::Method, host: Arc<str>, route: Arc<str>, status: u16) -> AccessRecord {
        AccessRecord {
            client: self.client.ip().to_canonical(),
            zone: self.plan.zone_names[self.zone.0 as usize].clone(),
            listener: self.listener.name.clone(),
            route,
            member: Arc::from("-"),
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

    /// Logs a request answered before the forward phase.
    fn log_early<B>(&self, req: &http::Request<B>, route: Arc<str>, status: u16, why: &'static str, started: Instant) {
        let host = crate::routing::request_host(req).map_or_else(|| Arc::from("-"), Arc::from);
        let mut r = self.record(req.method(), host, route, status);
        r.outcome = Some(why);
        r.duration = started.elapsed();
        self.shared.access_log.log(&r);
    }
}

/// Serves one accepted connection to completion (or shutdown).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    plan: Arc<PlanState>,
    listener: Arc<ListenerState>,
    tcp: TcpStream,
    client: SocketAddr,
    zone: ZoneId,
    _permit: Option<OwnedSemaphorePermit>,
) {
    let _live = shared.tracker.enter();
    let _ = tcp.set_nodelay(true);
    let mk = |h2| {
        Arc::new(ConnCtx {
            shared: shared.clone(),
            plan: plan.clone(),
            listener: listener.clone(),
            client,
            zone,
            h2,
            pinned: Mutex::new(None),
        })
    };
    if listener.tls.is_some() {
        let Some((tls, h2)) = phases::handshake(&listener, tcp, plan.config.handshake_timeout).await else {
            return;
        };
        if h2 {
            serve_h2(mk(true), tls).await
        } else {
            serve_h1(mk(false), tls).await
        }
    } else {
        serve_h1(mk(false), tcp).await
    }
}

async fn serve_h1<IO>(ctx: Arc<ConnCtx>, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = ctx.shared.clone();
    let svc_ctx = ctx.clone();
    let svc = service_fn(move |req| handle(svc_ctx.clone(), req));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.plan.config.client_header_timeout)
        .max_buf_size(256 * 1024);
    let conn = builder
        .serve_connection(TokioIo::new(SmugglingGuard::new(io)), svc)
        .with_upgrades();
    drive(&shared, conn, |c| c.graceful_shutdown()).await;
    // Dropping the context drops a pinned backend connection with it.
    drop(ctx);
}

async fn serve_h2<IO>(ctx: Arc<ConnCtx>, io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let shared = ctx.shared.clone();
    let max_streams = ctx.plan.config.h2_max_concurrent_streams;
    let svc = service_fn(move |req| handle(ctx.clone(), req));
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(max_streams)
        .keep_alive_interval(Some(Duration::from_secs(60)));
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    drive(&shared, conn, |c| c.graceful_shutdown()).await;
}

/// Runs a hyper connection, starting a graceful shutdown when asked and
/// dropping it when the shutdown deadline passes.
async fn drive<C, E>(shared: &Shared, conn: C, graceful: impl Fn(std::pin::Pin<&mut C>))
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
            return;
        }
        if level == 1 && !asked {
            asked = true;
            graceful(conn.as_mut());
        }
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("client connection ended: {e}");
                }
                return;
            }
            changed = stop.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// One request, phase by phase (see [`crate::phases`]).
async fn handle(ctx: Arc<ConnCtx>, req: http::Request<Incoming>) -> Result<http::Response<ProxyBody>, BoxError> {
    let started = Instant::now();
    match phases::route(&ctx, &req) {
        Routed::Respond(resp, why) => {
            ctx.log_early(&req, Arc::from("-"), resp.status().as_u16(), why, started);
            Ok(resp)
        }
        Routed::Forward(route, host) => {
            if let Some(resp) = phases::admit(&ctx, &route, &req) {
                ctx.log_early(
                    &req,
                    route.name.clone(),
                    resp.status().as_u16(),
                    "auth policy deny",
                    started,
                );
                return Ok(resp);
            }
            forward::forward(ctx, route, host, req, started).await
        }
    }
}
