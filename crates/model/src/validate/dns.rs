//! Checks on the `[dns]` section: views, and records that parse for their type.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{check_host_name, nonzero, Names};
use crate::diag::Diagnostic;
use crate::topology::*;

pub(super) fn check(t: &Topology, d: &Dns, out: &mut Vec<Diagnostic>) {
    check_host_name(out, &d.apex, false);
    nonzero(out, &d.ttl, "ttl", "[dns]");
    let zones = Names::new("zone", "zones", t.zones.iter().map(|z| z.name.as_str()));
    let views = Names::new("DNS view", "dns.views", d.views.iter().map(|v| v.name.as_str()));
    if d.views.is_empty() {
        out.push(
            Diagnostic::error("no-views", "[dns] has no views, so no client would get an answer")
                .at(d.span.clone())
                .hint("add [dns.views.external] with `zones = [\"internet\"]` and [dns.views.internal] with the inside zones"),
        );
    }
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for v in &d.views {
        for z in &v.zones {
            if !zones.check(out, &format!("DNS view \"{}\" answers", v.name.value), z) {
                continue;
            }
            if let Some(other) = owner.insert(&z.value, &v.name.value) {
                out.push(
                    Diagnostic::error(
                        "zone-in-two-views",
                        format!(
                            "zone \"{}\" is in DNS views \"{other}\" and \"{}\"",
                            z.value, v.name.value
                        ),
                    )
                    .at(z.span.clone())
                    .label(format!("already answered by view \"{other}\""))
                    .hint("each zone sees exactly one view; remove it from one of them"),
                );
            }
        }
    }
    if !d.views.is_empty() {
        for z in t.zones.iter().filter(|z| !owner.contains_key(z.name.value.as_str())) {
            out.push(
                Diagnostic::warning(
                    "zone-without-view",
                    format!("zone \"{}\" is in no DNS view; its queries are refused", z.name.value),
                )
                .at(z.name.span.clone())
                .hint("add it to the `zones` of a [dns.views.NAME]"),
            );
        }
    }
    listen_conflicts(t, d, out);
    cname_conflicts(t, d, out);
    super::dns_ns::check(t, d, out);
    for (value, key) in [
        (&d.soa.refresh, "refresh"),
        (&d.soa.retry, "retry"),
        (&d.soa.expire, "expire"),
        (&d.soa.minimum, "minimum"),
    ] {
        nonzero(out, value, key, "[dns.soa]");
    }
    nonzero(out, &d.tcp_idle_timeout, "tcp_idle_timeout", "[dns]");
    split_addresses(t, d, out);
    for p in &t.pools {
        for v in &p.dns_views {
            views.check(out, &format!("pool \"{}\" answers in", p.name.value), v);
        }
    }
    let apex = d.apex.value.trim_end_matches('.').to_ascii_lowercase();
    for r in &d.records {
        for v in &r.views {
            views.check(
                out,
                &format!(
                    "the {} record \"{}\" is served in",
                    r.rtype.value.keyword(),
                    r.name.value
                ),
                v,
            );
        }
        if let Some(ttl) = &r.ttl {
            nonzero(
                out,
                ttl,
                "ttl",
                &format!("the {} record \"{}\"", r.rtype.value.keyword(), r.name.value),
            );
        }
        record_name(out, &apex, &r.name);
        record_value(out, r);
        apex_repeated(out, &apex, r);
    }
}

/// A record name or target written in full but without the trailing dot
/// is relative, as in a zone file: `sip.contoso.com` means
/// sip.contoso.com.contoso.com., which is never what was meant.
fn apex_repeated(out: &mut Vec<Diagnostic>, apex: &str, r: &DnsRecord) {
    let fields: Vec<&str> = r.value.value.split_whitespace().collect();
    let target = match (r.rtype.value, fields.len()) {
        (RecordType::Cname | RecordType::Ns, 1) => Some(fields[0]),
        (RecordType::Mx, 2) => Some(fields[1]),
        (RecordType::Srv, 4) => Some(fields[3]),
        _ => None,
    };
    let written = [("name", r.name.value.as_str(), &r.name.span)]
        .into_iter()
        .chain(target.map(|t| ("target", t, &r.value.span)));
    for (what, n, span) in written {
        let lower = n.to_ascii_lowercase();
        if n.ends_with('.') || n == "@" || (lower != apex && !lower.ends_with(&format!(".{apex}"))) {
            continue;
        }
        let short = lower.strip_suffix(&format!(".{apex}")).unwrap_or("@");
        out.push(
            Diagnostic::warning(
                "apex-repeated",
                format!(
                    "the {} record {what} \"{n}\" has no trailing dot, so it means {lower}.{apex}.",
                    r.rtype.value.keyword()
                ),
            )
            .at(span.clone())
            .label("record names and values are relative to the apex, as in a zone file")
            .hint(format!("write \"{lower}.\" (or \"{short}\")")),
        );
    }
}

