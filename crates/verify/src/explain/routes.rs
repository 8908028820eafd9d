//! Which route an HTTP request takes on a listener, by the model's routing
//! rules (`gatehouse_model::routing`, the ones the reverse proxy forwards
//! by), with what `explain` needs to say why.

use gatehouse_model::routing::{ignores_case, normalize, prefix_matches, RouteTable};
use gatehouse_model::topology::Route;
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
    let table = RouteTable::compile(plan, listener);
    let m = table.lookup(host, &path)?;
    Some(Match {
        route: &plan.topology.routes[m.route],
        host: m.host.to_string(),
        prefix: m.prefix.to_string(),
        ignore_case: m.ignore_case,
        path,
    })
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
