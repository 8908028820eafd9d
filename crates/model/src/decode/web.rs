//! Decoding listeners (VIPs), routes and what user types reach.

use toml::de::DeValue;

use super::defaults;
use super::reader::{self, ip, keyword, port, port_range, string, Ctx, Fields, Value};
use crate::diag::Diagnostic;
use crate::topology::*;

pub(super) fn listener(ctx: &mut Ctx, name: Spanned<String>, mut f: Fields<'_, '_>) -> Option<Listener> {
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
    let trusted_proxies = f
        .list(ctx, "trusted_proxies", |ctx, v| {
            reader::prefix(ctx, v, "trusted_proxies")
        })
        .unwrap_or_default();
    let client_address = f.keyword(ctx, "client_address", &ClientAddress::ALL);
    let strict_sni = f
        .take("strict_sni")
        .map(|v| Spanned::new(f.bool(ctx, "strict_sni", false), v.span()));
    let hsts = f.take("hsts").and_then(|v| hsts(ctx, v));
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
        trusted_proxies,
        client_address,
        strict_sni,
        hsts,
        description,
        span,
    })
}

/// `hsts = false`, `hsts = true` (the defaults), or
/// `hsts = { max_age = "365d", include_subdomains = true, preload = true }`.
fn hsts(ctx: &mut Ctx, v: &Value<'_>) -> Option<HstsSetting> {
    let on = match v.get_ref() {
        DeValue::Boolean(false) => None,
        DeValue::Boolean(true) => Some(Hsts::default_policy()),
        DeValue::Table(_) => {
            let mut f = Fields::of(ctx, "`hsts`", v)?;
            let max_age = f.duration(ctx, "max_age", Hsts::DEFAULT_MAX_AGE).value;
            let include_subdomains = f.bool(ctx, "include_subdomains", false);
            let preload = f.bool(ctx, "preload", false);
            f.finish(ctx);
            // Browsers' preload lists take a host only with both (and a
            // year or more); a header claiming preload without them is
            // rejected there, so it is rejected here, where it is written.
            if preload && (!include_subdomains || max_age < Hsts::DEFAULT_MAX_AGE) {
                ctx.push(
                    Diagnostic::error("invalid-value", "`hsts` asks for preload without what preload requires")
                        .at(v.span())
                        .label("preload needs include_subdomains = true and max_age of 365d or more")
                        .hint("write `hsts = { max_age = \"365d\", include_subdomains = true, preload = true }`, or drop `preload`"),
                );
                return None;
            }
            Some(Hsts {
                max_age,
                include_subdomains,
                preload,
            })
        }
        other => {
            ctx.push(
                reader::wrong_type("hsts", "true, false or a table", other, v.span())
                    .hint("write `hsts = false`, or `hsts = { max_age = \"365d\" }`"),
            );
            return None;
        }
    };
    Some(Spanned::new(on, v.span()))
}

pub(super) fn route(ctx: &mut Ctx, name: Spanned<String>, mut f: Fields<'_, '_>) -> Option<Route> {
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
    let websocket = f.bool(ctx, "websocket", false);
    let hsts = f.take("hsts").and_then(|v| hsts(ctx, v));
    let user_types = f.str_list(ctx, "user_types");
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
        websocket,
        hsts,
        user_types,
        span,
    })
}

/// `"mail.contoso.com"` or `"sip.contoso.com:5061"`.
pub(super) fn reach(ctx: &mut Ctx, v: &Value<'_>) -> Option<Spanned<Reach>> {
    let s = string(ctx, v, "reaches")?;
    let (name, port) = match s.value.rsplit_once(':') {
        Some((n, p)) => match p.parse::<i128>() {
            Ok(p) => (n.to_string(), Some(reader::port_at(ctx, p, s.span.clone())?.value)),
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
