//! Checks on the names at the apex: `[dns] ns`, `[dns.soa] mname` and
//! `rname`, and whether every view can reach the servers its NS set names.
//!
//! Every host name in the topology is absolute, with or without a trailing
//! dot, like `apex`, route `hosts` and a pool's `dns_name`. Only the
//! `[[dns.records]]` `name` and `value` are zone-file text, relative to the
//! apex unless they end with a dot.

use super::check_host_name;
use crate::diag::Diagnostic;
use crate::topology::*;

/// What a key's name is, for messages.
struct Key {
    what: &'static str,
    /// Why a name outside the apex deserves a second look.
    outside: &'static str,
}

const NS: Key = Key {
    what: "NS name",
    outside: "gatehouse cannot publish an address for it, so it must resolve elsewhere",
};
const MNAME: Key = Key {
    what: "SOA primary (`mname`)",
    outside: "gatehouse cannot publish an address for it",
};
const RNAME: Key = Key {
    what: "SOA mailbox (`rname`)",
    outside: "mail about the zone goes to that domain",
};

pub(super) fn check(t: &Topology, d: &Dns, out: &mut Vec<Diagnostic>) {
    let apex = d.apex.value.trim_end_matches('.').to_ascii_lowercase();
    let names =
        d.ns.iter()
            .map(|n| (&NS, n))
            .chain(d.soa.mname.iter().map(|n| (&MNAME, n)))
            .chain(d.soa.rname.iter().map(|n| (&RNAME, n)));
    for (key, n) in names {
        let before = out.len();
        check_host_name(out, n, false);
        if out.len() == before {
            absolute(out, &apex, key, n);
        }
    }
    ns_addresses(t, d, &apex, out);
    public_ns(t, d, &apex, out);
}

/// A name of one label cannot be an absolute host name (it would be a
/// top-level domain); one outside the apex without the trailing dot may be
/// a name meant relative to it.
fn absolute(out: &mut Vec<Diagnostic>, apex: &str, key: &Key, n: &Spanned<String>) {
    let written = n.value.as_str();
    let name = written.trim_end_matches('.').to_ascii_lowercase();
    if !name.contains('.') {
        out.push(
            Diagnostic::error(
                "single-label-name",
                format!(
                    "the {} \"{written}\" is a single label, which as an absolute name is a top-level domain",
                    key.what
                ),
            )
            .at(n.span.clone())
            .label("host names in the topology are absolute")
            .hint(format!("write the full name, such as \"{name}.{apex}\"")),
        );
        return;
    }
    if !written.ends_with('.') && !within(&name, apex) {
        out.push(
            Diagnostic::warning(
                "name-outside-apex",
                format!("the {} \"{written}\" is outside {apex}: {}", key.what, key.outside),
            )
            .at(n.span.clone())
            .label(format!("read as the absolute name {name}., not {name}.{apex}."))
            .hint(format!(
                "host names are absolute: if {name} is meant, write \"{name}.\" to say so; if a name in {apex} is meant, write \"{name}.{apex}\""
            )),
        );
    }
}

fn within(name: &str, apex: &str) -> bool {
    name == apex || name.ends_with(&format!(".{apex}"))
}

/// Whether `name` (lower case, no trailing dot) has an A or AAAA record in
/// view `v`: an extra record, a name a listener publishes to one of the
/// view's zones, or a DNS-balanced pool's name.
fn has_address(t: &Topology, d: &Dns, apex: &str, v: &DnsView, name: &str) -> bool {
    let in_view = |views: &[Spanned<String>]| views.is_empty() || views.iter().any(|x| x.value == v.name.value);
    let record = d.records.iter().any(|r| {
        matches!(r.rtype.value, RecordType::A | RecordType::Aaaa)
            && super::dns::owner(apex, &r.name.value) == name
            && in_view(&r.views)
    });
    let published = super::published_names(t)
        .iter()
        .any(|p| p.name == name && p.listener.is_some() && v.zones.iter().any(|z| p.admits(&z.value)));
    let pool = t.pools.iter().any(|p| {
        p.dns_balanced
            && p.dns_name
                .as_ref()
                .is_some_and(|n| n.value.trim_end_matches('.').eq_ignore_ascii_case(name))
            && in_view(&p.dns_views)
    });
    record || published || pool
}

