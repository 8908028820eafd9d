//! The one decision for a web request head: which route it takes on its
//! listener, and whether it goes on to the pool, is redirected, or gets an
//! answer from gatehouse itself.
//!
//! The reverse proxy's route and admit phases act on it and `explain`
//! prints it, so the two cannot disagree (a property test drives both over
//! generated topologies). The rules, in the order they apply:
//!
//! 1. the path: refused (400) when its meaning depends on the backend's
//!    decoding, otherwise put in the one normal form that is both routed
//!    and forwarded ([`crate::path::judge`]);
//! 2. a scheme that is not the listener's own (400): a backend told `http`
//!    over TLS may build links or cookies for plain HTTP;
//! 3. no usable host (400);
//! 4. on a `strict_sni` listener, a host that is not the TLS server name:
//!    400 on HTTP/1.1, 421 on HTTP/2, which browsers retry on a new
//!    connection (RFC 9113 9.1.1);
//! 5. CONNECT (405);
//! 6. the route: host, then the longest path prefix. A route that does not
//!    admit the client's zone answers 404, not 403, so that e.g. admin names
//!    are not revealed; no route answers 404;
//! 7. plain HTTP serves only routes marked `plain`; any other request for a
//!    host that an https listener serves is redirected there, else 404;
//! 8. admit: the route's auth policy for the zone ([`Admission`]).

use std::borrow::Cow;

use gatehouse_policy::ZoneId;
// FxHash: the keys come from the topology; a client's host is only looked
// up, never inserted.
use rustc_hash::FxHashMap as HashMap;

use crate::admission::Admission;
use crate::path::PathRefusal;
use crate::routing::{RouteMatch, RouteTable};
use crate::topology::{AuthMethod, AuthPolicy, Protocol, Route, Topology};

/// One http(s) listener, compiled.
#[derive(Clone, Debug)]
pub struct WebListener {
    pub table: RouteTable,
    pub https: bool,
    /// Requests must name the TLS server name as their host.
    pub strict_sni: bool,
}

/// What the decision needs of a route, references resolved.
#[derive(Clone, Debug)]
pub struct RouteRule {
    /// Zones allowed on this route on top of the listener's; `None`: all.
    pub zones: Option<Vec<ZoneId>>,
    /// The auth policy per zone, and for every other zone.
    pub auth: Vec<(ZoneId, AuthPolicy)>,
    pub auth_default: AuthPolicy,
    /// The pool's index in the topology's pools.
    pub pool: Option<usize>,
    /// Served on plain HTTP rather than redirected.
    pub plain: bool,
}

impl RouteRule {
    pub(crate) fn compile(t: &Topology, r: &Route, zone_id: impl Fn(&str) -> Option<ZoneId>) -> RouteRule {
        RouteRule {
            zones: r
                .zones
                .as_ref()
                .map(|z| z.iter().filter_map(|z| zone_id(&z.value)).collect()),
            auth: r
                .auth
                .iter()
                .filter_map(|(z, p)| Some((zone_id(&z.value)?, p.value.clone())))
                .collect(),
            auth_default: r.auth_default.value.clone(),
            pool: t.pools.iter().position(|p| p.name.value == r.pool.value),
            plain: r.plain,
        }
    }

    pub fn admits_zone(&self, zone: ZoneId) -> bool {
        self.zones.as_ref().is_none_or(|z| z.contains(&zone))
    }

    /// The auth policy for a zone, and whether the route sets it for that
    /// zone (rather than by its default).
    pub fn auth_for(&self, zone: ZoneId) -> (&AuthPolicy, bool) {
        match self.auth.iter().find(|(z, _)| *z == zone) {
            Some((_, p)) => (p, true),
            None => (&self.auth_default, false),
        }
    }
}

/// The web side of a plan: listeners, routes and where plain HTTP
/// redirects to.
#[derive(Clone, Debug, Default)]
pub struct Web {
    /// By the listener's index in the topology; `None` for L4 listeners.
    pub listeners: Vec<Option<WebListener>>,
    /// By the route's index in the topology.
    pub routes: Vec<RouteRule>,
    /// For redirects: the port of the first https listener serving each
    /// host (lower-case, as written).
    pub https_port: HashMap<String, u16>,
}

