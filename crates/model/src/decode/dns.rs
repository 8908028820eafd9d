//! Decoding `[dns]`: views, records, and the server's settings.

use toml::de::DeValue;

use super::defaults;
use super::reader::{self, keyword, prefix, string, Ctx, Fields};
use crate::diag::Diagnostic;
use crate::topology::*;

pub(super) fn dns(ctx: &mut Ctx, mut f: Fields<'_, '_>) -> Option<Dns> {
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
    let wildcards = f.bool(ctx, "wildcards", false);
    let allow_transfer = f
        .list(ctx, "allow_transfer", |ctx, v| prefix(ctx, v, "allow_transfer"))
        .unwrap_or_default();
    let ns = f.str_list(ctx, "ns");
    let soa = match f.take("soa").and_then(|v| Fields::of(ctx, "[dns.soa]", v)) {
        Some(mut sf) => {
            let soa = DnsSoa {
                mname: sf.str(ctx, "mname"),
                rname: sf.str(ctx, "rname"),
                refresh: sf.duration(ctx, "refresh", defaults::SOA_REFRESH),
                retry: sf.duration(ctx, "retry", defaults::SOA_RETRY),
                expire: sf.duration(ctx, "expire", defaults::SOA_EXPIRE),
                minimum: sf.duration(ctx, "minimum", defaults::SOA_MINIMUM),
            };
            sf.finish(ctx);
            soa
        }
        None => DnsSoa::defaults(f.span.clone()),
    };
    let rrl = match f.take("rrl").and_then(|v| Fields::of(ctx, "[dns.rrl]", v)) {
        Some(mut rf) => {
            let rrl = DnsRrl {
                responses_per_second: rf
                    .u32(ctx, "responses_per_second")
                    .map_or(defaults::RRL_RESPONSES_PER_SECOND, |n| n.value),
                slip: rf.u32(ctx, "slip").map_or(defaults::RRL_SLIP, |n| n.value),
                ipv4_prefix: prefix_len(ctx, &mut rf, "ipv4_prefix", 32, defaults::RRL_IPV4_PREFIX),
                ipv6_prefix: prefix_len(ctx, &mut rf, "ipv6_prefix", 128, defaults::RRL_IPV6_PREFIX),
                exempt: rf
                    .list(ctx, "exempt", |ctx, v| prefix(ctx, v, "exempt"))
                    .unwrap_or_default(),
            };
            rf.finish(ctx);
            rrl
        }
        None => DnsRrl::default(),
    };
    let max_udp_payload = match f.u32(ctx, "max_udp_payload") {
        Some(n) if (512..=4096).contains(&n.value) => n.value as u16,
        Some(n) => {
            ctx.push(
                Diagnostic::error(
                    "out-of-range",
                    format!("`max_udp_payload` of {} bytes is outside 512 to 4096", n.value),
                )
                .at(n.span)
                .label("expected 512 to 4096")
                .hint("1232 avoids IP fragmentation on almost every path (DNS Flag Day 2020)"),
            );
            defaults::DNS_MAX_UDP_PAYLOAD
        }
        None => defaults::DNS_MAX_UDP_PAYLOAD,
    };
    let tcp_idle_timeout = f.duration(ctx, "tcp_idle_timeout", defaults::DNS_TCP_IDLE_TIMEOUT);
    let tcp_max_connections = f
        .u32(ctx, "tcp_max_connections")
        .map_or(defaults::DNS_TCP_MAX_CONNECTIONS, |n| n.value);
    let span = f.span.clone();
    f.finish(ctx);
    Some(Dns {
        apex: apex?,
        ttl,
        listen,
        views,
        records,
        wildcards,
        allow_transfer,
        ns,
        soa,
        rrl,
        max_udp_payload,
        tcp_idle_timeout,
        tcp_max_connections,
        span,
    })
}

/// An address-prefix length no longer than the family allows.
fn prefix_len(ctx: &mut Ctx, f: &mut Fields<'_, '_>, key: &'static str, max: u32, default: u8) -> u8 {
    match f.u32(ctx, key) {
        Some(n) if n.value <= max => n.value as u8,
        Some(n) => {
            ctx.push(
                Diagnostic::error(
                    "out-of-range",
                    format!("`{key}` of {} is longer than an address", n.value),
                )
                .at(n.span)
                .label(format!("expected 0 to {max}")),
            );
            default
        }
        None => default,
    }
}
