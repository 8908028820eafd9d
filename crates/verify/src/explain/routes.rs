//! What `explain` says around the plan's route decision
//! (`gatehouse_model::web`): the route another listener would pick, and
//! why a prefix that looks like it matches does not.

use gatehouse_model::routing::{ignores_case, normalize, prefix_matches};
use gatehouse_model::topology::Route;
use gatehouse_model::Plan;

/// The route a request for `host` and `path` takes on another listener,
/// for `explain` to point at.
pub(super) fn select<'p>(plan: &'p Plan, listener: &str, host: &str, path: &str) -> Option<&'p Route> {
    let path = normalize(path.split(['?', '#']).next().unwrap_or("/"));
    let m = plan.route_table(listener)?.lookup(host, &path)?;
    Some(&plan.topology.routes[m.route])
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
            let fold = ignores_case(&plan.topology, r);
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
