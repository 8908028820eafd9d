//! The lab's translation of addresses: a topology written for a real network
//! rewritten so that it runs on loopback, without root, and nothing else
//! changes. It is a pure function of the topology text; the result goes
//! through the same `check` and plan compiler as `gatehouse run`.
//!
//! The address plan (docs/lab.md):
//! - each zone gets one loopback /16 by its role: internet 127.1, partner
//!   127.2, hygiene 127.3, vpn 127.4, intranet 127.5, edge 127.6,
//!   directaccess 127.7; zones of no known role get 127.8, 127.9, ...;
//! - a host address (VIP, member, DNS listener, A record) keeps its last
//!   octets in a loopback block of its network: 10.0.c.d → 127.10.c.d,
//!   172.16.c.d → 127.172.c.d, 192.168.c.d → 127.168.c.d,
//!   203.0.113.d → 127.203.113.d, 198.51.100.d → 127.198.100.d,
//!   192.0.2.d → 127.192.2.d; 127.0.0.0/8 stays as it is;
//! - every port below 1024 (listeners, members, health checks, backend
//!   ports, ACL ports, DNS listen ports, SRV records) moves up by the port
//!   offset (8000 unless root: 443 → 8443, 53 → 8053), and so do the
//!   ports user types' `reaches` name (`sip.contoso.com:443`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use toml::{Table, Value};

/// What the translation needs besides the topology.
#[derive(Clone, Debug)]
pub struct Options {
    /// Added to every port below 1024; 0 keeps ports as written.
    pub port_offset: u16,
    /// Certificate name → (cert PEM path, key PEM path), for certificates
    /// the topology gives no files for.
    pub certificates: BTreeMap<String, (String, String)>,
}

/// One zone of the lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabZone {
    pub name: String,
    pub role: String,
    /// The loopback /16 the zone gets, e.g. `127.1.0.0/16`.
    pub prefix: String,
    /// One address of the prefix a client can bind to (`.0.10`).
    pub source: Ipv4Addr,
    /// The prefixes as written.
    pub original: Vec<String>,
}

/// One listener (VIP) of the lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabListener {
    pub name: String,
    pub protocol: String,
    pub address: Ipv4Addr,
    pub ports: (u16, u16),
    pub original_address: String,
    pub original_ports: (u16, u16),
}

/// The translated topology and what the lab needs to know about it.
#[derive(Clone, Debug)]
pub struct Translation {
    /// The translated topology, as TOML.
    pub text: String,
    pub zones: Vec<LabZone>,
    pub listeners: Vec<LabListener>,
    /// Every member host: lab address → original address.
    pub hosts: BTreeMap<Ipv4Addr, String>,
    /// DNS listen addresses, translated.
    pub dns_listen: Vec<SocketAddr>,
    pub port_offset: u16,
}

impl Translation {
    pub fn zone(&self, name: &str) -> Option<&LabZone> {
        self.zones.iter().find(|z| z.name == name)
    }

    pub fn listener(&self, name: &str) -> Option<&LabListener> {
        self.listeners.iter().find(|l| l.name == name)
    }
}

/// Loopback /16 (second octet) for a zone role.
fn role_block(role: &str) -> Option<u8> {
    Some(match role {
        "internet" => 1,
        "partner" => 2,
        "hygiene" => 3,
        "vpn" => 4,
        "intranet" => 5,
        "edge" => 6,
        "directaccess" => 7,
        _ => return None,
    })
}

/// The role a zone without `role` gets, from its name (as `check` infers it
/// from the name's words); `None` when the name says nothing.
fn role_from_name(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    [
        ("directaccess", "directaccess"),
        ("vpn", "vpn"),
        ("edge", "edge"),
        ("eop", "hygiene"),
        ("hygiene", "hygiene"),
        ("partner", "partner"),
        ("intranet", "intranet"),
        ("internet", "internet"),
    ]
    .into_iter()
    .find(|(word, _)| n.contains(word))
    .map(|(_, role)| role)
}

