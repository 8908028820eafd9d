//! Declared against open: the flow list and the errors.
//!
//! A user type *declares* a target when one of its `reaches` names the
//! target's name (and its port, when a port is given), unless the target's
//! route lists `user_types` without it; a route's `user_types` also declare
//! the route for the user types they name.
//!
//! Errors:
//! - `declared-flow-blocked`: a declared reach (or a route's `user_types`
//!   entry) that no zone of the user type can open. A reach met from one of
//!   its zones is met: remote employees reach the Lync Edge from the
//!   Internet, not through the VPN. Partly open (an ACL rule on a prefix
//!   inside the zone, or on part of a port range) counts as open.
//! - `undeclared-user-type-on-route`: a route lists `user_types`, and
//!   another user type can open it (its zone is admitted and it can pass
//!   the route's pre-authentication).
//! - `internal-name-exposed`: every user type that reaches a name comes only
//!   from inside zones, yet an outside zone can open it (admin reachable
//!   from the Internet).
//! - `smtp-open-beyond-hygiene`: a hygiene zone exists and TCP 25 is open to
//!   another zone from which no user type declares `name:25`.
//!
//! Any other open flow that nobody declares is listed with status
//! `undeclared` but is not an error: the topology states no intent about it
//! (Office Web Apps, for one, is reached by browsers on behalf of SharePoint
//! and Exchange users who never name it).

use std::collections::BTreeSet;

use gatehouse_model::topology::{Route, UserType};
use gatehouse_model::Plan;
use gatehouse_policy::ZoneId;

use super::report::{Flow, FlowError, Hop, Outcome, Reached, Step, Target};
use super::walk::{Network, Walk};
use super::zones::ZoneKind;

/// Every walk verification needs, computed once.
pub struct Walks {
    /// Per user type (topology order): its zones, each with one walk per target.
    pub by_user: Vec<Vec<(ZoneId, Vec<Walk>)>>,
    /// Per zone: one walk per target for anybody holding the credentials asked.
    pub anybody: Vec<Vec<Walk>>,
}

impl Walks {
    pub fn new(net: &Network<'_>) -> Walks {
        let t = &net.plan.topology;
        let by_user = t
            .user_types
            .iter()
            .map(|u| {
                let mut zones: Vec<ZoneId> = Vec::new();
                for z in u.zones.iter().filter_map(|z| net.plan.zone_id(&z.value)) {
                    if !zones.contains(&z) {
                        zones.push(z);
                    }
                }
                zones
                    .into_iter()
                    .map(|z| (z, net.targets.iter().map(|tg| net.walk(z, tg, Some(u))).collect()))
                    .collect()
            })
            .collect();
        let anybody = net
            .zones
            .iter()
            .map(|z| net.targets.iter().map(|tg| net.walk(z.id, tg, None)).collect())
            .collect();
        Walks { by_user, anybody }
    }
}

/// Whether `u` declares `target` reached through `route`.
pub fn declares(u: &UserType, target: &Target, route: Option<&Route>) -> bool {
    if let Some(r) = route.filter(|r| !r.user_types.is_empty()) {
        return r.user_types.iter().any(|x| x.value == u.name.value);
    }
    u.reaches.iter().any(|r| reach_matches(&r.value, target))
}

fn reach_matches(r: &gatehouse_model::topology::Reach, target: &Target) -> bool {
    r.name.eq_ignore_ascii_case(&target.name) && r.port.is_none_or(|p| target.ports.contains(p))
}

fn route_of<'p>(net: &Network<'p>, target: &Target, w: &Walk) -> Option<&'p Route> {
    target.entries[w.entry].route.as_deref().and_then(|r| net.route(r))
}

