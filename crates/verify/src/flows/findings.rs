//! Findings from the reference guidance about remote access and load
//! balancing. Each has a stable id, a severity, the words of `docs/reference.md`
//! it rests on, and the fix. The DNS and certificate findings are in
//! [`super::dns`].
//!
//! | id | severity | fires when |
//! | --- | --- | --- |
//! | `pre-authentication-not-enforced` | warning | a flow the design opens goes through a route whose policy for the zone names a provider whose method gatehouse does not enforce yet, so every such request is refused with 503 (one finding per route and zone) |
//! | `lync-over-vpn`, `lync-over-directaccess` | warning | Lync SIP (signalling, media, federation: class `lync-sip`) is open from a VPN or DirectAccess zone |
//! | `exchange-cookie-affinity` | info | a route to an Exchange pool sets `affinity = "cookie"` |
//! | `sharepoint-affinity` | info | a route to a SharePoint pool sets any affinity, or a SharePoint front-end pool uses `source-hash` |
//! | `lync-web-not-http-aware` | warning | a Lync web pool sits behind a tcp/udp VIP or DNS balancing, not an http(s) route |
//! | `sip-not-dns-balanced` | warning | a Lync front-end SIP pool is not `dns_balanced` |
//! | `exchange-health-check-root` | warning | an Exchange pool's http(s) health check asks for `/` |
//! | `activesync-idle-timeout` | warning | the route (or 443 VIP) that serves `/Microsoft-Server-ActiveSync` closes idle connections before 15 minutes |
//! | `route-to-backup-only-pool` | warning | a route or VIP sends traffic to a pool whose members are all backups |

use std::time::Duration;

use gatehouse_model::topology::{Affinity, Algorithm, CheckKind, Product, Tier, TrafficClass, Transport};
use gatehouse_model::Admission;

use super::intent::Walks;
use super::report::{Finding, Guidance, Outcome, Severity, Step, Target};
use super::walk::{Network, Walk};
use super::zones::ZoneKind;

const REMOTE_ACCESS: &str = "docs/reference.md, Remote-access guidance";
const LOAD_BALANCING: &str = "docs/reference.md, Load-balancing guidance from the poster";

pub const LYNC_OVER_VPN: Guidance = Guidance {
    quote: "VPN: not recommended for Lync; Lync remote traffic should use the Edge server and split tunnelling.",
    section: REMOTE_ACCESS,
    note: None,
};
pub const LYNC_OVER_DIRECTACCESS: Guidance = Guidance {
    quote: "DirectAccess: IPsec (protocols 50 and 51, UDP 500). Not recommended with Lync (audio/video latency).",
    section: REMOTE_ACCESS,
    note: None,
};
pub const EXCHANGE_LAYER_4: Guidance = Guidance {
    quote: "Exchange 2013: the Client Access role is designed for layer-4 load balancing.",
    section: LOAD_BALANCING,
    note: None,
};
pub const SHAREPOINT_NO_AFFINITY: Guidance = Guidance {
    quote: "SharePoint 2013: front-end affinity is not needed (the distributed cache shares login tokens across web front ends).",
    section: LOAD_BALANCING,
    note: None,
};
pub const LYNC_WEB_HLB: Guidance = Guidance {
    quote: "Lync: DNS load balancing for SIP; a hardware (HTTP-aware) load balancer is required for Lync web HTTPS.",
    section: LOAD_BALANCING,
    note: None,
};
pub const SIP_DNS: Guidance = Guidance {
    quote: "Lync: DNS load balancing for SIP; a hardware (HTTP-aware) load balancer is required for Lync web HTTPS.",
    section: LOAD_BALANCING,
    note: Some(
        "docs/reference.md, The shared devices: DNS load balancing is \"recommended for Lync SIP traffic to Lync pools\".",
    ),
};
pub const EXCHANGE_HEALTH: Guidance = Guidance {
    quote: "mail.contoso.com carries the Exchange virtual directories Autodiscover, ecp, EWS, Microsoft-Server-ActiveSync, OAB, owa and PowerShell",
    section: "docs/reference.md, User types and what each reaches",
    note: Some("Not in the poster: Exchange 2013's Managed Availability answers /<virtual directory>/healthcheck.htm for each protocol, while / only redirects to /owa, so a check on / stays green when a protocol is down (Exchange Server 2013 load-balancing documentation)."),
};
pub const ACTIVESYNC_IDLE: Guidance = Guidance {
    quote: "Basic over SSL (ActiveSync, Autodiscover), forms (OWA): gateway -> Exchange VIP -> Exchange",
    section: "docs/reference.md, User types and what each reaches",
    note: Some("Not in the poster: ActiveSync direct push holds each request open for the device's heartbeat interval, commonly 15 minutes and up to 59; an idle timeout below 15 minutes cuts those requests and drains phone batteries with reconnects (Exchange ActiveSync direct-push documentation)."),
};
pub const PRE_AUTHENTICATION: Guidance = Guidance {
    quote: "publishes intranet apps to the Internet for authenticated users and partners, pre-authenticates before traffic reaches the servers (Basic, NTLM, Kerberos, forms)",
    section: "docs/reference.md, The shared devices",
    note: Some("Not in the poster: gatehouse does not enforce any pre-authentication method yet, so a route that names a provider refuses the requests it covers with 503 (sign-in unavailable) rather than forward them unauthenticated (docs/refusals.md, Pre-authentication)."),
};
pub const POOL_SPREADS: Guidance = Guidance {
    quote: "one virtual IP per product (Lync VIP, SharePoint VIP, Exchange VIP) spreading client sessions over the server pool",
    section: "docs/reference.md, The shared devices",
    note: None,
};

