//! The phases after accept on an http(s) listener: the certificate SNI
//! picks, then the plan's decision for the request head
//! (`gatehouse_model::web`, the one the proxy's route and admit phases act
//! on), told step by step: route, the route's zone restriction, the auth
//! policy for the zone; and the pool, a step L4 listeners share.

use std::time::Duration;

use gatehouse_model::topology::{AuthPolicy, CheckKind, Listener, Protocol, Route};
use gatehouse_model::validate::name_covers;
use gatehouse_model::web::{redirect_location, Head, Outcome as WebOutcome, Refusal};
use gatehouse_model::{Admission, Plan};
use gatehouse_policy::ZoneId;

use super::routes::{lookalike, select};
use super::{Destination, Effect, Phase, Query, Step, Verdict};

/// What happened past accept on a web listener.
pub(super) struct Outcome {
    pub steps: Vec<Step>,
    pub route: Option<String>,
    pub pool: Option<String>,
    pub verdict: Verdict,
    pub because: String,
}

impl Outcome {
    fn stop(steps: Vec<Step>, route: Option<String>, verdict: Verdict, because: String) -> Outcome {
        Outcome {
            steps,
            route,
            pool: None,
            verdict,
            because,
        }
    }
}

pub(super) fn http(plan: &Plan, listener: &Listener, zone: ZoneId, q: &Query) -> Outcome {
    let zone_name = plan.zone_name(zone);
    let host = q
        .host
        .clone()
        .or_else(|| match &q.dst {
            Destination::Name(n) => Some(n.clone()),
            Destination::Address(_) => None,
        })
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    let asked = q.path.clone().unwrap_or_else(|| "/".to_string());
    let (path, query) = match asked.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (asked.as_str(), None),
    };
    let path = path.split('#').next().unwrap_or_default();
    let mut steps = Vec::new();
    if listener.protocol.value == Protocol::Https {
        steps.push(handshake(plan, listener, host.as_deref()));
    }
    let l = &listener.name.value;
    let index = plan.listener_index(l).expect("the listener is the plan's");
    // The proxy's decision for the same head: a client sends the host as
    // SNI too, and no scheme of its own.
    let head = Head {
        connect: false,
        scheme: None,
        host: host.as_deref(),
        sni: host.as_deref(),
        h2: false,
        path,
    };
    let decided = plan.decide_request(index, zone, &head);
    let normal = decided.path.as_ref();
    let denied = |phase, effect| Verdict::Denied { phase, effect };
    let Some(m) = decided.route else {
        let (summary, details, verdict, because) = match decided.outcome {
            WebOutcome::Refuse(Refusal::Path(why)) => (
                format!("the path {path} is refused ({why})"),
                vec!["IIS decodes such a path differently from a proxy, so gatehouse does not route it (docs/refusals.md, Paths)".to_string()],
                denied(Phase::Route, Effect::BadRequest),
                format!("the path {path} is refused: 400"),
            ),
            WebOutcome::Refuse(Refusal::Host) => (
                "no Host: no route can be chosen".to_string(),
                vec!["give the host name with --host NAME (or use it as the destination)".to_string()],
                denied(Phase::Route, Effect::BadRequest),
                "a request without a usable Host is refused: 400".to_string(),
            ),
            WebOutcome::Redirect { port } => {
                let host = decided.host.unwrap_or_default();
                let location = redirect_location(host, port, &with_query(normal, query));
                (
                    format!("no plain route for {host}{normal} on {l}"),
                    vec!["plain http serves only routes marked plain; everything else is redirected".to_string()],
                    Verdict::Redirected {
                        location: location.clone(),
                    },
                    format!("{l} redirects to {location}"),
                )
            }
            outcome => {
                let host = decided.host.unwrap_or_default();
                let mut details = vec![format!("no route on {l} matches host {host} and path {normal}")];
                details.extend(lookalike(plan, l, host, normal));
                for (other, r) in plan
                    .topology
                    .listeners
                    .iter()
                    .filter(|o| o.name.value != *l)
                    .filter_map(|o| select(plan, &o.name.value, host, normal).map(|r| (o, r)))
                {
                    let zones: Vec<&str> = other.zones.iter().map(|z| z.value.as_str()).collect();
                    details.push(format!(
                        "route {} serves it on listener {} (zones {})",
                        r.name.value,
                        other.name.value,
                        zones.join(", ")
                    ));
                }
                let status = match outcome {
                    WebOutcome::Refuse(why) => why.status(),
                    _ => 404,
                };
                (
                    format!("no route for {host}{normal}"),
                    details,
                    denied(Phase::Route, Effect::NotFound),
                    format!("no route on {l} for {host}{normal}: {status}"),
                )
            }
        };
        steps.push(Step {
            phase: Phase::Route,
            summary,
            details,
        });
        return Outcome::stop(steps, None, verdict, because);
    };
    let r = &plan.topology.routes[m.route];
    let route = Some(r.name.value.clone());
    let mut details = vec![if m.prefix == "/" {
        format!("host {}, every path (the route names no path prefix)", m.host)
    } else {
        format!(
            "host {} and path prefix {} (the longest that matches {normal})",
            m.host, m.prefix
        )
    }];
    if normal != asked {
        details.push(format!("the path {asked} is matched as {normal}"));
    }
    if m.ignore_case && m.prefix != "/" {
        let why = if r.ignore_case.is_some() {
            "ignore_case is set"
        } else {
            "an Exchange virtual directory"
        };
        details.push(format!("paths compare without regard to case ({why})"));
    }
    let rule = &plan.web.routes[m.route];
    let route_step = |details| Step {
        phase: Phase::Route,
        summary: r.name.value.clone(),
        details,
    };
    match decided.outcome {
        WebOutcome::Refuse(Refusal::ZoneNotOnRoute) => {
            let names: Vec<&str> = rule.zones.iter().flatten().map(|z| plan.zone_name(*z)).collect();
            details.push(format!(
                "route {} admits only {}; zone {zone_name} gets 404, not 403, so the route is not revealed",
                r.name.value,
                names.join(", ")
            ));
            steps.push(route_step(details));
            let because = format!("route {} is hidden from zone {zone_name}: 404", r.name.value);
            return Outcome::stop(steps, route, denied(Phase::Route, Effect::NotFound), because);
        }
        WebOutcome::Redirect { port } => {
            details.push("the route is not marked plain, so plain http is redirected".to_string());
            steps.push(route_step(details));
            let location = redirect_location(m.host, port, &with_query(normal, query));
            let because = format!(
                "route {} is not served on plain http: redirect to {location}",
                r.name.value
            );
            return Outcome::stop(steps, route, Verdict::Redirected { location }, because);
        }
        WebOutcome::Refuse(why) if !why.at_admit() => {
            // No plain route, and no https listener to send the host to.
            details.push(format!(
                "the route is not marked plain, and no https listener serves {}",
                m.host
            ));
            steps.push(route_step(details));
            let because = format!("route {} is not served on plain http: {}", r.name.value, why.status());
            return Outcome::stop(steps, route, denied(Phase::Route, Effect::NotFound), because);
        }
        _ => {}
    }
    if let Some(zones) = &rule.zones {
        let names: Vec<&str> = zones.iter().map(|z| plan.zone_name(*z)).collect();
        details.push(format!(
            "route zones: {} (zone {zone_name} is admitted)",
            names.join(", ")
        ));
    }
    steps.push(route_step(details));

    let (policy, set) = rule.auth_for(zone);
    let set_by = if set {
        format!("set for zone {zone_name}")
    } else {
        "the route's default".to_string()
    };
    let (summary, what) = auth(plan, policy);
    steps.push(Step {
        phase: Phase::Auth,
        summary,
        details: vec![format!("{what} ({set_by})")],
    });
    let (effect, because) = match decided.outcome {
        WebOutcome::Refuse(Refusal::Deny) => (
            Effect::Forbidden,
            format!("route {} denies zone {zone_name}: 403", r.name.value),
        ),
        WebOutcome::Refuse(Refusal::SignInUnavailable { provider, method }) => (
            Effect::SignInUnavailable,
            format!(
                "route {} pre-authenticates zone {zone_name} with {provider} ({}), which gatehouse does not enforce yet: \
                 it refuses the request rather than forward it unauthenticated; pool {} is not reached",
                r.name.value,
                method.map_or("undefined", |m| m.keyword()),
                r.pool.value
            ),
        ),
        _ => {
            steps.push(pool_step(plan, &r.pool.value, Some(r), listener.ports.value.first));
            return Outcome {
                steps,
                route,
                pool: Some(r.pool.value.clone()),
                verdict: Verdict::Allowed,
                because: format!("forwarded to pool {}", r.pool.value),
            };
        }
    };
    Outcome::stop(steps, route, denied(Phase::Auth, effect), because)
}