/// Builds a [`Flow`] from a walk.
pub fn flow(net: &Network<'_>, user_type: Option<&UserType>, zone: ZoneId, target: &Target, w: &Walk) -> Flow {
    let entry = target.entries[w.entry].clone();
    let (product, class) = net.product_class(&entry.pool);
    let declared = user_type.is_some_and(|u| declares(u, target, route_of(net, target, w)));
    Flow {
        user_type: user_type.map(|u| u.name.value.clone()),
        zone: net.plan.zone_name(zone).to_string(),
        target: target.clone(),
        entry,
        product,
        class,
        auth: w.auth.clone(),
        access: w.access,
        declared,
        path: w.hops.clone(),
    }
}

/// The flows worth listing: every flow a user type declares or can open,
/// then what zones no user type comes from can open.
pub fn flows(net: &Network<'_>, walks: &Walks) -> Vec<Flow> {
    let t = &net.plan.topology;
    let mut out = Vec::new();
    for (u, zones) in t.user_types.iter().zip(&walks.by_user) {
        for (z, ws) in zones {
            for (target, w) in net.targets.iter().zip(ws) {
                let f = flow(net, Some(u), *z, target, w);
                if f.declared || f.access.is_open() {
                    out.push(f);
                }
            }
        }
    }
    let used: BTreeSet<&str> = t
        .user_types
        .iter()
        .flat_map(|u| u.zones.iter().map(|z| z.value.as_str()))
        .collect();
    for z in net.zones.iter().filter(|z| !used.contains(z.name.as_str())) {
        for (target, w) in net.targets.iter().zip(&walks.anybody[z.id.0 as usize]) {
            if w.access.is_open() {
                out.push(flow(net, None, z.id, target, w));
            }
        }
    }
    out
}

/// How every declaration is met, and every error in a stable order:
/// blocked declarations first, then exposures.
pub fn judge(net: &Network<'_>, walks: &Walks) -> (Vec<Reached>, Vec<FlowError>) {
    let mut out = Vec::new();
    let reached = declared_blocked(net, walks, &mut out);
    route_user_types(net, walks, &mut out);
    internal_names(net, walks, &mut out);
    smtp(net, &mut out);
    (reached, out)
}

fn first_block(w: &Walk) -> Option<&Hop> {
    w.hops.iter().find(|h| h.outcome == Outcome::Block)
}

