//! Compiles the plan's `[dns]` section into record data, one set per view.
//!
//! A view holds:
//! - the SOA and NS at the apex (generated, see [`DnsConfig`]);
//! - an A or AAAA record for every published name whose listener admits at
//!   least one of the view's zones, pointing at that listener's address;
//! - the topology's extra records that are served in the view;
//! - for each DNS-balanced pool served in the view, its healthy members'
//!   addresses, as a rotating RRset.
//!
//! Everything else about answers (CNAME chasing, negative answers, wire
//! form) is decided in [`crate::answer`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use gatehouse_model::dns_views::ViewAnswers;
use gatehouse_model::topology::{is_private, Dns, RecordType};
use gatehouse_model::Plan;

use crate::config::DnsConfig;
use crate::health::MemberHealth;
use crate::wire::{rtype, Name};
use crate::DnsError;

/// Record data, names already absolute and lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// NS or CNAME target.
    Name(Name),
    Mx(u16, Name),
    Txt(Vec<Vec<u8>>),
    Srv(u16, u16, u16, Name),
    Soa(Box<Soa>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// The records of one type at one name.
#[derive(Clone, Debug)]
pub struct RrSet {
    pub rtype: u16,
    pub ttl: u32,
    pub data: Vec<RData>,
    /// A DNS-balanced pool: answers rotate its order.
    pub rotating: bool,
}

/// Everything at one name. No sets means an empty non-terminal: the name
/// exists (NODATA, not NXDOMAIN) because something below it does.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub sets: Vec<RrSet>,
}

impl Node {
    pub fn get(&self, t: u16) -> Option<&RrSet> {
        self.sets.iter().find(|s| s.rtype == t)
    }

    fn add(&mut self, t: u16, ttl: u32, data: RData) {
        match self.sets.iter_mut().find(|s| s.rtype == t) {
            Some(set) => {
                // One TTL per RRset (RFC 2181 §5.2): the shortest wins.
                set.ttl = set.ttl.min(ttl);
                if !set.data.contains(&data) {
                    set.data.push(data);
                }
            }
            None => self.sets.push(RrSet {
                rtype: t,
                ttl,
                data: vec![data],
                rotating: false,
            }),
        }
    }
}

pub struct ViewData {
    pub name: String,
    pub nodes: BTreeMap<Name, Node>,
}

impl ViewData {
    fn add(&mut self, owner: &Name, t: u16, ttl: u32, data: RData) {
        self.nodes.entry(owner.clone()).or_default().add(t, ttl, data);
    }
}

/// The compiled zone: one record set per view.
pub struct ZoneData {
    pub apex: Name,
    pub views: Vec<ViewData>,
    /// View index per zone id; `None` for zones in no view (REFUSED).
    pub zone_view: Vec<Option<u16>>,
    /// The SOA as negative answers carry it (TTL already the negative TTL).
    pub negative_soa: RrSet,
    /// Things worth a log line: names outside the apex, a name with
    /// several VIPs in one view, pools answered with all members.
    pub warnings: Vec<String>,
}

fn secs(d: Duration) -> u32 {
    d.as_secs().min(u64::from(u32::MAX)) as u32
}

