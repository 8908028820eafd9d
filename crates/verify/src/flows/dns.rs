//! Findings about split DNS and certificates.
//!
//! | id | severity | fires when |
//! | --- | --- | --- |
//! | `mx-not-hygiene` | warning | a hygiene zone exists and the public view has no MX, or an MX that points into the topology's own domain (the Exchange farm) |
//! | `txt-ownership-missing` | warning | Exchange is published and the public view has no TXT at the apex other than SPF, DKIM or DMARC |
//! | `name-missing-from-view` | warning | a zone that can open published names is in no DNS view; a published name is outside the DNS apex; or a CNAME, SRV, MX or NS record in a view points at a name under the apex that the view does not answer |
//! | `certificate-not-covering` | warning | the certificate an https listener gives clients without SNI does not cover a name it serves |
//!
//! A view *answers* a name when a listener, route or DNS-balanced pool
//! publishes it to one of the view's zones, or when the view holds an A,
//! AAAA or CNAME record of that name. A hygiene service is any MX target
//! outside the topology's own domain (Exchange Online Protection's is
//! `*.mail.protection.outlook.com`). Certificates read from files are
//! checked against their names at start-up, not here: verification does no I/O.

use gatehouse_model::diag::Span;
use gatehouse_model::topology::{Dns, DnsRecord, Protocol, RecordType, Topology};
use gatehouse_model::validate::name_covers;

use super::report::{Finding, Guidance, Severity};
use super::walk::Network;
use super::zones::ZoneKind;

const DNS_GUIDANCE: &str = "docs/reference.md, DNS guidance";

pub const MX_TO_EOP: Guidance = Guidance {
    quote: "Exchange: split DNS; at least records for OWA, Autodiscover, ActiveSync and an MX record; with EOP, the MX points to EOP, not to the Exchange farm",
    section: DNS_GUIDANCE,
    note: None,
};
pub const TXT_OWNERSHIP: Guidance = Guidance {
    quote: "a TXT ownership-proof record and a federation organisation identifier for federated sharing",
    section: DNS_GUIDANCE,
    note: None,
};
pub const SPLIT_DNS: Guidance = Guidance {
    quote: "Public DNS: the gateway, the Lync Edge, the VIPs and the VPN/DirectAccess entry points.",
    section: DNS_GUIDANCE,
    note: Some("The next line of the same section: \"Intranet DNS: the internal VIPs of Exchange, SharePoint and Lync.\" Each side's view must answer the names its clients use."),
};
pub const ONE_PLACE_FOR_CERTIFICATES: Guidance = Guidance {
    quote: "terminates SSL (TCP 443), publishes intranet apps to the Internet for authenticated users and partners, pre-authenticates before traffic reaches the servers (Basic, NTLM, Kerberos, forms), one place to manage certificates",
    section: "docs/reference.md, The shared devices",
    note: Some("Not in the poster: a client that sends no SNI (older ActiveSync devices and Lync phones) is given the listener's default certificate, so that one must cover every name too."),
};

/// The DNS and certificate findings.
pub fn findings(net: &Network<'_>, out: &mut Vec<Finding>) {
    if let Some(dns) = &net.plan.topology.dns {
        let public = net
            .zones
            .iter()
            .find(|z| z.kind == ZoneKind::Internet)
            .and_then(|z| z.view.clone());
        mx(net, dns, public.as_deref(), out);
        txt(net, dns, public.as_deref(), out);
        views(net, dns, out);
    }
    certificates(net, out);
}

fn apex(dns: &Dns) -> String {
    dns.apex.value.trim_end_matches('.').to_ascii_lowercase()
}

fn under(name: &str, apex: &str) -> bool {
    name == apex || name.ends_with(&format!(".{apex}"))
}

/// A record's owner name, fully qualified, lower case, without the final dot.
fn owner(r: &DnsRecord, apex: &str) -> String {
    let n = r.name.value.to_ascii_lowercase();
    match n.as_str() {
        "@" => apex.to_string(),
        _ => match n.strip_suffix('.') {
            Some(fqdn) => fqdn.to_string(),
            None => format!("{n}.{apex}"),
        },
    }
}

/// Whether a record is served in `view` (all views when it names none).
fn served_in(r: &DnsRecord, view: Option<&str>) -> bool {
    r.views.is_empty() || view.is_none_or(|v| r.views.iter().any(|x| x.value == v))
}

