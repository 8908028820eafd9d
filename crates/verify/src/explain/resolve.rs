//! The first phases of an explanation: the client's zone (and the prefix
//! that put it there), the split-DNS answer for a name, and the socket at the
//! destination address.

use std::net::IpAddr;

use gatehouse_model::topology::{DnsView, Listener, RecordType, Transport};
use gatehouse_model::validate::Published;
use gatehouse_model::Plan;
use gatehouse_policy::ZoneId;

use super::{Effect, Phase, Step, Verdict};

pub(super) fn zone_step(plan: &Plan, src: IpAddr, zone: ZoneId) -> Step {
    let name = plan.zone_name(zone);
    let canon = src.to_canonical();
    let mut details = Vec::new();
    if canon != src {
        details.push(format!("{src} is IPv4-mapped: it is looked up as {canon}"));
    }
    match plan.zones.lookup_prefix(src) {
        Some((net, _)) => {
            details.push(format!(
                "{canon} is in {net}, the longest matching prefix (zone {name})"
            ));
            let broader: Vec<String> = plan
                .topology
                .zones
                .iter()
                .flat_map(|z| z.prefixes.iter().map(move |p| (z, p.value.trunc())))
                .filter(|(_, p)| p.contains(&canon) && *p != net)
                .map(|(z, p)| format!("{} {p}", z.name.value))
                .collect();
            if !broader.is_empty() {
                details.push(format!(
                    "it is also inside {}; the longer prefix wins",
                    broader.join(", ")
                ));
            }
        }
        None => details.push(format!(
            "no zone prefix contains {canon}: it falls into the default zone {name}"
        )),
    }
    let users: Vec<&str> = plan
        .topology
        .user_types
        .iter()
        .filter(|u| u.zones.iter().any(|z| z.value == name))
        .map(|u| u.name.value.as_str())
        .collect();
    details.push(if users.is_empty() {
        format!("no user type comes from {name}")
    } else {
        format!("user types from {name}: {}", users.join(", "))
    });
    Step {
        phase: Phase::Zone,
        summary: name.to_string(),
        details,
    }
}

/// Where name resolution leaves the flow.
pub(super) enum Resolved {
    /// Go on to this address. `denial` is set when the client's view has no
    /// answer: the walk goes on to show what the address would meet.
    Address {
        address: IpAddr,
        step: Step,
        denial: Option<(Effect, String)>,
    },
    /// Nothing to connect to through gatehouse.
    Stop {
        step: Step,
        verdict: Verdict,
        because: String,
    },
}

/// The view that answers `zone`, as the DNS server picks it
/// (`Plan::dns`).
fn view_of<'p>(plan: &'p Plan, zone: &str) -> Option<&'p DnsView> {
    let answers = plan.dns.of(plan.zone_id(zone)?)?;
    plan.topology
        .dns
        .as_ref()?
        .views
        .iter()
        .find(|v| v.name.value == answers.name)
}

fn zones_text(p: &Published) -> String {
    match &p.zones {
        None => "every zone".to_string(),
        Some(z) if z.is_empty() => "no zone".to_string(),
        Some(z) => z.join(", "),
    }
}

/// `listener L, route R`; the route only when it is the one route that
/// publishes the name there (DNS answers per listener, not per route).
fn via(plan: &Plan, p: &Published) -> String {
    let listener = p.listener.as_deref().unwrap_or("-");
    let routes = plan
        .published
        .iter()
        .filter(|o| o.name == p.name && o.listener == p.listener)
        .count();
    match &p.route {
        Some(r) if routes == 1 => format!("listener {listener}, route {r}"),
        _ => format!("listener {listener}"),
    }
}

