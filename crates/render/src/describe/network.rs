//! The network as the reference poster sees it, worked out once from a plan
//! and shared by the description and the diagram: which zones are outside
//! the gateway, which are remote access, which carry cloud mail; the server
//! groups by product and tier; the VIPs of each product; every user type's
//! flows with their path, authentication and gateway decision; and the ports
//! of each traffic class.
//!
//! Everything here is derived from the topology's structure (addresses,
//! listeners, routes, pools), never from free-text descriptions, so that a
//! changed topology changes the picture and the words alike.

use std::collections::BTreeSet;

use gatehouse_model::topology::{
    AuthMethod, Listener, Pool, PortRange, Product, Route, Tier, TrafficClass, Transport, UserType, Zone, ZoneRole,
};
use gatehouse_model::Plan;

/// How a remote-access zone's clients get in, for naming the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RemoteAccess {
    Vpn,
    DirectAccess,
    Other,
}

/// A zone and the role the topology gives it.
#[derive(Debug)]
pub(crate) struct ZoneInfo<'a> {
    pub zone: &'a Zone,
    /// Its traffic crosses the gateway router from outside the intranet.
    pub outside: bool,
    /// Inside addresses handed to external users (VPN, DirectAccess).
    pub remote_access: Option<RemoteAccess>,
    /// Sends server-to-server mail and belongs to no user type (the mail-hygiene service).
    pub mail_hygiene: bool,
}

/// Servers of one product and tier that share the same hosts: one box in the
/// diagram however many pools (virtual directories, ports) point at them.
#[derive(Debug)]
pub(crate) struct ServerGroup<'a> {
    /// Stable identifier: product and tier keywords, plus a number when a
    /// product has several groups in one tier.
    pub id: String,
    pub product: Product,
    pub tier: Tier,
    pub pools: Vec<&'a Pool>,
    pub hosts: Vec<String>,
}

/// The VIPs that serve one product (Edge VIPs are counted with the Edge servers).
#[derive(Debug)]
pub(crate) struct ProductVip<'a> {
    pub product: Product,
    pub listeners: Vec<&'a Listener>,
    /// Names published through these listeners, in topology order.
    pub names: Vec<String>,
    /// Names answered by DNS load balancing straight to the members.
    pub dns_balanced: Vec<(String, &'a Pool)>,
}

/// What the gateway's access list does with a flow, for its zone as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    Allowed(String),
    /// Denied by a named rule, or by the implicit deny (`None`).
    Denied(Option<String>),
}

/// Who authenticates a flow, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FlowAuth {
    /// A route whose policy for the zone is anonymous access.
    Anonymous,
    /// A route that passes NTLM, Kerberos or SAML through to the servers.
    PassThrough,
    /// A route that refuses the zone.
    Refused,
    /// Pre-authentication at the reverse proxy with a provider. `enforced`
    /// is false while gatehouse does not enforce the method, and the route
    /// refuses those requests with 503 ([`gatehouse_model::Admission`]).
    PreAuth {
        provider: String,
        method: AuthMethod,
        enforced: bool,
    },
    /// A layer-4 listener: TLS passes through, the servers authenticate.
    Layer4,
    /// DNS load balancing: clients connect to the members themselves.
    Direct,
}

/// One published name reached by one zone of a user type (or of the mail
/// hygiene service), with everything on its way.
#[derive(Clone, Debug)]
pub(crate) struct Flow<'a> {
    pub zone: &'a str,
    pub name: String,
    pub listener: Option<&'a Listener>,
    pub route: Option<&'a Route>,
    pub pool: &'a Pool,
    /// Index into [`Network::groups`].
    pub group: usize,
    pub class: TrafficClass,
    pub product: Product,
    pub transport: Transport,
    pub ports: PortRange,
    pub auth: FlowAuth,
    pub gate: Gate,
}

impl Flow<'_> {
    /// Whether traffic gets through both the gateway and the route.
    pub fn passes(&self) -> bool {
        matches!(self.gate, Gate::Allowed(_)) && self.auth != FlowAuth::Refused
    }
}