impl Web {
    pub(crate) fn compile(t: &Topology, zone_id: impl Fn(&str) -> Option<ZoneId>) -> Web {
        let mut https_port = HashMap::default();
        let listeners = t
            .listeners
            .iter()
            .map(|l| {
                if !l.protocol.value.is_http() {
                    return None;
                }
                let https = l.protocol.value == Protocol::Https;
                if https {
                    let on = t
                        .routes
                        .iter()
                        .filter(|r| r.listeners.iter().any(|n| n.value == l.name.value));
                    for h in on.flat_map(|r| &r.hosts) {
                        let host = h.value.trim_end_matches('.').to_ascii_lowercase();
                        https_port.entry(host).or_insert(l.ports.value.first);
                    }
                }
                Some(WebListener {
                    table: RouteTable::compile_for(t, &l.name.value),
                    https,
                    strict_sni: l.strict_sni(),
                })
            })
            .collect();
        Web {
            listeners,
            routes: t.routes.iter().map(|r| RouteRule::compile(t, r, &zone_id)).collect(),
            https_port,
        }
    }
}

/// A request head as the decision reads it.
#[derive(Clone, Copy, Debug)]
pub struct Head<'a> {
    pub connect: bool,
    /// `:scheme`, or the scheme of an absolute-form target.
    pub scheme: Option<&'a str>,
    /// The host the request names: lower-case, without port or trailing
    /// dot; `None` when it names none, or several, or an unusable one.
    pub host: Option<&'a str>,
    /// The TLS server name, where the listener is `strict_sni`.
    pub sni: Option<&'a str>,
    pub h2: bool,
    /// The request path, without the query.
    pub path: &'a str,
}

/// Why gatehouse answers a request itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal<'p> {
    Path(PathRefusal),
    Scheme,
    Host,
    HostNotSni {
        h2: bool,
    },
    Connect,
    ZoneNotOnRoute,
    NoRoute,
    /// The route's auth policy is `deny`.
    Deny,
    /// Pre-authentication that gatehouse does not enforce: nothing reaches
    /// the pool.
    SignInUnavailable {
        provider: &'p str,
        method: Option<AuthMethod>,
    },
}

impl Refusal<'_> {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Path(_) | Refusal::Scheme | Refusal::Host | Refusal::HostNotSni { h2: false } => 400,
            Refusal::HostNotSni { h2: true } => 421,
            Refusal::Connect => 405,
            Refusal::ZoneNotOnRoute | Refusal::NoRoute => 404,
            Refusal::Deny => 403,
            Refusal::SignInUnavailable { .. } => 503,
        }
    }

    /// What the access log records.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Path(why) => why.as_str(),
            Refusal::Scheme => "scheme differs from listener",
            Refusal::Host => "invalid host",
            Refusal::HostNotSni { .. } => "host differs from SNI",
            Refusal::Connect => "CONNECT refused",
            Refusal::ZoneNotOnRoute => "zone not on route",
            Refusal::NoRoute => "no route",
            Refusal::Deny => "auth policy deny",
            Refusal::SignInUnavailable { .. } => "pre-authentication not enforced",
        }
    }

    /// Refused at admit, after the route was chosen.
    pub fn at_admit(self) -> bool {
        matches!(self, Refusal::Deny | Refusal::SignInUnavailable { .. })
    }
}

/// What happens to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome<'p> {
    /// On to the route's pool.
    Forward,
    /// To `https://host:port` with the same path and query.
    Redirect {
        port: u16,
    },
    Refuse(Refusal<'p>),
}

/// The route phase's finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed<'p, 'a> {
    /// The path as routed and forwarded; borrowed when already normal.
    pub path: Cow<'a, str>,
    /// The host, once known.
    pub host: Option<&'a str>,
    /// The route that matched, if any (also for a route that refuses).
    pub route: Option<RouteMatch<'p>>,
    /// `Forward` means: on to admit.
    pub outcome: Outcome<'p>,
}

impl<'p, 'a> Routed<'p, 'a> {
    fn stop(path: Cow<'a, str>, host: Option<&'a str>, outcome: Outcome<'p>) -> Routed<'p, 'a> {
        Routed {
            path,
            host,
            route: None,
            outcome,
        }
    }
}