fn with_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

fn handshake(plan: &Plan, listener: &Listener, host: Option<&str>) -> Step {
    let default = listener
        .default_certificate
        .as_ref()
        .or(listener.certificates.first())
        .map_or("(none configured)", |c| c.value.as_str());
    let Some(h) = host else {
        let details = vec![format!("the default certificate {default} is offered")];
        return Step {
            phase: Phase::Handshake,
            summary: "no SNI".to_string(),
            details,
        };
    };
    let cert = |name: &str| plan.topology.certificates.iter().find(|c| c.name.value == name);
    let covering = listener
        .certificates
        .iter()
        .find(|c| cert(&c.value).is_some_and(|cert| cert.names.iter().any(|n| name_covers(&n.value, h))));
    let detail = match covering {
        Some(c) => format!("certificate {} covers {h}", c.value),
        // Names of a certificate loaded from a file are not in the plan.
        None if cert(default).is_some_and(|c| c.names.is_empty()) => {
            format!("the default certificate {default} is offered (its names come from its file)")
        }
        None => format!(
            "no certificate on {} covers {h}: the default {default} is offered and clients will warn",
            listener.name.value
        ),
    };
    Step {
        phase: Phase::Handshake,
        summary: format!("SNI {h}"),
        details: vec![detail],
    }
}