fn record_name(out: &mut Vec<Diagnostic>, apex: &str, name: &Spanned<String>) {
    let n = name.value.as_str();
    if n == "@" {
        return;
    }
    if let Some(fqdn) = n.strip_suffix('.') {
        let fqdn = fqdn.to_ascii_lowercase();
        if fqdn != apex && !fqdn.ends_with(&format!(".{apex}")) {
            out.push(
                Diagnostic::error("outside-zone", format!("record name \"{n}\" is outside the zone {apex}"))
                    .at(name.span.clone())
                    .hint(format!("gatehouse is authoritative for {apex} only; use a name under it, or a relative name without the trailing dot")),
            );
        }
        return;
    }
    // Service labels start with `_`, which host-name rules do not allow.
    let stripped: String = n
        .split('.')
        .map(|l| l.trim_start_matches('_'))
        .collect::<Vec<_>>()
        .join(".");
    check_host_name(out, &Spanned::new(stripped, name.span.clone()), true);
}

fn record_value(out: &mut Vec<Diagnostic>, r: &DnsRecord) {
    let v = r.value.value.trim();
    let fields: Vec<&str> = v.split_whitespace().collect();
    let target_ok = |s: &str| {
        !s.is_empty()
            && s.trim_end_matches('.')
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63)
    };
    let u16_ok = |s: &str| s.parse::<u16>().is_ok();
    let (ok, expected) = match r.rtype.value {
        RecordType::A => (
            v.parse::<Ipv4Addr>().is_ok(),
            "an IPv4 address such as \"203.0.113.30\"",
        ),
        RecordType::Aaaa => (
            v.parse::<Ipv6Addr>().is_ok(),
            "an IPv6 address such as \"2001:db8::30\"",
        ),
        RecordType::Cname | RecordType::Ns => (
            fields.len() == 1 && target_ok(fields[0]),
            "one host name such as \"mail.contoso.com.\"",
        ),
        RecordType::Mx => (
            fields.len() == 2 && u16_ok(fields[0]) && target_ok(fields[1]),
            "a preference and a host: \"0 contoso-com.mail.protection.outlook.com.\"",
        ),
        RecordType::Srv => (
            fields.len() == 4 && fields[..3].iter().all(|f| u16_ok(f)) && target_ok(fields[3]),
            "priority, weight, port and target: \"0 0 5061 sip.contoso.com.\"",
        ),
        RecordType::Txt => (!v.is_empty() && v.len() <= 4000, "text of 1 to 4000 characters"),
    };
    if !ok {
        out.push(
            Diagnostic::error(
                "invalid-record",
                format!(
                    "\"{}\" is not a valid {} record value",
                    r.value.value,
                    r.rtype.value.keyword()
                ),
            )
            .at(r.value.span.clone())
            .label(format!("expected {expected}")),
        );
    }
}

/// A DNS socket on the address and port of a listener would fail to bind.
fn listen_conflicts(t: &Topology, d: &Dns, out: &mut Vec<Diagnostic>) {
    for addr in &d.listen {
        let taken = t.listeners.iter().find(|l| {
            let same = l.address.value == addr.value.ip()
                || l.address.value.is_unspecified()
                || addr.value.ip().is_unspecified();
            same && l.address.value.is_ipv4() == addr.value.is_ipv4() && l.ports.value.contains(addr.value.port())
        });
        if let Some(l) = taken {
            out.push(
                Diagnostic::error(
                    "listener-conflict",
                    format!(
                        "the DNS server and listener \"{}\" both listen on {}",
                        l.name.value, addr.value
                    ),
                )
                .at(addr.span.clone())
                .label(format!("already taken by listener \"{}\"", l.name.value))
                .hint("give the DNS server an address or port of its own"),
            );
        }
    }
}

