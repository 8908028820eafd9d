//! Which route an HTTP request takes on a listener: the one rule shared by
//! the reverse proxy (which forwards by it) and `explain` (which tells what
//! the proxy will do), so that the two cannot disagree.
//!
//! - A host that a route names exactly wins; `*.example.com` routes are
//!   tried only for a host no route names exactly.
//! - Then the longest path prefix wins; on a tie, the route written first.
//! - Prefixes match on segment boundaries: `/owa` matches `/owa` and
//!   `/owa/x`, not `/owagent`.
//! - Paths are compared normalised (unreserved percent-escapes decoded, dot
//!   segments resolved, repeated slashes collapsed), so that `/%6Fwa` or
//!   `/x/../owa` cannot slip past a route's zone or auth policy onto a
//!   catch-all route; and without regard to case where the route ignores
//!   case (Exchange virtual directories, by default).

use std::borrow::Cow;
// FxHash: the keys come from the topology; a client's host is only looked
// up, never inserted, so it cannot steer collisions.
use rustc_hash::FxHashMap as HashMap;

use crate::topology::{Product, Route, Topology};

/// One host pattern and path prefix of a route.
#[derive(Clone, Debug)]
struct Entry {
    /// Normalised, and lower-cased when the route ignores case.
    key: String,
    /// The prefix as written.
    written: String,
    /// The host pattern as written, lower-cased.
    host: String,
    route: usize,
    ignore_case: bool,
}

/// The routes of one listener, compiled for lookups.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    /// By lower-case host; entries sorted longest prefix first.
    exact: HashMap<String, Vec<Entry>>,
    /// `*.example.com` hosts, by `example.com`.
    wildcard: HashMap<String, Vec<Entry>>,
}

/// The route a request takes, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteMatch<'t> {
    /// The route's index in the topology's `routes`.
    pub route: usize,
    /// The host pattern that matched (lower-case, as written).
    pub host: &'t str,
    /// The path prefix that matched, as written.
    pub prefix: &'t str,
    pub ignore_case: bool,
}

impl RouteTable {
    /// The routes of `listener` in a valid topology. A plan holds every
    /// listener's, compiled once ([`crate::Plan::route_table`]).
    pub(crate) fn compile_for(topology: &Topology, listener: &str) -> RouteTable {
        let mut t = RouteTable::default();
        for (index, r) in topology.routes.iter().enumerate() {
            if !r.listeners.iter().any(|l| l.value == listener) {
                continue;
            }
            let ignore_case = ignores_case(topology, r);
            for h in &r.hosts {
                let host = h.value.trim_end_matches('.').to_ascii_lowercase();
                let (map, key) = match host.strip_prefix("*.") {
                    Some(parent) => (&mut t.wildcard, parent.to_string()),
                    None => (&mut t.exact, host.clone()),
                };
                let list = map.entry(key).or_default();
                for p in &r.paths {
                    let key = normalize(&p.value).into_owned();
                    list.push(Entry {
                        key: if ignore_case { key.to_ascii_lowercase() } else { key },
                        written: p.value.clone(),
                        host: host.clone(),
                        route: index,
                        ignore_case,
                    });
                }
            }
        }
        for list in t.exact.values_mut().chain(t.wildcard.values_mut()) {
            // Stable: among equal prefixes the route written first wins.
            list.sort_by_key(|e| std::cmp::Reverse(e.key.len()));
        }
        t
    }

    /// The route for a host (lower-case, without port or trailing dot) and a
    /// request path (without the query).
    pub fn lookup(&self, host: &str, path: &str) -> Option<RouteMatch<'_>> {
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
                if e.ignore_case {
                    prefix_matches(&e.key, lower.get_or_insert_with(|| path.to_ascii_lowercase()))
                } else {
                    prefix_matches(&e.key, &path)
                }
            })
            .map(|e| RouteMatch {
                route: e.route,
                host: &e.host,
                prefix: &e.written,
                ignore_case: e.ignore_case,
            })
    }

    /// The indices of the routes in this table.
    pub fn routes(&self) -> impl Iterator<Item = usize> + '_ {
        self.exact
            .values()
            .chain(self.wildcard.values())
            .flatten()
            .map(|e| e.route)
    }
}

/// `ignore_case` when set; otherwise on for Exchange, whose virtual
/// directories clients spell in any case.
pub fn ignores_case(topology: &Topology, r: &Route) -> bool {
    r.ignore_case.unwrap_or_else(|| {
        topology
            .pools
            .iter()
            .find(|p| p.name.value == r.pool.value)
            .and_then(|p| topology.services.iter().find(|s| s.name.value == p.service.value))
            .is_some_and(|s| s.product.value == Product::Exchange)
    })
}

/// Whether a (normalised) prefix matches a (normalised) path on a segment
/// boundary.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'))
}

/// The path used for matching: unreserved percent-escapes decoded, dot
/// segments resolved, repeated slashes collapsed. Borrowed when already
/// normal, which is the common case.
pub fn normalize(path: &str) -> Cow<'_, str> {
    if is_normal(path) {
        return Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path);
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out: String = segments.iter().flat_map(|s| ["/", s]).collect();
    if out.is_empty() || (decoded.ends_with('/') && !segments.is_empty()) {
        out.push('/');
    }
    Cow::Owned(out)
}

