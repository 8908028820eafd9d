//! The first half of the description: the summary and "About the design",
//! as in the poster's text: the streamlined design, the gateway router and
//! its ACL, the load balancer and reverse proxy with one VIP per product,
//! the remote-access options, and the DNS considerations.

use std::collections::BTreeSet;

use gatehouse_model::topology::{Action, AuthPolicy, Product, Source, Tier, TrafficClass};

use super::doc::{item, Doc, Item};
use super::i18n::{n, s, Text};
use super::network::Network;
use super::words::{self, c, codes, rich};

pub(crate) fn write(doc: &mut Doc, t: &Text, net: &Network) {
    let topo = &net.plan.topology;
    let products: Vec<String> = net.products.iter().map(|&p| words::product(t, p)).collect();
    doc.title = t.fmt("title", &[("name", s(topo.name.clone()))]);
    let mut summary = vec![
        super::doc::Inline::Strong(t.get("summary-label")),
        super::doc::Inline::Text(" ".into()),
    ];
    summary.extend(rich(&t.fmt("summary", &[("name", s(topo.name.clone()))])));
    doc.para(summary);
    doc.para(rich(&t.fmt("intro", &[("products", s(t.and_list(&products)))])));

    doc.heading(2, t.fmt("h-concepts", &[("products", s(t.and_list(&products)))]));
    doc.heading(3, t.get("h-about-design"));
    doc.heading(4, t.get("h-streamlined"));
    doc.para(rich(&t.fmt(
        "design-counts",
        &[
            ("zones", n(topo.zones.len())),
            ("listeners", n(topo.listeners.len())),
            ("pools", n(topo.pools.len())),
            ("routes", n(topo.routes.len())),
            ("usertypes", n(topo.user_types.len())),
        ],
    )));
    doc.text(t.get("design-this-diagram"));
    let mut remote: Vec<String> = net
        .groups
        .iter()
        .filter(|g| g.tier == Tier::Edge)
        .map(|g| words::role(t, g))
        .collect();
    for z in &net.zones {
        if let Some(kind) = z.remote_access {
            let device = words::remote_access(t, kind);
            if !remote.contains(&device) {
                remote.push(device);
            }
        }
    }
    let mut points = vec![t.fmt("design-point-traffic", &[("products", s(t.and_list(&products)))])];
    if !remote.is_empty() {
        points.push(t.fmt("design-point-remote", &[("devices", s(t.and_list(&remote)))]));
    }
    points.extend(["design-point-flow", "design-point-auth", "design-point-tiers"].map(|id| t.get(id)));
    doc.list(false, points.iter().map(|p| item(rich(p))).collect());
    doc.text(t.get("design-example-only"));

    doc.heading(4, t.get("h-gateway"));
    doc.text(t.get("gateway-role"));
    doc.para(rich(&t.fmt("gateway-acl", &[("count", n(topo.acl.len()))])));
    let mut rules: Vec<Item> = topo
        .acl
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let name = r.name.clone().unwrap_or_else(|| format!("rule-{}", i + 1));
            let from: Vec<String> = r
                .from
                .iter()
                .map(|f| match &f.value {
                    Source::Zone(z) => c(z),
                    Source::Prefix(p) => c(&p.to_string()),
                })
                .collect();
            let what = match (&r.protocol, r.ports.is_empty()) {
                (_, true) => t.get("acl-any-port"),
                (proto, false) => {
                    let transports: Vec<_> = match proto {
                        gatehouse_model::topology::AclProtocol::Tcp => vec![gatehouse_model::topology::Transport::Tcp],
                        gatehouse_model::topology::AclProtocol::Udp => vec![gatehouse_model::topology::Transport::Udp],
                        gatehouse_model::topology::AclProtocol::Any => vec![
                            gatehouse_model::topology::Transport::Tcp,
                            gatehouse_model::topology::Transport::Udp,
                        ],
                    };
                    let list: Vec<_> = transports
                        .iter()
                        .flat_map(|&x| r.ports.iter().map(move |p| (x, p.value)))
                        .collect();
                    words::ports(&list)
                }
            };
            let id = match r.action {
                Action::Allow => "acl-allow",
                Action::Deny => "acl-deny",
            };
            let from = if from.is_empty() {
                t.get("acl-anywhere")
            } else {
                t.and_list(&from)
            };
            item(rich(
                &t.fmt(id, &[("rule", s(c(&name))), ("what", s(what)), ("from", s(from))]),
            ))
        })
        .collect();
    rules.push(item(rich(&t.get("acl-implicit-deny"))));
    doc.list(true, rules);

    doc.heading(4, t.get("h-balancer"));
    let certs: Vec<&str> = topo.certificates.iter().map(|x| x.name.value.as_str()).collect();
    doc.para(rich(&t.fmt("balancer-role", &[("certificates", s(codes(t, &certs)))])));
    doc.list(false, net.vips.iter().map(|v| item(rich(&vip_line(t, v)))).collect());
    doc.text(t.get("balancer-guidance-intro"));
    doc.list(
        false,
        net.products
            .iter()
            .filter_map(|&p| balancing(t, net, p))
            .map(|line| item(rich(&line)))
            .collect(),
    );

    remote_access(doc, t, net);
    dns(doc, t, net);
}

