//! The phases after accept on an http(s) listener: the certificate SNI picks,
//! the route (host + longest path prefix), the route's zone restriction, the
//! auth policy for the zone, and the pool; plus the pool step L4 listeners
//! share.

use std::time::Duration;

use gatehouse_model::topology::{AuthPolicy, CheckKind, Listener, Protocol, Route};
use gatehouse_model::validate::name_covers;
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
    let path = q.path.clone().unwrap_or_else(|| "/".to_string());
    let mut steps = Vec::new();
    if listener.protocol.value == Protocol::Https {
        steps.push(handshake(plan, listener, host.as_deref()));
    }
    let Some(host) = host else {
        steps.push(Step {
            phase: Phase::Route,
            summary: "no Host: no route can match".to_string(),
            details: vec!["give the host name with --host NAME (or use it as the destination)".to_string()],
        });
        let verdict = Verdict::Denied {
            phase: Phase::Route,
            effect: Effect::NotFound,
        };
        return Outcome::stop(
            steps,
            None,
            verdict,
            "a request without a Host matches no route: 404".to_string(),
        );
    };
    // The proxy's first routing step: a path whose meaning depends on the
    // backend's decoding is refused, any other is routed in normal form.
    let asked = path.clone();
    let path = match gatehouse_model::path::judge(&asked) {
        Ok(normal) => normal.into_owned(),
        Err(why) => {
            steps.push(Step {
                phase: Phase::Route,
                summary: format!("the path {path} is refused ({why})"),
                details: vec!["IIS decodes such a path differently from a proxy, so gatehouse does not route it (docs/refusals.md, Paths)".to_string()],
            });
            let verdict = Verdict::Denied {
                phase: Phase::Route,
                effect: Effect::BadRequest,
            };
            return Outcome::stop(steps, None, verdict, format!("the path {path} is refused: 400"));
        }
    };
    let l = &listener.name.value;
    let Some(m) = select(plan, l, &host, &path) else {
        if listener.protocol.value == Protocol::Http {
            let location = format!("https://{host}{path}");
            steps.push(Step {
                phase: Phase::Route,
                summary: format!("no plain route for {host}{path} on {l}"),
                details: vec!["plain http serves only routes marked plain; everything else is redirected".to_string()],
            });
            let because = format!("{l} redirects to {location}");
            return Outcome::stop(steps, None, Verdict::Redirected { location }, because);
        }
        let mut details = vec![format!("no route on {l} matches host {host} and path {path}")];
        details.extend(lookalike(plan, l, &host, &path));
        for (other, r) in plan
            .topology
            .listeners
            .iter()
            .filter(|o| o.name.value != *l)
            .filter_map(|o| select(plan, &o.name.value, &host, &path).map(|m| (o, m.route)))
        {
            let zones: Vec<&str> = other.zones.iter().map(|z| z.value.as_str()).collect();
            details.push(format!(
                "route {} serves it on listener {} (zones {})",
                r.name.value,
                other.name.value,
                zones.join(", ")
            ));
        }
        steps.push(Step {
            phase: Phase::Route,
            summary: format!("no route for {host}{path}"),
            details,
        });
        let verdict = Verdict::Denied {
            phase: Phase::Route,
            effect: Effect::NotFound,
        };
        return Outcome::stop(steps, None, verdict, format!("no route on {l} for {host}{path}: 404"));
    };
    let r = m.route;
    let route = Some(r.name.value.clone());
    let mut details = vec![if m.prefix == "/" {
        format!("host {}, every path (the route names no path prefix)", m.host)
    } else {
        format!(
            "host {} and path prefix {} (the longest that matches {})",
            m.host, m.prefix, m.path
        )
    }];
    if m.path != asked {
        details.push(format!("the path {asked} is matched as {}", m.path));
    }
    if m.ignore_case && m.prefix != "/" {
        let why = if r.ignore_case.is_some() {
            "ignore_case is set"
        } else {
            "an Exchange virtual directory"
        };
        details.push(format!("paths compare without regard to case ({why})"));
    }
    if listener.protocol.value == Protocol::Http && !r.plain {
        details.push("the route is not marked plain, so plain http is redirected".to_string());
        steps.push(Step {
            phase: Phase::Route,
            summary: r.name.value.clone(),
            details,
        });
        let location = format!("https://{host}{path}");
        let because = format!(
            "route {} is not served on plain http: redirect to {location}",
            r.name.value
        );
        return Outcome::stop(steps, route, Verdict::Redirected { location }, because);
    }
    if let Some(zones) = &r.zones {
        let names: Vec<&str> = zones.iter().map(|z| z.value.as_str()).collect();
        if !names.contains(&zone_name) {
            details.push(format!(
                "route {} admits only {}; zone {zone_name} gets 404, not 403, so the route is not revealed",
                r.name.value,
                names.join(", ")
            ));
            steps.push(Step {
                phase: Phase::Route,
                summary: r.name.value.clone(),
                details,
            });
            let verdict = Verdict::Denied {
                phase: Phase::Route,
                effect: Effect::NotFound,
            };
            let because = format!("route {} is hidden from zone {zone_name}: 404", r.name.value);
            return Outcome::stop(steps, route, verdict, because);
        }
        details.push(format!(
            "route zones: {} (zone {zone_name} is admitted)",
            names.join(", ")
        ));
    }
    steps.push(Step {
        phase: Phase::Route,
        summary: r.name.value.clone(),
        details,
    });

    let (policy, set_by) = match r.auth.iter().find(|(z, _)| z.value == zone_name) {
        Some((_, p)) => (&p.value, format!("set for zone {zone_name}")),
        None => (&r.auth_default.value, "the route's default".to_string()),
    };
    let (summary, what) = auth(plan, policy);
    steps.push(Step {
        phase: Phase::Auth,
        summary,
        details: vec![format!("{what} ({set_by})")],
    });
    let (effect, because) = match plan.topology.admission(policy) {
        Admission::Forward => {
            steps.push(pool_step(plan, &r.pool.value, Some(r), listener.ports.value.first));
            return Outcome {
                steps,
                route,
                pool: Some(r.pool.value.clone()),
                verdict: Verdict::Allowed,
                because: format!("forwarded to pool {}", r.pool.value),
            };
        }
        Admission::Deny => (
            Effect::Forbidden,
            format!("route {} denies zone {zone_name}: 403", r.name.value),
        ),
        Admission::SignInUnavailable { provider, method } => (
            Effect::SignInUnavailable,
            format!(
                "route {} pre-authenticates zone {zone_name} with {provider} ({}), which gatehouse does not enforce yet: \
                 it refuses the request rather than forward it unauthenticated; pool {} is not reached",
                r.name.value,
                method.map_or("undefined", |m| m.keyword()),
                r.pool.value
            ),
        ),
    };
    let verdict = Verdict::Denied {
        phase: Phase::Auth,
        effect,
    };
    Outcome::stop(steps, route, verdict, because)
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