/// Resolves `name` as the client's zone sees it, for a flow to `transport/port`.
pub(super) fn resolve(plan: &Plan, zone: ZoneId, name: &str, transport: Transport, port: u16) -> Resolved {
    let zone_name = plan.zone_name(zone);
    let view = view_of(plan, zone_name);
    let view_text = match (&plan.topology.dns, view) {
        (None, _) => "no [dns] section: gatehouse answers no names".to_string(),
        (Some(_), Some(v)) => format!("view {}", v.name.value),
        (Some(_), None) => format!("zone {zone_name} is in no DNS view"),
    };
    let all: Vec<&Published> = plan.published.iter().filter(|p| p.name == name).collect();
    let fits = |p: &&&Published| p.transport == transport && p.ports.contains(port);
    let served = |p: &&&Published| p.listener.is_some();
    let mut details = Vec::new();
    let meant: Vec<&str> = plan
        .topology
        .user_types
        .iter()
        .filter(|u| u.zones.iter().any(|z| z.value == zone_name))
        .filter(|u| {
            u.reaches
                .iter()
                .any(|r| r.value.name == name && r.value.port.is_none_or(|p| p == port))
        })
        .map(|u| u.name.value.as_str())
        .collect();
    if !meant.is_empty() {
        details.push(format!(
            "listed in the reaches of user types {} (from {zone_name})",
            meant.join(", ")
        ));
    }

    if let Some(p) = all.iter().filter(fits).filter(served).find(|p| p.admits(zone_name)) {
        let l = listener(plan, p);
        details.insert(0, format!("published to zone {zone_name} on {}", via(plan, p)));
        let denial = dns_denial(plan, zone_name, name);
        let summary = answer(name, l.address.value, &view_text, denial.is_some());
        return Resolved::Address {
            address: l.address.value,
            step: dns(summary, details),
            denial,
        };
    }
    if let Some(stop) = dns_balanced(plan, zone_name, name, port, &all, &view_text, &mut details) {
        return stop;
    }
    // Not published to this zone on this port: follow the listener that
    // serves the name on this port (for other zones), else any that serves it.
    let other = all
        .iter()
        .filter(served)
        .filter(fits)
        .find(|_| true)
        .or_else(|| all.iter().filter(served).find(|p| p.admits(zone_name)))
        .or_else(|| all.iter().find(served));
    if let Some(p) = other {
        let l = listener(plan, p);
        details.insert(
            0,
            if fits(&p) {
                format!(
                    "{name} is published on {}/{port} only for {} ({})",
                    transport.keyword(),
                    zones_text(p),
                    via(plan, p)
                )
            } else {
                format!(
                    "{name} is not published on {}/{port}; {} serves it on {}/{} for {}",
                    transport.keyword(),
                    via(plan, p),
                    p.transport.keyword(),
                    p.ports,
                    zones_text(p)
                )
            },
        );
        details.push(format!(
            "following {} to show what gatehouse does there",
            l.address.value
        ));
        let denial = dns_denial(plan, zone_name, name);
        let summary = answer(name, l.address.value, &view_text, denial.is_some());
        return Resolved::Address {
            address: l.address.value,
            step: dns(summary, details),
            denial,
        };
    }
    if let Some((address, chain)) = record(plan, view, name, 0) {
        details.insert(
            0,
            format!("no listener publishes {name}; a DNS record answers: {chain}"),
        );
        let summary = format!("{name} -> {address} ({view_text})");
        return Resolved::Address {
            address,
            step: dns(summary, details),
            denial: None,
        };
    }
    details.insert(
        0,
        format!("no listener, route, DNS-balanced pool or DNS record answers {name} for zone {zone_name}"),
    );
    Resolved::Stop {
        step: dns(format!("{name}: no answer ({view_text})"), details),
        verdict: Verdict::Denied {
            phase: Phase::Dns,
            effect: Effect::NoAnswer,
        },
        because: format!("nothing publishes {name} to zone {zone_name}"),
    }
}

/// `name -> address (view)`, or, when the view has no answer, the address
/// the walk goes on with.
fn answer(name: &str, address: IpAddr, view_text: &str, denied: bool) -> String {
    if denied {
        format!("{name}: no answer ({view_text}); going on by address {address}")
    } else {
        format!("{name} -> {address} ({view_text})")
    }
}

fn dns(summary: String, details: Vec<String>) -> Step {
    Step {
        phase: Phase::Dns,
        summary,
        details,
    }
}

fn listener<'p>(plan: &'p Plan, p: &Published) -> &'p Listener {
    plan.listener(p.listener.as_deref().expect("served by a listener"))
        .expect("published names come from the plan's listeners")
}

