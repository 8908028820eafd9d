//! Reading a topology file into [`Topology`], collecting every problem.

mod dns;
mod pools;
mod reader;
mod web;

use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostic;
use crate::topology::*;
use dns::dns;
use pools::pool;
use reader::{keyword, port_range, prefix, string, Ctx, Fields, Value};
use web::{listener, reach, route};

/// Documented defaults (docs/topology.md repeats them).
pub mod defaults {
    use std::time::Duration;
    pub const DEFAULT_ZONE: &str = "internet";
    pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);
    pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
    pub const CHECK_RISE: u32 = 2;
    pub const CHECK_FALL: u32 = 3;
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const L4_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
    pub const DNS_TTL: Duration = Duration::from_secs(300);
    pub const DNS_BALANCED_TTL: Duration = Duration::from_secs(30);
    pub const SOA_REFRESH: Duration = Duration::from_secs(3600);
    pub const SOA_RETRY: Duration = Duration::from_secs(600);
    pub const SOA_EXPIRE: Duration = Duration::from_secs(14 * 86400);
    pub const SOA_MINIMUM: Duration = Duration::from_secs(300);
    /// NSD's default rate.
    pub const RRL_RESPONSES_PER_SECOND: u32 = 200;
    pub const RRL_SLIP: u32 = 2;
    pub const RRL_IPV4_PREFIX: u8 = 24;
    pub const RRL_IPV6_PREFIX: u8 = 56;
    /// The DNS Flag Day 2020 size: no IP fragmentation on almost any path.
    pub const DNS_MAX_UDP_PAYLOAD: u16 = 1232;
    pub const DNS_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DNS_TCP_MAX_CONNECTIONS: u32 = 512;
    pub const HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
    pub const HTTP_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const HTTP_H2_MAX_STREAMS: u32 = 128;
    pub const HTTP_RETRIES: u32 = 2;
    pub const HTTP_IDLE_PER_MEMBER: u32 = 1024;
    pub const HTTP_BACKEND_KEEPALIVE: Duration = Duration::from_secs(60);
}

