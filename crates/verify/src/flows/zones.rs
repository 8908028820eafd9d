//! What each zone is, as far as the reference architecture cares: the
//! Internet (the default zone), a VPN or DirectAccess range, the Lync Edge's
//! internal side, the mail-hygiene service, or anything else; and whether it
//! is *outside* (public) or *inside*.
//!
//! A zone's `role` key says it outright. Without one, the role is read from
//! the zone's name and description (whole words, any case):
//! - **hygiene**: the words `eop` or `hygiene`, the phrase "Exchange Online
//!   Protection", or a prefix inside Exchange Online Protection's published
//!   ranges;
//! - **DirectAccess**: `directaccess`, `direct-access` or "direct access";
//! - **VPN**: `vpn`;
//! - **Edge**: `edge` (the internal interfaces of the Lync Edge servers).
//!
//! A zone is *outside* when it is the default zone or shares a DNS view
//! with it. Without such a view: the default zone, hygiene zones, and other
//! zones whose prefixes are all globally routable (not RFC 1918, CGNAT,
//! loopback, link-local or ULA).

use gatehouse_model::topology::{Zone, ZoneRole};
use gatehouse_model::Plan;
use gatehouse_policy::ZoneId;
use ipnet::IpNet;

/// A zone's role in the reference architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneKind {
    /// The default zone: every address no other zone claims.
    Internet,
    Vpn,
    DirectAccess,
    /// The internal interfaces of the Lync Edge servers.
    Edge,
    /// The cloud mail-hygiene service (Exchange Online Protection).
    Hygiene,
    Other,
}

impl ZoneKind {
    pub fn keyword(self) -> &'static str {
        match self {
            ZoneKind::Internet => "internet",
            ZoneKind::Vpn => "vpn",
            ZoneKind::DirectAccess => "directaccess",
            ZoneKind::Edge => "edge",
            ZoneKind::Hygiene => "hygiene",
            ZoneKind::Other => "other",
        }
    }
}

/// Exchange Online Protection's published inbound ranges.
const EOP_RANGES: [&str; 6] = [
    "40.92.0.0/15",
    "40.107.0.0/16",
    "52.100.0.0/14",
    "104.47.0.0/17",
    "2a01:111:f400::/48",
    "2a01:111:f403::/48",
];

/// What verification knows about one zone.
#[derive(Clone, Debug)]
pub struct ZoneInfo {
    pub id: ZoneId,
    pub name: String,
    pub kind: ZoneKind,
    /// Public side: the default zone and the zones that share its DNS view.
    pub outside: bool,
    /// The DNS view that answers this zone, when there is one.
    pub view: Option<String>,
    /// A zone other than the default with no prefixes holds no client.
    pub empty: bool,
}

/// Classifies every zone of the plan, indexed by [`ZoneId`].
pub fn classify(plan: &Plan) -> Vec<ZoneInfo> {
    let t = &plan.topology;
    let default = &t.default_zone.value;
    let view_of = |zone: &str| {
        t.dns.as_ref().and_then(|d| {
            d.views
                .iter()
                .find(|v| v.zones.iter().any(|z| z.value == zone))
                .map(|v| v.name.value.clone())
        })
    };
    let default_view = view_of(default);
    t.zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let is_default = &z.name.value == default;
            let view = view_of(&z.name.value);
            if let Some(role) = &z.role {
                return ZoneInfo {
                    id: ZoneId(i as u16),
                    name: z.name.value.clone(),
                    kind: kind_of_role(role.value),
                    outside: role.value.is_outside(),
                    view,
                    empty: !is_default && z.prefixes.is_empty(),
                };
            }
            let kind = if is_default { ZoneKind::Internet } else { kind_of(z) };
            let outside = match &default_view {
                Some(dv) => is_default || view.as_ref() == Some(dv),
                None => {
                    is_default
                        || kind == ZoneKind::Hygiene
                        || (kind == ZoneKind::Other
                            && !z.prefixes.is_empty()
                            && z.prefixes.iter().all(|p| is_global(p.value)))
                }
            };
            ZoneInfo {
                id: ZoneId(i as u16),
                name: z.name.value.clone(),
                kind,
                outside,
                view,
                empty: !is_default && z.prefixes.is_empty(),
            }
        })
        .collect()
}

