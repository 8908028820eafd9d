//! Which route an HTTP request takes on a listener, with the proxy's rules:
//! an exact host before a `*.` wildcard (tried only when no route names the
//! host exactly), then the longest path prefix, the route written first on a
//! tie. Prefixes match on segment boundaries (`/owa` matches `/owa` and
//! `/owa/x`, not `/owax`) against a normalised path (unreserved
//! percent-escapes decoded, dot segments resolved, repeated slashes
//! collapsed), case-insensitively where the route ignores case.
//!
//! This mirrors `gatehouse-proxy`'s route table so that `explain` says what
//! the proxy does; the two should become one function of the model.

use std::borrow::Cow;

use gatehouse_model::topology::{Product, Route};
use gatehouse_model::Plan;

/// The route a request takes, and why.
pub(super) struct Match<'p> {
    pub route: &'p Route,
    /// The host pattern that matched, as written (lower-cased).
    pub host: String,
    /// The path prefix that matched, as written.
    pub prefix: String,
    pub ignore_case: bool,
    /// The request path as matched: normalised, without the query.
    pub path: String,
}

pub(super) fn select<'p>(plan: &'p Plan, listener: &'p str, host: &str, path: &str) -> Option<Match<'p>> {
    let path = normalize(path.split(['?', '#']).next().unwrap_or("/")).into_owned();
    let lower = path.to_ascii_lowercase();
    let exact = |h: &str| h.trim_end_matches('.').eq_ignore_ascii_case(host);
    let any_exact = plan
        .routes_on(listener)
        .any(|r| r.hosts.iter().any(|h| exact(&h.value)));
    let parent = host.split_once('.').map(|(_, p)| p);
    let mut best: Option<(usize, Match<'p>)> = None;
    for r in plan.routes_on(listener) {
        let pattern = r
            .hosts
            .iter()
            .map(|h| h.value.trim_end_matches('.').to_ascii_lowercase())
            .find(|h| {
                if any_exact {
                    h == host
                } else {
                    h.strip_prefix("*.").is_some_and(|p| Some(p) == parent)
                }
            });
        let Some(pattern) = pattern else { continue };
        let ignore_case = ignores_case(plan, r);
        for written in &r.paths {
            let prefix = normalize(&written.value);
            let (prefix, candidate) = if ignore_case {
                (prefix.to_ascii_lowercase(), lower.as_str())
            } else {
                (prefix.into_owned(), path.as_str())
            };
            let longer = best.as_ref().is_none_or(|(len, _)| prefix.len() > *len);
            if longer && prefix_matches(&prefix, candidate) {
                let m = Match {
                    route: r,
                    host: pattern.clone(),
                    prefix: written.value.clone(),
                    ignore_case,
                    path: path.clone(),
                };
                best = Some((prefix.len(), m));
            }
        }
    }
    best.map(|(_, m)| m)
}

/// Why a prefix that looks like it matches does not: it stops mid-segment.
pub(super) fn lookalike(plan: &Plan, listener: &str, host: &str, path: &str) -> Option<String> {
    let path = normalize(path.split(['?', '#']).next().unwrap_or("/")).into_owned();
    plan.routes_on(listener)
        .filter(|r| {
            r.hosts
                .iter()
                .any(|h| h.value.trim_end_matches('.').eq_ignore_ascii_case(host))
        })
        .flat_map(|r| {
            let fold = ignores_case(plan, r);
            r.paths.iter().map(move |p| (p.value.clone(), fold))
        })
        .find(|(p, fold)| {
            let (p, path) = if *fold {
                (p.to_ascii_lowercase(), path.to_ascii_lowercase())
            } else {
                (p.clone(), path.clone())
            };
            p != "/" && path.starts_with(&p) && !prefix_matches(&p, &path)
        })
        .map(|(p, _)| format!("prefixes match whole path segments: {p} does not match {path}"))
}

/// `ignore_case` when set; otherwise on for Exchange, whose virtual
/// directories clients spell in any case.
pub(super) fn ignores_case(plan: &Plan, r: &Route) -> bool {
    r.ignore_case.unwrap_or_else(|| {
        plan.pool(&r.pool.value)
            .and_then(|p| plan.topology.services.iter().find(|s| s.name.value == p.service.value))
            .is_some_and(|s| s.product.value == Product::Exchange)
    })
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/'))
}

/// Unreserved percent-escapes decoded, `.`/`..` segments resolved, repeated
/// slashes collapsed, so `/%6Fwa` and `/x/../owa` are seen as `/owa`.
fn normalize(path: &str) -> Cow<'_, str> {
    let needs = path.contains('%') || path.contains("//") || path.split('/').any(|s| s == "." || s == "..");
    if !needs {
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

fn decode_unreserved(path: &str) -> String {
    let mut out = Vec::with_capacity(path.len());
    let b = path.as_bytes();
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
    // Only ASCII escapes are decoded, so the bytes stay valid UTF-8.
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
}