/// Every finding, in a stable order.
pub fn findings(net: &Network<'_>, walks: &Walks) -> Vec<Finding> {
    let mut out = Vec::new();
    pre_authentication(net, walks, &mut out);
    lync_over_remote_access(net, walks, &mut out);
    affinity(net, &mut out);
    lync_web(net, &mut out);
    sip_dns(net, &mut out);
    exchange_health(net, &mut out);
    activesync(net, &mut out);
    backup_only(net, &mut out);
    super::dns::findings(net, &mut out);
    out
}

/// Who the design lets through a route from one zone, though gatehouse
/// refuses them all at runtime.
#[derive(Default)]
struct Refused {
    route: String,
    zone: String,
    /// User type names; "anybody" for a zone no user type comes from.
    who: Vec<String>,
    targets: Vec<String>,
}

impl Refused {
    /// Adds `who` reaching `tg` along `w` when the walk is open by design and
    /// its auth hop is refused at runtime.
    fn add(all: &mut Vec<Refused>, zone: &str, who: &str, tg: &Target, w: &Walk) {
        let not_enforced = w
            .hops
            .iter()
            .any(|h| h.step == Step::Auth && h.outcome == Outcome::NotEnforced);
        let Some(route) = tg.entries[w.entry].route.as_deref() else {
            return;
        };
        if !w.access.is_open() || !not_enforced {
            return;
        }
        let i = match all.iter().position(|x| x.route == route && x.zone == zone) {
            Some(i) => i,
            None => {
                all.push(Refused {
                    route: route.to_string(),
                    zone: zone.to_string(),
                    ..Refused::default()
                });
                all.len() - 1
            }
        };
        let r = &mut all[i];
        if !r.who.iter().any(|x| x == who) {
            r.who.push(who.to_string());
        }
        if !r.targets.contains(&tg.label()) {
            r.targets.push(tg.label());
        }
    }
}

fn pre_authentication(net: &Network<'_>, walks: &Walks, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    let mut refused = Vec::new();
    for (u, zones) in t.user_types.iter().zip(&walks.by_user) {
        for (z, ws) in zones {
            for (tg, w) in net.targets.iter().zip(ws) {
                Refused::add(&mut refused, net.plan.zone_name(*z), &u.name.value, tg, w);
            }
        }
    }
    let used = |zone: &str| t.user_types.iter().any(|u| u.zones.iter().any(|z| z.value == zone));
    for z in net.zones.iter().filter(|z| !used(&z.name)) {
        for (tg, w) in net.targets.iter().zip(&walks.anybody[z.id.0 as usize]) {
            Refused::add(&mut refused, &z.name, "anybody", tg, w);
        }
    }
    // In topology order: routes, then zones.
    refused.sort_by_key(|r| {
        (
            t.routes.iter().position(|x| x.name.value == r.route),
            net.zones.iter().position(|z| z.name == r.zone),
        )
    });
    for r in refused {
        let Some(route) = net.route(&r.route) else { continue };
        let policy = super::walk::policy_for(route, &r.zone);
        let Admission::SignInUnavailable {
            provider,
            method: Some(method),
        } = t.admission(&policy.value)
        else {
            continue;
        };
        let method = method.keyword();
        let who = match r.who.as_slice() {
            [one] if one == "anybody" => format!("anybody from zone {}", r.zone),
            [one] => format!("user type {one}"),
            many => format!("user types {}", many.join(", ")),
        };
        out.push(Finding {
            id: "pre-authentication-not-enforced",
            severity: Severity::Warning,
            message: format!(
                "route {} pre-authenticates zone {} with {provider} ({method}), which gatehouse does not enforce yet: \
                 {who} {} refused with 503 (sign-in unavailable) on {} until {method} is enforced",
                r.route,
                r.zone,
                if r.who.len() == 1 { "is" } else { "are" },
                r.targets.join(", ")
            ),
            guidance: PRE_AUTHENTICATION,
            fix: format!(
                "until gatehouse enforces {method}, every request this policy covers is refused; write \"pass-through\" for zone {} on route {} to let the backend authenticate, or keep \"{provider}\" to stay closed",
                r.zone, r.route
            ),
            span: Some(policy.span.clone()),
        });
    }
}

