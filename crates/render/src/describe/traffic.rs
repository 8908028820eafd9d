//! The second half of the description, as in the poster's text: the
//! components shown in the diagram, how traffic moves for each user type
//! (with its authentication), cloud mail, and the legend with its ports.

use gatehouse_model::topology::{Product, Tier};

use super::doc::{item, Block, Doc, Inline, Item};
use super::i18n::{n, s, Text};
use super::network::{Flow, Network, UserTypeFlows};
use super::ways;
use super::words::{self, c, codes, rich};

pub(crate) fn write(doc: &mut Doc, t: &Text, net: &Network) {
    doc.heading(3, t.get("h-diagram"));
    doc.text(t.get("diagram-intro"));
    components(doc, t, net);
    movement(doc, t, net);
    legend(doc, t, net);
}

fn components(doc: &mut Doc, t: &Text, net: &Network) {
    let external = net.user_types.iter().filter(|u| u.external).count();
    doc.heading(4, t.get("h-components"));
    doc.heading(4, t.get("h-user-types"));
    doc.text(t.fmt(
        "user-types-count",
        &[
            ("count", n(net.user_types.len())),
            ("external", n(external)),
            ("internal", n(net.user_types.len() - external)),
        ],
    ));
    doc.list(
        false,
        net.user_types
            .iter()
            .map(|u| item(rich(&user_type_line(t, u))))
            .collect(),
    );

    let hygiene: Vec<_> = net.zones.iter().filter(|z| z.mail_hygiene).collect();
    if !hygiene.is_empty() {
        doc.heading(4, t.get("h-cloud-mail"));
        let zones: Vec<&str> = hygiene.iter().map(|z| z.zone.name.value.as_str()).collect();
        let prefixes: usize = hygiene.iter().map(|z| z.zone.prefixes.len()).sum();
        doc.para(rich(&t.fmt(
            "cloud-mail-component",
            &[("zones", s(codes(t, &zones))), ("count", n(prefixes))],
        )));
    }

    doc.heading(4, t.get("h-external-auth"));
    doc.text(t.get("external-auth"));

    doc.heading(4, t.get("h-gateway-acl"));
    doc.text(t.fmt("gateway-acl-component", &[("count", n(net.plan.topology.acl.len()))]));

    let edges: Vec<_> = net.groups.iter().filter(|g| g.tier == Tier::Edge).collect();
    let remote: Vec<_> = net.zones.iter().filter(|z| z.remote_access.is_some()).collect();
    if !edges.is_empty() || !remote.is_empty() {
        doc.heading(4, t.get("h-remote-servers"));
        let mut items = Vec::new();
        for g in edges {
            let vips = net
                .plan
                .topology
                .listeners
                .iter()
                .filter(|l| {
                    l.pool
                        .as_ref()
                        .is_some_and(|p| g.pools.iter().any(|x| x.name.value == p.value))
                })
                .collect::<Vec<_>>();
            let vips = words::endpoints(t, vips);
            let pools: Vec<&str> = g.pools.iter().map(|p| p.name.value.as_str()).collect();
            items.push(item(rich(&t.fmt(
                "edge-component",
                &[
                    ("role", s(words::role(t, g))),
                    ("count", n(g.hosts.len())),
                    ("hosts", s(g.hosts.join(", "))),
                    ("pools", s(codes(t, &pools))),
                    ("vips", s(vips)),
                ],
            ))));
        }
        for z in remote {
            let kind = z.remote_access.expect("filtered");
            items.push(item(rich(&t.fmt(
                "remote-zone-component",
                &[
                    ("device", s(words::remote_access(t, kind))),
                    ("zone", s(c(&z.zone.name.value))),
                ],
            ))));
        }
        doc.list(false, items);
    }

    doc.heading(4, t.get("h-balancer-device"));
    let products: Vec<String> = net.vips.iter().map(|v| words::product(t, v.product)).collect();
    doc.text(t.fmt("balancer-component", &[("products", s(t.and_list(&products)))]));

    doc.heading(4, t.get("h-servers"));
    let products: Vec<String> = net.products.iter().map(|&p| words::product(t, p)).collect();
    doc.text(t.fmt(
        "servers-intro",
        &[("count", n(products.len())), ("products", s(t.and_list(&products)))],
    ));
    for (tier, heading) in [
        (Tier::FrontEnd, "h-tier-front-end"),
        (Tier::Application, "h-tier-application"),
        (Tier::Database, "h-tier-database"),
    ] {
        let groups: Vec<_> = net.groups.iter().filter(|g| g.tier == tier).collect();
        if groups.is_empty() {
            continue;
        }
        doc.heading(4, t.get(heading));
        doc.list(
            false,
            groups
                .iter()
                .map(|g| {
                    let pools: Vec<&str> = g.pools.iter().map(|p| p.name.value.as_str()).collect();
                    item(rich(&t.fmt(
                        "server-group",
                        &[
                            ("role", s(words::role(t, g))),
                            ("count", n(g.hosts.len())),
                            ("hosts", s(g.hosts.join(", "))),
                            ("pools", s(codes(t, &pools))),
                            ("npools", n(pools.len())),
                        ],
                    )))
                })
                .collect(),
        );
    }
}

