//! The `[dns]` section as written: views, records and the server's settings.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::{keyword_of, Spanned};
use crate::diag::Span;

/// Split DNS for the topology's domain.
#[derive(Clone, Debug)]
pub struct Dns {
    pub apex: Spanned<String>,
    pub ttl: Spanned<Duration>,
    pub listen: Vec<Spanned<std::net::SocketAddr>>,
    pub views: Vec<DnsView>,
    pub records: Vec<DnsRecord>,
    /// Records named `*.something` are RFC 4592 wildcards only when true.
    pub wildcards: bool,
    /// Clients (by prefix) that may transfer the zone (AXFR/IXFR over TCP);
    /// they receive their own zone's view.
    pub allow_transfer: Vec<Spanned<IpNet>>,
    /// The apex NS names, absolute (a trailing dot is optional); empty
    /// means one `nsN.<apex>` per listen address.
    pub ns: Vec<Spanned<String>>,
    pub soa: DnsSoa,
    pub rrl: DnsRrl,
    /// The largest UDP answer, whatever larger size a client offers.
    pub max_udp_payload: u16,
    pub tcp_idle_timeout: Spanned<Duration>,
    pub tcp_max_connections: u32,
    pub span: Span,
}

impl Dns {
    /// The addresses of `listen`, each once, in order, without the
    /// unspecified ones: one generated `nsN.<apex>` name each, with glue.
    pub fn listen_addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for a in self.listen.iter().map(|l| l.value.ip()) {
            if !a.is_unspecified() && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }
}

/// An address the Internet cannot reach: RFC 1918, loopback and
/// link-local IPv4, ULA and loopback IPv6. A generated NS name on such an
/// address is left out of the view that holds the default zone.
pub fn is_private(a: IpAddr) -> bool {
    match a.to_canonical() {
        IpAddr::V4(v) => v.is_private() || v.is_loopback() || v.is_link_local(),
        IpAddr::V6(v) => (v.segments()[0] & 0xfe00) == 0xfc00 || v.is_loopback(),
    }
}

/// `[dns.soa]`: the generated SOA record.
#[derive(Clone, Debug)]
pub struct DnsSoa {
    /// Primary server name, absolute; default the first NS name that every
    /// view serves.
    pub mname: Option<Spanned<String>>,
    /// Responsible mailbox as an absolute name; default `hostmaster.<apex>`.
    pub rname: Option<Spanned<String>>,
    pub refresh: Spanned<Duration>,
    pub retry: Spanned<Duration>,
    pub expire: Spanned<Duration>,
    /// The negative-caching TTL (RFC 2308).
    pub minimum: Spanned<Duration>,
}

impl DnsSoa {
    /// The documented defaults, pointing at `span` for diagnostics.
    pub fn defaults(span: Span) -> DnsSoa {
        use crate::decode::defaults::*;
        DnsSoa {
            mname: None,
            rname: None,
            refresh: Spanned::new(SOA_REFRESH, span.clone()),
            retry: Spanned::new(SOA_RETRY, span.clone()),
            expire: Spanned::new(SOA_EXPIRE, span.clone()),
            minimum: Spanned::new(SOA_MINIMUM, span),
        }
    }
}

/// `[dns.rrl]`: response rate limiting per client prefix (UDP only).
#[derive(Clone, Debug)]
pub struct DnsRrl {
    /// 0 turns rate limiting off.
    pub responses_per_second: u32,
    /// Every `slip`-th response over the limit goes out truncated (TC=1) so a
    /// real client retries over TCP; the rest are dropped.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Never limited (the organisation's own resolvers).
    pub exempt: Vec<Spanned<IpNet>>,
}

impl Default for DnsRrl {
    fn default() -> Self {
        use crate::decode::defaults::*;
        DnsRrl {
            responses_per_second: RRL_RESPONSES_PER_SECOND,
            slip: RRL_SLIP,
            ipv4_prefix: RRL_IPV4_PREFIX,
            ipv6_prefix: RRL_IPV6_PREFIX,
            exempt: Vec::new(),
        }
    }
}

/// The answers one set of zones sees.
#[derive(Clone, Debug)]
pub struct DnsView {
    pub name: Spanned<String>,
    pub zones: Vec<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Srv,
    Ns,
}

impl RecordType {
    pub const ALL: [(&'static str, RecordType); 7] = [
        ("A", RecordType::A),
        ("AAAA", RecordType::Aaaa),
        ("CNAME", RecordType::Cname),
        ("MX", RecordType::Mx),
        ("TXT", RecordType::Txt),
        ("SRV", RecordType::Srv),
        ("NS", RecordType::Ns),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }
}

/// An extra record, served in the named views (all views when none are named).
#[derive(Clone, Debug)]
pub struct DnsRecord {
    /// Relative to the apex (`@` for the apex itself) or fully qualified with a trailing dot.
    pub name: Spanned<String>,
    pub rtype: Spanned<RecordType>,
    pub value: Spanned<String>,
    pub views: Vec<Spanned<String>>,
    pub ttl: Option<Spanned<Duration>>,
}