fn lync_over_remote_access(net: &Network<'_>, walks: &Walks, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    let edge_names: Vec<String> = net
        .targets
        .iter()
        .filter(|tg| {
            tg.entries
                .iter()
                .any(|e| net.pool(&e.pool).is_some_and(|p| p.tier == Tier::Edge))
        })
        .map(|tg| tg.name.clone())
        .fold(Vec::new(), |mut v, n| {
            if !v.contains(&n) {
                v.push(n);
            }
            v
        });
    for z in net.zones.iter().filter(|z| !z.empty) {
        let (id, guidance, what) = match z.kind {
            ZoneKind::Vpn => ("lync-over-vpn", LYNC_OVER_VPN, "VPN"),
            ZoneKind::DirectAccess => ("lync-over-directaccess", LYNC_OVER_DIRECTACCESS, "DirectAccess"),
            _ => continue,
        };
        let mut open = Vec::new();
        let mut rule = None;
        for (tg, w) in net.targets.iter().zip(&walks.anybody[z.id.0 as usize]) {
            let e = &tg.entries[w.entry];
            let lync_sip = net.pool(&e.pool).is_some_and(|p| {
                p.tier != Tier::Database && net.product_class(&e.pool).1 == Some(TrafficClass::LyncSip)
            });
            if lync_sip && w.access.is_open() {
                open.push(tg.label());
                rule = rule.or(w.allowed_by);
            }
        }
        if open.is_empty() {
            continue;
        }
        let rule_name = rule.map(|i| format!(" (ACL rule \"{}\")", net.plan.acl.rules()[i].name));
        let edge = if edge_names.is_empty() {
            "the Lync Edge".to_string()
        } else {
            format!("the Lync Edge ({})", edge_names.join(", "))
        };
        out.push(Finding {
            id,
            severity: Severity::Warning,
            message: format!(
                "Lync SIP traffic is open from {what} zone {}: {}",
                z.name,
                open.join(", ")
            ),
            guidance,
            fix: format!(
                "keep Lync out of the tunnel: stop admitting zone {} to Lync SIP{} and in the DNS answers for the Lync pool, and let remote clients use {edge} with split tunnelling",
                z.name,
                rule_name.unwrap_or_default()
            ),
            span: rule
                .and_then(|i| t.acl.get(i))
                .map(|r| r.span.clone())
                .or_else(|| Some(t.zones[z.id.0 as usize].name.span.clone())),
        });
    }
}

fn affinity(net: &Network<'_>, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    for r in &t.routes {
        let (product, _) = net.product_class(&r.pool.value);
        match (product, r.affinity) {
            (Some(Product::Exchange), Affinity::Cookie) => out.push(Finding {
                id: "exchange-cookie-affinity",
                severity: Severity::Info,
                message: format!(
                    "route {} publishes Exchange pool {} with cookie affinity",
                    r.name.value, r.pool.value
                ),
                guidance: EXCHANGE_LAYER_4,
                fix: format!(
                    "remove `affinity` from route {}: Exchange 2013 Client Access keeps no session state, so layer-4 balancing suffices",
                    r.name.value
                ),
                span: Some(r.name.span.clone()),
            }),
            (Some(Product::SharePoint), Affinity::Cookie | Affinity::SourceIp) => out.push(Finding {
                id: "sharepoint-affinity",
                severity: Severity::Info,
                message: format!(
                    "route {} pins SharePoint clients to one front end ({} affinity)",
                    r.name.value,
                    if r.affinity == Affinity::Cookie { "cookie" } else { "source-ip" }
                ),
                guidance: SHAREPOINT_NO_AFFINITY,
                fix: format!("remove `affinity` from route {}", r.name.value),
                span: Some(r.name.span.clone()),
            }),
            _ => {}
        }
    }
    for p in &t.pools {
        let sharepoint = net.product_class(&p.name.value).0 == Some(Product::SharePoint);
        if sharepoint && p.tier == Tier::FrontEnd && p.algorithm == Algorithm::SourceHash {
            out.push(Finding {
                id: "sharepoint-affinity",
                severity: Severity::Info,
                message: format!(
                    "pool {} pins SharePoint clients to one front end (source-hash)",
                    p.name.value
                ),
                guidance: SHAREPOINT_NO_AFFINITY,
                fix: format!(
                    "use `algorithm = \"least-connections\"` or \"round-robin\" for pool {}",
                    p.name.value
                ),
                span: Some(p.name.span.clone()),
            });
        }
    }
}