/// No `%`, no empty segment inside and no `.` or `..` segment: one pass
/// over the bytes, as every request's path is checked.
fn is_normal(path: &str) -> bool {
    let mut segment = 0usize;
    let mut dots = 0usize;
    let mut after_slash = false;
    for &b in path.as_bytes() {
        match b {
            b'%' => return false,
            b'/' => {
                if after_slash || is_dot_segment(segment, dots) {
                    return false;
                }
                after_slash = true;
                (segment, dots) = (0, 0);
            }
            _ => {
                after_slash = false;
                segment += 1;
                dots += usize::from(b == b'.');
            }
        }
    }
    !is_dot_segment(segment, dots)
}

/// `.` or `..`, given a segment's length and how many of it are dots.
pub(crate) fn is_dot_segment(len: usize, dots: usize) -> bool {
    (1..=2).contains(&len) && dots == len
}

/// Decodes `%XX` only where XX is an unreserved character (RFC 3986), byte
/// by byte, so other text (UTF-8 included) passes through untouched.
fn decode_unreserved(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .filter(|v| v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~'));
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    // Only ASCII bytes are decoded, so the result is still valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_decodes_unreserved_escapes_and_resolves_dot_segments() {
        assert_eq!(normalize("/%6Fwa/"), "/owa/");
        assert_eq!(normalize("/x/../owa//inbox"), "/owa/inbox");
        assert_eq!(normalize("/a%2Fb"), "/a%2Fb");
        assert_eq!(normalize("/../.."), "/");
        assert_eq!(normalize("/caf%C3%A9"), "/caf%C3%A9");
        assert_eq!(normalize("/café/./x"), "/café/x", "UTF-8 passes through intact");
    }

    #[test]
    fn only_paths_that_need_it_are_normalised() {
        for normal in ["/", "/owa/", "/a.b/...", "/.x/x.", "", "/owa?x=1"] {
            assert!(is_normal(normal), "{normal}");
        }
        for not in ["//", "/a//b", "/.", "/./", "/a/..", "/../b", ".", "%", "/a%41"] {
            assert!(!is_normal(not), "{not}");
        }
    }

    proptest::proptest! {
        /// The one-pass check says what the rule it stands for says.
        #[test]
        fn the_one_pass_check_agrees_with_the_rule(path in "[/.%a]{0,10}") {
            let rule = !(path.contains('%')
                || path.contains("//")
                || path.split('/').any(|s| s == "." || s == ".."));
            proptest::prop_assert_eq!(is_normal(&path), rule);
        }
    }

    #[test]
    fn prefixes_match_on_segment_boundaries() {
        assert!(prefix_matches("/owa", "/owa"));
        assert!(prefix_matches("/owa", "/owa/inbox"));
        assert!(!prefix_matches("/owa", "/owagent"));
        assert!(prefix_matches("/owa/", "/owa/x"));
        assert!(!prefix_matches("/owa/", "/owa"));
        assert!(prefix_matches("/", "/anything"));
    }

    use crate::Plan;

    fn contoso() -> Plan {
        crate::check(crate::CONTOSO).plan.unwrap()
    }

    fn route<'p>(plan: &'p Plan, t: &RouteTable, host: &str, path: &str) -> Option<&'p str> {
        t.lookup(host, path)
            .map(|m| plan.topology.routes[m.route].name.value.as_str())
    }

    #[test]
    fn contoso_routes_by_host_then_longest_prefix_ignoring_case_for_exchange() {
        let plan = contoso();
        let t = plan.route_table("https-public").unwrap();
        assert_eq!(route(&plan, t, "mail.contoso.com", "/owa/"), Some("exchange-owa"));
        assert_eq!(route(&plan, t, "mail.contoso.com", "/OWA/"), Some("exchange-owa"));
        assert_eq!(route(&plan, t, "mail.contoso.com", "/%6Fwa"), Some("exchange-owa"));
        assert_eq!(route(&plan, t, "mail.contoso.com", "/owagent"), None);
        assert_eq!(
            route(&plan, t, "mail.contoso.com", "/Microsoft-Server-ActiveSync"),
            Some("exchange-activesync")
        );
        assert_eq!(
            route(&plan, t, "autodiscover.contoso.com", "/autodiscover/autodiscover.xml"),
            Some("exchange-autodiscover")
        );
        assert_eq!(route(&plan, t, "teams.contoso.com", "/sites/x"), Some("sharepoint"));
        assert_eq!(
            route(&plan, t, "admin.contoso.com", "/"),
            None,
            "admin is not on the public listener"
        );
        let inside = plan.route_table("https-internal").unwrap();
        assert_eq!(route(&plan, inside, "admin.contoso.com", "/"), Some("admin"));
        let m = t.lookup("mail.contoso.com", "/Owa/x").unwrap();
        assert_eq!((m.host, m.prefix, m.ignore_case), ("mail.contoso.com", "/owa", true));
    }
}
