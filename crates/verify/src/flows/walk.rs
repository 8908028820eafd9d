//! Walking one path: from a zone, through the gateway ACL, a VPN,
//! DirectAccess or the Lync Edge, the VIP, the route and its auth policy, to
//! the pool and its tier. Every hop says what it does and why, so the same
//! walk serves `verify` (all flows) and `explain` (one flow).

use gatehouse_model::topology::{
    AuthPolicy, Pool, Product, Protocol, Route, Service, Spanned, Tier, TrafficClass, UserType,
};
use gatehouse_model::{Admission, Plan};
use gatehouse_policy::ZoneId;

use super::gateway;
use super::report::{Access, Entry, Hop, Outcome, Step, Target};
use super::zones::{classify, ZoneInfo, ZoneKind};

/// A plan prepared for path questions: zones classified, targets listed.
#[derive(Debug)]
pub struct Network<'p> {
    pub plan: &'p Plan,
    /// Indexed by [`ZoneId`].
    pub zones: Vec<ZoneInfo>,
    pub targets: Vec<Target>,
}

/// The outcome of walking one zone to one target.
#[derive(Clone, Debug)]
pub struct Walk {
    /// Index into the target's `entries` of the place this zone uses.
    pub entry: usize,
    pub hops: Vec<Hop>,
    pub access: Access,
    pub auth: String,
    /// The ACL rule that let the traffic through the gateway, if any.
    pub allowed_by: Option<usize>,
}

impl<'p> Network<'p> {
    pub fn new(plan: &'p Plan) -> Network<'p> {
        Network {
            plan,
            zones: classify(plan),
            targets: targets(plan),
        }
    }

    pub fn zone(&self, name: &str) -> Option<&ZoneInfo> {
        self.zones.iter().find(|z| z.name == name)
    }

    pub fn pool(&self, name: &str) -> Option<&'p Pool> {
        self.plan.pool(name)
    }

