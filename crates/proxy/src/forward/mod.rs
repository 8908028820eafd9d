//! The **pick** and **forward** phases: choose a member, reach it over a
//! pooled, new or pinned backend connection, stream the request and the
//! response, and keep the route's timeouts. [`forward`] is the driver; each
//! step is a named function of one of these modules, which says when it
//! runs and what an early return means:
//!
//! | step     | where                                              | returning early means                  |
//! |----------|----------------------------------------------------|----------------------------------------|
//! | request  | [`request::strip`], [`request::head`]              | never                                  |
//! | pick     | [`pick::choose`], [`pick::reuse_pooled`]           | 503 no member, 502 none left to try    |
//! | connect  | [`connect::connect`], [`connect::after_connect_error`] | retry elsewhere, else 502 / 504    |
//! | exchange | [`connect::response_head`], [`connect::after_failure`] | retry, else 400 / 408 / 502 / 504  |
//! | pin      | [`pin::decide`]                                    | `HTTP_1_1_REQUIRED`, 502 (unasked 101) |
//! | response | [`response::respond`]                              | never: the body carries the rest       |
//!
//! Backend connections speak HTTP/1.1 through [`crate::backend`], driven
//! from this request's task; a pooled one is checked for a close the
//! backend sent while it sat idle before it is used.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;

use crate::activity::Activity;
use crate::backend::Upload;
use crate::body::ProxyBody;
use crate::client::Client;
use crate::completion::Completion;
use crate::ctx::ConnCtx;
use crate::error::BoxError;
use crate::log::AccessGuard;
use crate::pages;
use crate::pages::page;
use crate::request_body::{ClientBody, RequestBody};
use crate::routing::CompiledRoute;
use connect::Retry;
use pick::{choose, label, Choice};
use pin::{http11_required, Refused};

mod connect;
mod pick;
mod pin;
mod request;
mod response;