/// A user type with its flows, worked out per zone and declared reach.
#[derive(Debug)]
pub(crate) struct UserTypeFlows<'a> {
    pub user_type: &'a UserType,
    pub external: bool,
    pub flows: Vec<Flow<'a>>,
    /// Declared reaches that no zone of the user type is published.
    pub unpublished: Vec<String>,
}

/// The ports one traffic class uses: at the VIPs, and on the servers where
/// they differ (Lync's 4443 and 8080 behind 443 and 80).
#[derive(Debug)]
pub(crate) struct ClassPorts {
    pub class: TrafficClass,
    pub front: BTreeSet<(Transport, PortRange)>,
    pub servers: BTreeSet<u16>,
    /// Each published name of the class with its own ports.
    pub names: Vec<(String, BTreeSet<(Transport, PortRange)>)>,
}

/// The whole analysis.
#[derive(Debug)]
pub(crate) struct Network<'a> {
    pub plan: &'a Plan,
    pub zones: Vec<ZoneInfo<'a>>,
    pub products: Vec<Product>,
    pub groups: Vec<ServerGroup<'a>>,
    pub vips: Vec<ProductVip<'a>>,
    pub user_types: Vec<UserTypeFlows<'a>>,
    /// Flows from the mail-hygiene zones to everything published to them.
    pub mail: Vec<Flow<'a>>,
    pub legend: Vec<ClassPorts>,
}

impl<'a> Network<'a> {
    pub fn new(plan: &'a Plan) -> Network<'a> {
        let t = &plan.topology;
        let groups = server_groups(plan);
        let mut products: Vec<Product> = groups.iter().map(|g| g.product).collect();
        products.sort();
        products.dedup();
        let mut net = Network {
            plan,
            zones: Vec::new(),
            products,
            vips: Vec::new(),
            groups,
            user_types: Vec::new(),
            mail: Vec::new(),
            legend: Vec::new(),
        };
        net.zones = t.zones.iter().map(|z| net.zone_info(z)).collect();
        net.vips = net.product_vips();
        net.user_types = t
            .user_types
            .iter()
            .map(|u| {
                let (flows, unpublished) = net.user_type_flows(u);
                let external = u.zones.iter().any(|z| net.zone(&z.value).is_some_and(|z| z.outside));
                UserTypeFlows {
                    user_type: u,
                    external,
                    flows,
                    unpublished,
                }
            })
            .collect();
        let hygiene: Vec<&'a str> = net
            .zones
            .iter()
            .filter(|z| z.mail_hygiene)
            .map(|z| z.zone.name.value.as_str())
            .collect();
        net.mail = hygiene
            .into_iter()
            .flat_map(|z| net.flows_from(z, None, None))
            .collect();
        net.legend = net.class_ports();
        net
    }

    pub fn zone(&self, name: &str) -> Option<&ZoneInfo<'a>> {
        self.zones.iter().find(|z| z.zone.name.value == name)
    }

    pub fn service_of(&self, pool: &Pool) -> (Product, TrafficClass) {
        self.plan
            .topology
            .services
            .iter()
            .find(|s| s.name.value == pool.service.value)
            .map_or((Product::Generic, TrafficClass::SharePoint), |s| {
                (s.product.value, s.class.value)
            })
    }

    pub fn group_of(&self, pool: &Pool) -> usize {
        self.groups
            .iter()
            .position(|g| g.pools.iter().any(|p| p.name.value == pool.name.value))
            .expect("every pool is in a server group")
    }

    /// The front-end groups an Edge group hands its traffic to: those of the
    /// same product that serve one of the Edge's traffic classes.
    pub fn onward(&self, edge: usize) -> Vec<usize> {
        let g = &self.groups[edge];
        let classes: BTreeSet<TrafficClass> = g.pools.iter().map(|p| self.service_of(p).1).collect();
        (0..self.groups.len())
            .filter(|&i| {
                let h = &self.groups[i];
                h.tier == Tier::FrontEnd
                    && h.product == g.product
                    && h.pools.iter().any(|p| classes.contains(&self.service_of(p).1))
            })
            .collect()
    }

