//! The route table of one HTTP listener: by host, then by the longest path
//! prefix. Compiled once per plan so that the *route* phase is a hash lookup
//! and a short scan.
//!
//! Prefixes match on segment boundaries (`/owa` matches `/owa` and
//! `/owa/x`, not `/owax`). Matching uses a normalised path (percent-encoded
//! unreserved characters decoded, `.`/`..` segments resolved, repeated
//! slashes collapsed), so `/%6Fwa` or `/x/../owa` cannot slip past a route's
//! zone or auth policy onto a catch-all route. The request is forwarded
//! unchanged.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_model::topology::{Affinity, AuthPolicy, Product, Route};
use gatehouse_model::Plan;
use gatehouse_policy::ZoneId;

/// A route as the request path needs it.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    pub name: Arc<str>,
    pub pool: Arc<str>,
    pub ignore_case: bool,
    /// Zones allowed on this route on top of the listener's; others get 404.
    pub zones: Option<Vec<ZoneId>>,
    pub auth: Vec<(ZoneId, AuthPolicy)>,
    pub auth_default: AuthPolicy,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub total_timeout: Option<Duration>,
    pub affinity: Affinity,
    pub backend_port: Option<u16>,
    pub host_rewrite: Option<http::HeaderValue>,
    pub plain: bool,
}

impl CompiledRoute {
    fn new(plan: &Plan, r: &Route) -> CompiledRoute {
        let exchange = plan
            .pool(&r.pool.value)
            .and_then(|p| plan.topology.services.iter().find(|s| s.name.value == p.service.value))
            .is_some_and(|s| s.product.value == Product::Exchange);
        let zone_ids = |names: &[gatehouse_model::topology::Spanned<String>]| -> Vec<ZoneId> {
            names.iter().filter_map(|z| plan.zone_id(&z.value)).collect()
        };
        CompiledRoute {
            name: r.name.value.as_str().into(),
            pool: r.pool.value.as_str().into(),
            ignore_case: r.ignore_case.unwrap_or(exchange),
            zones: r.zones.as_deref().map(zone_ids),
            auth: r
                .auth
                .iter()
                .filter_map(|(z, p)| Some((plan.zone_id(&z.value)?, p.value.clone())))
                .collect(),
            auth_default: r.auth_default.value.clone(),
            connect_timeout: r.timeouts.connect.value,
            idle_timeout: r.timeouts.idle.value,
            total_timeout: r.timeouts.total.as_ref().map(|t| t.value),
            affinity: r.affinity,
            backend_port: r.backend_port.as_ref().map(|p| p.value),
            host_rewrite: r
                .host_rewrite
                .as_deref()
                .and_then(|h| http::HeaderValue::from_str(h).ok()),
            plain: r.plain,
        }
    }

    /// The auth policy for a zone.
    pub fn auth_for(&self, zone: ZoneId) -> &AuthPolicy {
        self.auth
            .iter()
            .find(|(z, _)| *z == zone)
            .map_or(&self.auth_default, |(_, p)| p)
    }

    pub fn admits_zone(&self, zone: ZoneId) -> bool {
        self.zones.as_ref().is_none_or(|z| z.contains(&zone))
    }
}

#[derive(Debug)]
struct Entry {
    /// Lower-cased when the route ignores case.
    prefix: String,
    route: Arc<CompiledRoute>,
}

/// Routes of one listener.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    /// By lower-case host; entries sorted longest prefix first.
    exact: HashMap<String, Vec<Entry>>,
    /// `*.example.com` hosts, by `example.com`.
    wildcard: HashMap<String, Vec<Entry>>,
}

impl RouteTable {
    pub fn compile(plan: &Plan, listener: &str) -> RouteTable {
        let mut t = RouteTable::default();
        for r in plan.routes_on(listener) {
            let route = Arc::new(CompiledRoute::new(plan, r));
            for h in &r.hosts {
                let host = h.value.trim_end_matches('.').to_ascii_lowercase();
                let (map, key) = match host.strip_prefix("*.") {
                    Some(parent) => (&mut t.wildcard, parent.to_string()),
                    None => (&mut t.exact, host),
                };
                let list = map.entry(key).or_default();
                for p in &r.paths {
                    let prefix = normalize(&p.value).into_owned();
                    let prefix = if route.ignore_case {
                        prefix.to_ascii_lowercase()
                    } else {
                        prefix
                    };
                    list.push(Entry {
                        prefix,
                        route: route.clone(),
                    });
                }
            }
        }
        for list in t.exact.values_mut().chain(t.wildcard.values_mut()) {
            // Stable: among equal prefixes the route written first wins.
            list.sort_by_key(|e| std::cmp::Reverse(e.prefix.len()));
        }
        t
    }

