//! The **pick** and **forward** phases: choose a member, reach it over a
//! pooled, new or pinned backend connection, stream the request and the
//! response, and keep the route's timeouts.
//!
//! - Backend connections speak HTTP/1.1 through [`crate::backend`], driven
//!   from this request's task; a pooled one is checked for a close the
//!   backend sent while it sat idle before it is used.
//! - Retries: another member is tried when connecting fails (any method).
//!   When a connection fails before one byte of the request was written, a
//!   reused one is replaced (nothing was sent, nothing of the body read),
//!   and a new one counts as an attempt, for idempotent methods only. Never
//!   once a byte went out.
//! - NTLM/Negotiate pinning (HTTP/1.1 clients): a request carrying
//!   `Authorization: NTLM|Negotiate` goes over a new dedicated connection,
//!   and a 401 with `WWW-Authenticate: NTLM|Negotiate` dedicates the
//!   connection it came on. From then on the client connection's requests to
//!   that member use that backend connection only; it is never pooled and
//!   closes with the client connection. A request to a different member
//!   goes the ordinary way (and re-pins if it carries NTLM itself).
//! - HTTP/2 clients: connection-bound authentication cannot work over
//!   multiplexed streams, so such a stream is reset with
//!   `HTTP_1_1_REQUIRED`, as IIS does; browsers and curl retry over HTTP/1.1.

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use gatehouse_model::topology::Affinity;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;

use crate::activity::Activity;
use crate::affinity::strip_cookie;
use crate::backend::{BackendBody, Failure, Upload};
use crate::body::{ProxyBody, UpstreamBody};
use crate::client::Client;
use crate::completion::{AfterUse, Completion};
use crate::ctx::ConnCtx;
use crate::error::{BoxError, TimedOut};
use crate::headers::{
    is_connection_auth, strip_client_supplied, strip_hop_by_hop, strip_underscored, ForwardedFor, Rendered,
};
use crate::log::AccessGuard;
use crate::pages;
use crate::pages::page;
use crate::request_body::{ClientBody, RequestBody};
use crate::routing::CompiledRoute;
use crate::state::BackendPool;
use crate::wire::RequestHead;
use pick::{choose, label, Choice, Via};

mod pick;

fn http11_required() -> BoxError {
    Box::new(h2::Error::from(h2::Reason::HTTP_1_1_REQUIRED))
}

fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Forwards one routed, admitted request.
///
/// A plain function that takes the request apart and prepares what needs
/// no waiting, around an `async` block that does the rest: an `async fn`
/// keeps room for each argument twice and for every value it was rebuilt
/// into. This future is allocated for every request; at 1,000 bytes or
/// less (it was 2.9 KB) glibc serves it from its per-thread cache or its
/// small bins, while larger blocks go through its sorted large bins,
/// which cost 500 instructions more per request (bench/http/NOTES.md).
pub(crate) fn forward(
    mut log: Box<AccessGuard>,
    client: Client,
    route: Arc<CompiledRoute>,
    host: Arc<str>,
    mut req: Request<ClientBody>,
) -> impl Future<Output = Result<Response<ProxyBody>, BoxError>> + Send {
    let lang = pages::negotiate(req.headers());
    let wants_pin = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(is_connection_auth);
    let h2 = log.ctx().h2;
    let refused_upgrade = crate::tunnel::refusal(req.headers(), h2, route.websocket);
    let upgrade = refused_upgrade.is_none() && !h2 && req.headers().contains_key(header::UPGRADE);
    let client_upgrade: Option<OnUpgrade> = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let started = log.started();
    let activity = Activity::new(started);
    let body_timeout = log.ctx().plan.config.client_body_timeout.unwrap_or(route.idle_timeout);
    let mut upload = Upload::new(RequestBody::new(
        (!hyper::body::Body::is_end_stream(&body)).then_some(body),
        activity.clone(),
        body_timeout,
    ));
    let total_deadline = route.total_timeout.map(|t| started + t);
    let Client { addr, chain, .. } = client;
    // Fields of `ctx` and `backend` are named in full where used: a local
    // for one would keep room of its own in this future.
    async move {
        let ctx: &ConnCtx = &log.ctx;
        let state = &ctx.plan;
        let pool_index = route.pool_index.unwrap_or(usize::MAX);
        let (Some(pool), Some(backend)) = (state.plan.topology.pools.get(pool_index), state.pools.get(pool_index))
        else {
            return answer(log, StatusCode::SERVICE_UNAVAILABLE, "pool missing", lang, &route);
        };
        if let Some(why) = refused_upgrade {
            return answer(log, StatusCode::BAD_REQUEST, why, lang, &route);
        }
        if wants_pin && ctx.h2 {
            log.finish(0, "NTLM/Negotiate over HTTP/2: HTTP_1_1_REQUIRED");
            drop(log);
            return Err(http11_required());
        }
        let cookie_member = match route.affinity {
            Affinity::Cookie => ctx
                .shared
                .members
                .with_pool(&pool.name.value, |m| {
                    ctx.shared.signer.member_from(&parts.headers, pool, m)
                })
                .flatten(),
            _ => None,
        };

        // The request as the backend will see it.
        strip_hop_by_hop(&mut parts.headers, upgrade);
        strip_client_supplied(&mut parts.headers);
        strip_underscored(&mut parts.headers);
        if route.affinity == Affinity::Cookie {
            strip_cookie(&mut parts.headers, pool);
        }
        let original_host: Option<&[u8]> = match parts.uri.authority() {
            Some(a) => Some(a.as_str().as_bytes()),
            None => parts.headers.get(header::HOST).map(HeaderValue::as_bytes),
        };
        let forwarding = ForwardedFor {
            client: if addr == ctx.client_headers.addr {
                Rendered::Ready(&ctx.client_headers)
            } else {
                Rendered::Fresh(addr, ctx.listener.proto())
            },
            chain: chain.as_ref(),
            host: original_host,
        };
        // A block, so that `backend_host` keeps no room of its own in this future.
        let (head, sni) = {
            let backend_host = route.host_rewrite.as_ref().map(HeaderValue::as_bytes).or(original_host);
            let head = RequestHead {
                method: &parts.method,
                // Origin form: the path and query alone.
                target: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
                host: backend_host,
                headers: &parts.headers,
                forwarding: Some(&forwarding),
            };
            (head, sni_for(backend, backend_host, &host))
        };

        // Members tried, by name: a reload between two attempts may give
        // the pool in service other indices.
        let mut tried: Vec<Arc<str>> = Vec::new();
        let mut attempts = 0u32;
        loop {
            // Pick: the pinned member if this connection has one in this pool,
            // else the balancer's choice.
            let Some(Choice {
                member,
                target,
                mut via,
                mut conn,
                guard,
            }) = choose(ctx, pool, &route, &sni, addr, cookie_member, &tried)
            else {
                let (status, why) = if tried.is_empty() {
                    (StatusCode::SERVICE_UNAVAILABLE, "no member available")
                } else {
                    (StatusCode::BAD_GATEWAY, "no member reachable")
                };
                return answer(log, status, why, lang, &route);
            };
            if conn.is_none() && !wants_pin {
                conn = ctx.shared.upstreams.take(&target, started);
                if conn.is_some() {
                    via = Via::Pooled;
                }
            }
            log.member = Some(label(guard.member(), &target, route.backend_port));
            // The count on the member whose connection is in use: a local,
            // so that a forward phase dropped mid-way releases the member
            // before the guard (captured, dropped last) writes the record.
            let mut hold = Some(guard);
            // Kept in one `Option`: a second variable for the connection
            // would keep room for it twice in this future.
            if conn.is_none() {
                conn = {
                    let tls = backend.tls.clone();
                    // Boxed: the connect future is large and runs only for a new
                    // backend connection, while room for it would be allocated
                    // and copied with this future on every request.
                    match Box::pin(ctx.shared.upstreams.connect(&target, tls, route.connect_timeout)).await {
                        Ok(c) => Some(c),
                        Err(e) => {
                            tracing::warn!(route = %route.name, member = %log.member_name(), "{e}");
                            if let Some(h) = hold.take() {
                                h.connect_failed("the reverse proxy could not connect");
                                tried.push(h.member().name().clone());
                            }
                            attempts += 1;
                            if attempts > state.config.retries {
                                let status = match e {
                                    crate::upstream::ConnectError::Timeout => StatusCode::GATEWAY_TIMEOUT,
                                    _ => StatusCode::BAD_GATEWAY,
                                };
                                return answer(log, status, "connect failed", lang, &route);
                            }
                            continue;
                        }
                    }
                };
            }
            let Some(open) = conn.as_mut() else {
                unreachable!("connected above");
            };
            if let Some(h) = hold.as_ref() {
                h.connect_succeeded();
            }
            open.start(&head, &mut upload);
            let answered = {
                let mut timer = pin!(tokio::time::sleep_until(
                    first_deadline(&activity, route.idle_timeout, total_deadline).into(),
                ));
                std::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = open.poll_response_head(head.method, &mut upload, cx) {
                        return Poll::Ready(Ok(r));
                    }
                    expired(timer.as_mut(), &activity, route.idle_timeout, total_deadline, cx).map(Err)
                })
                .await
            };
            let head = match answered {
                Ok(Ok(head)) => head,
                Ok(Err(failure)) => {
                    let failed = hold.take();
                    match failure {
                        // A reused connection that died while idle: nothing was
                        // sent and nothing of the body read, so go again (a pin
                        // is dropped with it). A new one counts as an attempt.
                        Failure::NotSent(_) if !matches!(via, Via::New) => continue,
                        Failure::NotSent(_) if idempotent(head.method) && attempts < state.config.retries => {
                            tracing::debug!(route = %route.name, member = %log.member_name(), "new backend connection failed before sending; retrying");
                            if let Some(h) = failed {
                                tried.push(h.member().name().clone());
                            }
                            attempts += 1;
                            continue;
                        }
                        Failure::ClientBody(e) if e.is::<TimedOut>() => {
                            return answer(
                                log,
                                StatusCode::REQUEST_TIMEOUT,
                                "client body read timeout",
                                lang,
                                &route,
                            );
                        }
                        Failure::ClientBody(e) => {
                            tracing::debug!(route = %route.name, "client request body failed: {e}");
                            return answer(log, StatusCode::BAD_REQUEST, "client body failed", lang, &route);
                        }
                        other => {
                            tracing::warn!(route = %route.name, member = %log.member_name(), "backend request failed: {other}");
                            return answer(log, StatusCode::BAD_GATEWAY, "backend request failed", lang, &route);
                        }
                    }
                }
                Err(what) => {
                    drop(hold.take());
                    return answer(log, StatusCode::GATEWAY_TIMEOUT, what, lang, &route);
                }
            };

            let Some(conn) = conn.take() else {
                unreachable!("connected above");
            };

            // Pinning decisions on the response head.
            let status = head.status;
            let backend_wants_pin = status == StatusCode::UNAUTHORIZED
                && head
                    .headers
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .any(is_connection_auth);
            if backend_wants_pin && ctx.h2 {
                drop(hold.take());
                log.finish(
                    status.as_u16(),
                    "backend asks NTLM/Negotiate over HTTP/2: HTTP_1_1_REQUIRED",
                );
                drop(log);
                return Err(http11_required());
            }
            let tunnel = upgrade
                && status == StatusCode::SWITCHING_PROTOCOLS
                && crate::tunnel::switched_to_websocket(&head.headers);
            if status == StatusCode::SWITCHING_PROTOCOLS && !tunnel {
                drop(hold.take());
                tracing::warn!(route = %route.name, member = %log.member_name(), "backend switched protocols unasked");
                return answer(log, StatusCode::BAD_GATEWAY, "unasked 101 from backend", lang, &route);
            }
            let pin = wants_pin || backend_wants_pin || matches!(via, Via::Pinned);
            let (inner, after) = if tunnel {
                if let Some(client_upgrade) = client_upgrade {
                    tokio::spawn(crate::tunnel::run(
                        ctx.shared.clone(),
                        client_upgrade,
                        conn,
                        route.idle_timeout,
                    ));
                }
                (BackendBody::none(), AfterUse::Close)
            } else if pin {
                let after = AfterUse::Pin { target, member };
                (BackendBody::new(conn, &head, upload), after)
            } else {
                (BackendBody::new(conn, &head, upload), AfterUse::Pool(target))
            };

            let mut headers = head.headers;
            strip_hop_by_hop(&mut headers, tunnel);
            if upgrade && !tunnel {
                // The smuggling guard stepped aside for the Upgrade head: close.
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            if route.affinity == Affinity::Cookie && cookie_member != Some(member) {
                if let Some(h) = &hold {
                    headers.append(
                        header::SET_COOKIE,
                        ctx.shared
                            .signer
                            .set_cookie(pool, h.member(), ctx.listener.tls.is_some()),
                    );
                }
            }
            // From here the exchange logs the request and releases the member.
            log.responded(status.as_u16(), pin, tunnel.then_some("upgraded"), activity.clone());
            let completion = Completion {
                log,
                hold,
                after,
                conn: None,
                completed: false,
                outcome: None,
            };
            let mut body = UpstreamBody {
                inner,
                activity,
                idle: route.idle_timeout,
                total: total_deadline,
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
            return Ok(resp);
        }
    }
}