fn user_type_line(t: &Text, u: &UserTypeFlows) -> String {
    let zones: Vec<&str> = u.user_type.zones.iter().map(|z| z.value.as_str()).collect();
    t.fmt(
        if u.external {
            "user-type-external"
        } else {
            "user-type-internal"
        },
        &[
            ("label", s(words::user_type(t, u.user_type))),
            ("zones", s(codes(t, &zones))),
        ],
    )
}

fn movement(doc: &mut Doc, t: &Text, net: &Network) {
    doc.heading(4, t.get("h-movement"));
    doc.text(t.get("movement-intro"));
    let external: Vec<&UserTypeFlows> = net.user_types.iter().filter(|u| u.external).collect();
    let internal: Vec<&UserTypeFlows> = net.user_types.iter().filter(|u| !u.external).collect();
    if !external.is_empty() {
        doc.heading(4, t.get("h-external-routing"));
        doc.text(t.fmt("external-routing-intro", &[("count", n(external.len()))]));
        doc.list(
            false,
            external.iter().map(|u| item(rich(&user_type_line(t, u)))).collect(),
        );
        doc.text(t.get("external-routing-each"));
        for u in external {
            user_type_section(doc, t, net, u);
        }
    }
    if !internal.is_empty() {
        doc.heading(4, t.get("h-internal-auth"));
        for u in internal {
            user_type_section(doc, t, net, u);
        }
    }
    if !net.mail.is_empty() {
        doc.heading(4, t.get("h-cloud-mail"));
        doc.text(t.get("cloud-mail-intro"));
        let lines = ways::lines(t, net, &net.mail.iter().collect::<Vec<_>>());
        doc.list(false, lines);
        if let Some(mx) = net
            .plan
            .topology
            .dns
            .as_ref()
            .and_then(|d| d.records.iter().find(|r| r.rtype.value.keyword() == "MX"))
        {
            let target = mx.value.value.split_whitespace().last().unwrap_or("");
            doc.para(rich(&t.fmt("cloud-mail-mx", &[("target", s(c(target)))])));
        }
    }
}

fn user_type_section(doc: &mut Doc, t: &Text, net: &Network, u: &UserTypeFlows) {
    doc.heading(4, words::user_type(t, u.user_type));
    let zones: Vec<&str> = u.user_type.zones.iter().map(|z| z.value.as_str()).collect();
    let declared: Vec<String> = u
        .user_type
        .auth
        .iter()
        .map(|a| words::declared_auth(t, net, &a.value))
        .collect();
    doc.para(rich(&t.fmt(
        "user-type-declared",
        &[("zones", s(codes(t, &zones))), ("auth", s(t.and_list(&declared)))],
    )));
    let all: Vec<&Flow> = u.flows.iter().collect();
    doc.list(true, ways::reached(&all).iter().map(|x| item(rich(x))).collect());
    let mut items = Vec::new();
    for &product in &net.products {
        let flows: Vec<&Flow> = u.flows.iter().filter(|f| f.product == product).collect();
        let name = words::product(t, product);
        if flows.is_empty() {
            if product != Product::Generic && product != Product::OfficeWebApps {
                items.push(item(vec![
                    Inline::Strong(name),
                    Inline::Text(t.get("product-not-applicable")),
                ]));
            }
            continue;
        }
        items.push(Item {
            text: vec![Inline::Strong(name), Inline::Text(":".into())],
            children: vec![Block::List {
                ordered: false,
                items: ways::lines(t, net, &flows),
            }],
        });
    }
    doc.list(false, items);
    if !u.unpublished.is_empty() {
        let names: Vec<&str> = u.unpublished.iter().map(String::as_str).collect();
        doc.para(rich(&t.fmt("user-type-unpublished", &[("names", s(codes(t, &names)))])));
    }
}

fn legend(doc: &mut Doc, t: &Text, net: &Network) {
    doc.heading(3, t.get("h-legend"));
    doc.text(t.get("legend-intro"));
    doc.list(
        false,
        net.legend
            .iter()
            .map(|l| {
                let mut ports = words::ports(&l.front);
                if !l.servers.is_empty() {
                    let servers: Vec<String> = l.servers.iter().map(|p| p.to_string()).collect();
                    ports = format!(
                        "{ports}; {}",
                        t.fmt("label-server-ports", &[("ports", s(servers.join(", ")))])
                    );
                }
                let line = t.fmt(
                    "legend-line",
                    &[
                        ("line", s(words::colour_line(t, l.class))),
                        ("class", s(words::class(t, l.class))),
                        ("ports", s(ports)),
                    ],
                );
                item(rich(&line))
            })
            .collect(),
    );
    doc.text(t.get("legend-outro"));
    for l in &net.legend {
        doc.heading(4, words::class(t, l.class));
        doc.list(
            false,
            l.names
                .iter()
                .map(|(name, ports)| item(rich(&format!("{}: {}", c(name), words::ports_explained(t, ports)))))
                .collect(),
        );
        let note = format!("legend-note-{}", l.class.keyword());
        if t.has(&note) {
            let open = l.front.iter().all(|&(transport, p)| {
                net.zones.iter().filter(|z| z.outside && !z.mail_hygiene).any(|z| {
                    matches!(
                        super::network::gate(&net.plan.topology, &z.zone.name.value, transport, p.first),
                        super::network::Gate::Allowed(_)
                    )
                })
            });
            doc.text(t.fmt(&note, &[("open", s(if open { "yes" } else { "no" }))]));
        }
    }
}