/// "Lync VIP: 203.0.113.10 (TCP 80, 443) and 10.0.10.10 (TCP 443), for https://meet…".
pub(crate) fn vip_line(t: &Text, v: &super::network::ProductVip) -> String {
    let mut line = t.fmt(
        "vip-line",
        &[
            ("product", s(words::product(t, v.product))),
            ("addresses", s(words::endpoints(t, v.listeners.iter().copied()))),
            ("names", s(codes(t, &v.names))),
            ("count", n(v.names.len())),
        ],
    );
    for (name, pool) in &v.dns_balanced {
        line.push(' ');
        line.push_str(&t.fmt(
            "vip-dns-balanced",
            &[
                ("name", s(c(name))),
                ("pool", s(c(&pool.name.value))),
                ("count", n(pool.members.len())),
            ],
        ));
    }
    line
}

/// One product's load balancing, as configured, and the poster's advice.
fn balancing(t: &Text, net: &Network, product: Product) -> Option<String> {
    let topo = &net.plan.topology;
    let mut algorithms = BTreeSet::new();
    let mut affinities = BTreeSet::new();
    let (mut layer4, mut layer7) = (BTreeSet::new(), BTreeSet::new());
    for p in &net.plan.published {
        let Some(l) = p.listener.as_deref().and_then(|l| net.plan.listener(l)) else {
            continue;
        };
        let route = p
            .route
            .as_deref()
            .and_then(|r| topo.routes.iter().find(|x| x.name.value == r));
        let pool_name = route.map(|r| &r.pool.value).or(l.pool.as_ref().map(|p| &p.value));
        let Some(pool) = pool_name.and_then(|x| net.plan.pool(x)) else {
            continue;
        };
        if net.service_of(pool).0 != product || pool.tier == Tier::Edge {
            continue;
        }
        algorithms.insert(t.get(&format!("algorithm-{}", pool.algorithm.keyword())));
        match route {
            Some(r) => {
                layer7.insert(pool.name.value.clone());
                let id = match r.affinity {
                    gatehouse_model::topology::Affinity::None => "affinity-none",
                    gatehouse_model::topology::Affinity::Cookie => "affinity-cookie",
                    gatehouse_model::topology::Affinity::SourceIp => "affinity-source-ip",
                };
                affinities.insert(t.get(id));
            }
            None => {
                layer4.insert(pool.name.value.clone());
            }
        }
    }
    let dns: Vec<String> = topo
        .pools
        .iter()
        .filter(|p| p.dns_balanced && net.service_of(p).0 == product)
        .map(|p| p.name.value.clone())
        .collect();
    if algorithms.is_empty() && dns.is_empty() {
        return None;
    }
    let mut line = t.fmt(
        "balancing-line",
        &[
            ("product", s(words::product(t, product))),
            ("algorithms", s(t.and_list(&algorithms.into_iter().collect::<Vec<_>>()))),
            ("layer4", n(layer4.len())),
            ("layer7", n(layer7.len())),
            ("affinity", s(t.or_list(&affinities.into_iter().collect::<Vec<_>>()))),
        ],
    );
    if !dns.is_empty() {
        line.push(' ');
        line.push_str(&t.fmt("balancing-dns", &[("pools", s(codes(t, &dns)))]));
    }
    let advice = format!("guidance-{}", product.keyword());
    if t.has(&advice) {
        line.push(' ');
        line.push_str(&t.get(&advice));
    }
    Some(line)
}