    /// The service a pool belongs to.
    pub fn service(&self, pool: &Pool) -> Option<&'p Service> {
        self.plan
            .topology
            .services
            .iter()
            .find(|s| s.name.value == pool.service.value)
    }

    /// The product and traffic class of a pool's service.
    pub fn product_class(&self, pool: &str) -> (Option<Product>, Option<TrafficClass>) {
        match self.pool(pool).and_then(|p| self.service(p)) {
            Some(s) => (Some(s.product.value), Some(s.class.value)),
            None => (None, None),
        }
    }

    pub fn route(&self, name: &str) -> Option<&'p Route> {
        self.plan.topology.routes.iter().find(|r| r.name.value == name)
    }

    /// Walks every entry of `target` from `zone` and keeps the one that gets
    /// furthest: open before partial before blocked, then the most hops passed.
    /// `user_type` decides whether pre-authentication can be passed; `None`
    /// is anybody holding the credentials the route asks for.
    pub fn walk(&self, zone: ZoneId, target: &Target, user_type: Option<&UserType>) -> Walk {
        self.walk_inner(zone, target, user_type, true)
    }

    fn walk_inner(&self, zone: ZoneId, target: &Target, user_type: Option<&UserType>, relay: bool) -> Walk {
        let mut best: Option<(Access, usize, Walk)> = None;
        for i in 0..target.entries.len() {
            let w = self.walk_entry(zone, target, i, user_type, relay);
            let depth = w.hops.iter().take_while(|h| h.outcome != Outcome::Block).count();
            if best.as_ref().is_none_or(|(a, d, _)| (w.access, depth) > (*a, *d)) {
                best = Some((w.access, depth, w));
            }
        }
        best.map(|(_, _, w)| w).expect("a target has at least one entry")
    }

    /// Walks one entry of `target` from `zone`. `relay` follows the Lync
    /// Edge tier inward (off only for the inward leg itself).
    pub fn walk_entry(
        &self,
        zone: ZoneId,
        target: &Target,
        entry: usize,
        user_type: Option<&UserType>,
        relay: bool,
    ) -> Walk {
        let plan = self.plan;
        let t = &plan.topology;
        let z = &self.zones[zone.0 as usize];
        let e = &target.entries[entry];
        let mut hops = vec![self.zone_hop(z)];
        match z.kind {
            ZoneKind::Vpn => hops.push(note(
                Step::RemoteAccess,
                "vpn",
                format!("through the VPN gateway: its tunnel addresses are zone {}", z.name),
            )),
            ZoneKind::DirectAccess => hops.push(note(
                Step::RemoteAccess,
                "directaccess",
                format!(
                    "through the DirectAccess server (IPsec: protocols 50 and 51, UDP 500); its clients are zone {}",
                    z.name
                ),
            )),
            _ => {}
        }
        if let Some(h) = self.dns_hop(z, target, e) {
            hops.push(h);
        }
        let gw = gateway::decide(plan, zone, target.transport, target.ports);
        hops.push(Hop {
            step: Step::Gateway,
            name: gw
                .decided_by
                .or(gw.allowed_by)
                .map_or_else(|| "implicit-deny".to_string(), |i| plan.acl.rules()[i].name.clone()),
            detail: gw.detail.clone(),
            outcome: match gw.access {
                Access::Open => Outcome::Pass,
                Access::Partial => Outcome::Partial,
                Access::Blocked => Outcome::Block,
            },
            span: gw
                .decided_by
                .or(gw.allowed_by)
                .and_then(|i| t.acl.get(i))
                .map(|r| r.span.clone()),
        });
        let mut auth = "none (layer 4: the servers authenticate)".to_string();
        match &e.listener {
            Some(name) => {
                let l = plan.listener(name).expect("published listener exists");
                let admits = plan.listener_admits(l, zone);
                let zones: Vec<&str> = l.zones.iter().map(|z| z.value.as_str()).collect();
                hops.push(Hop {
                    step: Step::Vip,
                    name: name.clone(),
                    detail: if admits {
                        format!(
                            "listener {name} on {}:{} ({}) admits zone {}",
                            l.address.value,
                            l.ports.value,
                            l.protocol.value.keyword(),
                            z.name
                        )
                    } else {
                        format!("listener {name} admits only zones {}", zones.join(", "))
                    },
                    outcome: if admits { Outcome::Pass } else { Outcome::Block },
                    span: Some(l.name.span.clone()),
                });
                if let Some(r) = e.route.as_deref().and_then(|r| self.route(r)) {
                    hops.push(route_hop(r, l.protocol.value, target, &z.name));
                    let (hop, text) = self.auth_hop(r, &z.name, user_type);
                    hops.push(hop);
                    auth = text;
                }
            }
            None => {
                let p = self.pool(&e.pool).expect("published pool exists");
                let admits = plan
                    .published
                    .iter()
                    .any(|x| x.listener.is_none() && x.name == target.name && x.admits(&z.name));
                let views: Vec<&str> = p.dns_views.iter().map(|v| v.value.as_str()).collect();
                hops.push(Hop {
                    step: Step::Vip,
                    name: e.pool.clone(),
                    detail: if admits {
                        format!(
                            "no VIP: pool {} is DNS-balanced, so clients connect to its members directly",
                            e.pool
                        )
                    } else {
                        format!(
                            "pool {} is DNS-balanced and answers only in DNS views {}, which zone {} does not use",
                            e.pool,
                            views.join(", "),
                            z.name
                        )
                    },
                    outcome: if admits { Outcome::Pass } else { Outcome::Block },
                    span: Some(p.name.span.clone()),
                });
            }
        }
        if let Some(p) = self.pool(&e.pool) {
            hops.push(self.pool_hop(p, e));
            hops.extend(self.tier_hops(p, relay));
        }
        let access = if hops.iter().any(|h| h.outcome == Outcome::Block) {
            Access::Blocked
        } else if hops.iter().any(|h| h.outcome == Outcome::Partial) {
            Access::Partial
        } else {
            Access::Open
        };
        Walk {
            entry,
            hops,
            access,
            auth,
            allowed_by: gw.allowed_by,
        }
    }

    fn zone_hop(&self, z: &ZoneInfo) -> Hop {
        let zone = &self.plan.topology.zones[z.id.0 as usize];
        let prefixes: Vec<String> = zone.prefixes.iter().map(|p| p.value.to_string()).collect();
        let (detail, outcome) = if z.kind == ZoneKind::Internet {
            (
                format!("zone {}: the default zone, every address no other zone claims", z.name),
                Outcome::Pass,
            )
        } else if z.empty {
            (
                format!("zone {} has no prefixes, so no client is in it", z.name),
                Outcome::Block,
            )
        } else {
            (format!("zone {}: {}", z.name, prefixes.join(", ")), Outcome::Pass)
        };
        Hop {
            step: Step::Zone,
            name: z.name.clone(),
            detail,
            outcome,
            span: Some(zone.name.span.clone()),
        }
    }

    /// Which DNS view answers the name for this zone; `None` without a `[dns]`.
    fn dns_hop(&self, z: &ZoneInfo, target: &Target, e: &Entry) -> Option<Hop> {
        let dns = self.plan.topology.dns.as_ref()?;
        let apex = dns.apex.value.trim_end_matches('.').to_ascii_lowercase();
        let under_apex = target.name == apex || target.name.ends_with(&format!(".{apex}"));
        let (name, detail) = match &z.view {
            _ if !under_apex => (
                "outside-apex".to_string(),
                format!(
                    "{} is outside the DNS apex {apex}: gatehouse does not answer for it",
                    target.name
                ),
            ),
            None => (
                "no-view".to_string(),
                format!(
                    "zone {} is in no DNS view: gatehouse refuses its queries, so {} must resolve elsewhere",
                    z.name, target.name
                ),
            ),
            Some(view) => {
                let answer = match &e.listener {
                    Some(l) => self
                        .plan
                        .listener(l)
                        .map(|l| l.address.value.to_string())
                        .unwrap_or_default(),
                    None => self
                        .pool(&e.pool)
                        .map(|p| {
                            let hosts: Vec<&str> = p.members.iter().map(|m| m.host.value.as_str()).collect();
                            format!("the healthy members of {} ({})", e.pool, hosts.join(", "))
                        })
                        .unwrap_or_default(),
                };
                (
                    view.clone(),
                    format!("DNS view {view} answers {} with {answer}", target.name),
                )
            }
        };
        Some(note(Step::Dns, &name, detail))
    }

    /// The route's auth policy for the zone, and the text naming it.
    fn auth_hop(&self, r: &Route, zone: &str, user_type: Option<&UserType>) -> (Hop, String) {
        let policy = policy_for(r, zone);
        let span = Some(policy.span.clone());
        let (name, detail, outcome, text) = match &policy.value {
            AuthPolicy::Deny => (
                "deny".to_string(),
                format!("route {} refuses every request from zone {zone}", r.name.value),
                Outcome::Block,
                "deny".to_string(),
            ),
            AuthPolicy::Anonymous => (
                "anonymous".to_string(),
                "anonymous: anyone may pass; the backend decides".to_string(),
                Outcome::Pass,
                "anonymous".to_string(),
            ),
            AuthPolicy::PassThrough => (
                "pass-through".to_string(),
                "pass-through: gatehouse does not authenticate; NTLM, Negotiate or SAML go to the backend".to_string(),
                Outcome::Pass,
                "pass-through".to_string(),
            ),
            AuthPolicy::Provider(p) => {
                let t = &self.plan.topology;
                let method = t
                    .auth_providers
                    .iter()
                    .find(|a| &a.name.value == p)
                    .map_or("unknown", |a| a.method.value.keyword());
                let text = format!("{p} ({method})");
                let (detail, outcome) = match user_type {
                    Some(u) if !u.auth.iter().any(|a| &a.value == p) => (
                        format!(
                            "pre-authentication with {text}, which user type {} does not sign in with",
                            u.name.value
                        ),
                        Outcome::Block,
                    ),
                    // What the admit phase does to those who sign in.
                    _ => match t.admission(&policy.value) {
                        Admission::Forward => (format!("pre-authentication with {text}"), Outcome::Pass),
                        Admission::Deny => (
                            format!("pre-authentication with {text}: every request is refused with 403"),
                            Outcome::Block,
                        ),
                        Admission::SignInUnavailable { method: Some(_), .. } => (
                            format!(
                                "pre-authentication with {text}, which gatehouse does not enforce yet: \
                                 every request is refused with 503 (sign-in unavailable)"
                            ),
                            Outcome::NotEnforced,
                        ),
                        Admission::SignInUnavailable { method: None, .. } => (
                            format!("pre-authentication with {p}, which is not defined: every request is refused with 503 (sign-in unavailable)"),
                            Outcome::Block,
                        ),
                    },
                };
                (p.clone(), detail, outcome, text)
            }
        };
        let hop = Hop {
            step: Step::Auth,
            name,
            detail,
            outcome,
            span,
        };
        (hop, text)
    }

    fn pool_hop(&self, p: &Pool, e: &Entry) -> Hop {
        let backups = p.members.iter().filter(|m| m.backup).count();
        let mut detail = format!(
            "pool {}: {} over {} member{}",
            p.name.value,
            p.algorithm.keyword(),
            p.members.len(),
            if p.members.len() == 1 { "" } else { "s" }
        );
        if backups == p.members.len() {
            detail.push_str(", every one a backup");
        } else if backups > 0 {
            detail.push_str(&format!(" ({backups} backup)"));
        }
        if let Some(port) = e
            .route
            .as_deref()
            .and_then(|r| self.route(r))
            .and_then(|r| r.backend_port.as_ref())
        {
            detail.push_str(&format!(", on member port {}", port.value));
        }
        let outcome = if p.members.is_empty() {
            Outcome::Block
        } else {
            Outcome::Pass
        };
        Hop {
            step: Step::Pool,
            name: p.name.value.clone(),
            detail,
            outcome,
            span: Some(p.name.span.clone()),
        }
    }

    /// The tier, and for the Lync Edge tier the Edge's relay to the Lync pool.
    fn tier_hops(&self, p: &Pool, relay: bool) -> Vec<Hop> {
        let service = self.service(p);
        let what = service.map_or_else(String::new, |s| {
            format!(
                " of service {} ({}, {} traffic)",
                s.name.value,
                s.product.value.keyword(),
                s.class.value.colour()
            )
        });
        let mut hops = vec![Hop {
            step: Step::Tier,
            name: p.tier.keyword().to_string(),
            detail: format!("{} tier{what}", p.tier.keyword()),
            outcome: Outcome::Pass,
            span: None,
        }];
        if p.tier == Tier::Edge && relay {
            hops.extend(self.edge_relay());
        }
        hops
    }

    /// The Edge's inward leg: from a zone holding the Edge's internal
    /// interfaces to a Lync front-end SIP pool.
    fn edge_relay(&self) -> Vec<Hop> {
        let edges: Vec<&ZoneInfo> = self.zones.iter().filter(|z| z.kind == ZoneKind::Edge).collect();
        let inward: Vec<&Target> = self
            .targets
            .iter()
            .filter(|t| {
                t.entries.iter().any(|e| {
                    self.pool(&e.pool).is_some_and(|p| {
                        p.tier == Tier::FrontEnd
                            && self.service(p).is_some_and(|s| s.class.value == TrafficClass::LyncSip)
                    })
                })
            })
            .collect();
        if edges.is_empty() || inward.is_empty() {
            let why = if edges.is_empty() {
                "no zone holds the Edge servers' internal interfaces"
            } else {
                "no Lync front-end SIP pool is defined"
            };
            return vec![note(
                Step::EdgeRelay,
                "not-modelled",
                format!("the Edge's inward leg is not checked: {why}"),
            )];
        }
        let mut best: Option<(Walk, &ZoneInfo, &Target)> = None;
        for z in &edges {
            for t in &inward {
                let w = self.walk_inner(z.id, t, None, false);
                if best.as_ref().is_none_or(|(b, _, _)| w.access > b.access) {
                    best = Some((w, z, t));
                }
            }
        }
        let (w, z, t) = best.expect("at least one edge zone and one inward target");
        let via: Vec<String> = w
            .hops
            .iter()
            .filter(|h| matches!(h.step, Step::Gateway | Step::Pool))
            .map(|h| format!("{} {}", h.step.keyword(), h.name))
            .collect();
        let detail = if w.access.is_open() {
            format!(
                "the Edge relays from zone {} to {} ({})",
                z.name,
                t.label(),
                via.join(", ")
            )
        } else {
            let why = w
                .hops
                .iter()
                .find(|h| h.outcome == Outcome::Block)
                .map_or("", |h| h.detail.as_str());
            format!("the Edge cannot relay from zone {} to {}: {why}", z.name, t.label())
        };
        vec![Hop {
            step: Step::EdgeRelay,
            name: z.name.clone(),
            detail,
            outcome: match w.access {
                Access::Open => Outcome::Pass,
                Access::Partial => Outcome::Partial,
                Access::Blocked => Outcome::Block,
            },
            span: None,
        }]
    }
}

