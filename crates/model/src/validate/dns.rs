//! Checks on the `[dns]` section: views, and records that parse for their type.

use std::collections::HashMap;
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
