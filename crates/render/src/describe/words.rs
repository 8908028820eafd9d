//! The phrases both the description and the diagram use for the parts of
//! the network: products, server roles, tiers, ports, authentication, user
//! types and the hops of a flow, each in the reader's language.
//!
//! Names from the topology are wrapped in backticks (see [`c`]); [`rich`]
//! turns those, and URLs, into [`Inline`] runs for the document.

use std::collections::BTreeSet;

use gatehouse_model::topology::{AuthMethod, Listener, PortRange, Product, Tier, TrafficClass, Transport, UserType};

use super::doc::Inline;
use super::i18n::{s, Text};
use super::network::{FlowAuth, Network, RemoteAccess, ServerGroup};

/// A topology name, marked as code.
pub(crate) fn c(name: &str) -> String {
    format!("`{}`", name.replace('`', "'"))
}

/// Several topology names as code, joined with "and".
pub(crate) fn codes(t: &Text, names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    t.and_list(&names.into_iter().map(|x| c(x.as_ref())).collect::<Vec<_>>())
}

/// Splits a sentence into text, `code` and URL runs.
pub(crate) fn rich(text: &str) -> Vec<Inline> {
    let mut out = Vec::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push(Inline::Code(part.to_string()));
            continue;
        }
        let mut rest = part;
        while let Some(at) = rest.find("https://").or_else(|| rest.find("http://")) {
            if at > 0 {
                out.push(Inline::Text(rest[..at].to_string()));
            }
            let url_len = rest[at..]
                .find(|ch: char| ch.is_whitespace() || matches!(ch, ',' | ';' | ')' | '<' | '>'))
                .unwrap_or(rest.len() - at);
            let url = rest[at..at + url_len].trim_end_matches(['.', ':', '!', '?']);
            out.push(Inline::Link(url.to_string()));
            rest = &rest[at + url.len()..];
        }
        if !rest.is_empty() {
            out.push(Inline::Text(rest.to_string()));
        }
    }
    out
}

pub(crate) fn product(t: &Text, p: Product) -> String {
    t.get(&format!("product-{}", p.keyword()))
}

pub(crate) fn tier(t: &Text, tier: Tier) -> String {
    t.get(&format!("tier-{}", tier.keyword()))
}

/// The poster's name for a group of servers: "Exchange Client Access servers (CAS)".
pub(crate) fn role(t: &Text, g: &ServerGroup) -> String {
    let id = format!("role-{}-{}", g.product.keyword(), g.tier.keyword());
    if t.has(&id) {
        t.get(&id)
    } else {
        t.fmt(
            "role-generic",
            &[("product", s(product(t, g.product))), ("tier", s(tier(t, g.tier)))],
        )
    }
}

/// "TCP 80, 443; UDP 3478".
pub(crate) fn ports<'a>(list: impl IntoIterator<Item = &'a (Transport, PortRange)>) -> String {
    let set: BTreeSet<&(Transport, PortRange)> = list.into_iter().collect();
    let mut parts = Vec::new();
    for transport in [Transport::Tcp, Transport::Udp] {
        let mut nums: Vec<PortRange> = set.iter().filter(|(x, _)| *x == transport).map(|(_, p)| *p).collect();
        nums.dedup();
        if !nums.is_empty() {
            let list: Vec<String> = nums.iter().map(|p| p.to_string()).collect();
            parts.push(format!("{} {}", transport.keyword().to_uppercase(), list.join(", ")));
        }
    }
    parts.join("; ")
}

/// Listeners by address: "203.0.113.20 (TCP 443, 5061) and 203.0.113.22 (UDP 3478)".
pub(crate) fn endpoints<'a>(t: &Text, listeners: impl IntoIterator<Item = &'a Listener>) -> String {
    let mut by_address: Vec<(std::net::IpAddr, Vec<(Transport, PortRange)>)> = Vec::new();
    for l in listeners {
        let port = (l.protocol.value.transport(), l.ports.value);
        match by_address.iter_mut().find(|(a, _)| *a == l.address.value) {
            Some((_, list)) => list.push(port),
            None => by_address.push((l.address.value, vec![port])),
        }
    }
    let parts: Vec<String> = by_address.iter().map(|(a, p)| format!("{a} ({})", ports(p))).collect();
    t.and_list(&parts)
}

/// What a well-known port carries, when the poster names it.
pub(crate) fn port_meaning(t: &Text, transport: Transport, p: PortRange) -> Option<String> {
    let id = format!("port-{}-{}", transport.keyword(), p);
    t.has(&id).then(|| t.get(&id))
}