    /// The groups behind a front-end group in the deeper tiers of its product.
    pub fn deeper(&self, group: usize) -> Vec<usize> {
        let g = &self.groups[group];
        let rank = classify::tier_rank;
        let next = self
            .groups
            .iter()
            .filter(|h| h.product == g.product && rank(h.tier) > rank(g.tier))
            .map(|h| rank(h.tier))
            .min();
        (0..self.groups.len())
            .filter(|&i| Some(rank(self.groups[i].tier)) == next && self.groups[i].product == g.product)
            .collect()
    }

    fn zone_info(&self, zone: &'a Zone) -> ZoneInfo<'a> {
        let t = &self.plan.topology;
        let name = zone.name.value.as_str();
        let user_types: Vec<&UserType> = t
            .user_types
            .iter()
            .filter(|u| u.zones.iter().any(|z| z.value == name))
            .collect();
        let role = zone.role.as_ref().map(|r| r.value);
        let outside = role.map_or_else(|| zone_outside(t, zone), ZoneRole::is_outside);
        // Inside addresses of a user type that also comes from outside: its
        // clients arrive through a tunnel from the Internet.
        let remote_access = match role {
            Some(ZoneRole::Vpn) => Some(RemoteAccess::Vpn),
            Some(ZoneRole::DirectAccess) => Some(RemoteAccess::DirectAccess),
            Some(_) => None,
            None => (!outside
                && user_types.iter().any(|u| {
                    u.zones
                        .iter()
                        .filter_map(|z| t.zones.iter().find(|x| x.name.value == z.value))
                        .any(|z| {
                            z.role
                                .as_ref()
                                .map_or_else(|| zone_outside(t, z), |r| r.value.is_outside())
                        })
                }))
            .then(|| remote_access_kind(zone)),
        };
        let mail_hygiene = role.is_none_or(|r| r == ZoneRole::Hygiene)
            && user_types.is_empty()
            && t.listeners.iter().any(|l| {
                l.zones.iter().any(|z| z.value == name)
                    && l.pool
                        .as_ref()
                        .and_then(|p| self.plan.pool(&p.value))
                        .is_some_and(|p| self.service_of(p).1 == TrafficClass::ExchangeMail)
            });
        ZoneInfo {
            zone,
            outside,
            remote_access,
            mail_hygiene,
        }
    }

    fn product_vips(&self) -> Vec<ProductVip<'a>> {
        let t = &self.plan.topology;
        let mut vips = Vec::new();
        for &product in &self.products {
            let mut listeners = Vec::new();
            let mut names = Vec::new();
            for p in &self.plan.published {
                let Some(pool) = self.pool_of(p) else { continue };
                if self.service_of(pool).0 != product || pool.tier == Tier::Edge {
                    continue;
                }
                let Some(listener) = p.listener.as_deref().and_then(|l| self.plan.listener(l)) else {
                    continue;
                };
                if !listeners
                    .iter()
                    .any(|l: &&Listener| l.name.value == listener.name.value)
                {
                    listeners.push(listener);
                }
                push_unique(&mut names, &p.name);
            }
            let dns_balanced: Vec<(String, &Pool)> = t
                .pools
                .iter()
                .filter(|p| p.dns_balanced && self.service_of(p).0 == product)
                .filter_map(|p| {
                    p.dns_name
                        .as_ref()
                        .map(|n| (n.value.trim_end_matches('.').to_ascii_lowercase(), p))
                })
                .collect();
            if !listeners.is_empty() || !dns_balanced.is_empty() {
                vips.push(ProductVip {
                    product,
                    listeners,
                    names,
                    dns_balanced,
                });
            }
        }
        vips
    }

