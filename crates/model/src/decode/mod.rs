//! Reading a topology file into [`Topology`], collecting every problem.

mod reader;

use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostic;
use crate::topology::*;
use reader::{ip, keyword, port, port_range, prefix, string, Ctx, Fields, Value};

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
        let prefixes = f
            .list(ctx, "prefixes", |ctx, v| prefix(ctx, v, "prefixes"))
            .unwrap_or_default();
        let description = f.str(ctx, "description").map(|s| s.value);
        f.finish(ctx);
        t.zones.push(Zone {
            name,
            description,
            prefixes,
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
        match pool(ctx, name, f) {
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

fn pool(ctx: &mut Ctx, name: Spanned<String>, mut f: Fields<'_, '_>) -> Option<Pool> {
    let service = f.req_str(ctx, "service", "\"exchange\"");
    let tier = f.keyword(ctx, "tier", &Tier::ALL).map_or(Tier::FrontEnd, |t| t.value);
    let algorithm = f
        .keyword(ctx, "algorithm", &Algorithm::ALL)
        .map_or(Algorithm::RoundRobin, |a| a.value);
    let members_span = f.take("members").map(|v| v.span()).unwrap_or(f.span.clone());
    let members = f.list(ctx, "members", member).unwrap_or_default();
    let health = f
        .take("health")
        .and_then(|v| Fields::of(ctx, format!("the health check of pool \"{}\"", name.value), v))
        .and_then(|hf| health_check(ctx, hf));
    let dns_balanced = f.bool(ctx, "dns_balanced", false);
    let dns_name = f.str(ctx, "dns_name");
    let dns_ttl = f.duration(ctx, "dns_ttl", defaults::DNS_BALANCED_TTL);
    let dns_views = f.str_list(ctx, "dns_views");
    f.finish(ctx);
    Some(Pool {
        name,
        service: service?,
        tier,
        algorithm,
        members,
        members_span,
        health,
        dns_balanced,
        dns_name,
        dns_ttl,
        dns_views,
    })
}

/// `"10.0.2.11:443"` or `{ address = "10.0.2.11:443", weight = 2, backup = true }`.
fn member(ctx: &mut Ctx, v: &Value<'_>) -> Option<Member> {
    let (address, weight, backup, max_connections) = match v.get_ref() {
        DeValue::String(_) => (string(ctx, v, "members")?, 1, false, None),
        DeValue::Table(table) => {
            let mut f = Fields::new("a pool member", table, v.span());
            let address = f.req_str(ctx, "address", "\"10.0.2.11:443\"");
            let weight = f.u32(ctx, "weight").map_or(1, |w| w.value);
            let backup = f.bool(ctx, "backup", false);
            let max = f.u32(ctx, "max_connections").map(|m| m.value);
            f.finish(ctx);
            (address?, weight, backup, max)
        }
        other => {
            ctx.push(reader::wrong_type(
                "members",
                "\"host:port\" or a table",
                other,
                v.span(),
            ));
            return None;
        }
    };
    let (host, port) = split_host_port(ctx, &address)?;
    Some(Member {
        host,
        port,
        weight,
        backup,
        max_connections,
        span: v.span(),
    })
}

/// Splits `host`, `host:port` and `[v6]:port`, with spans for each part.
fn split_host_port(ctx: &mut Ctx, s: &Spanned<String>) -> Option<(Spanned<String>, Option<Spanned<u16>>)> {
    // +1 skips the opening quote of the TOML string.
    let base = s.span.start + 1;
    let text = s.value.as_str();
    let whole = base..base + text.len();
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Some((Spanned::new(text.to_string(), whole), None));
    }
    let split = text
        .rfind(':')
        .filter(|&i| !text[..i].contains(':') || text[..i].ends_with(']'));
    let Some(i) = split else {
        if text.is_empty() || text.contains(':') {
            ctx.push(
                Diagnostic::error(
                    "invalid-address",
                    format!("\"{text}\" is not host, host:port or [v6]:port"),
                )
                .at(s.span.clone())
                .hint("write \"10.0.2.11:443\", \"ex01.corp.contoso.com:443\" or \"[2001:db8::1]:443\""),
            );
            return None;
        }
        return Some((Spanned::new(text.to_string(), whole), None));
    };
    let host = text[..i].trim_start_matches('[').trim_end_matches(']');
    let port_text = &text[i + 1..];
    let port_span = base + i + 1..base + text.len();
    let port = match port_text.parse::<i128>() {
        Ok(n) => reader_port(ctx, n, port_span)?,
        Err(_) => {
            ctx.push(
                Diagnostic::error("invalid-port", format!("\"{port_text}\" is not a port"))
                    .at(port_span)
                    .label("expected a number from 1 to 65535"),
            );
            return None;
        }
    };
    if host.is_empty() {
        ctx.push(
            Diagnostic::error("invalid-address", "member has no host")
                .at(s.span.clone())
                .label("expected host:port"),
        );
        return None;
    }
    Some((Spanned::new(host.to_string(), base..base + i), Some(port)))
}

fn reader_port(ctx: &mut Ctx, n: i128, span: crate::diag::Span) -> Option<Spanned<u16>> {
    // Reuse the integer port rules through a synthetic check.
    if n == 0 || !(1..=65535).contains(&n) {
        let label = if n == 0 {
            "port 0 cannot be used"
        } else {
            "ports go from 1 to 65535"
        };
        ctx.push(
            Diagnostic::error("invalid-port", format!("port {n} is not a usable port"))
                .at(span)
                .label(label)
                .hint("use a port from 1 to 65535"),
        );
        return None;
    }
    Some(Spanned::new(n as u16, span))
}

fn health_check(ctx: &mut Ctx, mut f: Fields<'_, '_>) -> Option<HealthCheck> {
    let kind = f
        .keyword(ctx, "type", &CheckKind::ALL)
        .map_or(CheckKind::Tcp, |k| k.value);
    let path = f.str(ctx, "path");
    let host = f.str(ctx, "host").map(|s| s.value);
    let expect_status = f
        .list(ctx, "expect_status", |ctx, v| {
            port(ctx, v, "expect_status").and_then(|s| {
                if (100..=599).contains(&s.value) {
                    Some(s.value)
                } else {
                    ctx.push(
                        Diagnostic::error("invalid-value", format!("{} is not an HTTP status", s.value))
                            .at(s.span)
                            .label("expected 100 to 599"),
                    );
                    None
                }
            })
        })
        .unwrap_or_else(|| vec![200]);
    let expect_body = f.str(ctx, "expect_body").map(|s| s.value);
    let interval = f.duration(ctx, "interval", defaults::CHECK_INTERVAL);
    let timeout = f.duration(ctx, "timeout", defaults::CHECK_TIMEOUT);
    let rise = f
        .u32(ctx, "rise")
        .unwrap_or(Spanned::new(defaults::CHECK_RISE, f.span.clone()));
    let fall = f
        .u32(ctx, "fall")
        .unwrap_or(Spanned::new(defaults::CHECK_FALL, f.span.clone()));
    let check_port = f.take("port").and_then(|v| port(ctx, v, "port"));
    if kind != CheckKind::Tcp && path.is_none() {
        ctx.push(
            Diagnostic::error("missing-key", format!("{} is an HTTP check without a `path`", f.what))
                .at(f.span.clone())
                .label("`path` is required for http and https checks")
                .hint("add `path = \"/healthcheck.htm\"` (Exchange: \"/owa/healthcheck.htm\")"),
        );
    }
    if kind == CheckKind::Tcp && (path.is_some() || expect_body.is_some()) {
        ctx.push(
            Diagnostic::warning(
                "ignored-key",
                format!("{} is a tcp check; `path` and `expect_body` are ignored", f.what),
            )
            .at(f.span.clone())
            .hint("set `type = \"https\"` to check the path"),
        );
    }
    let span = f.span.clone();
    f.finish(ctx);
    Some(HealthCheck {
        kind,
        path,
        host,
        expect_status,
        expect_body,
        interval,
        timeout,
        rise,
        fall,
        port: check_port,
        span,
    })
}

fn listener(ctx: &mut Ctx, name: Spanned<String>, mut f: Fields<'_, '_>) -> Option<Listener> {
    let address = f.req(ctx, "address", "\"203.0.113.10\"", |ctx, v| ip(ctx, v, "address"));
    let ports = f.req(ctx, "port", "443", |ctx, v| port_range(ctx, v, "port"));
    let protocol = f.req(ctx, "protocol", "\"https\"", |ctx, v| {
        keyword(ctx, v, "protocol", &Protocol::ALL)
    });
    let zones = f.req(ctx, "zones", "[\"internet\"]", |ctx, v| {
        Some(match v.get_ref() {
            DeValue::Array(items) => items.iter().filter_map(|i| string(ctx, i, "zones")).collect(),
            _ => vec![string(ctx, v, "zones")?],
        })
    });
    let certificates = f.str_list(ctx, "certificates");
    let default_certificate = f.str(ctx, "default_certificate");
    let pool = f.str(ctx, "pool");
    let names = f.str_list(ctx, "names");
    let idle_timeout = f.duration(ctx, "idle_timeout", defaults::L4_IDLE_TIMEOUT);
    let max_connections = f.u32(ctx, "max_connections").map(|m| m.value);
    let proxy_protocol = f
        .keyword(
            ctx,
            "proxy_protocol",
            &[
                ("v1", Some(ProxyProtocol::V1)),
                ("v2", Some(ProxyProtocol::V2)),
                ("none", None),
            ],
        )
        .and_then(|p| p.value);
    let description = f.str(ctx, "description").map(|s| s.value);
    let span = f.span.clone();
    f.finish(ctx);
    Some(Listener {
        name,
        address: address?,
        ports: ports?,
        protocol: protocol?,
        zones: zones?,
        certificates,
        default_certificate,
        pool,
        names,
        idle_timeout,
        max_connections,
        proxy_protocol,
        description,
        span,
    })
}

fn route(ctx: &mut Ctx, name: Spanned<String>, mut f: Fields<'_, '_>) -> Option<Route> {
    let listeners = f.str_list(ctx, "listeners");
    if listeners.is_empty() && f.take("listeners").is_none() {
        ctx.push(
            Diagnostic::error("missing-key", format!("{} has no `listeners`", f.what))
                .at(f.span.clone())
                .label("a route must be on at least one http or https listener")
                .hint("add `listeners = [\"https-public\"]`"),
        );
    }
    let hosts = f.str_list(ctx, "hosts");
    if hosts.is_empty() {
        ctx.push(
            Diagnostic::error("missing-key", format!("{} has no `hosts`", f.what))
                .at(f.span.clone())
                .label("a route matches one or more host names")
                .hint("add `hosts = [\"mail.contoso.com\"]`"),
        );
    }
    let mut paths = f.str_list(ctx, "paths");
    for p in &paths {
        if !p.value.starts_with('/') {
            ctx.push(
                Diagnostic::error("invalid-path", format!("path \"{}\" does not start with `/`", p.value))
                    .at(p.span.clone())
                    .label("path prefixes are absolute")
                    .hint(format!("write \"/{}\"", p.value)),
            );
        }
    }
    if paths.is_empty() {
        paths.push(Spanned::new("/".to_string(), f.span.clone()));
    }
    let pool = f.req_str(ctx, "pool", "\"exchange-cas\"");
    let zones = f.take("zones").map(|_| f.str_list(ctx, "zones"));
    let timeouts = match f.take("timeouts") {
        Some(v) => {
            let mut tf = Fields::of(ctx, format!("the timeouts of route \"{}\"", name.value), v)?;
            let t = Timeouts {
                connect: tf.duration(ctx, "connect", defaults::CONNECT_TIMEOUT),
                idle: tf.duration(ctx, "idle", defaults::IDLE_TIMEOUT),
                total: tf.opt_duration(ctx, "total"),
            };
            tf.finish(ctx);
            t
        }
        None => Timeouts {
            connect: Spanned::new(defaults::CONNECT_TIMEOUT, f.span.clone()),
            idle: Spanned::new(defaults::IDLE_TIMEOUT, f.span.clone()),
            total: None,
        },
    };
    let affinity = f
        .keyword(ctx, "affinity", &Affinity::ALL)
        .map_or(Affinity::None, |a| a.value);
    let mut auth = Vec::new();
    if let Some(v) = f.take("auth") {
        // Keys are zone names; validation checks them against the zones.
        match v.get_ref() {
            DeValue::Table(table) => {
                for (zone, policy) in table.iter() {
                    if let Some(p) = string(ctx, policy, "auth") {
                        auth.push((
                            Spanned::new(zone.get_ref().to_string(), zone.span()),
                            Spanned::new(AuthPolicy::parse(&p.value), p.span),
                        ));
                    }
                }
            }
            other => ctx.push(
                reader::wrong_type("auth", "a table of zone = policy", other, v.span())
                    .hint("write `auth = { internet = \"corp-forms\", intranet = \"pass-through\" }`"),
            ),
        }
    }
    let auth_default = f
        .str(ctx, "auth_default")
        .map(|s| Spanned::new(AuthPolicy::parse(&s.value), s.span))
        .unwrap_or_else(|| Spanned::new(AuthPolicy::PassThrough, f.span.clone()));
    let backend_port = f.take("backend_port").and_then(|v| port(ctx, v, "backend_port"));
    let host_rewrite = f.str(ctx, "host_rewrite").map(|s| s.value);
    let ignore_case = f.take("ignore_case").map(|_| f.bool(ctx, "ignore_case", false));
    let plain = f.bool(ctx, "plain", false);
    let span = f.span.clone();
    f.finish(ctx);
    Some(Route {
        name,
        listeners,
        hosts,
        paths,
        pool: pool?,
        zones,
        timeouts,
        affinity,
        auth,
        auth_default,
        backend_port,
        host_rewrite,
        ignore_case,
        plain,
        span,
    })
}

/// `"mail.contoso.com"` or `"sip.contoso.com:5061"`.
fn reach(ctx: &mut Ctx, v: &Value<'_>) -> Option<Spanned<Reach>> {
    let s = string(ctx, v, "reaches")?;
    let (name, port) = match s.value.rsplit_once(':') {
        Some((n, p)) => match p.parse::<i128>() {
            Ok(p) => (n.to_string(), Some(reader_port(ctx, p, s.span.clone())?.value)),
            Err(_) => {
                ctx.push(
                    Diagnostic::error("invalid-port", format!("\"{}\" is not a name or name:port", s.value))
                        .at(s.span)
                        .label("expected \"mail.contoso.com\" or \"sip.contoso.com:5061\""),
                );
                return None;
            }
        },
        None => (s.value.clone(), None),
    };
    Some(Spanned::new(
        Reach {
            name: name.to_ascii_lowercase(),
            port,
        },
        s.span,
    ))
}

fn dns(ctx: &mut Ctx, mut f: Fields<'_, '_>) -> Option<Dns> {
    let apex = f.req_str(ctx, "apex", "\"contoso.com\"");
    let ttl = f.duration(ctx, "ttl", defaults::DNS_TTL);
    let listen = f
        .list(ctx, "listen", |ctx, v| {
            let s = string(ctx, v, "listen")?;
            match s.value.parse() {
                Ok(a) => Some(Spanned::new(a, s.span)),
                Err(_) => {
                    ctx.push(
                        Diagnostic::error("invalid-address", format!("\"{}\" is not an address and port", s.value))
                            .at(s.span)
                            .label("expected \"203.0.113.53:53\" or \"[2001:db8::53]:53\""),
                    );
                    None
                }
            }
        })
        .unwrap_or_default();
    let mut views = Vec::new();
    f.named_tables(ctx, "views", "DNS view", |ctx, name, mut vf| {
        let zones = vf.str_list(ctx, "zones");
        vf.finish(ctx);
        views.push(DnsView { name, zones });
    });
    let mut records = Vec::new();
    if let Some(v) = f.take("records") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let Some(mut rf) = Fields::of(ctx, format!("DNS record {}", i + 1), item) else {
                        continue;
                    };
                    let name = rf.req_str(ctx, "name", "\"@\"");
                    let rtype = rf.req(ctx, "type", "\"MX\"", |ctx, v| {
                        keyword(ctx, v, "type", &RecordType::ALL)
                    });
                    let value = rf.req_str(ctx, "value", "\"10 mail.contoso.com.\"");
                    let views = rf.str_list(ctx, "views");
                    let ttl = rf.opt_duration(ctx, "ttl");
                    rf.finish(ctx);
                    if let (Some(name), Some(rtype), Some(value)) = (name, rtype, value) {
                        records.push(DnsRecord {
                            name,
                            rtype,
                            value,
                            views,
                            ttl,
                        });
                    }
                }
            }
            other => ctx.push(
                reader::wrong_type("records", "an array of records", other, v.span())
                    .hint("write each record as [[dns.records]]"),
            ),
        }
    }
    let span = f.span.clone();
    f.finish(ctx);
    Some(Dns {
        apex: apex?,
        ttl,
        listen,
        views,
        records,
        span,
    })
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