fn mx(net: &Network<'_>, dns: &Dns, public: Option<&str>, out: &mut Vec<Finding>) {
    let hygiene: Vec<&str> = net
        .zones
        .iter()
        .filter(|z| z.kind == ZoneKind::Hygiene)
        .map(|z| z.name.as_str())
        .collect();
    if hygiene.is_empty() {
        return;
    }
    let apex = apex(dns);
    let records: Vec<&DnsRecord> = dns
        .records
        .iter()
        .filter(|r| r.rtype.value == RecordType::Mx && owner(r, &apex) == apex && served_in(r, public))
        .collect();
    let view = public.map_or_else(String::new, |v| format!(" (view {v})"));
    if records.is_empty() {
        out.push(Finding {
            id: "mx-not-hygiene",
            severity: Severity::Warning,
            message: format!(
                "zone {} is the mail-hygiene service, but the public DNS{view} has no MX record for {apex}",
                hygiene.join(", ")
            ),
            guidance: MX_TO_EOP,
            fix: format!(
                "add [[dns.records]] name = \"@\", type = \"MX\", value = \"0 {}.mail.protection.outlook.com.\" (EOP's host for the domain)",
                apex.replace('.', "-")
            ),
            span: Some(dns.apex.span.clone()),
        });
    }
    for r in records {
        let target = r
            .value
            .value
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if under(&target, &apex) {
            out.push(Finding {
                id: "mx-not-hygiene",
                severity: Severity::Warning,
                message: format!(
                    "the MX record of {apex} points at {target}, the Exchange farm, while zone {} is the mail-hygiene service",
                    hygiene.join(", ")
                ),
                guidance: MX_TO_EOP,
                fix: "point the MX at the hygiene service (for EOP, <domain>.mail.protection.outlook.com.) so that inbound mail is filtered before it reaches Exchange".to_string(),
                span: Some(r.value.span.clone()),
            });
        }
    }
}

fn txt(net: &Network<'_>, dns: &Dns, public: Option<&str>, out: &mut Vec<Finding>) {
    let exchange = net
        .plan
        .topology
        .pools
        .iter()
        .any(|p| net.product_class(&p.name.value).0 == Some(gatehouse_model::topology::Product::Exchange));
    if !exchange {
        return;
    }
    let apex = apex(dns);
    let proof = dns.records.iter().any(|r| {
        let v = r.value.value.trim().trim_matches('"').to_ascii_lowercase();
        r.rtype.value == RecordType::Txt
            && owner(r, &apex) == apex
            && served_in(r, public)
            && !["v=spf1", "v=dkim1", "v=dmarc1"].iter().any(|p| v.starts_with(p))
    });
    if !proof {
        out.push(Finding {
            id: "txt-ownership-missing",
            severity: Severity::Warning,
            message: format!("the public DNS has no TXT ownership-proof record at {apex}"),
            guidance: TXT_OWNERSHIP,
            fix: "add [[dns.records]] name = \"@\", type = \"TXT\" with the proof value your provider gives (\"MS=ms...\" for Microsoft 365, or the federation domain proof)".to_string(),
            span: Some(dns.apex.span.clone()),
        });
    }
}

/// Where a published name is written: a route host, listener name or pool `dns_name`.
fn name_span(t: &Topology, name: &str) -> Option<Span> {
    let same = |s: &str| s.trim_end_matches('.').eq_ignore_ascii_case(name);
    t.routes
        .iter()
        .flat_map(|r| &r.hosts)
        .chain(t.listeners.iter().flat_map(|l| &l.names))
        .chain(t.pools.iter().filter_map(|p| p.dns_name.as_ref()))
        .find(|n| same(&n.value))
        .map(|n| n.span.clone())
}

