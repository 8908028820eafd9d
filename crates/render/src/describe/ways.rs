//! Flows grouped into "ways through the network": one line per zone, entry
//! device, server group and authentication, with the names, VIPs, ports and
//! ACL rules of all the flows that take it. This is what keeps the traffic
//! section readable: Exchange's nine virtual directories on one VIP are one
//! way, not nine.

use std::collections::BTreeSet;
use std::net::IpAddr;

use gatehouse_model::topology::{PortRange, Product, Tier, TrafficClass, Transport};

use super::doc::{item, Item};
use super::i18n::{n, s, Text};
use super::network::{Flow, FlowAuth, Gate, Network};
use super::words::{self, c, codes, rich};

/// How a way enters the load-balancing tier.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    /// An L4 VIP in front of Edge servers.
    Edge,
    /// An HTTP(S) listener: the reverse proxy.
    ReverseProxy,
    /// An L4 VIP.
    Vip,
    /// DNS load balancing straight to the members.
    Dns(String),
    /// Stopped at the gateway.
    Blocked,
}

/// The part of a flow that decides its line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    zone: String,
    entry: Entry,
    product: Product,
    group: usize,
    hlb: bool,
    backend_port: Option<u16>,
    auth: FlowAuth,
}

#[derive(Debug)]
struct Way {
    key: Key,
    zones: Vec<String>,
    /// Shown names, each with the path prefixes reached on it.
    names: Vec<(String, Vec<String>)>,
    rules: Vec<String>,
    endpoints: Vec<(IpAddr, BTreeSet<(Transport, PortRange)>)>,
    pools: Vec<String>,
}

fn key(net: &Network, f: &Flow) -> Key {
    let entry = match (&f.gate, f.listener) {
        (Gate::Denied(_), _) if net.zone(f.zone).is_some_and(|z| z.outside) => Entry::Blocked,
        (_, Some(_)) if net.groups[f.group].tier == Tier::Edge => Entry::Edge,
        (_, Some(l)) if l.protocol.value.is_http() => Entry::ReverseProxy,
        (_, Some(_)) => Entry::Vip,
        (_, None) => Entry::Dns(f.name.clone()),
    };
    Key {
        zone: f.zone.to_string(),
        hlb: entry == Entry::ReverseProxy && f.class == TrafficClass::LyncWeb,
        entry,
        product: f.product,
        group: f.group,
        backend_port: f.route.and_then(|r| r.backend_port.as_ref()).map(|p| p.value),
        auth: f.auth.clone(),
    }
}

/// Groups flows into ways, in the order first seen, then merges zones that
/// go the same way to the same names.
fn ways(net: &Network, flows: &[&Flow]) -> Vec<Way> {
    let mut out: Vec<Way> = Vec::new();
    for f in flows {
        let k = key(net, f);
        let at = match out.iter().position(|w| w.key == k) {
            Some(i) => i,
            None => {
                out.push(Way {
                    zones: vec![k.zone.clone()],
                    key: k,
                    names: Vec::new(),
                    rules: Vec::new(),
                    endpoints: Vec::new(),
                    pools: Vec::new(),
                });
                out.len() - 1
            }
        };
        let w = &mut out[at];
        let shown = match (f.listener, f.route) {
            (Some(l), Some(_)) => format!("{}://{}", l.protocol.value.keyword(), f.name),
            _ => f.name.clone(),
        };
        // A route on the whole site ("/") adds nothing to its URL.
        let paths: Vec<String> = f.route.map_or(Vec::new(), |r| {
            r.paths.iter().map(|p| p.value.clone()).filter(|p| p != "/").collect()
        });
        match w.names.iter_mut().find(|(n, _)| *n == shown) {
            Some((_, known)) => {
                for p in paths {
                    if !known.contains(&p) {
                        known.push(p);
                    }
                }
            }
            None => w.names.push((shown, paths)),
        }
        if let Gate::Allowed(rule) = &f.gate {
            if !w.rules.contains(rule) {
                w.rules.push(rule.clone());
            }
        }
        if let Some(l) = f.listener {
            let port = (f.transport, f.ports);
            match w.endpoints.iter_mut().find(|(a, _)| *a == l.address.value) {
                Some((_, ports)) => {
                    ports.insert(port);
                }
                None => w.endpoints.push((l.address.value, BTreeSet::from([port]))),
            }
        }
        if !w.pools.contains(&f.pool.name.value) {
            w.pools.push(f.pool.name.value.clone());
        }
    }
    let mut merged: Vec<Way> = Vec::new();
    for w in out {
        let same = merged.iter_mut().find(|m| {
            let (a, b) = (&m.key, &w.key);
            a.entry == b.entry
                && a.product == b.product
                && a.group == b.group
                && a.auth == b.auth
                && m.names == w.names
                && m.rules == w.rules
                && m.endpoints == w.endpoints
                && net.zone(&a.zone).is_some_and(|z| z.remote_access.is_none())
                && net.zone(&b.zone).is_some_and(|z| z.remote_access.is_none())
                && net.zone(&a.zone).map(|z| z.outside) == net.zone(&b.zone).map(|z| z.outside)
        });
        match same {
            Some(m) => m.zones.extend(w.zones),
            None => merged.push(w),
        }
    }
    merged
}