/// Builds every view of `plan`. `serial` is the SOA serial to publish.
pub fn build(plan: &Plan, cfg: &DnsConfig, health: &dyn MemberHealth, serial: u32) -> Result<ZoneData, DnsError> {
    let dns = plan.topology.dns.as_ref().ok_or(DnsError::NoDns)?;
    let bad = |what: String| DnsError::Config(what);
    let apex = Name::parse(&dns.apex.value, Some(&Name::root())).map_err(|e| bad(format!("[dns] apex: {e}")))?;
    let ttl = secs(dns.ttl.value);
    let mut warnings = Vec::new();

    // Which view answers which zone is the plan's (`explain` reads it too).
    let zone_view = plan.dns.zone_view.clone();
    let default_view = zone_view[plan.zones.default_zone().0 as usize].map(usize::from);

    let ns_names = ns_set(cfg, dns, &apex)?;
    // Host names in the topology are absolute, a trailing dot optional.
    let root = Name::root();
    let soa = Soa {
        mname: match &cfg.soa.mname {
            Some(m) => Name::parse(m, Some(&root)).map_err(|e| bad(format!("SOA mname: {e}")))?,
            // The first server every view serves, so the primary resolves
            // wherever the SOA is seen.
            None => ns_names
                .iter()
                .find(|(_, glue)| !private_only(glue))
                .unwrap_or(&ns_names[0])
                .0
                .clone(),
        },
        rname: match &cfg.soa.rname {
            Some(r) => Name::parse(r, Some(&root)).map_err(|e| bad(format!("SOA rname: {e}")))?,
            None => apex.child(b"hostmaster"),
        },
        serial,
        refresh: secs(cfg.soa.refresh),
        retry: secs(cfg.soa.retry),
        expire: secs(cfg.soa.expire),
        minimum: secs(cfg.soa.minimum),
    };
    let negative_soa = RrSet {
        rtype: rtype::SOA,
        ttl: ttl.min(soa.minimum),
        data: vec![RData::Soa(Box::new(soa.clone()))],
        rotating: false,
    };

    let mut views = Vec::new();
    for (vi, v) in dns.views.iter().enumerate() {
        let mut view = ViewData {
            name: v.name.value.clone(),
            nodes: BTreeMap::new(),
        };
        view.add(&apex, rtype::SOA, ttl, RData::Soa(Box::new(soa.clone())));
        for (ns, glue) in &ns_names {
            // A server on a private address is of no use to the Internet.
            let outside = Some(vi) == default_view;
            if outside && private_only(glue) {
                continue;
            }
            view.add(&apex, rtype::NS, ttl, RData::Name(ns.clone()));
            for addr in glue.iter().filter(|a| !(outside && is_private(**a))) {
                add_address(&mut view, ns, ttl, *addr);
            }
        }
        published(plan, &plan.dns.views[vi], &apex, ttl, &mut view, &mut warnings);
        let vname = v.name.value.as_str();
        for r in dns
            .records
            .iter()
            .filter(|r| r.views.is_empty() || r.views.iter().any(|x| x.value == vname))
        {
            let owner = Name::parse(&r.name.value, Some(&apex)).map_err(|e| bad(format!("record name {e}")))?;
            if !owner.is_within(&apex) {
                warnings.push(format!("record {owner} is outside {apex}; not served"));
                continue;
            }
            let rttl = r.ttl.as_ref().map_or(ttl, |t| secs(t.value));
            let (t, data) = record(&r.rtype.value, &r.value.value, &apex)
                .map_err(|e| bad(format!("{} record \"{}\": {e}", r.rtype.value.keyword(), r.name.value)))?;
            view.add(&owner, t, rttl, data);
        }
        balanced(plan, &apex, vname, health, &mut view, &mut warnings);
        check_view(&mut view, &apex, cfg.wildcards, &mut warnings)?;
        views.push(view);
    }
    Ok(ZoneData {
        apex,
        views,
        zone_view,
        negative_soa,
        warnings,
    })
}

/// The NS names and the glue addresses generated for each.
fn ns_set(cfg: &DnsConfig, dns: &Dns, apex: &Name) -> Result<Vec<(Name, Vec<IpAddr>)>, DnsError> {
    if !cfg.ns.is_empty() {
        return cfg
            .ns
            .iter()
            .map(|n| Name::parse(n, Some(&Name::root())).map(|n| (n, Vec::new())))
            .collect::<Result<_, _>>()
            .map_err(|e| DnsError::Config(format!("[dns] ns: {e}")));
    }
    let addrs = dns.listen_addresses();
    if addrs.is_empty() {
        return Ok(vec![(apex.child(b"ns1"), Vec::new())]);
    }
    Ok(addrs
        .into_iter()
        .enumerate()
        .map(|(i, a)| (apex.child(format!("ns{}", i + 1).as_bytes()), vec![a]))
        .collect())
}

/// Generated glue on private addresses only: the name is left out of the
/// view that holds the default zone.
fn private_only(glue: &[IpAddr]) -> bool {
    !glue.is_empty() && glue.iter().all(|a| is_private(*a))
}

fn add_address(view: &mut ViewData, owner: &Name, ttl: u32, addr: IpAddr) {
    match addr.to_canonical() {
        IpAddr::V4(a) => view.add(owner, rtype::A, ttl, RData::A(a)),
        IpAddr::V6(a) => view.add(owner, rtype::AAAA, ttl, RData::Aaaa(a)),
    }
}

/// A/AAAA for every name the plan publishes in the view: the VIP of each
/// listener that publishes it to one of the view's zones.
fn published(
    plan: &Plan,
    answers: &ViewAnswers,
    apex: &Name,
    ttl: u32,
    view: &mut ViewData,
    warnings: &mut Vec<String>,
) {
    for (name, addrs) in &answers.addresses {
        let Ok(name) = Name::parse(name, Some(&Name::root())) else {
            continue;
        };
        if !name.is_within(apex) {
            let w = format!("published name {name} is outside {apex}; not served");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
            continue;
        }
        if addrs.len() > 1 {
            let list: Vec<String> = addrs
                .iter()
                .map(|(a, l)| format!("{a} ({})", plan.topology.listeners[*l].name.value))
                .collect();
            warnings.push(format!(
                "{name} resolves to {} VIPs in view \"{}\": {}; a client may pick one that lacks the port it wants",
                addrs.len(),
                view.name,
                list.join(", ")
            ));
        }
        for (a, _) in addrs {
            add_address(view, &name, ttl, *a);
        }
    }
}