fn declared_blocked(net: &Network<'_>, walks: &Walks, out: &mut Vec<FlowError>) -> Vec<Reached> {
    let t = &net.plan.topology;
    let mut reached = Vec::new();
    for (u, zones) in t.user_types.iter().zip(&walks.by_user) {
        let mut wanted: Vec<(String, Vec<usize>, gatehouse_model::diag::Span)> = Vec::new();
        for r in &u.reaches {
            let label = match r.value.port {
                Some(p) => format!("{}:{p}", r.value.name),
                None => r.value.name.clone(),
            };
            let matching: Vec<usize> = (0..net.targets.len())
                .filter(|&i| reach_matches(&r.value, &net.targets[i]))
                .collect();
            if matching.is_empty() {
                let ports: Vec<String> = net
                    .targets
                    .iter()
                    .filter(|tg| tg.name.eq_ignore_ascii_case(&r.value.name))
                    .map(|tg| tg.ports.to_string())
                    .collect();
                out.push(FlowError {
                    id: "declared-flow-blocked",
                    message: format!("user type {} reaches {label}, but nothing publishes it", u.name.value),
                    user_type: Some(u.name.value.clone()),
                    zone: None,
                    targets: vec![label.clone()],
                    reasons: vec![if ports.is_empty() {
                        format!("no listener, route or DNS-balanced pool publishes {}", r.value.name)
                    } else {
                        format!("{} is published on ports {} only", r.value.name, ports.join(", "))
                    }],
                    fix: "publish it on that port, or correct the reach".to_string(),
                    span: Some(r.span.clone()),
                });
                reached.push(Reached {
                    user_type: u.name.value.clone(),
                    reach: label,
                    from: Vec::new(),
                });
                continue;
            }
            wanted.push((label, matching, r.span.clone()));
        }
        for r in t.routes.iter() {
            for x in r.user_types.iter().filter(|x| x.value == u.name.value) {
                let matching: Vec<usize> = (0..net.targets.len())
                    .filter(|&i| {
                        net.targets[i]
                            .entries
                            .iter()
                            .any(|e| e.route.as_deref() == Some(&r.name.value))
                    })
                    .collect();
                wanted.push((format!("route {}", r.name.value), matching, x.span.clone()));
            }
        }
        for (label, matching, span) in wanted {
            let from: Vec<String> = zones
                .iter()
                .filter(|(_, ws)| {
                    matching.iter().any(|&i| {
                        let tg = &net.targets[i];
                        ws[i].access.is_open() && declares(u, tg, route_of(net, tg, &ws[i]))
                    })
                })
                .map(|(z, _)| net.plan.zone_name(*z).to_string())
                .collect();
            let met = !from.is_empty();
            reached.push(Reached {
                user_type: u.name.value.clone(),
                reach: label.clone(),
                from,
            });
            if met {
                continue;
            }
            let mut reasons = Vec::new();
            let mut fix = None;
            for (z, ws) in zones {
                // The first of the targets that get furthest.
                let Some(&i) = matching.iter().rev().max_by_key(|&&i| {
                    let depth = ws[i].hops.iter().take_while(|h| h.outcome != Outcome::Block).count();
                    (ws[i].access, depth)
                }) else {
                    continue;
                };
                let tg = &net.targets[i];
                let zone = net.plan.zone_name(*z);
                let why = match first_block(&ws[i]) {
                    Some(h) => h.detail.clone(),
                    None => {
                        let names: Vec<&str> = route_of(net, tg, &ws[i])
                            .map(|r| r.user_types.iter().map(|x| x.value.as_str()).collect())
                            .unwrap_or_default();
                        format!("its route is published only for user types {}", names.join(", "))
                    }
                };
                reasons.push(format!("from {zone}: {}: {why}", tg.label()));
                if fix.is_none() {
                    fix = Some(fix_for(u, zone, tg, &ws[i]));
                }
            }
            let zone_list: Vec<&str> = zones.iter().map(|(z, _)| net.plan.zone_name(*z)).collect();
            out.push(FlowError {
                id: "declared-flow-blocked",
                message: format!(
                    "user type {} is meant to reach {label}, but it is blocked from all its zones ({})",
                    u.name.value,
                    zone_list.join(", ")
                ),
                user_type: Some(u.name.value.clone()),
                zone: None,
                targets: matching.iter().map(|&i| net.targets[i].label()).collect(),
                reasons,
                fix: fix.unwrap_or_else(|| "give the user type a zone that the VIP admits".to_string()),
                span: Some(span),
            });
        }
    }
    reached
}

/// How to unblock a walk, from the first hop that blocks it.
fn fix_for(u: &UserType, zone: &str, tg: &Target, w: &Walk) -> String {
    let entry = &tg.entries[w.entry];
    let Some(h) = first_block(w) else {
        return format!("add {} to the route's `user_types`", u.name.value);
    };
    match h.step {
        Step::Zone => format!("give zone {zone} its prefixes"),
        Step::Gateway => format!(
            "add an [[acl]] rule that allows {}/{} from zone \"{zone}\"",
            tg.transport.keyword(),
            tg.ports
        ),
        Step::Vip => match &entry.listener {
            Some(l) => format!("add \"{zone}\" to the `zones` of listener {l}"),
            None => format!(
                "answer for pool {} in the DNS view of zone {zone} (`dns_views`)",
                entry.pool
            ),
        },
        Step::Route => format!(
            "admit zone \"{zone}\" on route {} (its `zones`), or mark it `plain` if it is meant for plain HTTP",
            h.name
        ),
        Step::Auth if h.name == "deny" => format!(
            "set the auth of zone {zone} on route {} to a provider, pass-through or anonymous",
            entry.route.as_deref().unwrap_or_default()
        ),
        Step::Auth => format!(
            "add \"{}\" to the `auth` of user type {}, or change route {}'s auth for zone {zone}",
            h.name,
            u.name.value,
            entry.route.as_deref().unwrap_or_default()
        ),
        Step::EdgeRelay => {
            "let the Edge's internal zone reach the Lync front-end SIP pool (ACL rule and DNS view)".to_string()
        }
        _ => h.detail.clone(),
    }
}

