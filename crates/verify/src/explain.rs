//! `gatehouse explain`: which zone, rule, listener, route, auth policy and
//! pool decide one flow, and why, so that an operator can answer "why can't
//! partner X reach Y?" in one command.
//!
//! [`explain`] walks the phases gatehouse itself goes through, in order:
//!
//! 1. **zone**: longest-prefix match of the source address;
//! 2. **dns**: when the destination is a name, the split-DNS answer for the
//!    client's zone (the listener that publishes the name to that zone);
//! 3. **gateway**: the ordered ACL, first match wins, implicit deny;
//! 4. **listener**: the socket at the destination and its zone restriction
//!    (these three make up the *accept* phase);
//! 5. **handshake**: on https, the certificate SNI picks;
//! 6. **route**: host + longest path prefix on an http(s) listener, then the
//!    route's own zone restriction (404, not 403, so it is not revealed);
//! 7. **auth**: the route's auth policy for the zone (*admit*): `deny` is
//!    403, a provider gatehouse does not enforce yet is 503;
//! 8. **pool**: the pool and members traffic goes to (*pick*).
//!
//! It stops at the first phase that denies, and says what the client sees.
//! One exception: when the client's DNS view has no answer for a name, the
//! verdict is that DNS denial, but the walk goes on by address to show what
//! a client using the address anyway would meet.
//! Everything is a pure function of the [`Plan`]: health is not known here,
//! so members are listed as configured.

mod render;
mod resolve;
mod routes;
mod web;

use std::net::IpAddr;

use gatehouse_model::topology::{Listener, Transport};
use gatehouse_model::{AcceptVerdict, Plan};
use gatehouse_policy::{acl, ZoneId};

/// Where the flow goes: an address, or a name resolved through split DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Address(IpAddr),
    Name(String),
}

impl Destination {
    /// An IP address, or else a host name (lower-cased, trailing dot removed).
    pub fn parse(text: &str) -> Result<Destination, String> {
        if let Ok(a) = text.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
            return Ok(Destination::Address(a));
        }
        let name = text.trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if valid {
            Ok(Destination::Name(name))
        } else {
            Err(format!("\"{text}\" is neither an IP address nor a host name"))
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Address(a) => write!(f, "{a}"),
            Destination::Name(n) => f.write_str(n),
        }
    }
}

/// One flow to explain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub src: IpAddr,
    pub dst: Destination,
    pub transport: Transport,
    pub port: u16,
    /// The HTTP Host (and TLS SNI); defaults to the destination name.
    pub host: Option<String>,
    /// The HTTP path; defaults to `/`.
    pub path: Option<String>,
}

/// `tcp/443`, `udp/3478`, or a bare port (TCP).
pub fn parse_proto_port(text: &str) -> Result<(Transport, u16), String> {
    let (transport, port) = match text.split_once('/') {
        Some((p, port)) => match p.to_ascii_lowercase().as_str() {
            "tcp" => (Transport::Tcp, port),
            "udp" => (Transport::Udp, port),
            other => return Err(format!("unknown protocol \"{other}\": use tcp/PORT or udp/PORT")),
        },
        None => (Transport::Tcp, text),
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((transport, p)),
        _ => Err(format!("\"{port}\" is not a port (1-65535)")),
    }
}

/// The phases of a flow through gatehouse, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Zone,
    Dns,
    Gateway,
    Listener,
    Handshake,
    Route,
    Auth,
    Pool,
}

impl Phase {
    pub fn keyword(self) -> &'static str {
        match self {
            Phase::Zone => "zone",
            Phase::Dns => "dns",
            Phase::Gateway => "gateway",
            Phase::Listener => "listener",
            Phase::Handshake => "handshake",
            Phase::Route => "route",
            Phase::Auth => "auth",
            Phase::Pool => "pool",
        }
    }
}

/// What the client sees when a phase denies the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The client's DNS view has no address for the name.
    NoAnswer,
    /// The DNS server refuses the query (the zone has no view).
    Refused,
    /// Nothing listens at that address and port: connection refused.
    NotListening,
    /// gatehouse closes the connection at accept (the nftables export drops it).
    Closed,
    /// HTTP 400: the request is refused before routing (a path whose
    /// meaning depends on the backend's decoding).
    BadRequest,
    /// HTTP 404.
    NotFound,
    /// HTTP 403.
    Forbidden,
    /// HTTP 503: the route's pre-authentication method is not enforced, so
    /// gatehouse refuses the request rather than forward it unauthenticated.
    SignInUnavailable,
}

impl Effect {
    pub fn keyword(self) -> &'static str {
        match self {
            Effect::NoAnswer => "no-answer",
            Effect::Refused => "refused",
            Effect::NotListening => "not-listening",
            Effect::Closed => "closed",
            Effect::BadRequest => "bad-request",
            Effect::NotFound => "not-found",
            Effect::Forbidden => "forbidden",
            Effect::SignInUnavailable => "sign-in-unavailable",
        }
    }
}