/// One list item per way the flows take.
pub(crate) fn lines(t: &Text, net: &Network, flows: &[&Flow]) -> Vec<Item> {
    ways(net, flows).iter().map(|w| item(rich(&line(t, net, w)))).collect()
}

fn line(t: &Text, net: &Network, w: &Way) -> String {
    let k = &w.key;
    let names: Vec<String> = w
        .names
        .iter()
        .map(|(name, paths)| {
            if paths.is_empty() {
                name.clone()
            } else {
                format!("{name} ({})", paths.join(", "))
            }
        })
        .collect();
    let mut hops = Vec::new();
    let zone = net.zone(&k.zone);
    if zone.is_some_and(|z| z.outside) {
        hops.push(if k.entry == Entry::Blocked {
            t.get("hop-gateway-blocked")
        } else {
            t.fmt(
                "hop-gateway",
                &[("rules", s(codes(t, &w.rules))), ("count", n(w.rules.len()))],
            )
        });
    } else if let Some(kind) = zone.and_then(|z| z.remote_access) {
        hops.push(t.fmt(
            "hop-remote-access",
            &[("device", s(words::remote_access(t, kind))), ("zone", s(c(&k.zone)))],
        ));
    }
    let endpoints: Vec<String> = w
        .endpoints
        .iter()
        .map(|(a, p)| format!("{a} ({})", words::ports(p)))
        .collect();
    let vip = |id: &str| {
        t.fmt(
            id,
            &[
                ("product", s(words::product(t, k.product))),
                ("endpoints", s(t.and_list(&endpoints))),
                ("count", n(endpoints.len())),
            ],
        )
    };
    let group = &net.groups[k.group];
    let servers = |role: String| {
        let args = [
            ("role", s(role)),
            ("pools", s(codes(t, &w.pools))),
            ("npools", n(w.pools.len())),
            ("count", n(group.hosts.len())),
            ("port", s(k.backend_port.map_or(String::new(), |p| p.to_string()))),
        ];
        t.fmt(
            if k.backend_port.is_some() {
                "hop-servers-port"
            } else {
                "hop-servers"
            },
            &args,
        )
    };
    match &k.entry {
        Entry::Blocked => {}
        Entry::Edge => {
            hops.push(vip("hop-edge-vip"));
            hops.push(servers(words::role(t, group)));
            let onward: Vec<String> = net
                .onward(k.group)
                .iter()
                .map(|&g| words::role(t, &net.groups[g]))
                .collect();
            if !onward.is_empty() {
                hops.push(t.or_list(&onward));
            }
        }
        entry => {
            hops.push(match entry {
                Entry::ReverseProxy => vip("hop-reverse-proxy"),
                Entry::Dns(name) => t.fmt("hop-dns", &[("name", s(c(name)))]),
                _ => vip("hop-vip"),
            });
            if k.hlb {
                hops.push(t.get("hop-hlb"));
            }
            hops.push(servers(words::role(t, group)));
        }
    }
    let mut text = t.fmt(
        "flow-line",
        &[
            ("zones", s(codes(t, &w.zones))),
            ("names", s(t.and_list(&names))),
            ("path", s(hops.join(" → "))),
        ],
    );
    if k.entry != Entry::Blocked {
        text.push(' ');
        text.push_str(&words::flow_auth(t, &k.auth));
    }
    text
}

/// What a user type reaches, as the poster lists it: URLs for the web, the
/// bare name with its ports otherwise.
pub(crate) fn reached(flows: &[&Flow]) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    let mut others: Vec<(String, BTreeSet<(Transport, PortRange)>)> = Vec::new();
    for f in flows.iter().filter(|f| f.passes()) {
        match (f.listener, f.route) {
            (Some(l), Some(_)) => {
                let url = format!("{}://{}", l.protocol.value.keyword(), f.name);
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
            _ => match others.iter_mut().find(|(n, _)| *n == f.name) {
                Some((_, ports)) => {
                    ports.insert((f.transport, f.ports));
                }
                None => others.push((f.name.clone(), BTreeSet::from([(f.transport, f.ports)]))),
            },
        }
    }
    urls.into_iter()
        .chain(
            others
                .into_iter()
                .map(|(name, ports)| format!("{name} ({})", words::ports(&ports))),
        )
        .collect()
}