    fn pool_of(&self, p: &gatehouse_model::validate::Published) -> Option<&'a Pool> {
        let t = &self.plan.topology;
        let pool_name = match (&p.listener, &p.route) {
            (Some(_), Some(route)) => t.routes.iter().find(|r| &r.name.value == route)?.pool.value.clone(),
            (Some(listener), None) => self.plan.listener(listener)?.pool.as_ref()?.value.clone(),
            (None, _) => t
                .pools
                .iter()
                .find(|x| {
                    x.dns_balanced
                        && x.dns_name
                            .as_ref()
                            .is_some_and(|n| n.value.trim_end_matches('.').eq_ignore_ascii_case(&p.name))
                })?
                .name
                .value
                .clone(),
        };
        t.pools.iter().find(|x| x.name.value == pool_name)
    }

    /// Every flow from `zone` to a published name (all of them when `name` is
    /// `None`), optionally on one port.
    fn flows_from(&self, zone: &'a str, name: Option<&str>, port: Option<u16>) -> Vec<Flow<'a>> {
        let t = &self.plan.topology;
        let mut out = Vec::new();
        for p in &self.plan.published {
            if name.is_some_and(|n| !n.trim_end_matches('.').eq_ignore_ascii_case(&p.name))
                || port.is_some_and(|port| !p.ports.contains(port))
                || !p.admits(zone)
            {
                continue;
            }
            let Some(pool) = self.pool_of(p) else { continue };
            let listener = p.listener.as_deref().and_then(|l| self.plan.listener(l));
            let route = p
                .route
                .as_deref()
                .and_then(|r| t.routes.iter().find(|x| x.name.value == r));
            let (product, class) = self.service_of(pool);
            let auth = match (listener, route) {
                (_, Some(route)) => route_auth(t, route, zone),
                (Some(_), None) => FlowAuth::Layer4,
                (None, _) => FlowAuth::Direct,
            };
            let first = port.unwrap_or(p.ports.first);
            out.push(Flow {
                zone,
                name: p.name.clone(),
                listener,
                route,
                pool,
                group: self.group_of(pool),
                class,
                product,
                transport: p.transport,
                ports: port.map_or(p.ports, PortRange::single),
                auth,
                gate: gate(t, zone, p.transport, first),
            });
        }
        out
    }

    fn user_type_flows(&self, u: &'a UserType) -> (Vec<Flow<'a>>, Vec<String>) {
        let mut flows = Vec::new();
        let mut unpublished = Vec::new();
        for reach in &u.reaches {
            let before = flows.len();
            for z in &u.zones {
                flows.extend(self.flows_from(z.value.as_str(), Some(&reach.value.name), reach.value.port));
            }
            if flows.len() == before {
                unpublished.push(match reach.value.port {
                    Some(port) => format!("{}:{port}", reach.value.name),
                    None => reach.value.name.clone(),
                });
            }
        }
        (flows, unpublished)
    }

    fn class_ports(&self) -> Vec<ClassPorts> {
        let mut out: Vec<ClassPorts> = TrafficClass::ALL
            .iter()
            .map(|&(_, class)| ClassPorts {
                class,
                front: BTreeSet::new(),
                servers: BTreeSet::new(),
                names: Vec::new(),
            })
            .collect();
        for p in &self.plan.published {
            let Some(pool) = self.pool_of(p) else { continue };
            let entry = &mut out[class_index(self.service_of(pool).1)];
            entry.front.insert((p.transport, p.ports));
            let route = p
                .route
                .as_deref()
                .and_then(|r| self.plan.topology.routes.iter().find(|x| x.name.value == r));
            let backend = route.and_then(|r| r.backend_port.as_ref().map(|b| b.value));
            for m in &pool.members {
                if let Some(port) = backend.or(m.port.as_ref().map(|p| p.value)) {
                    if !p.ports.contains(port) || p.ports.first != p.ports.last {
                        entry.servers.insert(port);
                    }
                }
            }
            match entry.names.iter_mut().find(|(n, _)| *n == p.name) {
                Some((_, ports)) => {
                    ports.insert((p.transport, p.ports));
                }
                None => entry
                    .names
                    .push((p.name.clone(), BTreeSet::from([(p.transport, p.ports)]))),
            }
        }
        out.retain(|c| !c.front.is_empty());
        out
    }
}

/// The legend's order of a class.
pub(crate) fn class_index(class: TrafficClass) -> usize {
    TrafficClass::ALL
        .iter()
        .position(|&(_, c)| c == class)
        .expect("every class is listed")
}

fn push_unique(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

mod classify;
#[cfg(test)]
mod tests;

pub(crate) use classify::gate;
use classify::{remote_access_kind, route_auth, server_groups, zone_outside};