/// Parses and decodes `text`. Returns the topology when it could be read,
/// and every diagnostic found on the way.
pub fn decode(text: &str) -> (Option<Topology>, Vec<Diagnostic>) {
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let diags = errors
            .into_iter()
            .map(|e| {
                let mut d = Diagnostic::error("toml-syntax", format!("invalid TOML: {}", e.message().trim()))
                    .hint("see https://toml.io for the syntax; strings need quotes, tables need [brackets]");
                if let Some(span) = e.span() {
                    d = d.at(span);
                }
                d
            })
            .collect();
        return (None, diags);
    }
    let mut ctx = Ctx::default();
    let span = root.span();
    let mut top = Fields::new("the topology", root.get_ref(), span.clone());
    let mut t = Topology {
        default_zone: Spanned::new(defaults::DEFAULT_ZONE.to_string(), 0..0),
        ..Topology::default()
    };
    if let Some(v) = top.take("gatehouse") {
        if let Some(mut f) = Fields::of(&mut ctx, "[gatehouse]", v) {
            t.name = f.str(&mut ctx, "name").map(|s| s.value).unwrap_or_default();
            if let Some(z) = f.str(&mut ctx, "default_zone") {
                t.default_zone = z;
            }
            f.finish(&mut ctx);
        }
    }
    top.named_tables(&mut ctx, "zones", "zone", |ctx, name, mut f| {
        let before = ctx.diags.len();
        let prefixes = f
            .list(ctx, "prefixes", |ctx, v| prefix(ctx, v, "prefixes"))
            .unwrap_or_default();
        if ctx.diags[before..].iter().any(|d| d.is_error()) {
            // Its prefixes were reported; do not also call it empty.
            t.unusable.push(("zones", name.value.clone()));
        }
        let description = f.str(ctx, "description").map(|s| s.value);
        let role = f.keyword(ctx, "role", &ZoneRole::ALL);
        f.finish(ctx);
        t.zones.push(Zone {
            name,
            description,
            prefixes,
            role,
        });
    });
    top.named_tables(&mut ctx, "certificates", "certificate", |ctx, name, mut f| {
        let c = Certificate {
            name,
            cert: f.str(ctx, "cert"),
            key: f.str(ctx, "key"),
            names: f.str_list(ctx, "names"),
            ocsp: f.str(ctx, "ocsp"),
        };
        f.finish(ctx);
        t.certificates.push(c);
    });
    top.named_tables(&mut ctx, "services", "service", |ctx, name, mut f| {
        let product = f.req(ctx, "product", "\"exchange\"", |ctx, v| {
            keyword(ctx, v, "product", &Product::ALL)
        });
        let class = f.req(ctx, "class", "\"exchange-client\"", |ctx, v| {
            keyword(ctx, v, "class", &TrafficClass::ALL)
        });
        let description = f.str(ctx, "description").map(|s| s.value);
        f.finish(ctx);
        match (product, class) {
            (Some(product), Some(class)) => t.services.push(Service {
                name,
                product,
                class,
                description,
            }),
            _ => t.unusable.push(("services", name.value)),
        }
    });
    top.named_tables(&mut ctx, "pools", "pool", |ctx, name, f| {
        let n = name.value.clone();
        let before = ctx.diags.len();
        let decoded = pool(ctx, name, f);
        if ctx.diags[before..].iter().any(|d| d.is_error()) {
            // A member that failed to decode was reported; "empty pool" would repeat it.
            t.unusable.push(("pool-members", n.clone()));
        }
        match decoded {
            Some(p) => t.pools.push(p),
            None => t.unusable.push(("pools", n)),
        }
    });
    top.named_tables(&mut ctx, "listeners", "listener", |ctx, name, f| {
        let n = name.value.clone();
        match listener(ctx, name, f) {
            Some(l) => t.listeners.push(l),
            None => t.unusable.push(("listeners", n)),
        }
    });
    top.named_tables(&mut ctx, "routes", "route", |ctx, name, f| {
        let n = name.value.clone();
        match route(ctx, name, f) {
            Some(r) => t.routes.push(r),
            None => t.unusable.push(("routes", n)),
        }
    });
    top.named_tables(&mut ctx, "auth_providers", "auth provider", |ctx, name, mut f| {
        let method = f.req(ctx, "method", "\"forms\"", |ctx, v| {
            keyword(ctx, v, "method", &AuthMethod::ALL)
        });
        let url = f.str(ctx, "url");
        let description = f.str(ctx, "description").map(|s| s.value);
        f.finish(ctx);
        match method {
            Some(method) => t.auth_providers.push(AuthProvider {
                name,
                method,
                url,
                description,
            }),
            None => t.unusable.push(("auth_providers", name.value)),
        }
    });
    top.named_tables(&mut ctx, "user_types", "user type", |ctx, name, mut f| {
        let label = f.str(ctx, "label").map(|s| s.value);
        let zones = f.str_list(ctx, "zones");
        let auth = f.str_list(ctx, "auth");
        let reaches_span = f.take("reaches").map(|v| v.span()).unwrap_or(name.span.clone());
        let reaches = f.list(ctx, "reaches", reach).unwrap_or_default();
        f.finish(ctx);
        t.user_types.push(UserType {
            name,
            label,
            zones,
            auth,
            reaches,
            reaches_span,
        });
    });
    if let Some(v) = top.take("http") {
        if let Some(mut f) = Fields::of(&mut ctx, "[http]", v) {
            let d = HttpSettings::defaults(f.span.clone());
            t.http = HttpSettings {
                header_timeout: f.duration(&mut ctx, "header_timeout", d.header_timeout.value),
                body_timeout: f.opt_duration(&mut ctx, "body_timeout"),
                handshake_timeout: f.duration(&mut ctx, "handshake_timeout", d.handshake_timeout.value),
                h2_max_streams: f.u32(&mut ctx, "h2_max_streams").map_or(d.h2_max_streams, |n| n.value),
                retries: f.u32(&mut ctx, "retries").map_or(d.retries, |n| n.value),
                idle_per_member: f
                    .u32(&mut ctx, "idle_per_member")
                    .map_or(d.idle_per_member, |n| n.value),
                backend_keepalive: f.duration(&mut ctx, "backend_keepalive", d.backend_keepalive.value),
                affinity_secret_file: f.str(&mut ctx, "affinity_secret_file"),
            };
            f.finish(&mut ctx);
        }
    }
    if let Some(v) = top.take("dns") {
        if let Some(f) = Fields::of(&mut ctx, "[dns]", v) {
            t.dns = dns(&mut ctx, f);
        }
    }
    if let Some(v) = top.take("acl") {
        match v.get_ref() {
            DeValue::Array(rules) => {
                for (i, rule) in rules.iter().enumerate() {
                    if let Some(f) = Fields::of(&mut ctx, format!("ACL rule {}", i + 1), rule) {
                        if let Some(r) = acl_rule(&mut ctx, f) {
                            t.acl.push(r);
                        }
                    }
                }
            }
            other => ctx.push(
                reader::wrong_type("acl", "an array of rules", other, v.span())
                    .hint("write each rule as [[acl]], in the order they are evaluated"),
            ),
        }
    }
    top.finish(&mut ctx);
    (Some(t), ctx.diags)
}

fn acl_rule(ctx: &mut Ctx, mut f: Fields<'_, '_>) -> Option<AclRule> {
    let name = f.str(ctx, "name").map(|s| s.value);
    let action = f.req(ctx, "action", "\"allow\"", |ctx, v| {
        keyword(ctx, v, "action", &[("allow", Action::Allow), ("deny", Action::Deny)])
    });
    let from = f
        .req(ctx, "from", "[\"internet\"]", |ctx, v| {
            let items: Vec<&Value<'_>> = match v.get_ref() {
                DeValue::Array(items) => items.iter().collect(),
                _ => vec![v],
            };
            Some(
                items
                    .into_iter()
                    .filter_map(|i| {
                        let s = string(ctx, i, "from")?;
                        // Anything that reads as an address is a prefix; the rest are zone names.
                        let looks_like_address = s.value.contains('/')
                            || s.value.contains(':')
                            || s.value.chars().next().is_some_and(|c| c.is_ascii_digit());
                        if looks_like_address {
                            prefix(ctx, i, "from").map(|p| Spanned::new(Source::Prefix(p.value), p.span))
                        } else {
                            Some(Spanned::new(Source::Zone(s.value), s.span))
                        }
                    })
                    .collect(),
            )
        })
        .unwrap_or_default();
    let protocol = f
        .keyword(
            ctx,
            "protocol",
            &[
                ("any", AclProtocol::Any),
                ("tcp", AclProtocol::Tcp),
                ("udp", AclProtocol::Udp),
            ],
        )
        .map_or(AclProtocol::Any, |p| p.value);
    let ports = f
        .list(ctx, "ports", |ctx, v| port_range(ctx, v, "ports"))
        .unwrap_or_default();
    let span = f.span.clone();
    f.finish(ctx);
    Some(AclRule {
        name,
        action: action?.value,
        from,
        protocol,
        ports,
        span,
    })
}