fn lync_web(net: &Network<'_>, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    for l in t.listeners.iter().filter(|l| !l.protocol.value.is_http()) {
        let Some(pool) = &l.pool else { continue };
        if net.product_class(&pool.value).1 == Some(TrafficClass::LyncWeb) {
            out.push(Finding {
                id: "lync-web-not-http-aware",
                severity: Severity::Warning,
                message: format!(
                    "Lync web pool {} is behind {} VIP {}, which cannot see HTTP",
                    pool.value,
                    l.protocol.value.keyword(),
                    l.name.value
                ),
                guidance: LYNC_WEB_HLB,
                fix: format!(
                    "publish pool {} through a route on an https listener (`backend_port = 4443` for the external web services) instead of listener {}",
                    pool.value, l.name.value
                ),
                span: Some(l.protocol.span.clone()),
            });
        }
    }
    for p in t.pools.iter().filter(|p| p.dns_balanced) {
        if net.product_class(&p.name.value).1 == Some(TrafficClass::LyncWeb) {
            out.push(Finding {
                id: "lync-web-not-http-aware",
                severity: Severity::Warning,
                message: format!(
                    "Lync web pool {} is balanced by DNS, which cannot see HTTP",
                    p.name.value
                ),
                guidance: LYNC_WEB_HLB,
                fix: format!(
                    "remove `dns_balanced` from pool {} and publish it through a route on an https listener",
                    p.name.value
                ),
                span: Some(p.name.span.clone()),
            });
        }
    }
}

fn sip_dns(net: &Network<'_>, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    for p in &t.pools {
        let sip = net.product_class(&p.name.value).1 == Some(TrafficClass::LyncSip);
        if !sip || p.tier != Tier::FrontEnd || p.dns_balanced {
            continue;
        }
        let vips: Vec<&str> = t
            .listeners
            .iter()
            .filter(|l| l.pool.as_ref().is_some_and(|x| x.value == p.name.value))
            .map(|l| l.name.value.as_str())
            .collect();
        let how = if vips.is_empty() {
            String::new()
        } else {
            format!(", but through VIP {}", vips.join(", "))
        };
        out.push(Finding {
            id: "sip-not-dns-balanced",
            severity: Severity::Warning,
            message: format!("Lync SIP pool {} is not DNS-balanced{how}", p.name.value),
            guidance: SIP_DNS,
            fix: format!(
                "set `dns_balanced = true` and `dns_name` (the pool's FQDN) on pool {}, and point the SIP SRV records at that name",
                p.name.value
            ),
            span: Some(p.name.span.clone()),
        });
    }
}

fn exchange_health(net: &Network<'_>, out: &mut Vec<Finding>) {
    for p in &net.plan.topology.pools {
        if net.product_class(&p.name.value).0 != Some(Product::Exchange) {
            continue;
        }
        let Some(h) = &p.health else { continue };
        let Some(path) = h.path.as_ref().filter(|_| h.kind != CheckKind::Tcp) else {
            continue;
        };
        if path.value.trim_end_matches('/').is_empty() {
            out.push(Finding {
                id: "exchange-health-check-root",
                severity: Severity::Warning,
                message: format!(
                    "Exchange pool {} is health-checked on /, which only redirects",
                    p.name.value
                ),
                guidance: EXCHANGE_HEALTH,
                fix: format!(
                    "check the virtual directory the pool serves, for example `path = \"/owa/healthcheck.htm\"` on pool {}",
                    p.name.value
                ),
                span: Some(path.span.clone()),
            });
        }
    }
}

const ACTIVESYNC_PATH: &str = "/microsoft-server-activesync";
const ACTIVESYNC_MIN_IDLE: Duration = Duration::from_secs(15 * 60);

/// Whether a route path prefix matches a request path, as the router does
/// (whole segments; without regard to case, as for Exchange).
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/').to_ascii_lowercase();
    prefix.is_empty() || path == prefix || path.starts_with(&format!("{prefix}/"))
}