/// "TCP 443 (HTTPS), TCP 5061 (SIP over TLS)".
pub(crate) fn ports_explained<'a>(t: &Text, list: impl IntoIterator<Item = &'a (Transport, PortRange)>) -> String {
    let set: BTreeSet<&(Transport, PortRange)> = list.into_iter().collect();
    let parts: Vec<String> = set
        .iter()
        .map(|&&(transport, p)| {
            let base = format!("{} {p}", transport.keyword().to_uppercase());
            match port_meaning(t, transport, p) {
                Some(m) => format!("{base} ({m})"),
                None => base,
            }
        })
        .collect();
    parts.join(", ")
}

pub(crate) fn auth_method(t: &Text, m: AuthMethod) -> String {
    t.get(&format!("auth-{}", m.keyword()))
}

/// How a flow is authenticated, as a sentence.
pub(crate) fn flow_auth(t: &Text, a: &FlowAuth) -> String {
    match a {
        FlowAuth::Anonymous => t.get("flow-auth-anonymous"),
        FlowAuth::PassThrough => t.get("flow-auth-pass-through"),
        FlowAuth::Refused => t.get("flow-auth-refused"),
        FlowAuth::PreAuth {
            provider,
            method,
            enforced,
        } => {
            let mut text = t.fmt(
                "flow-auth-preauth",
                &[("method", s(auth_method(t, *method))), ("provider", s(c(provider)))],
            );
            if !enforced {
                // Until then the route refuses them: say so, after the intent.
                text.push(' ');
                text.push_str(&t.get("flow-auth-not-enforced"));
            }
            text
        }
        FlowAuth::Layer4 => t.get("flow-auth-layer4"),
        FlowAuth::Direct => t.get("flow-auth-direct"),
    }
}

/// A declared authentication of a user type: a provider's method, or a built-in policy.
pub(crate) fn declared_auth(t: &Text, net: &Network, name: &str) -> String {
    match name {
        "anonymous" => t.get("auth-anonymous"),
        "pass-through" => t.get("auth-pass-through"),
        provider => match net
            .plan
            .topology
            .auth_providers
            .iter()
            .find(|p| p.name.value == provider)
        {
            Some(p) => format!("{} ({})", auth_method(t, p.method.value), c(provider)),
            None => c(provider),
        },
    }
}

/// The user type's label: the reference architecture's user types get the
/// established translation; a label of the topology's own passes as written.
pub(crate) fn user_type(t: &Text, u: &UserType) -> String {
    let id = format!("user-type-{}", u.name.value);
    let english = Text::new(super::Lang::En);
    let reference = english.has(&id).then(|| english.get(&id));
    match (&u.label, reference) {
        (None, Some(_)) => t.get(&id),
        (Some(label), Some(r)) if *label == r => t.get(&id),
        (Some(label), _) => label.clone(),
        (None, None) => u.name.value.clone(),
    }
}

pub(crate) fn class(t: &Text, class: TrafficClass) -> String {
    t.get(&format!("class-{}", class.keyword()))
}

pub(crate) fn colour_line(t: &Text, class: TrafficClass) -> String {
    t.get(&format!("line-{}", class.colour()))
}

pub(crate) fn remote_access(t: &Text, kind: RemoteAccess) -> String {
    t.get(match kind {
        RemoteAccess::Vpn => "device-vpn",
        RemoteAccess::DirectAccess => "device-directaccess",
        RemoteAccess::Other => "device-remote-access",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_text_separates_code_and_urls_from_words() {
        assert_eq!(
            rich("rule `web` then https://mail.contoso.com, done."),
            vec![
                Inline::Text("rule ".into()),
                Inline::Code("web".into()),
                Inline::Text(" then ".into()),
                Inline::Link("https://mail.contoso.com".into()),
                Inline::Text(", done.".into()),
            ]
        );
        assert_eq!(
            rich("see https://x.example:"),
            vec![
                Inline::Text("see ".into()),
                Inline::Link("https://x.example".into()),
                Inline::Text(":".into())
            ]
        );
    }

    #[test]
    fn ports_group_by_transport_in_numeric_order() {
        let list = [
            (Transport::Udp, PortRange::single(3478)),
            (Transport::Tcp, PortRange::single(5061)),
            (
                Transport::Tcp,
                PortRange {
                    first: 50000,
                    last: 59999,
                },
            ),
            (Transport::Tcp, PortRange::single(443)),
        ];
        assert_eq!(ports(&list), "TCP 443, 5061, 50000-59999; UDP 3478");
    }
}
