//! Split DNS, decided once: which view answers each zone, and which VIP
//! addresses each view gives for the names the listeners publish.
//!
//! The DNS server builds its record sets from this (adding the SOA, NS,
//! the topology's own records and the healthy members of DNS-balanced
//! pools, which change at run time) and `explain` tells a client's answer
//! from it, so the two cannot disagree on what a view publishes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use gatehouse_policy::ZoneId;

use crate::topology::Topology;
use crate::validate::Published;

/// One view's published addresses.
#[derive(Clone, Debug)]
pub struct ViewAnswers {
    pub name: String,
    /// The zones the view answers, as written.
    pub zones: Vec<String>,
    /// Per published name (lower case, no trailing dot): each VIP once, in
    /// topology order, with the index of a listener there that publishes
    /// the name to one of the view's zones.
    pub addresses: BTreeMap<String, Vec<(IpAddr, usize)>>,
}

/// The split-DNS views of a plan; empty without a `[dns]` section.
#[derive(Clone, Debug, Default)]
pub struct DnsViews {
    pub views: Vec<ViewAnswers>,
    /// The view of each zone, by [`ZoneId`]; `None` for a zone in no view,
    /// whose queries are refused.
    pub zone_view: Vec<Option<u16>>,
}

impl DnsViews {
    pub(crate) fn compile(t: &Topology, published: &[Published], zone_id: impl Fn(&str) -> Option<ZoneId>) -> DnsViews {
        let Some(dns) = &t.dns else {
            return DnsViews::default();
        };
        let mut zone_view = vec![None; t.zones.len()];
        // The first view that names a zone answers it.
        for (i, v) in dns.views.iter().enumerate().rev() {
            for z in v.zones.iter().filter_map(|z| zone_id(&z.value)) {
                zone_view[z.0 as usize] = Some(i as u16);
            }
        }
        let views = dns
            .views
            .iter()
            .map(|v| {
                let zones: Vec<String> = v.zones.iter().map(|z| z.value.clone()).collect();
                let mut addresses: BTreeMap<String, Vec<(IpAddr, usize)>> = BTreeMap::new();
                for p in published.iter().filter(|p| zones.iter().any(|z| p.admits(z))) {
                    // DNS-balanced names have no listener: the server answers
                    // them with the pool's healthy members.
                    let Some((index, l)) = p
                        .listener
                        .as_deref()
                        .and_then(|name| t.listeners.iter().enumerate().find(|(_, l)| l.name.value == name))
                    else {
                        continue;
                    };
                    let entry = addresses.entry(p.name.trim_end_matches('.').to_string()).or_default();
                    if !entry.iter().any(|(a, _)| *a == l.address.value) {
                        entry.push((l.address.value, index));
                    }
                }
                ViewAnswers {
                    name: v.name.value.clone(),
                    zones,
                    addresses,
                }
            })
            .collect();
        DnsViews { views, zone_view }
    }

    /// The view that answers clients of `zone`.
    pub fn of(&self, zone: ZoneId) -> Option<&ViewAnswers> {
        let i = (*self.zone_view.get(zone.0 as usize)?)?;
        self.views.get(usize::from(i))
    }
}

#[cfg(test)]
mod tests {
    use crate::Plan;

    fn contoso() -> Plan {
        crate::check(crate::CONTOSO).plan.expect("Contoso is valid")
    }

    #[test]
    fn contoso_views_publish_each_name_at_the_vip_of_their_side() {
        let plan = contoso();
        let view = |zone: &str| plan.dns.of(plan.zone_id(zone).unwrap()).map(|v| v.name.as_str());
        assert_eq!(view("internet"), Some("external"));
        assert_eq!(view("eop"), Some("external"));
        assert_eq!(view("intranet"), Some("internal"));
        let addresses = |zone: &str, name: &str| -> Vec<String> {
            let v = plan.dns.of(plan.zone_id(zone).unwrap()).unwrap();
            v.addresses
                .get(name)
                .map(|a| a.iter().map(|(ip, _)| ip.to_string()).collect())
                .unwrap_or_default()
        };
        assert_eq!(addresses("internet", "mail.contoso.com"), ["203.0.113.10"]);
        assert_eq!(addresses("intranet", "mail.contoso.com"), ["10.0.10.10"]);
        assert!(
            addresses("internet", "admin.contoso.com").is_empty(),
            "admin is internal only"
        );
        assert_eq!(addresses("intranet", "admin.contoso.com"), ["10.0.10.10"]);
    }

    #[test]
    fn a_zone_in_no_view_has_none_and_a_plan_without_dns_has_no_views() {
        let plan = contoso();
        let unviewed: Vec<&str> = (0..plan.zone_names.len())
            .filter(|&i| plan.dns.zone_view[i].is_none())
            .map(|i| plan.zone_names[i].as_str())
            .collect();
        let in_views: Vec<&str> = plan
            .topology
            .dns
            .as_ref()
            .unwrap()
            .views
            .iter()
            .flat_map(|v| v.zones.iter().map(|z| z.value.as_str()))
            .collect();
        for z in &plan.zone_names {
            assert_eq!(unviewed.contains(&z.as_str()), !in_views.contains(&z.as_str()), "{z}");
        }
        // Contoso without its `[dns]` tables.
        let mut skipping = false;
        let without: String = crate::CONTOSO
            .lines()
            .filter(|l| {
                if l.starts_with('[') {
                    skipping = l.starts_with("[dns") || l.starts_with("[[dns");
                }
                !skipping
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let plan = crate::check(&without).plan.expect("Contoso without [dns] is valid");
        assert!(plan.topology.dns.is_none());
        assert!(plan.dns.views.is_empty());
        assert!(plan.dns.of(plan.zone_id("internet").unwrap()).is_none());
    }
}
