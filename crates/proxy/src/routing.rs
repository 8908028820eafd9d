//! The routes of one HTTP listener as the forward phase needs them, and the
//! host a request names. Which route a request takes is the plan's decision
//! (`gatehouse_model::web`, which `explain` prints too); each route is
//! compiled here once per plan into what the later phases read.

use std::sync::Arc;
use std::time::Duration;

use gatehouse_model::topology::{Affinity, Listener};
use gatehouse_model::Plan;

/// A route as the forward phase needs it; what decides whether a request
/// takes it is the plan's ([`gatehouse_model::web`]).
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    /// The route's index in the topology.
    pub index: usize,
    pub name: Arc<str>,
    pub pool: Arc<str>,
    /// The pool's index in the topology (and in the plan state's pools).
    pub pool_index: Option<usize>,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub total_timeout: Option<Duration>,
    pub affinity: Affinity,
    pub backend_port: Option<u16>,
    pub host_rewrite: Option<http::HeaderValue>,
    /// `Upgrade: websocket` may be tunnelled; every other Upgrade is refused.
    pub websocket: bool,
    /// `Strict-Transport-Security` for this route on this listener, rendered
    /// once; `None` on plain HTTP or where the topology turns it off.
    pub hsts: Option<http::HeaderValue>,
}

impl CompiledRoute {
    fn new(plan: &Plan, index: usize, listener: &Listener) -> CompiledRoute {
        let r = &plan.topology.routes[index];
        CompiledRoute {
            index,
            name: r.name.value.as_str().into(),
            pool: r.pool.value.as_str().into(),
            pool_index: plan.web.routes[index].pool,
            connect_timeout: r.timeouts.connect.value,
            idle_timeout: r.timeouts.idle.value,
            total_timeout: r.timeouts.total.as_ref().map(|t| t.value),
            affinity: r.affinity,
            backend_port: r.backend_port.as_ref().map(|p| p.value),
            host_rewrite: r
                .host_rewrite
                .as_deref()
                .and_then(|h| http::HeaderValue::from_str(h).ok()),
            websocket: r.websocket,
            hsts: r
                .hsts_on(listener)
                .and_then(|h| http::HeaderValue::from_str(&h.header_value()).ok()),
        }
    }

    /// Adds the route's `Strict-Transport-Security` to an answer of
    /// gatehouse's own, so that a refused request teaches HTTPS too.
    pub fn with_hsts<B>(&self, mut resp: http::Response<B>) -> http::Response<B> {
        if let Some(hsts) = &self.hsts {
            resp.headers_mut()
                .insert(http::header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        resp
    }
}

/// The routes of one listener, by their index in the topology (`None` for
/// routes not on the listener).
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    routes: Vec<Option<Arc<CompiledRoute>>>,
}

impl RouteTable {
    pub fn compile(plan: &Plan, listener: usize) -> RouteTable {
        let mut routes = vec![None; plan.topology.routes.len()];
        let own = &plan.topology.listeners[listener];
        if let Some(web) = &plan.web.listeners[listener] {
            for i in web.table.routes() {
                if routes[i].is_none() {
                    routes[i] = Some(Arc::new(CompiledRoute::new(plan, i, own)));
                }
            }
        }
        RouteTable { routes }
    }

    /// The route at `index` in the topology, when it is on this listener.
    pub fn get(&self, index: usize) -> Option<&Arc<CompiledRoute>> {
        self.routes.get(index)?.as_ref()
    }
}

/// The host a request names: the URI authority (HTTP/2, absolute-form) or
/// the Host header, lower-cased, without port or trailing dot.
pub(crate) fn request_host(req: &http::Request<impl Sized>) -> Option<Arc<str>> {
    // RFC 9112 3.2: more than one Host is a 400, never "the first one".
    let mut hosts = req.headers().get_all(http::header::HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return None;
    }
    let header = match header {
        Some(h) => {
            let h = h.to_str().ok()?;
            // Validated as an authority, then split like one.
            h.parse::<http::uri::Authority>().ok()?;
            Some(h)
        }
        None => None,
    };
    let authority = match (req.uri().authority(), header) {
        (Some(a), None) => a.as_str(),
        (Some(a), Some(h)) => {
            // Absolute form or `:authority` with a differing Host: which one
            // the backend believes is unknown, so neither is trusted.
            if !a
                .as_str()
                .trim_end_matches('.')
                .eq_ignore_ascii_case(h.trim_end_matches('.'))
            {
                return None;
            }
            a.as_str()
        }
        (None, Some(h)) => h,
        (None, None) => return None,
    };
    if !plain_authority(authority) {
        return None;
    }
    let host = host_of(authority).trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    // One allocation, for the result: clients nearly always send lower case.
    Some(if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Arc::from(host.to_ascii_lowercase())
    } else {
        Arc::from(host)
    })
}