/// The healthy members of each DNS-balanced pool served in this view.
fn balanced(
    plan: &Plan,
    apex: &Name,
    view_name: &str,
    health: &dyn MemberHealth,
    view: &mut ViewData,
    warnings: &mut Vec<String>,
) {
    for pool in plan.topology.pools.iter().filter(|p| p.dns_balanced) {
        let Some(dns_name) = &pool.dns_name else { continue };
        if !pool.dns_views.is_empty() && !pool.dns_views.iter().any(|v| v.value == view_name) {
            continue;
        }
        let Ok(owner) = Name::parse(&dns_name.value, Some(&Name::root())) else {
            continue;
        };
        if !owner.is_within(apex) {
            warnings.push(format!(
                "pool \"{}\": {owner} is outside {apex}; not served",
                pool.name.value
            ));
            continue;
        }
        let members: Vec<(usize, bool, IpAddr)> = pool
            .members
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.host.value.parse::<IpAddr>().ok().map(|a| (i, m.backup, a)))
            .collect();
        if members.len() < pool.members.len() {
            warnings.push(format!(
                "pool \"{}\": members given by name cannot be DNS answers; only addresses are served",
                pool.name.value
            ));
        }
        let up = |backup: bool| -> Vec<IpAddr> {
            members
                .iter()
                .filter(|(i, b, _)| *b == backup && health.is_up(&pool.name.value, *i))
                .map(|m| m.2)
                .collect()
        };
        // Backups stand in only while every primary is down.
        let mut chosen = up(false);
        if chosen.is_empty() {
            chosen = up(true);
        }
        if chosen.is_empty() {
            warnings.push(format!(
                "pool \"{}\": no member is healthy; {owner} answers with all {} members in view \"{view_name}\"",
                pool.name.value,
                members.len()
            ));
            chosen = members.iter().map(|m| m.2).collect();
        }
        let ttl = secs(pool.dns_ttl.value).max(1);
        for a in chosen {
            add_address(view, &owner, ttl, a);
        }
        if let Some(node) = view.nodes.get_mut(&owner) {
            for set in node
                .sets
                .iter_mut()
                .filter(|s| matches!(s.rtype, rtype::A | rtype::AAAA))
            {
                set.rotating = true;
            }
        }
    }
}

/// Rejects what no DNS server may serve, and adds empty non-terminals.
fn check_view(view: &mut ViewData, apex: &Name, wildcards: bool, warnings: &mut Vec<String>) -> Result<(), DnsError> {
    for (name, node) in &view.nodes {
        if node.get(rtype::CNAME).is_some() {
            if name == apex {
                return Err(DnsError::Config(format!(
                    "{name} is the zone apex and cannot have a CNAME"
                )));
            }
            if node.sets.len() > 1 {
                return Err(DnsError::Config(format!(
                    "{name} has a CNAME and other records in view \"{}\"; a CNAME must stand alone (RFC 1034 §3.6.2)",
                    view.name
                )));
            }
        }
        if !wildcards && name.first_label() == b"*" {
            let w = format!("{name} looks like a wildcard but `wildcards` is off; it only answers for itself");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    let names: Vec<Name> = view.nodes.keys().cloned().collect();
    for name in names {
        let mut cur = name.parent();
        while let Some(p) = cur {
            if !p.is_within(apex) || p == *apex {
                break;
            }
            view.nodes.entry(p.clone()).or_default();
            cur = p.parent();
        }
    }
    Ok(())
}

/// Parses a topology record value.
fn record(t: &RecordType, value: &str, apex: &Name) -> Result<(u16, RData), String> {
    let f: Vec<&str> = value.split_whitespace().collect();
    let name = |s: &str| Name::parse(s, Some(apex));
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("\"{s}\" is not a number from 0 to 65535"))
    };
    let want = |n: usize| {
        if f.len() == n {
            Ok(())
        } else {
            Err(format!("expected {n} fields in \"{value}\""))
        }
    };
    Ok(match t {
        RecordType::A => (
            rtype::A,
            RData::A(value.trim().parse().map_err(|_| "not an IPv4 address")?),
        ),
        RecordType::Aaaa => (
            rtype::AAAA,
            RData::Aaaa(value.trim().parse().map_err(|_| "not an IPv6 address")?),
        ),
        RecordType::Cname => (want(1).and_then(|_| name(f[0])).map(|n| (rtype::CNAME, RData::Name(n))))?,
        RecordType::Ns => (want(1).and_then(|_| name(f[0])).map(|n| (rtype::NS, RData::Name(n))))?,
        RecordType::Mx => {
            want(2)?;
            (rtype::MX, RData::Mx(num(f[0])?, name(f[1])?))
        }
        RecordType::Srv => {
            want(4)?;
            (rtype::SRV, RData::Srv(num(f[0])?, num(f[1])?, num(f[2])?, name(f[3])?))
        }
        RecordType::Txt => (rtype::TXT, RData::Txt(txt_strings(value))),
    })
}

/// TXT text as character-strings of at most 255 bytes. Text longer than
/// that (SPF, DKIM) is split, which is how such records are published.
fn txt_strings(value: &str) -> Vec<Vec<u8>> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return vec![Vec::new()];
    }
    bytes.chunks(255).map(<[u8]>::to_vec).collect()
}