/// The ports an address serves for a name.
type PortSet = BTreeSet<(Transport, PortRange)>;

/// A name that resolves to several addresses in one view is fine when every
/// address serves the same ports; otherwise a client that picks the wrong
/// address finds nothing listening.
fn split_addresses(t: &Topology, d: &Dns, out: &mut Vec<Diagnostic>) {
    let published = super::published_names(t);
    for v in &d.views {
        // name -> address -> ports served there to this view's zones
        let mut names: BTreeMap<&str, BTreeMap<std::net::IpAddr, PortSet>> = BTreeMap::new();
        for p in &published {
            let Some(listener) = p
                .listener
                .as_ref()
                .and_then(|n| t.listeners.iter().find(|l| &l.name.value == n))
            else {
                continue;
            };
            if v.zones.iter().any(|z| p.admits(&z.value)) {
                names
                    .entry(&p.name)
                    .or_default()
                    .entry(listener.address.value)
                    .or_default()
                    .insert((p.transport, p.ports));
            }
        }
        for (name, addresses) in names {
            let mut sets = addresses.values();
            let first = sets.next();
            if addresses.len() > 1 && sets.any(|s| Some(s) != first) {
                let list: Vec<String> = addresses
                    .iter()
                    .map(|(a, ports)| {
                        let ports: Vec<String> = ports.iter().map(|(tr, p)| format!("{} {p}", tr.keyword())).collect();
                        format!("{a} ({})", ports.join(", "))
                    })
                    .collect();
                out.push(
                    Diagnostic::warning(
                        "name-on-several-addresses",
                        format!("{name} resolves to several addresses in DNS view \"{}\" that serve different ports: {}", v.name.value, list.join("; ")),
                    )
                    .at(v.name.span.clone())
                    .hint("a client uses any of the addresses it is given; put every port of a name on one VIP address, or give the other address a name of its own"),
                );
            }
        }
    }
}

/// The fully qualified, lower-case owner name of a record.
pub(super) fn owner(apex: &str, name: &str) -> String {
    match name {
        "@" => apex.to_string(),
        n if n.ends_with('.') => n.trim_end_matches('.').to_ascii_lowercase(),
        n => format!("{}.{apex}", n.to_ascii_lowercase()),
    }
}

/// A CNAME must be the only record at its name (RFC 1034 section 3.6.2), so
/// it cannot sit at the apex (SOA, NS), beside another record in a view it
/// shares, or on a name a listener publishes (its generated A/AAAA).
fn cname_conflicts(t: &Topology, d: &Dns, out: &mut Vec<Diagnostic>) {
    let apex = d.apex.value.trim_end_matches('.').to_ascii_lowercase();
    let published = super::published_names(t);
    let shares_view = |a: &DnsRecord, b: &DnsRecord| {
        a.views.is_empty() || b.views.is_empty() || a.views.iter().any(|v| b.views.iter().any(|w| w.value == v.value))
    };
    for (i, r) in d
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rtype.value == RecordType::Cname)
    {
        let name = owner(&apex, &r.name.value);
        let clash = if name == apex {
            Some("the zone apex, which holds the SOA and NS records".to_string())
        } else if let Some(other) = d
            .records
            .iter()
            .enumerate()
            .find(|(j, o)| *j != i && owner(&apex, &o.name.value) == name && shares_view(r, o))
        {
            Some(format!(
                "a name that also has a {} record",
                other.1.rtype.value.keyword()
            ))
        } else {
            published
                .iter()
                .find(|p| p.name == name && p.listener.is_some())
                .map(|p| {
                    format!(
                        "a name that listener \"{}\" publishes",
                        p.listener.as_deref().unwrap_or_default()
                    )
                })
        };
        if let Some(clash) = clash {
            out.push(
                Diagnostic::error(
                    "cname-conflict",
                    format!("the CNAME record \"{}\" is on {clash}", r.name.value),
                )
                .at(r.name.span.clone())
                .label("a CNAME must be the only record at its name")
                .hint("give the alias a name of its own, or use A/AAAA records instead"),
            );
        }
    }
}
