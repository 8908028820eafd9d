//! Which names the topology publishes, on which ports, to which zones.
//! Shared by validation ("a user type that can reach nothing") and, later,
//! by DNS views and flow verification.

use crate::topology::{PortRange, Topology, Transport};

/// One name reachable through one listener (or a DNS-balanced pool).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// Lower-case host name.
    pub name: String,
    /// The listener that serves it; `None` for a DNS-balanced pool's name,
    /// whose clients connect to the members directly.
    pub listener: Option<String>,
    /// The route, for names published by an http(s) route.
    pub route: Option<String>,
    pub transport: Transport,
    pub ports: PortRange,
    /// Zones admitted; `None` admits every zone.
    pub zones: Option<Vec<String>>,
}

impl Published {
    pub fn admits(&self, zone: &str) -> bool {
        self.zones.as_ref().is_none_or(|z| z.iter().any(|x| x == zone))
    }
}

/// Every published name, in topology order.
pub fn published_names(t: &Topology) -> Vec<Published> {
    let mut out = Vec::new();
    for l in &t.listeners {
        let listener_zones: Vec<String> = l.zones.iter().map(|z| z.value.clone()).collect();
        for n in &l.names {
            out.push(Published {
                name: n.value.trim_end_matches('.').to_ascii_lowercase(),
                listener: Some(l.name.value.clone()),
                route: None,
                transport: l.protocol.value.transport(),
                ports: l.ports.value,
                zones: Some(listener_zones.clone()),
            });
        }
        for r in t
            .routes
            .iter()
            .filter(|r| r.listeners.iter().any(|x| x.value == l.name.value))
        {
            let zones = match &r.zones {
                Some(rz) => listener_zones
                    .iter()
                    .filter(|z| rz.iter().any(|x| &x.value == *z))
                    .cloned()
                    .collect(),
                None => listener_zones.clone(),
            };
            for h in &r.hosts {
                out.push(Published {
                    name: h.value.trim_end_matches('.').to_ascii_lowercase(),
                    listener: Some(l.name.value.clone()),
                    route: Some(r.name.value.clone()),
                    transport: Transport::Tcp,
                    ports: l.ports.value,
                    zones: Some(zones.clone()),
                });
            }
        }
    }
    for p in t.pools.iter().filter(|p| p.dns_balanced) {
        let Some(name) = &p.dns_name else { continue };
        // The members' own ports, or any port when members take the client's.
        let zones = t.dns.as_ref().filter(|_| !p.dns_views.is_empty()).map(|d| {
            d.views
                .iter()
                .filter(|v| p.dns_views.iter().any(|x| x.value == v.name.value))
                .flat_map(|v| v.zones.iter().map(|z| z.value.clone()))
                .collect()
        });
        let mut ports: Vec<u16> = p
            .members
            .iter()
            .filter_map(|m| m.port.as_ref().map(|p| p.value))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        let ranges: Vec<PortRange> = if ports.is_empty() {
            vec![PortRange { first: 1, last: 65535 }]
        } else {
            ports.into_iter().map(PortRange::single).collect()
        };
        for range in ranges {
            out.push(Published {
                name: name.value.trim_end_matches('.').to_ascii_lowercase(),
                listener: None,
                route: None,
                transport: Transport::Tcp,
                ports: range,
                zones: zones.clone(),
            });
        }
    }
    out
}