/// An NS name inside the apex must have an address in every view, or
/// resolvers there are sent to a server they cannot find.
fn ns_addresses(t: &Topology, d: &Dns, apex: &str, out: &mut Vec<Diagnostic>) {
    let generated = d.ns.is_empty() && !d.listen.is_empty() && d.listen_addresses().is_empty();
    let names: Vec<(String, &crate::diag::Span)> = if generated {
        // Only unspecified addresses: one name, and no glue to give it.
        vec![(format!("ns1.{apex}"), &d.listen[0].span)]
    } else {
        d.ns.iter()
            .map(|n| (n.value.trim_end_matches('.').to_ascii_lowercase(), &n.span))
            .filter(|(n, _)| n.contains('.') && within(n, apex))
            .collect()
    };
    for (name, span) in names {
        let missing: Vec<&str> = d
            .views
            .iter()
            .filter(|v| !has_address(t, d, apex, v, &name))
            .map(|v| v.name.value.as_str())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let relative = name.strip_suffix(&format!(".{apex}")).unwrap_or(&name);
        let views = format!(
            "DNS view{} {}",
            if missing.len() > 1 { "s" } else { "" },
            missing
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let (message, label, hint) = if generated {
            (
                format!("the NS name {name} has no address: `listen` gives only unspecified addresses"),
                "0.0.0.0 and :: are no address a resolver can be sent to".to_string(),
                format!("listen on the server's own addresses, or set `ns` and add a [[dns.records]] A record named \"{relative}\" in {views}"),
            )
        } else {
            (
                format!("the NS name {name} has no A or AAAA record in {views}"),
                "resolvers there cannot reach this server".to_string(),
                format!("add a [[dns.records]] A or AAAA record named \"{relative}\" served in those views, or leave `ns` out so that gatehouse names one server per `listen` address, with its address"),
            )
        };
        out.push(
            Diagnostic::warning("ns-without-address", message)
                .at(span.clone())
                .label(label)
                .hint(hint),
        );
    }
}

/// With generated NS names and only private `listen` addresses, the view
/// of the default zone (the Internet's) gets no NS records at all, and the
/// SOA there names a primary that does not exist in it.
fn public_ns(t: &Topology, d: &Dns, apex: &str, out: &mut Vec<Diagnostic>) {
    let addrs = d.listen_addresses();
    if !d.ns.is_empty() || addrs.is_empty() || !addrs.iter().all(|a| is_private(*a)) {
        return;
    }
    let Some(view) = d
        .views
        .iter()
        .find(|v| v.zones.iter().any(|z| z.value == t.default_zone.value))
    else {
        return;
    };
    let Some(first) = d.listen.iter().find(|l| !l.value.ip().is_unspecified()) else {
        return;
    };
    // The default primary is the first generated name, absent there too.
    let soa = match &d.soa.mname {
        Some(_) => String::new(),
        None => format!(" and the SOA's primary ns1.{apex} does not exist"),
    };
    out.push(
        Diagnostic::warning(
            "no-public-ns",
            format!(
                "every [dns] `listen` address is private, so DNS view \"{}\" (the default zone's) has no NS records",
                view.name.value
            ),
        )
        .at(first.span.clone())
        .label("private addresses are not published to the default zone's view")
        .hint(format!(
            "there an NS query gets NODATA{soa}; if the Internet reaches this server through NAT, set `ns = [\"ns1.{apex}\"]` and add an A record named \"ns1\" with its public address for view \"{}\" (and its private one for the others); otherwise listen on a public address too",
            view.name.value
        )),
    );
}