impl crate::Plan {
    /// The route phase for a request `head` from a client in `zone`, on the
    /// http(s) listener at `listener` (its index in the topology).
    ///
    /// # Panics
    /// When `listener` is not an http(s) listener of this plan.
    pub fn route_request<'p, 'a>(&'p self, listener: usize, zone: ZoneId, head: &Head<'a>) -> Routed<'p, 'a> {
        let web = self.web.listeners[listener]
            .as_ref()
            .expect("route_request asks about an http(s) listener");
        let path = if head.connect {
            Cow::Borrowed(head.path)
        } else {
            match crate::path::judge(head.path) {
                Ok(p) => p,
                Err(why) => return Routed::stop(Cow::Borrowed(head.path), None, Outcome::Refuse(Refusal::Path(why))),
            }
        };
        if let Some(scheme) = head.scheme {
            let own = if web.https { "https" } else { "http" };
            if !scheme.eq_ignore_ascii_case(own) {
                return Routed::stop(path, None, Outcome::Refuse(Refusal::Scheme));
            }
        }
        let Some(host) = head.host else {
            return Routed::stop(path, None, Outcome::Refuse(Refusal::Host));
        };
        if web.strict_sni && head.sni.is_some_and(|sni| sni != host) {
            return Routed::stop(path, Some(host), Outcome::Refuse(Refusal::HostNotSni { h2: head.h2 }));
        }
        if head.connect {
            return Routed::stop(path, Some(host), Outcome::Refuse(Refusal::Connect));
        }
        let found = web.table.lookup(host, &path);
        let outcome = match found.map(|m| &self.web.routes[m.route]) {
            Some(r) if !r.admits_zone(zone) => Outcome::Refuse(Refusal::ZoneNotOnRoute),
            Some(r) if web.https || r.plain => Outcome::Forward,
            _ if !web.https => match self.web.https_port.get(host) {
                Some(&port) => Outcome::Redirect { port },
                None => Outcome::Refuse(Refusal::NoRoute),
            },
            _ => Outcome::Refuse(Refusal::NoRoute),
        };
        Routed {
            path,
            host: Some(host),
            route: found,
            outcome,
        }
    }

    /// The admit phase for a request on `route` (its index in the
    /// topology) from a client in `zone`: on to the pool, or a refusal.
    pub fn admit_request(&self, route: usize, zone: ZoneId) -> Result<(), Refusal<'_>> {
        match self.topology.admission(self.web.routes[route].auth_for(zone).0) {
            Admission::Forward => Ok(()),
            Admission::Deny => Err(Refusal::Deny),
            Admission::SignInUnavailable { provider, method } => Err(Refusal::SignInUnavailable { provider, method }),
        }
    }

    /// Route, then admit: the whole decision for one request head.
    pub fn decide_request<'p, 'a>(&'p self, listener: usize, zone: ZoneId, head: &Head<'a>) -> Routed<'p, 'a> {
        let mut routed = self.route_request(listener, zone, head);
        if let (Outcome::Forward, Some(m)) = (routed.outcome, routed.route) {
            if let Err(why) = self.admit_request(m.route, zone) {
                routed.outcome = Outcome::Refuse(why);
            }
        }
        routed
    }
}