fn activesync(net: &Network<'_>, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    let mut seen: Vec<&str> = Vec::new();
    for l in t.listeners.iter().filter(|l| l.protocol.value.is_http()) {
        let routes: Vec<_> = net.plan.routes_on(&l.name.value).collect();
        let hosts: Vec<String> = routes
            .iter()
            .filter(|r| net.product_class(&r.pool.value).0 == Some(Product::Exchange))
            .flat_map(|r| r.hosts.iter().map(|h| h.value.to_ascii_lowercase()))
            .collect();
        for host in hosts {
            // The route that answers host/Microsoft-Server-ActiveSync: the longest matching prefix.
            let best = routes
                .iter()
                .filter(|r| r.hosts.iter().any(|h| h.value.eq_ignore_ascii_case(&host)))
                .flat_map(|r| {
                    r.paths
                        .iter()
                        .map(move |p| (r, p.value.trim_end_matches('/').len(), &p.value))
                })
                .filter(|(_, _, p)| prefix_matches(p, ACTIVESYNC_PATH))
                .max_by_key(|(_, len, _)| *len)
                .map(|(r, _, _)| *r);
            let Some(r) = best else { continue };
            let exchange = net.product_class(&r.pool.value).0 == Some(Product::Exchange);
            if !exchange || r.timeouts.idle.value >= ACTIVESYNC_MIN_IDLE || seen.contains(&r.name.value.as_str()) {
                continue;
            }
            seen.push(&r.name.value);
            out.push(Finding {
                id: "activesync-idle-timeout",
                severity: Severity::Warning,
                message: format!(
                    "route {} serves {host}/Microsoft-Server-ActiveSync but closes idle connections after {}",
                    r.name.value,
                    fmt(r.timeouts.idle.value)
                ),
                guidance: ACTIVESYNC_IDLE,
                fix: format!(
                    "set `timeouts = {{ idle = \"60m\" }}` on route {} (at least 15 minutes; direct push heartbeats reach 59)",
                    r.name.value
                ),
                span: Some(r.timeouts.idle.span.clone()),
            });
        }
    }
    for l in t.listeners.iter().filter(|l| !l.protocol.value.is_http()) {
        let Some(pool) = &l.pool else { continue };
        let client = net.product_class(&pool.value).1 == Some(TrafficClass::ExchangeClient);
        let https = l.protocol.value.transport() == Transport::Tcp && l.ports.value.contains(443);
        if client && https && l.idle_timeout.value < ACTIVESYNC_MIN_IDLE {
            out.push(Finding {
                id: "activesync-idle-timeout",
                severity: Severity::Warning,
                message: format!(
                    "VIP {} carries Exchange clients on 443, ActiveSync included, but closes idle connections after {}",
                    l.name.value,
                    fmt(l.idle_timeout.value)
                ),
                guidance: ACTIVESYNC_IDLE,
                fix: format!(
                    "set `idle_timeout = \"60m\"` on listener {} (at least 15 minutes)",
                    l.name.value
                ),
                span: Some(l.idle_timeout.span.clone()),
            });
        }
    }
}

fn backup_only(net: &Network<'_>, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    let all_backup = |name: &str| {
        net.pool(name)
            .is_some_and(|p| !p.members.is_empty() && p.members.iter().all(|m| m.backup))
    };
    let fix = |pool: &str| {
        format!("make at least one member of pool {pool} primary (remove `backup = true`): backups serve only while every primary is down, and here there is none")
    };
    for r in t.routes.iter().filter(|r| all_backup(&r.pool.value)) {
        out.push(Finding {
            id: "route-to-backup-only-pool",
            severity: Severity::Warning,
            message: format!(
                "route {} sends traffic to pool {}, whose members are all backups",
                r.name.value, r.pool.value
            ),
            guidance: POOL_SPREADS,
            fix: fix(&r.pool.value),
            span: Some(r.pool.span.clone()),
        });
    }
    for l in &t.listeners {
        let Some(pool) = l.pool.as_ref().filter(|p| all_backup(&p.value)) else {
            continue;
        };
        out.push(Finding {
            id: "route-to-backup-only-pool",
            severity: Severity::Warning,
            message: format!(
                "VIP {} sends traffic to pool {}, whose members are all backups",
                l.name.value, pool.value
            ),
            guidance: POOL_SPREADS,
            fix: fix(&pool.value),
            span: Some(pool.span.clone()),
        });
    }
}

pub(crate) fn fmt(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
