//! The **log** phase: one access-log line per request, whatever ends it.
//!
//! [`crate::phases::handle`] makes an [`AccessGuard`] as soon as a request's
//! head is read. The phases fill it in as they learn things (client, route,
//! member, status) and it goes with the request: into the forward phase,
//! then into the response body's [`crate::completion::Completion`] once a
//! backend answered. Dropping it writes the record, so every exit writes
//! exactly one: an answer of gatehouse's own, a response body that ended,
//! failed or timed out, and a request or body dropped because the client
//! went away (status 499 before a response, as nginx does) or a panic.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use gatehouse_policy::ZoneId;
use http::Method;

use crate::access::{dash, AccessRecord};
use crate::activity::Activity;
use crate::client::{Client, Origin};
use crate::ctx::ConnCtx;

/// A request's access record in the making; written when dropped.
///
/// Its parts are kept as the phases find them and made into an
/// [`AccessRecord`] only when written: a record made up front would take
/// references on strings that the phases then replace.
pub(crate) struct AccessGuard {
    /// The connection the request came on; public so that the forward
    /// phase can borrow it next to `member`.
    pub ctx: Arc<ConnCtx>,
    started: Instant,
    /// When the exchange ended, read by whoever ended it; else when dropped.
    ended: Option<Instant>,
    method: Method,
    client: IpAddr,
    via: Option<IpAddr>,
    /// `None` only before the client phase, for a trusted proxy's client.
    zone: Option<ZoneId>,
    route: Option<Arc<str>>,
    host: Option<Arc<str>>,
    /// `host:port` of the member picked; set by the pick phase.
    pub member: Option<Arc<str>>,
    status: u16,
    pinned: bool,
    outcome: Option<&'static str>,
    /// What a page of gatehouse's own sent.
    bytes_out: u64,
    /// The exchange's byte counts, once the backend's response streams.
    activity: Option<Arc<Activity>>,
    /// False until a status is known: dropping it then means the client
    /// went away.
    answered: bool,
}

impl AccessGuard {
    /// Starts the record of a request whose head was just read. Until the
    /// client phase says otherwise, its client is the connection's.
    pub fn new(ctx: Arc<ConnCtx>, method: &Method, started: Instant) -> AccessGuard {
        let peer = ctx.peer.ip().to_canonical();
        AccessGuard {
            client: ctx.client,
            via: (ctx.client != peer).then_some(peer),
            zone: match ctx.origin {
                Origin::Connection(zone) => Some(zone),
                Origin::ForwardedFor => None,
            },
            ctx,
            started,
            ended: None,
            method: method.clone(),
            route: None,
            host: None,
            member: None,
            status: 0,
            pinned: false,
            outcome: None,
            bytes_out: 0,
            activity: None,
            answered: false,
        }
    }

    /// Writes the record of a head refused before it was a request (it did
    /// not parse, or its framing was ambiguous): method, host and route
    /// `-`, no duration.
    pub fn refused(ctx: Arc<ConnCtx>, status: u16, why: &'static str) {
        let now = Instant::now();
        let unknown = Method::from_bytes(b"-").unwrap_or_default();
        let mut log = AccessGuard::new(ctx, &unknown, now);
        log.ended = Some(now);
        log.finish(status, why);
        drop(log);
    }

    /// The member picked, for the proxy's own logs.
    pub fn member_name(&self) -> &str {
        self.member.as_deref().unwrap_or("-")
    }

    pub fn ctx(&self) -> &ConnCtx {
        &self.ctx
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// The client phase decided who the request's client is.
    pub fn client(&mut self, client: &Client) {
        self.client = client.addr;
        self.via = client.via;
        self.zone = Some(client.zone);
    }

    /// The route phase found a route for this host.
    pub fn routed(&mut self, route: Arc<str>, host: Arc<str>) {
        self.route = Some(route);
        self.host = Some(host);
    }

    /// Gatehouse answered the request itself, before the forward phase:
    /// the record counts the page's bytes, which is what was sent, and the
    /// host is the request's when no route said it.
    pub fn answered<T, B: hyper::body::Body>(
        mut self,
        req: &http::Request<T>,
        resp: &http::Response<B>,
        why: &'static str,
    ) {
        if self.host.is_none() {
            self.host = crate::routing::request_host(req);
        }
        self.bytes_out = resp.body().size_hint().exact().unwrap_or(0);
        self.finish(resp.status().as_u16(), why);
        drop(self);
    }

    /// The request ended with `status` and why, before any response body;
    /// the record is written when the guard is dropped, right after.
    pub fn finish(&mut self, status: u16, why: &'static str) {
        self.status = status;
        self.outcome = Some(why);
        self.answered = true;
    }

    /// The backend answered with `status`; the response body streams from
    /// here, and `activity` counts its bytes. `outcome` stays open for the
    /// end of the body to say, unless given here.
    pub fn responded(&mut self, status: u16, pinned: bool, outcome: Option<&'static str>, activity: Arc<Activity>) {
        self.status = status;
        self.pinned = pinned;
        self.outcome = outcome;
        self.activity = Some(activity);
        self.answered = true;
    }

    /// The response body ended at `now`; `why` when it did not end cleanly
    /// and nothing said why before.
    pub fn ended(&mut self, now: Instant, why: Option<&'static str>) {
        self.ended = Some(now);
        if self.outcome.is_none() {
            self.outcome = why;
        }
    }

    /// The one place a record is made and written.
    fn write(&mut self) {
        let ctx = &*self.ctx;
        let (bytes_in, bytes_out) = match &self.activity {
            Some(a) => (a.bytes_in.load(Ordering::Relaxed), a.bytes_out.load(Ordering::Relaxed)),
            None => (0, self.bytes_out),
        };
        let zone = self
            .zone
            .unwrap_or_else(|| ctx.plan.plan.classify(ctx.peer.ip().to_canonical()));
        let record = AccessRecord {
            client: self.client,
            via: self.via,
            zone: ctx.plan.zone_names[zone.0 as usize].clone(),
            listener: ctx.listener.name.clone(),
            route: self.route.take().unwrap_or_else(dash),
            member: self.member.take().unwrap_or_else(dash),
            method: std::mem::take(&mut self.method),
            host: self.host.take().unwrap_or_else(dash),
            status: self.status,
            bytes_in,
            bytes_out,
            duration: match self.ended {
                Some(ended) => ended.saturating_duration_since(self.started),
                None => self.started.elapsed(),
            },
            pinned: self.pinned,
            user: None,
            outcome: self.outcome,
        };
        ctx.shared.access_log.log(&record);
    }
}

impl Drop for AccessGuard {
    fn drop(&mut self) {
        if !self.answered {
            self.status = 499;
            self.outcome = Some("client went away");
        }
        self.write();
    }
}