fn route_user_types(net: &Network<'_>, walks: &Walks, out: &mut Vec<FlowError>) {
    let t = &net.plan.topology;
    for r in t.routes.iter().filter(|r| !r.user_types.is_empty()) {
        let meant: Vec<&str> = r.user_types.iter().map(|x| x.value.as_str()).collect();
        for (u, zones) in t.user_types.iter().zip(&walks.by_user) {
            if meant.contains(&u.name.value.as_str()) {
                continue;
            }
            let mut open_zones = Vec::new();
            let mut labels = BTreeSet::new();
            let mut seen = BTreeSet::new();
            let mut reasons = Vec::new();
            for (z, ws) in zones {
                for (tg, w) in net.targets.iter().zip(ws) {
                    if w.access.is_open() && tg.entries[w.entry].route.as_deref() == Some(&r.name.value) {
                        let zone = net.plan.zone_name(*z);
                        if !open_zones.contains(&zone) {
                            open_zones.push(zone);
                        }
                        labels.insert(tg.label());
                        if seen.insert((zone, tg.label())) {
                            reasons.push(format!("from {zone}: {}: auth {}", tg.label(), w.auth));
                        }
                    }
                }
            }
            if open_zones.is_empty() {
                continue;
            }
            out.push(FlowError {
                id: "undeclared-user-type-on-route",
                message: format!(
                    "route {} is published for {}, but user type {} can open it from {}",
                    r.name.value,
                    meant.join(", "),
                    u.name.value,
                    open_zones.join(", ")
                ),
                user_type: Some(u.name.value.clone()),
                zone: open_zones.first().map(|z| z.to_string()),
                targets: labels.into_iter().collect(),
                reasons,
                fix: format!(
                    "restrict route {} to the zones of {} (`zones`), require a sign-in only they use, or add {} to its `user_types`",
                    r.name.value,
                    meant.join(", "),
                    u.name.value
                ),
                span: r.user_types.first().map(|x| x.span.clone()),
            });
        }
    }
}

/// The listener's entry for `zone` in its `zones`, else the listener's name.
fn admit_span(plan: &Plan, tg: &Target, w: &Walk, zone: &str) -> Option<gatehouse_model::diag::Span> {
    let l = plan.listener(tg.entries[w.entry].listener.as_deref()?)?;
    Some(
        l.zones
            .iter()
            .find(|z| z.value == zone)
            .map_or_else(|| l.name.span.clone(), |z| z.span.clone()),
    )
}