/// Answers with gatehouse's own page, and logs why.
fn answer(
    mut log: Box<AccessGuard>,
    status: StatusCode,
    why: &'static str,
    lang: pages::Lang,
    route: &CompiledRoute,
) -> Result<Response<ProxyBody>, BoxError> {
    log.finish(status.as_u16(), why);
    drop(log);
    Ok(route.with_hsts(page(status, lang)))
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

/// Whether the route's idle or total timeout ran out while the request
/// waits for its response head (the request body may still be flowing:
/// idle means no byte moved either way for `idle`). A timer that fires
/// early, because bytes moved since it was set, is set again.
fn expired(
    mut timer: Pin<&mut tokio::time::Sleep>,
    activity: &Activity,
    idle: Duration,
    total: Option<Instant>,
    cx: &mut Context<'_>,
) -> Poll<&'static str> {
    loop {
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let now = Instant::now();
        if total.is_some_and(|t| now >= t) {
            return Poll::Ready("total timeout");
        }
        if now >= activity.deadline(idle) {
            return Poll::Ready("idle timeout waiting for response");
        }
        timer.as_mut().reset(first_deadline(activity, idle, total).into());
    }
}

/// The earlier of the idle and the total deadline.
fn first_deadline(activity: &Activity, idle: Duration, total: Option<Instant>) -> Instant {
    let idle_at = activity.deadline(idle);
    total.map_or(idle_at, |t| t.min(idle_at))
}