fn views(net: &Network<'_>, dns: &Dns, out: &mut Vec<Finding>) {
    let plan = net.plan;
    let t = &plan.topology;
    let apex = apex(dns);
    let mut names: Vec<&str> = Vec::new();
    for p in &plan.published {
        if !names.contains(&p.name.as_str()) {
            names.push(&p.name);
        }
    }
    // Zones that can be given published names but get no DNS answers at all.
    for z in net.zones.iter().filter(|z| z.view.is_none() && !z.empty) {
        let admitted: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| plan.published.iter().any(|p| p.name == *n && p.admits(&z.name)))
            .collect();
        if admitted.is_empty() {
            continue;
        }
        out.push(Finding {
            id: "name-missing-from-view",
            severity: Severity::Warning,
            message: format!(
                "zone {} is in no DNS view, so none of the names published to it resolve there: {}",
                z.name,
                admitted.join(", ")
            ),
            guidance: SPLIT_DNS,
            fix: format!("add \"{}\" to the `zones` of a [dns.views.NAME]", z.name),
            span: Some(t.zones[z.id.0 as usize].name.span.clone()),
        });
    }
    for n in names.iter().filter(|n| !under(n, &apex)) {
        out.push(Finding {
            id: "name-missing-from-view",
            severity: Severity::Warning,
            message: format!("{n} is published but lies outside the DNS apex {apex}, so no view answers it"),
            guidance: SPLIT_DNS,
            fix: format!("publish a name under {apex}, or serve {n} from the DNS of its own domain"),
            span: name_span(t, n),
        });
    }
    let answers = |view: &str, name: &str| {
        let zones: Vec<&str> = dns
            .views
            .iter()
            .filter(|v| v.name.value == view)
            .flat_map(|v| v.zones.iter().map(|z| z.value.as_str()))
            .collect();
        plan.published
            .iter()
            .any(|p| p.name == name && zones.iter().any(|z| p.admits(z)))
            || dns.records.iter().any(|r| {
                matches!(r.rtype.value, RecordType::A | RecordType::Aaaa | RecordType::Cname)
                    && owner(r, &apex) == name
                    && served_in(r, Some(view))
            })
    };
    for r in &dns.records {
        let target = match r.rtype.value {
            RecordType::Cname | RecordType::Ns => r.value.value.split_whitespace().next(),
            RecordType::Mx => r.value.value.split_whitespace().nth(1),
            RecordType::Srv => r.value.value.split_whitespace().nth(3),
            _ => None,
        };
        let Some(target) = target.map(|s| s.trim_end_matches('.').to_ascii_lowercase()) else {
            continue;
        };
        if !under(&target, &apex) {
            continue;
        }
        for v in dns.views.iter().filter(|v| served_in(r, Some(&v.name.value))) {
            if answers(&v.name.value, &target) {
                continue;
            }
            out.push(Finding {
                id: "name-missing-from-view",
                severity: Severity::Warning,
                message: format!(
                    "the {} record {} in DNS view {} points at {target}, which that view does not answer",
                    r.rtype.value.keyword(),
                    owner(r, &apex),
                    v.name.value
                ),
                guidance: SPLIT_DNS,
                fix: format!(
                    "publish {target} to a zone of view {} (listener or route `zones`), add an A record for it there, or serve this record only in the views that answer it (`views`)",
                    v.name.value
                ),
                span: Some(r.value.span.clone()),
            });
        }
    }
}

fn certificates(net: &Network<'_>, out: &mut Vec<Finding>) {
    let t = &net.plan.topology;
    for l in t.listeners.iter().filter(|l| l.protocol.value == Protocol::Https) {
        let Some(default) = l.default_certificate.as_ref().or(l.certificates.first()) else {
            continue;
        };
        let Some(cert) = t.certificates.iter().find(|c| c.name.value == default.value) else {
            continue;
        };
        if cert.cert.is_some() {
            continue;
        }
        let mut missing: Vec<String> = Vec::new();
        for r in net.plan.routes_on(&l.name.value) {
            for h in &r.hosts {
                let host = h.value.to_ascii_lowercase();
                if !cert.names.iter().any(|n| name_covers(&n.value, &host)) && !missing.contains(&host) {
                    missing.push(host);
                }
            }
        }
        if missing.is_empty() {
            continue;
        }
        out.push(Finding {
            id: "certificate-not-covering",
            severity: Severity::Warning,
            message: format!(
                "clients without SNI get certificate {} on listener {}, which does not cover {}",
                cert.name.value,
                l.name.value,
                missing.join(", ")
            ),
            guidance: ONE_PLACE_FOR_CERTIFICATES,
            fix: format!(
                "add {} to the names of certificate {}, or make a certificate that covers every name the listener's default (`default_certificate`)",
                missing.join(", "),
                cert.name.value
            ),
            span: Some(default.span.clone()),
        });
    }
}