/// The route's auth policy for a zone: its entry in `auth`, else `auth_default`.
pub(crate) fn policy_for<'r>(r: &'r Route, zone: &str) -> &'r Spanned<AuthPolicy> {
    r.auth
        .iter()
        .find(|(z, _)| z.value == zone)
        .map_or(&r.auth_default, |(_, p)| p)
}

fn note(step: Step, name: &str, detail: String) -> Hop {
    Hop {
        step,
        name: name.to_string(),
        detail,
        outcome: Outcome::Note,
        span: None,
    }
}

fn route_hop(r: &Route, protocol: Protocol, target: &Target, zone: &str) -> Hop {
    let name = r.name.value.clone();
    let span = Some(r.name.span.clone());
    let (detail, outcome) = if protocol == Protocol::Http && !r.plain {
        (
            format!(
                "route {name} is on plain HTTP without `plain = true`: requests are redirected to https://{}/",
                target.name
            ),
            Outcome::Block,
        )
    } else if let Some(zones) = r.zones.as_ref().filter(|zs| !zs.iter().any(|z| z.value == zone)) {
        let names: Vec<&str> = zones.iter().map(|z| z.value.as_str()).collect();
        (
            format!("route {name} admits only zones {} (others get 404)", names.join(", ")),
            Outcome::Block,
        )
    } else {
        (
            format!("route {name} matches {}{}", target.name, target.paths.join(",")),
            Outcome::Pass,
        )
    };
    Hop {
        step: Step::Route,
        name,
        detail,
        outcome,
        span,
    }
}

