//! What the diagram shows, before any geometry: the boxes of the poster
//! (user types, gateway router, remote-access servers, VIPs, server groups
//! by tier) with their words, and the coloured traffic links between them,
//! worked out from the flows of the shared [`Network`] analysis.

use gatehouse_model::topology::{Action, Product, Source, Tier, TrafficClass};

use crate::describe::i18n::{n, s, Text};
use crate::describe::network::{Flow, FlowAuth, Network};
use crate::describe::words;

/// The poster's columns, left to right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Col {
    Users,
    Gateway,
    Remote,
    Balancer,
    FrontEnd,
    Application,
    Database,
}

impl Col {
    pub const ALL: [Col; 7] = [
        Col::Users,
        Col::Gateway,
        Col::Remote,
        Col::Balancer,
        Col::FrontEnd,
        Col::Application,
        Col::Database,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A line of text in a box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Body(String),
    /// Secondary detail: addresses, pools, zones.
    Small(String),
}

#[derive(Debug)]
pub(crate) struct Node {
    /// Stable, unique, usable as an XML id and a DOT identifier.
    pub id: String,
    pub col: Col,
    /// The product band a right-hand box belongs to.
    pub product: Option<Product>,
    pub title: String,
    pub lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    pub from: usize,
    pub to: usize,
    pub class: TrafficClass,
    /// Between server tiers rather than client traffic.
    pub between_tiers: bool,
}

#[derive(Debug)]
pub(crate) struct Scene {
    pub title: String,
    pub subtitle: String,
    pub desc: String,
    pub columns: Vec<String>,
    pub balancer: (String, String),
    pub nodes: Vec<Node>,
    pub links: Vec<Link>,
    /// (class, words) per legend row.
    pub legend: Vec<(TrafficClass, String)>,
    pub legend_title: String,
    pub legend_dashed: String,
}

impl Scene {
    pub fn node(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }
}

pub(crate) fn build(net: &Network, t: &Text) -> Scene {
    let topo = &net.plan.topology;
    let mut nodes: Vec<Node> = Vec::new();
    let external = net.user_types.iter().filter(|u| u.external);
    let internal = net.user_types.iter().filter(|u| !u.external);
    for u in external {
        nodes.push(user_node(t, u));
    }
    for z in net.zones.iter().filter(|z| z.mail_hygiene) {
        nodes.push(Node {
            id: format!("zone-{}", z.zone.name.value),
            col: Col::Users,
            product: None,
            title: t.get("box-cloud-mail"),
            lines: vec![
                Line::Body(t.get("box-cloud-mail-note")),
                Line::Small(t.fmt("label-zones", &[("zones", s(z.zone.name.value.clone()))])),
            ],
        });
    }
    for u in internal {
        nodes.push(user_node(t, u));
    }
    nodes.push(gateway_node(t, net));
    for g in net.groups.iter().filter(|g| g.tier == Tier::Edge) {
        let names: Vec<String> = net
            .mail
            .iter()
            .chain(net.user_types.iter().flat_map(|u| u.flows.iter()))
            .filter(|f| net.groups[f.group].id == g.id)
            .map(|f| f.name.clone())
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        let servers = t.fmt("label-servers", &[("count", n(g.hosts.len()))]);
        let mut lines = vec![Line::Small(t.fmt(
            "label-servers-at",
            &[("servers", s(servers)), ("hosts", s(g.hosts.join(", ")))],
        ))];
        lines.extend(endpoint_lines(topo.listeners.iter().filter(|l| {
            l.pool
                .as_ref()
                .is_some_and(|p| g.pools.iter().any(|x| x.name.value == p.value))
        })));
        lines.push(Line::Small(names.join(", ")));
        nodes.push(Node {
            id: g.id.clone(),
            col: Col::Remote,
            product: Some(g.product),
            title: words::role(t, g),
            lines,
        });
    }
    for z in &net.zones {
        if let Some(kind) = z.remote_access {
            let prefixes: Vec<String> = z.zone.prefixes.iter().map(|p| p.value.to_string()).collect();
            nodes.push(Node {
                id: format!("zone-{}", z.zone.name.value),
                col: Col::Remote,
                product: None,
                title: capitalise(&words::remote_access(t, kind)),
                lines: vec![
                    Line::Body(t.fmt("label-zones", &[("zones", s(z.zone.name.value.clone()))])),
                    Line::Small(prefixes.join(", ")),
                ],
            });
        }
    }
    for v in &net.vips {
        let mut lines = endpoint_lines(v.listeners.iter().copied());
        if !v.names.is_empty() {
            lines.push(Line::Small(v.names.join(", ")));
        }
        for (name, _) in &v.dns_balanced {
            lines.push(Line::Small(t.fmt("label-dns-balanced", &[("names", s(name.clone()))])));
        }
        nodes.push(Node {
            id: format!("vip-{}", v.product.keyword()),
            col: Col::Balancer,
            product: Some(v.product),
            title: t.fmt("box-vip", &[("product", s(words::product(t, v.product)))]),
            lines,
        });
    }
    if let Some(d) = &topo.dns {
        let listen: Vec<String> = d.listen.iter().map(|a| a.value.to_string()).collect();
        let views: Vec<String> = d.views.iter().map(|v| v.name.value.clone()).collect();
        nodes.push(Node {
            id: "dns".into(),
            col: Col::Balancer,
            product: None,
            title: t.get("box-dns"),
            lines: vec![
                Line::Small(listen.join(", ")),
                Line::Small(t.fmt("label-dns-views", &[("views", s(views.join(", ")))])),
            ],
        });
    }
    for g in net.groups.iter().filter(|g| g.tier != Tier::Edge) {
        let pools: Vec<&str> = g.pools.iter().map(|p| p.name.value.as_str()).collect();
        nodes.push(Node {
            id: g.id.clone(),
            col: match g.tier {
                Tier::Application => Col::Application,
                Tier::Database => Col::Database,
                _ => Col::FrontEnd,
            },
            product: Some(g.product),
            title: words::role(t, g),
            lines: vec![
                Line::Body(t.fmt("label-servers", &[("count", n(g.hosts.len()))])),
                Line::Small(g.hosts.join(", ")),
                Line::Small(t.fmt("label-pools", &[("pools", s(pool_list(&pools)))])),
            ],
        });
    }
    let scene_links = links(net, &nodes);
    let legend = net
        .legend
        .iter()
        .map(|l| {
            let mut text = t.fmt(
                "legend-row",
                &[
                    ("class", s(capitalise(&words::class(t, l.class)))),
                    ("ports", s(words::ports(&l.front))),
                ],
            );
            if !l.servers.is_empty() {
                let servers: Vec<String> = l.servers.iter().map(|p| p.to_string()).collect();
                text.push_str(&format!(
                    " ({})",
                    t.fmt("label-server-ports", &[("ports", s(servers.join(", ")))])
                ));
            }
            (l.class, text)
        })
        .collect::<Vec<_>>();
    let legend_words: Vec<String> = legend
        .iter()
        .map(|(c, text)| format!("{} — {text}", words::colour_line(t, *c)))
        .collect();
    Scene {
        title: t.fmt("diagram-title", &[("name", s(topo.name.clone()))]),
        subtitle: t.get("diagram-subtitle"),
        desc: t.fmt(
            "diagram-desc",
            &[
                ("name", s(topo.name.clone())),
                ("usertypes", n(net.user_types.len())),
                ("rules", n(topo.acl.len())),
                ("vips", n(net.vips.len())),
                ("groups", n(net.groups.len())),
                ("legend", s(legend_words.join("; "))),
            ],
        ),
        columns: [
            "col-users",
            "col-gateway",
            "col-remote",
            "col-balancer",
            "col-front-end",
            "col-application",
            "col-database",
        ]
        .iter()
        .map(|id| t.get(id))
        .collect(),
        balancer: (t.get("box-balancer"), t.get("box-balancer-note")),
        nodes,
        links: scene_links,
        legend,
        legend_title: t.get("legend-title"),
        legend_dashed: t.get("legend-between-tiers"),
    }
}

fn user_node(t: &Text, u: &crate::describe::network::UserTypeFlows) -> Node {
    let zones: Vec<&str> = u.user_type.zones.iter().map(|z| z.value.as_str()).collect();
    let auth: Vec<&str> = u.user_type.auth.iter().map(|a| a.value.as_str()).collect();
    Node {
        id: format!("user-{}", u.user_type.name.value),
        col: Col::Users,
        product: None,
        title: words::user_type(t, u.user_type),
        lines: vec![
            Line::Small(t.fmt("label-zones", &[("zones", s(zones.join(", ")))])),
            Line::Small(t.fmt("label-auth", &[("auth", s(auth.join(", ")))])),
        ],
    }
}

fn gateway_node(t: &Text, net: &Network) -> Node {
    let topo = &net.plan.topology;
    let mut lines = Vec::new();
    for (i, r) in topo.acl.iter().enumerate() {
        let name = r.name.clone().unwrap_or_else(|| format!("rule-{}", i + 1));
        let transports = match r.protocol {
            gatehouse_model::topology::AclProtocol::Tcp => vec![gatehouse_model::topology::Transport::Tcp],
            gatehouse_model::topology::AclProtocol::Udp => vec![gatehouse_model::topology::Transport::Udp],
            gatehouse_model::topology::AclProtocol::Any => {
                vec![
                    gatehouse_model::topology::Transport::Tcp,
                    gatehouse_model::topology::Transport::Udp,
                ]
            }
        };
        let what = if r.ports.is_empty() {
            t.get("acl-any-port")
        } else {
            let list: Vec<_> = transports
                .iter()
                .flat_map(|&x| r.ports.iter().map(move |p| (x, p.value)))
                .collect();
            words::ports(&list)
        };
        let id = if r.action == Action::Allow {
            "label-acl-allow"
        } else {
            "label-acl-deny"
        };
        let action = t.fmt(id, &[("what", s(what))]);
        lines.push(Line::Body(
            t.fmt("label-rule", &[("rule", s(name)), ("action", s(action))]),
        ));
        let from: Vec<String> = r
            .from
            .iter()
            .map(|f| match &f.value {
                Source::Zone(z) => z.clone(),
                Source::Prefix(p) => p.to_string(),
            })
            .collect();
        let from = if from.is_empty() {
            t.get("acl-anywhere")
        } else {
            from.join(", ")
        };
        lines.push(Line::Small(t.fmt("label-acl-from", &[("from", s(from))])));
    }
    lines.push(Line::Body(t.get("label-acl-else")));
    Node {
        id: "gateway".into(),
        col: Col::Gateway,
        product: None,
        title: t.get("box-gateway"),
        lines,
    }
}

/// One line per VIP address with its ports: "203.0.113.10 TCP 80, 443".
fn endpoint_lines<'a>(listeners: impl IntoIterator<Item = &'a gatehouse_model::topology::Listener>) -> Vec<Line> {
    let mut by_address: Vec<(std::net::IpAddr, Vec<_>)> = Vec::new();
    for l in listeners {
        let port = (l.protocol.value.transport(), l.ports.value);
        match by_address.iter_mut().find(|(a, _)| *a == l.address.value) {
            Some((_, list)) => list.push(port),
            None => by_address.push((l.address.value, vec![port])),
        }
    }
    by_address
        .iter()
        .map(|(a, p)| Line::Body(format!("{a} {}", words::ports(p))))
        .collect()
}