/// Where a redirect to HTTPS points: the port is left out when it is 443.
pub fn redirect_location(host: &str, port: u16, path_and_query: &str) -> String {
    if port == 443 {
        format!("https://{host}{path_and_query}")
    } else {
        format!("https://{host}:{port}{path_and_query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Plan;

    fn contoso() -> Plan {
        crate::check(crate::CONTOSO).plan.expect("Contoso is valid")
    }

    fn get<'a>(host: Option<&'a str>, path: &'a str) -> Head<'a> {
        Head {
            connect: false,
            scheme: None,
            host,
            sni: None,
            h2: false,
            path,
        }
    }

    /// The route's name and the outcome, for a client of `zone` on
    /// `listener`.
    fn decide<'p>(plan: &'p Plan, listener: &str, zone: &str, head: Head<'_>) -> (Option<&'p str>, Outcome<'p>) {
        let d = plan.decide_request(
            plan.listener_index(listener).unwrap(),
            plan.zone_id(zone).unwrap(),
            &head,
        );
        let route = d.route.map(|m| plan.topology.routes[m.route].name.value.as_str());
        (route, d.outcome)
    }

    #[test]
    fn contoso_forwards_admits_and_refuses_as_its_routes_say() {
        let plan = contoso();
        let host = Some("mail.contoso.com");
        let at = |l, z, head| decide(&plan, l, z, head);
        assert_eq!(
            at("https-public", "partners", get(host, "/owa/")),
            (Some("exchange-owa"), Outcome::Forward)
        );
        assert_eq!(
            at("https-public", "internet", get(host, "/OWA/")),
            (
                Some("exchange-owa"),
                Outcome::Refuse(Refusal::SignInUnavailable {
                    provider: "corp-forms",
                    method: Some(AuthMethod::Forms)
                })
            )
        );
        assert_eq!(
            at("https-public", "partners", get(Some("teams.contoso.com"), "/")),
            (Some("sharepoint"), Outcome::Refuse(Refusal::Deny))
        );
        assert_eq!(
            at("https-internal", "vpn", get(Some("admin.contoso.com"), "/")),
            (Some("admin"), Outcome::Refuse(Refusal::ZoneNotOnRoute)),
            "admin is for the intranet alone"
        );
        assert_eq!(
            at("https-internal", "intranet", get(Some("admin.contoso.com"), "/")),
            (Some("admin"), Outcome::Forward)
        );
        assert_eq!(
            at("https-public", "internet", get(Some("admin.contoso.com"), "/")),
            (None, Outcome::Refuse(Refusal::NoRoute))
        );
    }

    #[test]
    fn plain_http_serves_plain_routes_and_redirects_only_hosts_an_https_listener_serves() {
        let plan = contoso();
        let at = |host, path| decide(&plan, "http-public", "internet", get(Some(host), path));
        assert_eq!(
            at("lyncdiscover.contoso.com", "/"),
            (Some("lync-discover-plain"), Outcome::Forward)
        );
        assert_eq!(at("meet.contoso.com", "/x"), (None, Outcome::Redirect { port: 443 }));
        assert_eq!(
            at("nowhere.contoso.com", "/"),
            (None, Outcome::Refuse(Refusal::NoRoute))
        );
    }

    #[test]
    fn the_head_is_judged_before_any_route() {
        let plan = contoso();
        let host = Some("mail.contoso.com");
        let at = |head| decide(&plan, "https-public", "partners", head).1;
        assert_eq!(
            at(get(host, "/owa/..%5cecp/")),
            Outcome::Refuse(Refusal::Path(PathRefusal::Backslash))
        );
        assert_eq!(at(get(None, "/owa/")), Outcome::Refuse(Refusal::Host));
        let http = Head {
            scheme: Some("http"),
            ..get(host, "/owa/")
        };
        assert_eq!(at(http), Outcome::Refuse(Refusal::Scheme));
        let connect = Head {
            connect: true,
            ..get(host, "mail.contoso.com:443")
        };
        assert_eq!(at(connect), Outcome::Refuse(Refusal::Connect));
        assert_eq!(Refusal::Connect.status(), 405);
    }

    #[test]
    fn a_strict_sni_listener_refuses_a_host_that_is_not_the_server_name() {
        let text = crate::CONTOSO.replace(
            "certificates = [\"public\"]",
            "certificates = [\"public\"]\nstrict_sni = true",
        );
        let plan = crate::check(&text).plan.expect("valid");
        let host = Some("mail.contoso.com");
        for h2 in [false, true] {
            let head = Head {
                sni: Some("teams.contoso.com"),
                h2,
                ..get(host, "/owa/")
            };
            let (_, outcome) = decide(&plan, "https-public", "partners", head);
            assert_eq!(outcome, Outcome::Refuse(Refusal::HostNotSni { h2 }));
            assert_eq!(Refusal::HostNotSni { h2 }.status(), if h2 { 421 } else { 400 });
        }
        let same = Head {
            sni: host,
            ..get(host, "/owa/")
        };
        assert_eq!(decide(&plan, "https-public", "partners", same).1, Outcome::Forward);
    }

    #[test]
    fn the_forwarded_path_is_the_normal_form_and_borrowed_when_already_normal() {
        let plan = contoso();
        let (l, z) = (
            plan.listener_index("https-public").unwrap(),
            plan.zone_id("partners").unwrap(),
        );
        let d = plan.route_request(l, z, &get(Some("mail.contoso.com"), "/%6Fwa//inbox"));
        assert_eq!(d.path, "/owa/inbox");
        assert!(matches!(d.path, Cow::Owned(_)));
        let d = plan.route_request(l, z, &get(Some("mail.contoso.com"), "/owa/inbox"));
        assert!(matches!(d.path, Cow::Borrowed(_)));
    }

    #[test]
    fn redirects_name_the_port_unless_it_is_443() {
        assert_eq!(redirect_location("a.test", 443, "/x?y"), "https://a.test/x?y");
        assert_eq!(redirect_location("a.test", 8443, "/"), "https://a.test:8443/");
    }
}