/// The outcome of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The flow reaches a pool, or the DNS server answers.
    Allowed,
    /// gatehouse answers the name; clients then connect to the pool's
    /// members directly (DNS load balancing), not through a listener.
    DnsOnly,
    /// Answered with a redirect to HTTPS.
    Redirected {
        location: String,
    },
    Denied {
        phase: Phase,
        effect: Effect,
    },
}

/// One phase's finding: a one-line summary and the reasons behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub phase: Phase,
    pub summary: String,
    pub details: Vec<String>,
}

/// Why a flow is allowed or not. `Display` renders it as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub query: Query,
    pub zone: String,
    /// The address the flow goes to, once known.
    pub address: Option<IpAddr>,
    /// The ACL rule that matched; `None` for the implicit deny or when the
    /// ACL was not consulted.
    pub acl_rule: Option<String>,
    pub listener: Option<String>,
    pub route: Option<String>,
    pub pool: Option<String>,
    pub steps: Vec<Step>,
    pub verdict: Verdict,
    /// One line on the verdict: what happens and what decided it.
    pub because: String,
}

impl Explanation {
    pub fn is_allowed(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Allowed | Verdict::DnsOnly | Verdict::Redirected { .. }
        )
    }
}

/// Explains one flow against the plan.
pub fn explain(plan: &Plan, query: &Query) -> Explanation {
    let zone = plan.classify(query.src);
    let mut x = Explanation {
        query: query.clone(),
        zone: plan.zone_name(zone).to_string(),
        address: None,
        acl_rule: None,
        listener: None,
        route: None,
        pool: None,
        steps: vec![resolve::zone_step(plan, query.src, zone)],
        verdict: Verdict::Allowed,
        because: String::new(),
    };
    let (address, dns_denial) = match &query.dst {
        Destination::Address(a) => (*a, None),
        Destination::Name(name) => match resolve::resolve(plan, zone, name, query.transport, query.port) {
            resolve::Resolved::Address { address, step, denial } => {
                x.steps.push(step);
                (address, denial)
            }
            resolve::Resolved::Stop { step, verdict, because } => {
                x.steps.push(step);
                return finish(x, verdict, because);
            }
        },
    };
    x.address = Some(address);
    let (verdict, because) = accept_and_on(plan, zone, query, address, &mut x);
    match dns_denial {
        // The client gets no address; what follows shows what gatehouse
        // would do to one that used the address anyway.
        Some((effect, why)) => {
            let then = if matches!(verdict, Verdict::Denied { .. }) {
                "denied too"
            } else {
                "let through"
            };
            let because = format!("{why}. By address it would be {then}: {because}");
            finish(
                x,
                Verdict::Denied {
                    phase: Phase::Dns,
                    effect,
                },
                because,
            )
        }
        None => finish(x, verdict, because),
    }
}

/// The accept phase (gateway ACL, listener) and what follows it.
fn accept_and_on(plan: &Plan, zone: ZoneId, query: &Query, address: IpAddr, x: &mut Explanation) -> (Verdict, String) {
    let Some(socket) = resolve::socket_at(plan, address, query.transport, query.port) else {
        let (step, because) = resolve::nothing_listening(plan, address, query.transport, query.port);
        x.steps.push(step);
        return (
            Verdict::Denied {
                phase: Phase::Listener,
                effect: Effect::NotListening,
            },
            because,
        );
    };
    let listener = match &socket {
        resolve::Socket::Listener(l) => {
            x.listener = Some(l.name.value.clone());
            Some(*l)
        }
        resolve::Socket::Dns => None,
    };
    // The accept decision the serving parts make, uncounted.
    let accept = plan.decide_accept(query.src, query.transport, query.port, listener);
    let decision = accept.decision;
    x.acl_rule = decision.rule.map(|i| plan.acl.rules()[i].name.clone());
    x.steps.push(gateway_step(plan, zone, query, decision));
    if !decision.is_allowed() {
        let because = match decision.rule {
            Some(i) => format!("ACL rule \"{}\" denies it", plan.acl.rules()[i].name),
            None => format!(
                "no ACL rule allows {}/{} from zone {} (implicit deny)",
                query.transport.keyword(),
                query.port,
                x.zone
            ),
        };
        return (
            Verdict::Denied {
                phase: Phase::Gateway,
                effect: Effect::Closed,
            },
            format!("{because}; {CLOSED}"),
        );
    }
    let listener = match socket {
        resolve::Socket::Listener(l) => l,
        resolve::Socket::Dns => {
            let (step, verdict, because) = resolve::dns_server_step(plan, zone);
            x.steps.push(step);
            return (verdict, because);
        }
    };
    let admits = accept.verdict != AcceptVerdict::ZoneNotAdmitted;
    x.steps.push(listener_step(plan, listener, zone, admits));
    if !admits {
        let because = format!(
            "listener {} does not admit zone {}; {CLOSED}",
            listener.name.value, x.zone
        );
        return (
            Verdict::Denied {
                phase: Phase::Listener,
                effect: Effect::Closed,
            },
            because,
        );
    }
    if listener.protocol.value.is_http() {
        let outcome = web::http(plan, listener, zone, query);
        x.steps.extend(outcome.steps);
        x.route = outcome.route;
        x.pool = outcome.pool;
        return (outcome.verdict, outcome.because);
    }
    let pool = listener.pool.as_ref().map(|p| p.value.clone()).unwrap_or_default();
    let mut step = web::pool_step(plan, &pool, None, query.port);
    if query.host.is_some() || query.path.is_some() {
        step.details.push(format!(
            "--host and --path do not apply: {} is a {} listener and does not look inside the stream",
            listener.name.value,
            listener.protocol.value.keyword()
        ));
    }
    x.steps.push(step);
    x.pool = Some(pool.clone());
    (Verdict::Allowed, format!("forwarded to pool {pool}"))
}