/// The kind for a role the topology states.
fn kind_of_role(role: ZoneRole) -> ZoneKind {
    match role {
        ZoneRole::Internet => ZoneKind::Internet,
        ZoneRole::Hygiene => ZoneKind::Hygiene,
        ZoneRole::Edge => ZoneKind::Edge,
        ZoneRole::Vpn => ZoneKind::Vpn,
        ZoneRole::DirectAccess => ZoneKind::DirectAccess,
        ZoneRole::Partner | ZoneRole::Intranet => ZoneKind::Other,
    }
}

/// The role of a zone other than the default, from its name, description and prefixes.
pub fn kind_of(zone: &Zone) -> ZoneKind {
    let text = format!(
        "{} {}",
        zone.name.value,
        zone.description.as_deref().unwrap_or_default()
    )
    .to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let phrase = |p: &[&str]| words.windows(p.len()).any(|win| win == p);
    let eop: Vec<IpNet> = EOP_RANGES.iter().map(|r| r.parse().expect("valid EOP range")).collect();
    let in_eop = zone.prefixes.iter().any(|p| eop.iter().any(|e| e.contains(&p.value)));
    if has("eop") || has("hygiene") || phrase(&["exchange", "online", "protection"]) || in_eop {
        ZoneKind::Hygiene
    } else if has("directaccess") || phrase(&["direct", "access"]) {
        ZoneKind::DirectAccess
    } else if has("vpn") {
        ZoneKind::Vpn
    } else if has("edge") {
        ZoneKind::Edge
    } else {
        ZoneKind::Other
    }
}

/// Whether a prefix stands for public addresses (documentation ranges do).
fn is_global(net: IpNet) -> bool {
    gatehouse_policy::is_public(net.network())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_model::topology::Spanned;

    fn zone(name: &str, description: &str, prefixes: &[&str]) -> Zone {
        Zone {
            name: Spanned::new(name.to_string(), 0..0),
            description: Some(description.to_string()),
            prefixes: prefixes
                .iter()
                .map(|p| Spanned::new(p.parse().unwrap(), 0..0))
                .collect(),
            role: None,
        }
    }

    #[test]
    fn roles_come_from_whole_words_and_eop_prefixes() {
        assert_eq!(kind_of(&zone("eop", "", &[])), ZoneKind::Hygiene);
        assert_eq!(kind_of(&zone("mailflow", "", &["40.107.1.0/24"])), ZoneKind::Hygiene);
        assert_eq!(
            kind_of(&zone("cloud", "Exchange Online Protection", &[])),
            ZoneKind::Hygiene
        );
        assert_eq!(
            kind_of(&zone("da", "DirectAccess clients", &[])),
            ZoneKind::DirectAccess
        );
        assert_eq!(
            kind_of(&zone("remote", "Direct Access range", &[])),
            ZoneKind::DirectAccess
        );
        assert_eq!(kind_of(&zone("ra-vpn", "", &[])), ZoneKind::Vpn);
        assert_eq!(
            kind_of(&zone("perimeter", "Lync Edge internal side", &[])),
            ZoneKind::Edge
        );
        // "knowledge" contains "edge" but is not the word.
        assert_eq!(kind_of(&zone("kb", "knowledge base servers", &[])), ZoneKind::Other);
        assert_eq!(kind_of(&zone("intranet", "", &["10.0.0.0/8"])), ZoneKind::Other);
    }

    #[test]
    fn private_and_unique_local_prefixes_are_not_global() {
        assert!(!is_global("10.0.0.0/8".parse().unwrap()));
        assert!(!is_global("100.64.0.0/10".parse().unwrap()));
        assert!(!is_global("fd12:3456::/32".parse().unwrap()));
        assert!(is_global("198.51.100.0/24".parse().unwrap()));
        assert!(is_global("2001:db8:100::/48".parse().unwrap()));
    }
}