/// Whether a valid authority is a bare `host[:port]`: userinfo is refused
/// (RFC 9113 8.3.1; `mail@teams` must not route to teams) and a port, if
/// present, is a number.
fn plain_authority(authority: &str) -> bool {
    let b = authority.as_bytes();
    if b.contains(&b'@') {
        return false;
    }
    let host = host_of(authority).len();
    match b.get(host) {
        None => true,
        Some(b':') => b.len() > host + 1 && b[host + 1..].iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// The host of a valid authority: without user info or port, an IPv6
/// literal with its brackets. As `Authority::host`, in a byte scan instead
/// of three string searches, since every request needs it.
fn host_of(authority: &str) -> &str {
    let b = authority.as_bytes();
    let start = b.iter().rposition(|&c| c == b'@').map_or(0, |i| i + 1);
    let rest = &b[start..];
    let end = if rest.first() == Some(&b'[') {
        rest.iter().position(|&c| c == b']').map_or(rest.len(), |i| i + 1)
    } else {
        rest.iter().position(|&c| c == b':').unwrap_or(rest.len())
    };
    &authority[start..start + end]
}

#[cfg(test)]
mod host {
    use super::host_of;

    #[test]
    fn the_host_of_an_authority_is_what_http_says_it_is() {
        for a in [
            "mail.contoso.com",
            "mail.contoso.com:443",
            "user@mail.contoso.com:8443",
            "a@b@mail.contoso.com",
            "[2001:db8::1]",
            "[2001:db8::1]:443",
            "192.0.2.1:80",
            "mail.contoso.com.",
        ] {
            let parsed: http::uri::Authority = a.parse().unwrap();
            assert_eq!(host_of(a), parsed.host(), "{a}");
        }
    }
}

#[cfg(test)]
mod contoso {
    use super::*;

    fn contoso() -> Plan {
        gatehouse_model::check(gatehouse_model::CONTOSO)
            .plan
            .expect("Contoso is valid")
    }

    /// A listener's compiled routes, looked up as the route phase does.
    struct Listener<'p> {
        plan: &'p Plan,
        index: usize,
        routes: RouteTable,
    }

    impl Listener<'_> {
        fn lookup(&self, host: &str, path: &str) -> Option<&Arc<CompiledRoute>> {
            let web = self.plan.web.listeners[self.index].as_ref()?;
            self.routes.get(web.table.lookup(host, path)?.route)
        }
    }

    fn compile<'p>(plan: &'p Plan, name: &str) -> Listener<'p> {
        let index = plan.listener_index(name).unwrap();
        Listener {
            plan,
            index,
            routes: RouteTable::compile(plan, index),
        }
    }

    #[test]
    fn contoso_routes_keep_long_polls_alive_and_default_to_60_seconds() {
        let plan = contoso();
        let t = compile(&plan, "https-public");
        let sync = t.lookup("mail.contoso.com", "/Microsoft-Server-ActiveSync").unwrap();
        assert_eq!(sync.idle_timeout, Duration::from_secs(3600));
        assert_eq!(sync.total_timeout, None);
        let ews = t.lookup("mail.contoso.com", "/ews/exchange.asmx").unwrap();
        assert_eq!(
            (&*ews.name, ews.idle_timeout),
            ("exchange-ews", Duration::from_secs(1800))
        );
        let oab = t.lookup("mail.contoso.com", "/oab/").unwrap();
        assert_eq!(
            (&*oab.name, oab.idle_timeout),
            ("exchange-oab", Duration::from_secs(60))
        );
    }

    #[test]
    fn contoso_exchange_directories_ignore_case_and_sharepoint_does_not() {
        let plan = contoso();
        let t = compile(&plan, "https-public");
        for p in ["/OWA/", "/owa/", "/Owa"] {
            assert_eq!(&*t.lookup("mail.contoso.com", p).unwrap().name, "exchange-owa", "{p}");
        }
        let lync = t.lookup("meet.contoso.com", "/x").unwrap();
        assert_eq!(lync.backend_port, Some(4443));
        // Plain-HTTP Lync discovery goes to the front ends' port 8080.
        let plain = compile(&plan, "http-public");
        let d = plain.lookup("lyncdiscover.contoso.com", "/").unwrap();
        assert_eq!((plan.web.routes[d.index].plain, d.backend_port), (true, Some(8080)));
    }

    #[test]
    fn explicit_ignore_case_overrides_the_product_default() {
        let text = gatehouse_model::CONTOSO.replace(
            "paths = [\"/owa\"]\npool = \"exchange-owa\"",
            "paths = [\"/owa\"]\npool = \"exchange-owa\"\nignore_case = false",
        );
        let plan = gatehouse_model::check(&text).plan.expect("valid");
        let t = compile(&plan, "https-public");
        assert_eq!(&*t.lookup("mail.contoso.com", "/owa/").unwrap().name, "exchange-owa");
        assert!(t
            .lookup("mail.contoso.com", "/OWA/")
            .is_none_or(|r| &*r.name != "exchange-owa"));
    }
}