/// Why the client's view has no address for the name, when it has none: no
/// zone of the view is admitted on any listener that publishes it.
fn dns_denial(plan: &Plan, zone: &str, name: &str) -> Option<(Effect, String)> {
    // Without a [dns] section gatehouse answers nothing, and denies nothing here.
    plan.topology.dns.as_ref()?;
    let Some(view) = view_of(plan, zone) else {
        return Some((
            Effect::Refused,
            format!("zone {zone} is in no DNS view, so its queries are refused"),
        ));
    };
    // What the DNS server answers in that view (`Plan::dns`).
    let visible = plan
        .zone_id(zone)
        .and_then(|z| plan.dns.of(z))
        .is_some_and(|v| v.addresses.contains_key(name));
    (!visible).then(|| {
        (
            Effect::NoAnswer,
            format!(
                "DNS view {} has no address for {name} (it is not published to zone {zone})",
                view.name.value
            ),
        )
    })
}

/// A name served by DNS load balancing: gatehouse answers with the pool's
/// members and the client connects to them directly.
fn dns_balanced(
    plan: &Plan,
    zone: &str,
    name: &str,
    port: u16,
    all: &[&Published],
    view_text: &str,
    details: &mut Vec<String>,
) -> Option<Resolved> {
    if all.iter().any(|p| p.listener.is_some()) {
        return None;
    }
    let pool = plan.topology.pools.iter().find(|p| {
        p.dns_balanced
            && p.dns_name
                .as_ref()
                .is_some_and(|n| n.value.trim_end_matches('.').eq_ignore_ascii_case(name))
    })?;
    let members: Vec<String> = pool
        .members
        .iter()
        .map(|m| match &m.port {
            Some(p) => format!("{}:{}", m.host.value, p.value),
            None => m.host.value.clone(),
        })
        .collect();
    let admitted = all.iter().any(|p| p.admits(zone));
    if !admitted {
        let zones = all.first().map(|p| zones_text(p)).unwrap_or_default();
        details.insert(
            0,
            format!(
                "pool {} answers {name} by DNS load balancing only for {zones}",
                pool.name.value
            ),
        );
        return Some(Resolved::Stop {
            step: dns(format!("{name}: no answer ({view_text})"), std::mem::take(details)),
            verdict: Verdict::Denied {
                phase: Phase::Dns,
                effect: Effect::NoAnswer,
            },
            because: format!("{name} is not answered for zone {zone}"),
        });
    }
    details.insert(
        0,
        format!(
            "DNS load balancing: pool {} answers with its healthy members",
            pool.name.value
        ),
    );
    details.insert(1, format!("members: {}", members.join(", ")));
    if !all.iter().any(|p| p.ports.contains(port)) {
        details.push(format!(
            "the members take {}, not port {port}",
            all.iter().map(|p| p.ports.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    details.push("clients connect to the members directly, not through a gatehouse listener".to_string());
    Some(Resolved::Stop {
        step: dns(
            format!("{name} -> members of pool {} ({view_text})", pool.name.value),
            std::mem::take(details),
        ),
        verdict: Verdict::DnsOnly,
        because: format!(
            "gatehouse answers {name} in DNS; the client connects to pool {}'s members directly",
            pool.name.value
        ),
    })
}

/// An address from the `[dns]` records visible in `view`, following CNAMEs.
fn record(plan: &Plan, view: Option<&DnsView>, name: &str, depth: usize) -> Option<(IpAddr, String)> {
    let dns = plan.topology.dns.as_ref()?;
    if depth > 8 {
        return None;
    }
    let apex = dns.apex.value.trim_end_matches('.').to_ascii_lowercase();
    let full = |r: &str| match r {
        "@" => apex.clone(),
        r if r.ends_with('.') => r.trim_end_matches('.').to_ascii_lowercase(),
        r => format!("{}.{apex}", r.to_ascii_lowercase()),
    };
    let visible = |views: &[gatehouse_model::topology::Spanned<String>]| {
        views.is_empty() || view.is_some_and(|v| views.iter().any(|x| x.value == v.name.value))
    };
    for r in dns
        .records
        .iter()
        .filter(|r| full(&r.name.value) == name && visible(&r.views))
    {
        match r.rtype.value {
            RecordType::A | RecordType::Aaaa => {
                if let Ok(a) = r.value.value.parse::<IpAddr>() {
                    return Some((a, format!("{name} {} {a}", r.rtype.value.keyword())));
                }
            }
            RecordType::Cname => {
                let target = r.value.value.trim_end_matches('.').to_ascii_lowercase();
                if let Some(p) = plan.published.iter().find(|p| p.name == target && p.listener.is_some()) {
                    let l = listener(plan, p);
                    return Some((
                        l.address.value,
                        format!("{name} CNAME {target}, published on {}", via(plan, p)),
                    ));
                }
                if let Some((a, chain)) = record(plan, view, &target, depth + 1) {
                    return Some((a, format!("{name} CNAME {target}; {chain}")));
                }
            }
            _ => {}
        }
    }
    None
}

/// What accepts connections at an address and port.
pub(super) enum Socket<'p> {
    Listener(&'p Listener),
    /// The split-DNS server.
    Dns,
}

pub(super) fn socket_at(plan: &Plan, address: IpAddr, transport: Transport, port: u16) -> Option<Socket<'_>> {
    let address = address.to_canonical();
    let same = |bound: IpAddr| {
        let bound = bound.to_canonical();
        bound == address || (bound.is_unspecified() && bound.is_ipv4() == address.is_ipv4())
    };
    if let Some(l) =
        plan.topology.listeners.iter().find(|l| {
            l.protocol.value.transport() == transport && l.ports.value.contains(port) && same(l.address.value)
        })
    {
        return Some(Socket::Listener(l));
    }
    let dns = plan.topology.dns.as_ref()?;
    dns.listen
        .iter()
        .any(|s| s.value.port() == port && same(s.value.ip()))
        .then_some(Socket::Dns)
}

pub(super) fn nothing_listening(plan: &Plan, address: IpAddr, transport: Transport, port: u16) -> (Step, String) {
    let at = address.to_canonical();
    let mut details = Vec::new();
    let here: Vec<String> = plan
        .topology
        .listeners
        .iter()
        .filter(|l| l.address.value.to_canonical() == at)
        .map(|l| {
            format!(
                "{} {}/{}",
                l.name.value,
                l.protocol.value.transport().keyword(),
                l.ports.value
            )
        })
        .collect();
    if !here.is_empty() {
        details.push(format!("listeners on {at}: {}", here.join(", ")));
    }
    let pools: Vec<&str> = plan
        .topology
        .pools
        .iter()
        .filter(|p| {
            p.members
                .iter()
                .any(|m| m.host.value.parse::<IpAddr>().is_ok_and(|a| a.to_canonical() == at))
        })
        .map(|p| p.name.value.as_str())
        .collect();
    if !pools.is_empty() {
        details.push(format!(
            "{at} is a member of pool {}: clients reach it through the VIPs",
            pools.join(", ")
        ));
    }
    let traffic = format!("{}/{port}", transport.keyword());
    let step = Step {
        phase: Phase::Listener,
        summary: format!("nothing listens on {at} {traffic}"),
        details,
    };
    let because = format!(
        "gatehouse has no listener on {at} {traffic}: connection refused (the nftables export does not judge it)"
    );
    (step, because)
}

pub(super) fn dns_server_step(plan: &Plan, zone: ZoneId) -> (Step, Verdict, String) {
    let zone = plan.zone_name(zone);
    match view_of(plan, zone) {
        Some(v) => (
            Step {
                phase: Phase::Dns,
                summary: format!("the split-DNS server answers from view {}", v.name.value),
                details: vec![format!("zone {zone} is in view {}", v.name.value)],
            },
            Verdict::Allowed,
            format!("the DNS server answers zone {zone} from view {}", v.name.value),
        ),
        None => (
            Step {
                phase: Phase::Dns,
                summary: "the split-DNS server refuses the query".to_string(),
                details: vec![format!("zone {zone} is in no DNS view")],
            },
            Verdict::Denied {
                phase: Phase::Dns,
                effect: Effect::Refused,
            },
            format!("zone {zone} is in no DNS view, so its queries are refused"),
        ),
    }
}