fn remote_access(doc: &mut Doc, t: &Text, net: &Network) {
    let topo = &net.plan.topology;
    doc.heading(3, t.get("h-remote-access"));
    doc.text(t.get("remote-intro"));
    let mut items = Vec::new();
    let providers: Vec<String> = topo
        .auth_providers
        .iter()
        .map(|p| {
            let method = words::auth_method(t, p.method.value);
            match &p.url {
                Some(url) => format!("{} ({method}, {})", c(&p.name.value), url.value),
                None => format!("{} ({method})", c(&p.name.value)),
            }
        })
        .collect();
    let preauth_routes = topo
        .routes
        .iter()
        .filter(|r| {
            r.auth.iter().any(|(_, p)| matches!(p.value, AuthPolicy::Provider(_)))
                || matches!(r.auth_default.value, AuthPolicy::Provider(_))
        })
        .count();
    items.push(item(rich(&t.fmt(
        "remote-reverse-proxy",
        &[
            ("providers", s(t.and_list(&providers))),
            ("count", n(providers.len())),
            ("routes", n(preauth_routes)),
        ],
    ))));
    for z in &net.zones {
        if let Some(kind) = z.remote_access {
            let prefixes: Vec<String> = z.zone.prefixes.iter().map(|p| p.value.to_string()).collect();
            items.push(item(rich(&t.fmt(
                "remote-zone",
                &[
                    ("device", s(words::remote_access(t, kind))),
                    ("zone", s(c(&z.zone.name.value))),
                    ("prefixes", s(t.and_list(&prefixes))),
                ],
            ))));
        }
    }
    let lync = net.products.contains(&Product::Lync);
    items.push(item(rich(&t.get("remote-directaccess"))));
    if lync {
        items.push(item(rich(&t.get("remote-lync"))));
    }
    doc.list(false, items);
}

fn dns(doc: &mut Doc, t: &Text, net: &Network) {
    let topo = &net.plan.topology;
    doc.heading(3, t.get("h-dns"));
    let Some(d) = &topo.dns else {
        doc.text(t.get("dns-none"));
        return;
    };
    let listen: Vec<String> = d.listen.iter().map(|a| a.value.to_string()).collect();
    doc.para(rich(&t.fmt(
        "dns-intro",
        &[("apex", s(c(&d.apex.value))), ("listen", s(t.and_list(&listen)))],
    )));
    let mut items = Vec::new();
    for v in &d.views {
        let zones: Vec<&str> = v.zones.iter().map(|z| z.value.as_str()).collect();
        let mut answers: Vec<(String, Vec<String>)> = Vec::new();
        for p in &net.plan.published {
            let Some(l) = p.listener.as_deref().and_then(|l| net.plan.listener(l)) else {
                continue;
            };
            if !zones.iter().any(|z| l.zones.iter().any(|x| x.value == *z)) {
                continue;
            }
            let addr = l.address.value.to_string();
            match answers.iter_mut().find(|(n, _)| *n == p.name) {
                Some((_, a)) if !a.contains(&addr) => a.push(addr),
                Some(_) => {}
                None => answers.push((p.name.clone(), vec![addr])),
            }
        }
        for p in topo.pools.iter().filter(|p| p.dns_balanced) {
            let in_view = p.dns_views.is_empty() || p.dns_views.iter().any(|x| x.value == v.name.value);
            if let (true, Some(name)) = (in_view, &p.dns_name) {
                let hosts: Vec<String> = p.members.iter().map(|m| m.host.value.clone()).collect();
                answers.push((name.value.trim_end_matches('.').to_string(), hosts));
            }
        }
        let children = answers
            .iter()
            .map(|(name, addrs)| item(rich(&format!("{} → {}", c(name), addrs.join(", ")))))
            .collect();
        items.push(Item {
            text: rich(&t.fmt(
                "dns-view",
                &[("view", s(c(&v.name.value))), ("zones", s(codes(t, &zones)))],
            )),
            children: vec![super::doc::Block::List {
                ordered: false,
                items: children,
            }],
        });
    }
    doc.list(false, items);
    if !d.records.is_empty() {
        doc.text(t.get("dns-records"));
        let records = d
            .records
            .iter()
            .map(|r| {
                let views: Vec<&str> = r.views.iter().map(|v| v.value.as_str()).collect();
                let base = format!("{} {} {}", c(&r.name.value), r.rtype.value.keyword(), c(&r.value.value));
                item(rich(&if views.is_empty() {
                    base
                } else {
                    t.fmt(
                        "dns-record-in-views",
                        &[("record", s(base)), ("views", s(codes(t, &views)))],
                    )
                }))
            })
            .collect();
        doc.list(false, records);
    }
    let mut advice = vec![t.get("dns-guidance-public"), t.get("dns-guidance-intranet")];
    if net.zones.iter().any(|z| z.remote_access.is_some()) {
        advice.push(t.get("dns-guidance-directaccess"));
    }
    if net
        .legend
        .iter()
        .any(|l| l.class == TrafficClass::ExchangeClient || l.class == TrafficClass::ExchangeMail)
    {
        advice.push(t.get("dns-guidance-exchange"));
    }
    doc.text(t.get("dns-guidance-intro"));
    doc.list(false, advice.iter().map(|a| item(rich(a))).collect());
}