/// Pool names, with a shared prefix written once: "exchange-: owa, ecp".
fn pool_list(pools: &[&str]) -> String {
    if pools.len() > 2 {
        if let Some(dash) = pools[0].find('-') {
            let prefix = &pools[0][..=dash];
            if pools.iter().all(|p| p.starts_with(prefix) && p.len() > prefix.len()) {
                let rest: Vec<&str> = pools.iter().map(|p| &p[prefix.len()..]).collect();
                return format!("{prefix}{{{}}}", rest.join(", "));
            }
        }
    }
    pools.join(", ")
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// The traffic links: from every passing flow, every published route, the
/// Edge servers' onward hop, and the tiers behind each front end.
fn links(net: &Network, nodes: &[Node]) -> Vec<Link> {
    let id = |name: &str| nodes.iter().position(|n| n.id == name);
    let mut out: Vec<Link> = Vec::new();
    let mut add = |from: Option<usize>, to: Option<usize>, class: TrafficClass, between_tiers: bool| {
        if let (Some(from), Some(to)) = (from, to) {
            let link = Link {
                from,
                to,
                class,
                between_tiers,
            };
            if from != to && !out.contains(&link) {
                out.push(link);
            }
        }
    };
    let gateway = id("gateway");
    let flows = net
        .user_types
        .iter()
        .flat_map(|u| {
            u.flows
                .iter()
                .map(move |f| (id(&format!("user-{}", u.user_type.name.value)), f))
        })
        .chain(net.mail.iter().map(|f| (id(&format!("zone-{}", f.zone)), f)));
    for (source, f) in flows {
        if !f.passes() || f.auth == FlowAuth::Refused {
            continue;
        }
        let zone = net.zone(f.zone);
        let entry = entry_node(net, f).and_then(|e| id(&e));
        let mut at = source;
        if zone.is_some_and(|z| z.outside) {
            add(at, gateway, f.class, false);
            at = gateway;
        } else if zone.is_some_and(|z| z.remote_access.is_some()) {
            let ra = id(&format!("zone-{}", f.zone));
            add(at, gateway, f.class, false);
            add(gateway, ra, f.class, false);
            at = ra;
        }
        add(at, entry, f.class, false);
        // As on the poster, what the Edge servers pass on, and what DNS load
        // balancing sends straight to the servers, is drawn through the
        // product's VIP box, which lists the DNS-balanced names.
        let vip = id(&format!("vip-{}", f.product.keyword()));
        if net.groups[f.group].tier == Tier::Edge {
            for g in net.onward(f.group) {
                let front = id(&net.groups[g].id);
                match vip {
                    Some(_) => {
                        add(entry, vip, f.class, false);
                        add(vip, front, f.class, false);
                    }
                    None => add(entry, front, f.class, false),
                }
            }
        } else if entry == vip {
            add(entry, id(&net.groups[f.group].id), f.class, false);
        }
    }
    // Every published route and L4 pool, used by a user type or not.
    for p in &net.plan.published {
        let Some(listener) = p.listener.as_deref().and_then(|l| net.plan.listener(l)) else {
            continue;
        };
        let pool_name = match &p.route {
            Some(r) => net
                .plan
                .topology
                .routes
                .iter()
                .find(|x| &x.name.value == r)
                .map(|x| x.pool.value.clone()),
            None => listener.pool.as_ref().map(|x| x.value.clone()),
        };
        let Some(pool) = pool_name.and_then(|x| net.plan.pool(&x)) else {
            continue;
        };
        if pool.tier == Tier::Edge {
            continue;
        }
        let (product, class) = net.service_of(pool);
        add(
            id(&format!("vip-{}", product.keyword())),
            id(&net.groups[net.group_of(pool)].id),
            class,
            false,
        );
    }
    for (i, g) in net.groups.iter().enumerate() {
        if g.tier == Tier::Edge {
            continue;
        }
        for deeper in net.deeper(i) {
            let class = net.groups[deeper]
                .pools
                .first()
                .map_or(TrafficClass::SharePoint, |p| net.service_of(p).1);
            add(id(&g.id), id(&net.groups[deeper].id), class, true);
        }
    }
    out
}

/// The box a flow enters the load-balancing tier at.
fn entry_node(net: &Network, f: &Flow) -> Option<String> {
    match network_entry(f) {
        Entry::Vip if net.groups[f.group].tier == Tier::Edge => Some(net.groups[f.group].id.clone()),
        Entry::Vip => Some(format!("vip-{}", f.product.keyword())),
        Entry::Direct if net.vips.iter().any(|v| v.product == f.product) => {
            Some(format!("vip-{}", f.product.keyword()))
        }
        Entry::Direct => Some(net.groups[f.group].id.clone()),
    }
}

/// Whether a flow enters through a VIP or straight at the servers (DNS load balancing).
enum Entry {
    Vip,
    Direct,
}

fn network_entry(f: &Flow) -> Entry {
    if f.listener.is_some() {
        Entry::Vip
    } else {
        Entry::Direct
    }
}
