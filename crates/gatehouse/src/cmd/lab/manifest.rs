//! What the lab prints at start, and `--manifest`: the same facts as JSON
//! (documented in docs/lab.md).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use gatehouse_model::topology::{Protocol, Transport};
use serde_json::{json, Value};

use super::directory::USERS;
use super::Lab;

/// One published name: where a client connects for it.
pub struct Published {
    pub name: String,
    pub transport: Transport,
    pub ports: (u16, u16),
    /// `None` for a DNS-balanced pool's name.
    pub listener: Option<String>,
}

/// Every published name of the plan, once per listener and port.
pub fn published(lab: &Lab) -> Vec<Published> {
    let report = gatehouse_verify::verify(&lab.plan);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for f in &report.flows {
        for e in &f.target.entries {
            let t = &f.target;
            let key = (
                t.name.clone(),
                t.ports.first,
                t.transport == Transport::Udp,
                e.listener.clone(),
            );
            if seen.insert(key) {
                out.push(Published {
                    name: t.name.clone(),
                    transport: t.transport,
                    ports: (t.ports.first, t.ports.last),
                    listener: e.listener.clone(),
                });
            }
        }
    }
    out
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Http => "http",
        Protocol::Https => "https",
    }
}

/// The DNS views, each with a zone's source address that selects it.
fn views(lab: &Lab) -> Vec<(String, Vec<String>, Option<std::net::Ipv4Addr>)> {
    let Some(dns) = &lab.plan.topology.dns else {
        return Vec::new();
    };
    dns.views
        .iter()
        .map(|v| {
            let zones: Vec<String> = v.zones.iter().map(|z| z.value.clone()).collect();
            let source = zones.iter().find_map(|z| lab.translation.zone(z)).map(|z| z.source);
            (v.name.value.clone(), zones, source)
        })
        .collect()
}

pub fn to_json(lab: &Lab) -> Value {
    let t = &lab.translation;
    let listeners: Vec<Value> = lab
        .plan
        .topology
        .listeners
        .iter()
        .filter_map(|l| {
            let x = t.listener(&l.name.value)?;
            Some(json!({
                "name": x.name,
                "protocol": protocol(l.protocol.value),
                "address": x.address.to_string(),
                "port": x.ports.0,
                "port_last": x.ports.1,
                "original_address": x.original_address,
                "original_port": x.original_ports.0,
                "zones": l.zones.iter().map(|z| z.value.clone()).collect::<Vec<_>>(),
            }))
        })
        .collect();
    let published: Vec<Value> = published(lab)
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "transport": if p.transport == Transport::Udp { "udp" } else { "tcp" },
                "port": p.ports.0,
                "port_last": p.ports.1,
                "listener": p.listener,
            })
        })
        .collect();
    json!({
        "pid": std::process::id(),
        "port_offset": t.port_offset,
        "ca_cert": lab.ca_path.display().to_string(),
        "topology": lab.topology_path.display().to_string(),
        "zones": t.zones.iter().map(|z| json!({
            "name": z.name, "role": z.role, "prefix": z.prefix,
            "source": z.source.to_string(), "original_prefixes": z.original,
        })).collect::<Vec<_>>(),
        "listeners": listeners,
        "published": published,
        "dns": {
            "listen": t.dns_listen.iter().map(|a| json!({"address": a.ip().to_string(), "port": a.port()})).collect::<Vec<_>>(),
            "views": views(lab).into_iter().map(|(name, zones, source)| json!({
                "name": name, "zones": zones, "query_from": source.map(|s| s.to_string()),
            })).collect::<Vec<_>>(),
        },
        "members": lab.members.iter().map(|m| json!({
            "name": m.name, "kind": m.kind.prefix(), "address": m.addr.to_string(),
            "original_address": m.original_address(&lab.translation), "pools": m.pools,
            "tcp": m.tcp, "udp": m.udp,
        })).collect::<Vec<_>>(),
        "users": USERS.iter().map(|u| json!({
            "name": u.name, "password": u.password, "kind": u.kind, "groups": u.groups, "locked": u.locked,
        })).collect::<Vec<_>>(),
    })
}

/// Writes the manifest atomically (a reader never sees half of it).
pub fn write(lab: &Lab, path: &Path) -> Result<(), String> {
    let text = serde_json::to_string_pretty(&to_json(lab)).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The few lines printed at start.
pub fn banner(lab: &Lab, ready: Duration) -> String {
    let t = &lab.translation;
    let ca = lab.ca_path.display();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "gatehouse lab: {} on loopback, ready in {} ms (pid {}; {} listeners, {} demo members)",
        lab.plan.topology.name,
        ready.as_millis(),
        std::process::id(),
        t.listeners.len(),
        lab.members.len(),
    );
    let _ = writeln!(s, "CA certificate (trust it, or pass --cacert): {ca}");
    let _ = writeln!(
        s,
        "zones: {}",
        t.zones
            .iter()
            .map(|z| format!("{} {}", z.name, z.prefix))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "\ntry:");
    let mut shown = BTreeSet::new();
    for l in &lab.plan.topology.listeners {
        if l.protocol.value != Protocol::Https {
            continue;
        }
        let Some(x) = t.listener(&l.name.value) else { continue };
        let Some(zone) = l.zones.first().and_then(|z| t.zone(&z.value)) else {
            continue;
        };
        for r in lab
            .plan
            .topology
            .routes
            .iter()
            .filter(|r| r.listeners.iter().any(|n| n.value == l.name.value))
        {
            let host = r.hosts.first().map_or("", |h| h.value.as_str());
            let path = r.paths.first().map_or("/", |p| p.value.as_str());
            let path = if path.ends_with('/') {
                path.to_string()
            } else {
                format!("{path}/")
            };
            if !shown.insert((host.to_string(), path.clone(), zone.name.clone())) {
                continue;
            }
            let _ = writeln!(
                s,
                "  curl --interface {} --cacert {ca} --resolve {host}:{port}:{addr} https://{host}:{port}{path}   # from {}",
                zone.source,
                zone.name,
                port = x.ports.0,
                addr = x.address,
            );
        }
    }
    if let Some(dns) = t.dns_listen.first() {
        let _ = writeln!(s, "\nsplit DNS (the source address picks the view):");
        for (view, _, source) in views(lab) {
            if let Some(src) = source {
                let _ = writeln!(
                    s,
                    "  dig @{} -p {} -b {src} mail.contoso.com   # view {view}",
                    dns.ip(),
                    dns.port()
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "\ndemo users (pre-authentication is not enforced yet; the Exchange backends check NTLM):"
    );
    for u in USERS {
        let _ = writeln!(
            s,
            "  {:8} {:14} {}{}",
            u.name,
            u.password,
            u.groups.join(","),
            if u.locked { " (locked)" } else { "" }
        );
    }
    s
}