    /// The route for a host (lower-case, no port) and a raw request path.
    pub fn lookup(&self, host: &str, path: &str) -> Option<&Arc<CompiledRoute>> {
        let list = match self.exact.get(host) {
            Some(l) => l,
            None => {
                let (_, parent) = host.split_once('.')?;
                self.wildcard.get(parent)?
            }
        };
        let path = normalize(path);
        let mut lower: Option<String> = None;
        list.iter()
            .find(|e| {
                if e.route.ignore_case {
                    let l = lower.get_or_insert_with(|| path.to_ascii_lowercase());
                    prefix_matches(&e.prefix, l)
                } else {
                    prefix_matches(&e.prefix, &path)
                }
            })
            .map(|e| &e.route)
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

/// The path used for matching: unreserved percent-escapes decoded, dot
/// segments resolved, repeated slashes collapsed. Borrowed when already
/// normal, which is the common case.
pub(crate) fn normalize(path: &str) -> Cow<'_, str> {
    let needs = path.contains('%') || path.contains("//") || path.split('/').any(|s| s == "." || s == "..");
    if !needs {
        return Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path);
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut s = String::with_capacity(decoded.len());
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if s.is_empty() || (decoded.ends_with('/') && !out.is_empty()) {
        s.push('/');
    }
    Cow::Owned(s)
}

fn decode_unreserved(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') {
                    out.push(v as char);
                    i += 3;
                    continue;
                }
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// The host a request names: the URI authority (HTTP/2, absolute-form) or
/// the Host header, lower-cased, without port or trailing dot.
pub(crate) fn request_host(req: &http::Request<impl Sized>) -> Option<String> {
    let raw = match req.uri().authority() {
        Some(a) => a.host().to_string(),
        None => {
            let h = req.headers().get(http::header::HOST)?.to_str().ok()?;
            let a: http::uri::Authority = h.parse().ok()?;
            a.host().to_string()
        }
    };
    let host = raw.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        assert!(prefix_matches("/owa", "/owa"));
        assert!(prefix_matches("/owa", "/owa/"));
        assert!(prefix_matches("/owa", "/owa/auth/logon.aspx"));
        assert!(!prefix_matches("/owa", "/owax"));
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/a/", "/a/b"));
    }

    #[test]
    fn normalisation_defeats_encoded_and_dotted_paths() {
        assert_eq!(normalize("/%6Fwa/x"), "/owa/x");
        assert_eq!(normalize("/x/../owa"), "/owa");
        assert_eq!(normalize("//owa//a/"), "/owa/a/");
        assert_eq!(normalize("/../../"), "/");
        assert_eq!(normalize("/a%2Fb"), "/a%2Fb");
        assert_eq!(normalize("/plain/path"), "/plain/path");
        assert_eq!(normalize("/bad%zz"), "/bad%zz");
        assert_eq!(normalize("/end%4"), "/end%4");
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

    #[test]
    fn contoso_routes_keep_long_polls_alive_and_default_to_60_seconds() {
        let plan = contoso();
        let t = RouteTable::compile(&plan, "https-public");
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
        let t = RouteTable::compile(&plan, "https-public");
        for p in ["/OWA/", "/owa/", "/Owa"] {
            assert_eq!(&*t.lookup("mail.contoso.com", p).unwrap().name, "exchange-owa", "{p}");
        }
        assert!(!t.lookup("intranet.contoso.com", "/").unwrap().ignore_case);
        let lync = t.lookup("meet.contoso.com", "/x").unwrap();
        assert_eq!(lync.backend_port, Some(4443));
        // Plain-HTTP Lync discovery goes to the front ends' port 8080.
        let plain = RouteTable::compile(&plan, "http-public");
        let d = plain.lookup("lyncdiscover.contoso.com", "/").unwrap();
        assert_eq!((d.plain, d.backend_port), (true, Some(8080)));
    }

    #[test]
    fn explicit_ignore_case_overrides_the_product_default() {
        let text = gatehouse_model::CONTOSO.replace(
            "paths = [\"/owa\"]\npool = \"exchange-owa\"",
            "paths = [\"/owa\"]\npool = \"exchange-owa\"\nignore_case = false",
        );
        let plan = gatehouse_model::check(&text).plan.expect("valid");
        let t = RouteTable::compile(&plan, "https-public");
        assert_eq!(&*t.lookup("mail.contoso.com", "/owa/").unwrap().name, "exchange-owa");
        assert!(t
            .lookup("mail.contoso.com", "/OWA/")
            .is_none_or(|r| &*r.name != "exchange-owa"));
    }
}