/// The lab address of a host address.
pub fn lab_host(ip: Ipv4Addr) -> Result<Ipv4Addr, String> {
    let [a, b, c, d] = ip.octets();
    Ok(match (a, b, c) {
        (127, _, _) => ip,
        (10, 0, _) => Ipv4Addr::new(127, 10, c, d),
        (172, 16, _) => Ipv4Addr::new(127, 172, c, d),
        (192, 168, _) => Ipv4Addr::new(127, 168, c, d),
        (203, 0, 113) => Ipv4Addr::new(127, 203, 113, d),
        (198, 51, 100) => Ipv4Addr::new(127, 198, 100, d),
        (192, 0, 2) => Ipv4Addr::new(127, 192, 2, d),
        _ => {
            return Err(format!(
                "{ip} has no lab address: the lab translates 10.0.0.0/16, 172.16.0.0/16, 192.168.0.0/16, \
                 203.0.113.0/24, 198.51.100.0/24, 192.0.2.0/24 and 127.0.0.0/8 (docs/lab.md)"
            ))
        }
    })
}

/// A port as the lab binds it.
pub fn lab_port(port: u16, offset: u16) -> Result<u16, String> {
    if port >= 1024 || offset == 0 {
        return Ok(port);
    }
    port.checked_add(offset)
        .ok_or_else(|| format!("port {port} + offset {offset} is past 65535"))
}

fn lab_range(lo: u16, hi: u16, offset: u16) -> Result<(u16, u16), String> {
    if lo < 1024 && hi >= 1024 && offset != 0 {
        return Err(format!(
            "port range {lo}-{hi} straddles 1024: the lab cannot shift half of it"
        ));
    }
    Ok((lab_port(lo, offset)?, lab_port(hi, offset)?))
}

fn parse_range(v: &Value) -> Result<(u16, u16), String> {
    match v {
        Value::Integer(p) => {
            let p = u16::try_from(*p).map_err(|_| format!("{p} is not a port"))?;
            Ok((p, p))
        }
        Value::String(s) => {
            let (lo, hi) = s.split_once('-').unwrap_or((s, s));
            let p = |x: &str| {
                x.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("\"{s}\" is not a port or range"))
            };
            Ok((p(lo)?, p(hi)?))
        }
        other => Err(format!("{other} is not a port")),
    }
}

fn range_value((lo, hi): (u16, u16), like: &Value) -> Value {
    match like {
        Value::Integer(_) if lo == hi => Value::Integer(i64::from(lo)),
        _ if lo == hi => Value::String(lo.to_string()),
        _ => Value::String(format!("{lo}-{hi}")),
    }
}

fn ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse::<Ipv4Addr>()
        .map_err(|_| format!("\"{s}\" is not an IPv4 address; the lab runs on IPv4 loopback"))
}

/// `host[:port]` → translated `host[:port]`.
fn lab_member(s: &str, offset: u16) -> Result<(Ipv4Addr, String), String> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| format!("\"{s}\": bad port"))?)),
        None => (s, None),
    };
    let ip = lab_host(ipv4(host)?)?;
    Ok(match port {
        Some(p) => (ip, format!("{ip}:{}", lab_port(p, offset)?)),
        None => (ip, ip.to_string()),
    })
}

fn table_mut<'t>(root: &'t mut Table, key: &str) -> Option<&'t mut Table> {
    root.get_mut(key).and_then(Value::as_table_mut)
}