/// Forwards one routed, admitted request: runs once per request after
/// admit, and answers with gatehouse's page (logged through `log`) when
/// no member takes it or every attempt fails before a response head.
///
/// A plain function that takes the request apart and prepares what needs
/// no waiting, around an `async` block that does the rest: an `async fn`
/// keeps room for each argument twice and for every value it was rebuilt
/// into. This future is allocated for every request; at 1,000 bytes or
/// less (it was 2.9 KB) glibc serves it from its per-thread cache or its
/// small bins, while larger blocks go through its sorted large bins,
/// which cost 500 instructions more per request (bench/http/NOTES.md).
/// The steps are plain functions for the same reason: only the two waits,
/// for a new connection and for the response head, are futures.
pub(crate) fn forward(
    mut log: Box<AccessGuard>,
    client: Client,
    route: Arc<CompiledRoute>,
    host: Arc<str>,
    mut req: Request<ClientBody>,
) -> impl Future<Output = Result<Response<ProxyBody>, BoxError>> + Send {
    let lang = pages::negotiate(req.headers());
    let wants_pin = pin::wants_pin(req.headers());
    let (refused_upgrade, upgrade) = pin::upgrade(req.headers(), log.ctx().h2, route.websocket);
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
        let Some((pool, backend)) = pick::pool(ctx, &route) else {
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
        // Read before the request loses its affinity cookie.
        let cookie_member = pick::cookie_member(ctx, &route, pool, &parts.headers);
        request::strip(&mut parts.headers, upgrade, &route, pool);
        let original_host = request::original_host(&parts);
        let forwarding = request::forwarding(ctx, addr, chain.as_ref(), original_host);
        let (head, sni) = request::head(&parts, &forwarding, &route, backend, &host);

        // Members tried, by name: a reload between two attempts may give
        // the pool in service other indices.
        let mut tried: Vec<Arc<str>> = Vec::new();
        let mut attempts = 0u32;
        loop {
            // A block, so that the whole choice keeps no room of its own
            // in this future next to its parts.
            let Choice {
                member,
                target,
                via,
                mut conn,
                guard,
            } = {
                let Some(mut choice) = choose(ctx, pool, &route, &sni, addr, cookie_member, &tried) else {
                    let (status, why) = if tried.is_empty() {
                        (StatusCode::SERVICE_UNAVAILABLE, "no member available")
                    } else {
                        (StatusCode::BAD_GATEWAY, "no member reachable")
                    };
                    return answer(log, status, why, lang, &route);
                };
                pick::reuse_pooled(ctx, &mut choice, wants_pin, started);
                choice
            };
            log.member = Some(label(guard.member(), &target, route.backend_port));
            // The count on the member whose connection is in use: a local,
            // so that a forward phase dropped mid-way releases the member
            // before the guard (captured, dropped last) writes the record.
            let mut hold = Some(guard);
            // Kept in one `Option`: a second variable for the connection
            // would keep room for it twice in this future.
            if conn.is_none() {
                match connect::connect(ctx, backend, &target, &route).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(route = %route.name, member = %log.member_name(), "{e}");
                        if let Some(h) = hold.take() {
                            h.connect_failed("the reverse proxy could not connect");
                            tried.push(h.member().name().clone());
                        }
                        attempts += 1;
                        match connect::after_connect_error(&e, attempts, ctx.plan.config.retries) {
                            Retry::Answer(status, why) => return answer(log, status, why, lang, &route),
                            Retry::Replace | Retry::Elsewhere => continue,
                        }
                    }
                }
            }
            let Some(open) = conn.as_mut() else {
                unreachable!("connected above");
            };
            if let Some(h) = hold.as_ref() {
                h.connect_succeeded();
            }
            open.start(&head, &mut upload);
            let answered = {
                let timer = pin!(connect::head_timer(&activity, route.idle_timeout, total_deadline));
                connect::response_head(
                    open,
                    head.method,
                    &mut upload,
                    timer,
                    &activity,
                    &route,
                    &total_deadline,
                )
                .await
            };
            let head = match answered {
                Ok(Ok(head)) => head,
                Ok(Err(failure)) => {
                    let failed = hold.take();
                    let retries = ctx.plan.config.retries;
                    match connect::after_failure(
                        failure,
                        &via,
                        head.method,
                        attempts,
                        retries,
                        &route,
                        log.member_name(),
                    ) {
                        Retry::Replace => continue,
                        Retry::Elsewhere => {
                            if let Some(h) = failed {
                                tried.push(h.member().name().clone());
                            }
                            attempts += 1;
                            continue;
                        }
                        Retry::Answer(status, why) => return answer(log, status, why, lang, &route),
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

            let pinned = wants_pin || matches!(via, pick::Via::Pinned);
            let (keep, pinned) = match pin::decide(&head, upgrade, ctx.h2, pinned) {
                Ok(decided) => decided,
                Err(Refused::Http11Required) => {
                    drop(hold.take());
                    let why = "backend asks NTLM/Negotiate over HTTP/2: HTTP_1_1_REQUIRED";
                    log.finish(head.status.as_u16(), why);
                    drop(log);
                    return Err(http11_required());
                }
                Err(Refused::Unasked101) => {
                    drop(hold.take());
                    tracing::warn!(route = %route.name, member = %log.member_name(), "backend switched protocols unasked");
                    return answer(log, StatusCode::BAD_GATEWAY, "unasked 101 from backend", lang, &route);
                }
            };
            let status = head.status;
            let after = pin::after_use(keep, target, member);
            let inner = pin::backend_body(keep, conn, &head, upload, client_upgrade, ctx, route.idle_timeout);

            let mut headers = response::headers(head.headers, keep, upgrade);
            if pick::sets_cookie(&route, cookie_member, member) {
                if let Some(h) = &hold {
                    response::set_cookie(&mut headers, ctx, pool, h.member());
                }
            }
            let upgraded = (keep == pin::Keep::Tunnel).then_some("upgraded");
            log.responded(status.as_u16(), pinned, upgraded, activity.clone());
            let completion = Completion::new(log, hold, after);
            return Ok(response::respond(
                status,
                headers,
                completion,
                inner,
                activity,
                total_deadline,
                &route,
            ));
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