fn internal_names(net: &Network<'_>, walks: &Walks, out: &mut Vec<FlowError>) {
    let t = &net.plan.topology;
    let mut names: Vec<&str> = Vec::new();
    for tg in &net.targets {
        if !names.contains(&tg.name.as_str()) {
            names.push(&tg.name);
        }
    }
    for name in names {
        // The user types meant to reach the name, and the zones they come from.
        let mut users: Vec<&UserType> = t
            .user_types
            .iter()
            .filter(|u| u.reaches.iter().any(|r| r.value.name.eq_ignore_ascii_case(name)))
            .collect();
        for r in t
            .routes
            .iter()
            .filter(|r| r.hosts.iter().any(|h| h.value.eq_ignore_ascii_case(name)))
        {
            for x in &r.user_types {
                if let Some(u) = t.user_types.iter().find(|u| u.name.value == x.value) {
                    if !users.iter().any(|v| v.name.value == u.name.value) {
                        users.push(u);
                    }
                }
            }
        }
        let from_outside = |u: &&UserType| u.zones.iter().any(|z| net.zone(&z.value).is_some_and(|z| z.outside));
        if users.is_empty() || users.iter().any(from_outside) {
            continue;
        }
        let who: Vec<&str> = users.iter().map(|u| u.name.value.as_str()).collect();
        for z in net.zones.iter().filter(|z| z.outside && !z.empty) {
            let open: Vec<(&Target, &Walk)> = net
                .targets
                .iter()
                .zip(&walks.anybody[z.id.0 as usize])
                .filter(|(tg, w)| tg.name == name && w.access.is_open())
                .collect();
            let Some((tg0, w0)) = open.first() else { continue };
            out.push(FlowError {
                id: "internal-name-exposed",
                message: format!(
                    "{name} is meant only for user types from inside zones ({}), but outside zone {} can open it",
                    who.join(", "),
                    z.name
                ),
                user_type: None,
                zone: Some(z.name.clone()),
                targets: open.iter().map(|(tg, _)| tg.label()).collect(),
                reasons: open
                    .iter()
                    .map(|(tg, w)| format!("from {}: {}: {}", z.name, tg.label(), summary(tg, w)))
                    .collect(),
                fix: format!(
                    "remove \"{}\" from the listener's `zones` (or restrict the route with `zones`), or add {name} to the reaches of a user type from zone {} if it is meant",
                    z.name, z.name
                ),
                span: admit_span(net.plan, tg0, w0, &z.name),
            });
        }
    }
}

/// `listener https-public → route admin → pool x, auth y` for a reason line.
pub fn summary(tg: &Target, w: &Walk) -> String {
    let e = &tg.entries[w.entry];
    let mut parts = Vec::new();
    if let Some(l) = &e.listener {
        parts.push(format!("listener {l}"));
    }
    if let Some(r) = &e.route {
        parts.push(format!("route {r}"));
    }
    parts.push(format!("pool {}", e.pool));
    format!("{}, auth {}", parts.join(" → "), w.auth)
}

fn smtp(net: &Network<'_>, out: &mut Vec<FlowError>) {
    let t = &net.plan.topology;
    let hygiene: Vec<&str> = net
        .zones
        .iter()
        .filter(|z| z.kind == ZoneKind::Hygiene)
        .map(|z| z.name.as_str())
        .collect();
    if hygiene.is_empty() {
        return;
    }
    for tg in net.targets.iter().filter(|tg| {
        tg.transport == gatehouse_model::topology::Transport::Tcp
            && tg.ports.contains(25)
            && tg.entries.iter().any(|e| e.listener.is_some())
    }) {
        let smtp = tg.on_port(25);
        for z in net.zones.iter().filter(|z| z.kind != ZoneKind::Hygiene && !z.empty) {
            let declared = t.user_types.iter().any(|u| {
                u.zones.iter().any(|x| x.value == z.name)
                    && u.reaches
                        .iter()
                        .any(|r| r.value.name.eq_ignore_ascii_case(&tg.name) && r.value.port == Some(25))
            });
            if declared {
                continue;
            }
            let w = net.walk(z.id, &smtp, None);
            if !w.access.is_open() {
                continue;
            }
            out.push(FlowError {
                id: "smtp-open-beyond-hygiene",
                message: format!(
                    "SMTP (TCP 25) on {} is open to zone {}; with a mail-hygiene zone ({}) only the hygiene service should reach it",
                    tg.name,
                    z.name,
                    hygiene.join(", ")
                ),
                user_type: None,
                zone: Some(z.name.clone()),
                targets: vec![smtp.label()],
                reasons: vec![format!("from {}: {}: {}", z.name, smtp.label(), summary(&smtp, &w))],
                fix: format!(
                    "admit only {} on the SMTP listener and in the ACL rule for tcp/25, or declare `{}:25` for a user type from zone {} if it relays mail",
                    hygiene.join(", "),
                    tg.name,
                    z.name
                ),
                span: admit_span(net.plan, &smtp, &w, &z.name),
            });
        }
    }
}