/// Rewrites a topology for the lab. Errors name what cannot be translated.
pub fn translate(text: &str, options: &Options) -> Result<Translation, String> {
    let mut root: Table = text.parse().map_err(|e| format!("the topology is not TOML: {e}"))?;
    let offset = options.port_offset;
    let mut ports_used: BTreeSet<u16> = BTreeSet::new();

    // Zones.
    let mut zones = Vec::new();
    if let Some(table) = table_mut(&mut root, "zones") {
        let mut next_free = 8u8;
        let mut taken = BTreeSet::new();
        for (name, z) in table.iter_mut() {
            let Some(z) = z.as_table_mut() else { continue };
            let role = match z.get("role").and_then(Value::as_str) {
                Some(r) => r.to_string(),
                None => role_from_name(name).unwrap_or("other").to_string(),
            };
            let block = match role_block(&role).filter(|b| !taken.contains(b)) {
                Some(b) => b,
                None => {
                    while taken.contains(&next_free) || (1..=7).contains(&next_free) {
                        next_free += 1;
                    }
                    if next_free >= 10 {
                        return Err(format!("zone {name}: the lab has loopback ranges for nine zones only"));
                    }
                    next_free
                }
            };
            taken.insert(block);
            let original: Vec<String> = z
                .get("prefixes")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let prefix = format!("127.{block}.0.0/16");
            z.insert("prefixes".into(), Value::Array(vec![Value::String(prefix.clone())]));
            if role_block(&role).is_some() {
                z.insert("role".into(), Value::String(role.clone()));
            }
            zones.push(LabZone {
                name: name.clone(),
                role,
                prefix,
                source: Ipv4Addr::new(127, block, 0, 10),
                original,
            });
        }
    }

    // Listeners.
    let mut listeners = Vec::new();
    if let Some(table) = table_mut(&mut root, "listeners") {
        for (name, l) in table.iter_mut() {
            let Some(l) = l.as_table_mut() else { continue };
            let ctx = |e: String| format!("listener {name}: {e}");
            let original_address = l.get("address").and_then(Value::as_str).unwrap_or("").to_string();
            let address = lab_host(ipv4(&original_address).map_err(ctx)?).map_err(ctx)?;
            let port_value = l.get("port").cloned().ok_or_else(|| ctx("no port".into()))?;
            let original_ports = parse_range(&port_value).map_err(ctx)?;
            let ports = lab_range(original_ports.0, original_ports.1, offset).map_err(ctx)?;
            ports_used.insert(original_ports.0);
            ports_used.insert(original_ports.1);
            l.insert("address".into(), Value::String(address.to_string()));
            l.insert("port".into(), range_value(ports, &port_value));
            let protocol = l.get("protocol").and_then(Value::as_str).unwrap_or("tcp").to_string();
            listeners.push(LabListener {
                name: name.clone(),
                protocol,
                address,
                ports,
                original_address,
                original_ports,
            });
        }
    }
    // Two listeners on one lab socket: only possible when the offset maps a
    // low port onto one the topology uses already.
    for (i, a) in listeners.iter().enumerate() {
        for b in &listeners[i + 1..] {
            let udp = |l: &LabListener| l.protocol == "udp";
            if a.address == b.address && udp(a) == udp(b) && a.ports.0 <= b.ports.1 && b.ports.0 <= a.ports.1 {
                return Err(format!(
                    "listeners {} and {} would share {}:{} in the lab (port offset {offset}); pick another --port-offset",
                    a.name, b.name, a.address, a.ports.0
                ));
            }
        }
    }

    // Pools: members and health-check ports.
    let mut hosts = BTreeMap::new();
    if let Some(table) = table_mut(&mut root, "pools") {
        for (name, p) in table.iter_mut() {
            let Some(p) = p.as_table_mut() else { continue };
            let ctx = |e: String| format!("pool {name}: {e}");
            if let Some(members) = p.get_mut("members").and_then(Value::as_array_mut) {
                for m in members.iter_mut() {
                    let slot = match m {
                        Value::String(_) => m,
                        Value::Table(t) => match t.get_mut("address") {
                            Some(a) => a,
                            None => continue,
                        },
                        _ => continue,
                    };
                    let original = slot.as_str().unwrap_or("").to_string();
                    let (ip, lab) = lab_member(&original, offset).map_err(ctx)?;
                    let host = original.rsplit_once(':').map_or(original.as_str(), |(h, _)| h);
                    hosts.insert(ip, host.to_string());
                    *slot = Value::String(lab);
                }
            }
            if let Some(health) = p.get_mut("health").and_then(Value::as_table_mut) {
                if let Some(v) = health.get("port").cloned() {
                    let (port, _) = parse_range(&v).map_err(ctx)?;
                    health.insert(
                        "port".into(),
                        Value::Integer(lab_port(port, offset).map_err(ctx)?.into()),
                    );
                }
            }
        }
    }

    // Routes: backend ports.
    if let Some(table) = table_mut(&mut root, "routes") {
        for (name, r) in table.iter_mut() {
            let Some(r) = r.as_table_mut() else { continue };
            if let Some(v) = r.get("backend_port").cloned() {
                let (port, _) = parse_range(&v).map_err(|e| format!("route {name}: {e}"))?;
                let lab = lab_port(port, offset).map_err(|e| format!("route {name}: {e}"))?;
                r.insert("backend_port".into(), Value::Integer(lab.into()));
            }
        }
    }

    // User types: `reaches` entries that name a port.
    if let Some(table) = table_mut(&mut root, "user_types") {
        for (name, u) in table.iter_mut() {
            let Some(reaches) = u.get_mut("reaches").and_then(Value::as_array_mut) else {
                continue;
            };
            for v in reaches.iter_mut() {
                let Some((host, port)) = v.as_str().and_then(|s| s.rsplit_once(':')) else {
                    continue;
                };
                let port: u16 = port
                    .parse()
                    .map_err(|_| format!("user type {name}: \"{host}:{port}\": bad port"))?;
                *v = Value::String(format!("{host}:{}", lab_port(port, offset)?));
            }
        }
    }

    // The ACL: ports, and no raw prefixes (they would not match loopback).
    if let Some(rules) = root.get_mut("acl").and_then(Value::as_array_mut) {
        for (i, rule) in rules.iter_mut().enumerate() {
            let Some(rule) = rule.as_table_mut() else { continue };
            let name = rule
                .get("name")
                .and_then(Value::as_str)
                .map_or(format!("rule-{}", i + 1), str::to_string);
            if let Some(from) = rule.get("from").and_then(Value::as_array) {
                if let Some(p) = from
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|s| s.contains('/') || s.parse::<IpAddr>().is_ok())
                {
                    return Err(format!(
                        "acl rule {name}: the source prefix {p} has no lab translation; name a zone instead"
                    ));
                }
            }
            if let Some(ports) = rule.get_mut("ports").and_then(Value::as_array_mut) {
                for v in ports.iter_mut() {
                    let (lo, hi) = parse_range(v).map_err(|e| format!("acl rule {name}: {e}"))?;
                    ports_used.insert(lo);
                    ports_used.insert(hi);
                    let lab = lab_range(lo, hi, offset).map_err(|e| format!("acl rule {name}: {e}"))?;
                    *v = range_value(lab, v);
                }
            }
        }
    }

    // DNS: listen addresses, A and SRV records.
    let mut dns_listen = Vec::new();
    if let Some(dns) = table_mut(&mut root, "dns") {
        if let Some(listen) = dns.get_mut("listen").and_then(Value::as_array_mut) {
            for v in listen.iter_mut() {
                let s = v.as_str().unwrap_or("");
                let addr: SocketAddr = s
                    .parse()
                    .map_err(|_| format!("dns listen \"{s}\" is not address:port"))?;
                let IpAddr::V4(ip) = addr.ip() else {
                    return Err(format!("dns listen {addr}: the lab runs on IPv4 loopback"));
                };
                ports_used.insert(addr.port());
                let lab = SocketAddr::new(IpAddr::V4(lab_host(ip)?), lab_port(addr.port(), offset)?);
                dns_listen.push(lab);
                *v = Value::String(lab.to_string());
            }
        }
        if let Some(records) = dns.get_mut("records").and_then(Value::as_array_mut) {
            for r in records.iter_mut() {
                let Some(r) = r.as_table_mut() else { continue };
                let kind = r.get("type").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase();
                let Some(value) = r.get("value").and_then(Value::as_str).map(str::to_string) else {
                    continue;
                };
                let new = match kind.as_str() {
                    "A" => lab_host(ipv4(&value)?)?.to_string(),
                    "SRV" => {
                        let f: Vec<&str> = value.split_whitespace().collect();
                        match f.as_slice() {
                            [prio, weight, port, target] => {
                                let port: u16 = port.parse().map_err(|_| format!("SRV \"{value}\": bad port"))?;
                                format!("{prio} {weight} {} {target}", lab_port(port, offset)?)
                            }
                            _ => value,
                        }
                    }
                    _ => value,
                };
                r.insert("value".into(), Value::String(new));
            }
        }
    }

    // A shifted port that lands on one the topology already uses would merge
    // two ports into one.
    for &p in &ports_used {
        let q = lab_port(p, offset)?;
        if q != p && ports_used.contains(&q) {
            return Err(format!(
                "port offset {offset} moves port {p} onto {q}, which the topology uses too; pick another --port-offset"
            ));
        }
    }

    // Certificates without files: the lab CA's.
    if let Some(table) = table_mut(&mut root, "certificates") {
        for (name, c) in table.iter_mut() {
            let Some(c) = c.as_table_mut() else { continue };
            if c.contains_key("cert") {
                continue;
            }
            if let Some((cert, key)) = options.certificates.get(name) {
                c.insert("cert".into(), Value::String(cert.clone()));
                c.insert("key".into(), Value::String(key.clone()));
            }
        }
    }

    let text = toml::to_string(&root).map_err(|e| format!("cannot write the lab topology: {e}"))?;
    Ok(Translation {
        text,
        zones,
        listeners,
        hosts,
        dns_listen,
        port_offset: offset,
    })
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