/// What a client sees when gatehouse closes at accept.
const CLOSED: &str = "gatehouse closes the connection at accept (the nftables export drops it)";

fn finish(mut x: Explanation, verdict: Verdict, because: String) -> Explanation {
    x.verdict = verdict;
    x.because = because;
    x
}

fn gateway_step(plan: &Plan, zone: ZoneId, q: &Query, decision: gatehouse_policy::Decision) -> Step {
    let traffic = format!("{}/{}", q.transport.keyword(), q.port);
    let rules = plan.acl.rules();
    let Some(i) = decision.rule else {
        let mut details = vec![format!("no rule matches {traffic} from zone {}", plan.zone_name(zone))];
        let proto = match q.transport {
            Transport::Tcp => acl::Proto::Tcp,
            Transport::Udp => acl::Proto::Udp,
        };
        let near: Vec<String> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.matcher.proto.is_none_or(|p| p == proto)
                    && (r.matcher.ports.is_empty() || r.matcher.ports.iter().any(|p| p.contains(q.port)))
            })
            .map(|(n, r)| {
                format!(
                    "rule {} \"{}\" covers {traffic}, but only {}",
                    n + 1,
                    r.name,
                    sources(plan, r)
                )
            })
            .collect();
        if near.is_empty() {
            details.push(format!("no rule mentions {traffic} at all"));
        }
        details.extend(near);
        return Step {
            phase: Phase::Gateway,
            summary: "deny: implicit deny after the last ACL rule".into(),
            details,
        };
    };
    let rule = &rules[i];
    let action = if decision.is_allowed() { "allow" } else { "deny" };
    let src = q.src.to_canonical();
    let why = if rule.matcher.zones.contains(&zone) {
        format!("it matched zone {}", plan.zone_name(zone))
    } else if let Some(p) = rule.matcher.prefixes.iter().find(|p| p.contains(&src)) {
        format!("it matched prefix {p}, which holds {src}")
    } else {
        "it matches every source".to_string()
    };
    let mut details = vec![format!("rule {}: {}", i + 1, describe_rule(plan, rule)), why];
    match i {
        0 => {}
        1 => details.push("rule 1 did not match".to_string()),
        _ => details.push(format!("rules 1-{i} did not match")),
    }
    Step {
        phase: Phase::Gateway,
        summary: format!("{action}: ACL rule {} \"{}\"", i + 1, rule.name),
        details,
    }
}

fn listener_step(plan: &Plan, l: &Listener, zone: ZoneId, admits: bool) -> Step {
    let zones: Vec<&str> = l.zones.iter().map(|z| z.value.as_str()).collect();
    let mut details = vec![format!(
        "{} {}/{} ({}), admits {}",
        l.address.value,
        l.protocol.value.transport().keyword(),
        l.ports.value,
        l.protocol.value.keyword(),
        if zones.is_empty() {
            "no zone".to_string()
        } else {
            zones.join(", ")
        }
    )];
    if let Some(d) = &l.description {
        details.push(d.clone());
    }
    if !admits {
        details.push(format!("zone {} is not among them", plan.zone_name(zone)));
    }
    Step {
        phase: Phase::Listener,
        summary: l.name.value.clone(),
        details,
    }
}

/// `allow tcp 80,443 from internet, partners`.
fn describe_rule(plan: &Plan, rule: &acl::Rule) -> String {
    let m = &rule.matcher;
    let action = match rule.action {
        acl::Action::Allow => "allow",
        acl::Action::Deny => "deny",
    };
    let proto = match m.proto {
        Some(acl::Proto::Tcp) => "tcp",
        Some(acl::Proto::Udp) => "udp",
        None => "tcp+udp",
    };
    let ports = if m.ports.is_empty() {
        "any port".to_string()
    } else {
        let list: Vec<String> = m
            .ports
            .iter()
            .map(|p| {
                if p.first == p.last {
                    p.first.to_string()
                } else {
                    format!("{}-{}", p.first, p.last)
                }
            })
            .collect();
        list.join(",")
    };
    format!("{action} {proto} {ports} {}", sources(plan, rule))
}

fn sources(plan: &Plan, rule: &acl::Rule) -> String {
    let mut from: Vec<String> = rule
        .matcher
        .zones
        .iter()
        .map(|z| plan.zone_name(*z).to_string())
        .collect();
    from.extend(rule.matcher.prefixes.iter().map(|p| p.to_string()));
    if from.is_empty() {
        "from anywhere".to_string()
    } else {
        format!("from {}", from.join(", "))
    }
}
