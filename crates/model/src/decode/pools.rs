//! Decoding pools, their members and health checks.

use toml::de::DeValue;

use super::defaults;
use super::reader::{self, port, string, Ctx, Fields, Value};
use crate::diag::Diagnostic;
use crate::topology::*;

pub(super) fn pool(ctx: &mut Ctx, name: Spanned<String>, mut f: Fields<'_, '_>) -> Option<Pool> {
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
    let tls = f
        .take("tls")
        .and_then(|v| Fields::of(ctx, format!("the backend TLS of pool \"{}\"", name.value), v))
        .and_then(|tf| backend_tls(ctx, tf));
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
        tls,
    })
}

/// `"10.0.2.11:443"` or `{ address = "10.0.2.11:443", weight = 2, backup = true }`.
pub(super) fn member(ctx: &mut Ctx, v: &Value<'_>) -> Option<Member> {
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
pub(super) fn split_host_port(ctx: &mut Ctx, s: &Spanned<String>) -> Option<(Spanned<String>, Option<Spanned<u16>>)> {
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
        Ok(n) => reader::port_at(ctx, n, port_span)?,
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

pub(super) fn health_check(ctx: &mut Ctx, mut f: Fields<'_, '_>) -> Option<HealthCheck> {
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

/// `tls = { ca = "ca.pem" }`, `{ fingerprint = "AB:CD:..." }` or
/// `{ same_as = "public" }`, with an optional `server_name`.
fn backend_tls(ctx: &mut Ctx, mut f: Fields<'_, '_>) -> Option<BackendTls> {
    let ca = f.str(ctx, "ca");
    let fingerprint = f.str(ctx, "fingerprint");
    let same_as = f.str(ctx, "same_as");
    let server_name = f.str(ctx, "server_name");
    let span = f.span.clone();
    let what = f.what.clone();
    f.finish(ctx);
    let mut given: Vec<BackendVerify> = Vec::new();
    given.extend(ca.map(BackendVerify::CaBundle));
    given.extend(fingerprint.map(BackendVerify::Fingerprint));
    given.extend(same_as.map(BackendVerify::SameAs));
    if given.len() != 1 {
        ctx.push(
            Diagnostic::error("backend-tls", format!("{what} must say how to trust the members, in exactly one way"))
                .at(span)
                .label(if given.is_empty() { "no `ca`, `fingerprint` or `same_as`" } else { "more than one of `ca`, `fingerprint` and `same_as`" })
                .hint("give `ca = \"ca.pem\"` (a CA bundle), `fingerprint = \"AB:CD:...\"` (the member certificate's SHA-256), or `same_as = \"NAME\"` (the front certificate, for Exchange Extended Protection)"),
        );
        return None;
    }
    Some(BackendTls {
        verify: given.remove(0),
        server_name,
        span,
    })
}