/// Every published target, in topology order: one per name, transport,
/// port range and route paths, with every place that publishes it.
pub fn targets(plan: &Plan) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for p in &plan.published {
        let route = p
            .route
            .as_deref()
            .and_then(|r| plan.topology.routes.iter().find(|x| x.name.value == r));
        let pool = match (route, &p.listener) {
            (Some(r), _) => r.pool.value.clone(),
            (None, Some(l)) => match plan.listener(l).and_then(|l| l.pool.as_ref()) {
                Some(pool) => pool.value.clone(),
                None => continue,
            },
            (None, None) => match plan.topology.pools.iter().find(|x| {
                x.dns_balanced
                    && x.dns_name
                        .as_ref()
                        .is_some_and(|n| n.value.eq_ignore_ascii_case(&p.name))
            }) {
                Some(pool) => pool.name.value.clone(),
                None => continue,
            },
        };
        let paths: Vec<String> = route
            .map(|r| r.paths.iter().map(|x| x.value.clone()).collect())
            .unwrap_or_default();
        let entry = Entry {
            listener: p.listener.clone(),
            route: p.route.clone(),
            pool,
        };
        match out
            .iter_mut()
            .find(|t| t.name == p.name && t.transport == p.transport && t.ports == p.ports && t.paths == paths)
        {
            Some(t) => t.entries.push(entry),
            None => out.push(Target {
                name: p.name.clone(),
                transport: p.transport,
                ports: p.ports,
                paths,
                entries: vec![entry],
            }),
        }
    }
    out
}