/// (summary, what it means).
fn auth(plan: &Plan, policy: &AuthPolicy) -> (String, String) {
    match policy {
        AuthPolicy::Anonymous => ("anonymous".into(), "anyone may pass; the backend decides".into()),
        AuthPolicy::PassThrough => (
            "pass-through".into(),
            "gatehouse does not authenticate; NTLM, Negotiate or SAML go to the backend".into(),
        ),
        AuthPolicy::Deny => ("deny".into(), "every request is refused with 403".into()),
        AuthPolicy::Provider(name) => {
            // The refusal is the admission rule's, so that this text changes
            // by itself when a method becomes enforced.
            let refused = match plan.topology.admission(policy) {
                Admission::SignInUnavailable { .. } => {
                    ", which gatehouse does not enforce yet: every request is refused with 503"
                }
                Admission::Forward | Admission::Deny => "",
            };
            let what = match plan.topology.auth_providers.iter().find(|p| p.name.value == *name) {
                Some(p) => {
                    let against = p
                        .url
                        .as_ref()
                        .map(|u| format!(" against {}", u.value))
                        .unwrap_or_default();
                    format!("pre-authentication with {}{against}{refused}", p.method.value.keyword())
                }
                None => "pre-authentication with an undefined provider: every request is refused with 503".to_string(),
            };
            (name.clone(), what)
        }
    }
}

/// The pool and its members, with the port each is reached on.
pub(super) fn pool_step(plan: &Plan, name: &str, route: Option<&Route>, client_port: u16) -> Step {
    let Some(pool) = plan.pool(name) else {
        return Step {
            phase: Phase::Pool,
            summary: format!("{name} (not defined)"),
            details: vec![],
        };
    };
    let backend_port = route.and_then(|r| r.backend_port.as_ref()).map(|p| p.value);
    let members: Vec<String> = pool
        .members
        .iter()
        .map(|m| {
            let port = backend_port.or(m.port.as_ref().map(|p| p.value)).unwrap_or(client_port);
            let backup = if m.backup { " (backup)" } else { "" };
            format!("{}:{port}{backup}", m.host.value)
        })
        .collect();
    let mut summary = format!(
        "{name}: {} over {} members",
        pool.algorithm.keyword(),
        pool.members.len()
    );
    if let Some(r) = route.filter(|r| r.affinity != gatehouse_model::topology::Affinity::None) {
        let a = match r.affinity {
            gatehouse_model::topology::Affinity::Cookie => "cookie",
            _ => "source-ip",
        };
        summary.push_str(&format!(", {a} affinity"));
    }
    let mut details = vec![format!("members: {}", members.join(", "))];
    if let Some(p) = backend_port {
        details.push(format!("the route sends to port {p} instead of the members' own"));
    } else if pool.members.iter().any(|m| m.port.is_none()) {
        details.push(format!(
            "members without a port are reached on the client's port, {client_port}"
        ));
    }
    if let Some(h) = &pool.health {
        let port = h
            .port
            .as_ref()
            .map(|p| format!(" port {}", p.value))
            .unwrap_or_default();
        let every = format!("every {}", duration(h.interval.value));
        details.push(match h.kind {
            CheckKind::Tcp => format!("health: tcp connect{port} {every}"),
            CheckKind::Http | CheckKind::Https => {
                let kind = if h.kind == CheckKind::Http { "http" } else { "https" };
                let path = h.path.as_ref().map_or("/", |p| p.value.as_str());
                let host = h.host.as_ref().map(|h| format!(" (Host {h})")).unwrap_or_default();
                format!("health: {kind} GET {path}{host}{port} {every}")
            }
        });
    } else {
        details.push("no health check: every member counts as up".to_string());
    }
    Step {
        phase: Phase::Pool,
        summary,
        details,
    }
}

fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms % 3_600_000 == 0 && ms > 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 && ms > 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}
