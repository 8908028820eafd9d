//! The DNS server's settings: wildcards, zone transfers, SOA and NS,
//! response rate limiting and transport limits. They come from the
//! topology's `[dns]` section ([`DnsConfig::from_plan`]); the defaults are
//! the model's documented ones (docs/topology.md).

use std::time::Duration;

use gatehouse_model::decode::defaults;
use gatehouse_model::Plan;
use ipnet::IpNet;

/// Server settings beside the plan.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// `[dns] wildcards` (bool, default `false`). When true, records whose
    /// name starts with the label `*` are RFC 4592 wildcards. When false,
    /// `*` is an ordinary label that only a query for `*.name` matches.
    pub wildcards: bool,
    /// `[dns] allow_transfer` (list of prefixes, default empty). Clients in
    /// these prefixes may AXFR (and IXFR, answered with a full transfer)
    /// over TCP; they receive the view of their own zone. Everyone else
    /// gets REFUSED.
    pub allow_transfer: Vec<IpNet>,
    /// `[dns.soa]`.
    pub soa: SoaConfig,
    /// `[dns] ns` (list of absolute host names, a trailing dot optional,
    /// default empty). The apex NS set, the same in every view. Empty means
    /// one `nsN.<apex>` per `[dns] listen` address, with glue; private
    /// (RFC 1918, ULA, loopback) addresses are left out of the view that
    /// holds the default zone.
    pub ns: Vec<String>,
    /// `[dns.rrl]`.
    pub rrl: RrlConfig,
    /// `[dns] max_udp_payload` (bytes, default 1232, the DNS Flag Day 2020
    /// value). The largest UDP answer sent to an EDNS client, whatever
    /// larger size it offers; clients without EDNS get 512.
    pub max_udp_payload: u16,
    /// `[dns] tcp_idle_timeout` (duration, default 10s). A TCP connection
    /// with no complete query for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// `[dns] tcp_max_connections` (count, default 512). Connections past
    /// this are closed on accept.
    pub tcp_max_connections: usize,
    /// UDP worker threads per listen address (default 0: one per core).
    pub udp_workers: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            wildcards: false,
            allow_transfer: Vec::new(),
            soa: SoaConfig::default(),
            ns: Vec::new(),
            rrl: RrlConfig::default(),
            max_udp_payload: defaults::DNS_MAX_UDP_PAYLOAD,
            tcp_idle_timeout: defaults::DNS_TCP_IDLE_TIMEOUT,
            tcp_max_connections: defaults::DNS_TCP_MAX_CONNECTIONS as usize,
            udp_workers: 0,
        }
    }
}

impl DnsConfig {
    /// The settings the plan's `[dns]` section states (defaults without one).
    pub fn from_plan(plan: &Plan) -> DnsConfig {
        let Some(d) = &plan.topology.dns else {
            return DnsConfig::default();
        };
        DnsConfig {
            wildcards: d.wildcards,
            allow_transfer: d.allow_transfer.iter().map(|p| p.value).collect(),
            soa: SoaConfig {
                mname: d.soa.mname.as_ref().map(|n| n.value.clone()),
                rname: d.soa.rname.as_ref().map(|n| n.value.clone()),
                refresh: d.soa.refresh.value,
                retry: d.soa.retry.value,
                expire: d.soa.expire.value,
                minimum: d.soa.minimum.value,
            },
            ns: d.ns.iter().map(|n| n.value.clone()).collect(),
            rrl: RrlConfig {
                responses_per_second: d.rrl.responses_per_second,
                slip: d.rrl.slip,
                ipv4_prefix: d.rrl.ipv4_prefix,
                ipv6_prefix: d.rrl.ipv6_prefix,
                exempt: d.rrl.exempt.iter().map(|p| p.value).collect(),
            },
            max_udp_payload: d.max_udp_payload,
            tcp_idle_timeout: d.tcp_idle_timeout.value,
            tcp_max_connections: d.tcp_max_connections as usize,
            udp_workers: 0,
        }
    }
}

/// `[dns.soa]`: the generated SOA record.
#[derive(Clone, Debug)]
pub struct SoaConfig {
    /// `mname` (absolute host name, default the first NS name that every
    /// view serves).
    pub mname: Option<String>,
    /// `rname` (mailbox as an absolute name, default `hostmaster.<apex>`).
    pub rname: Option<String>,
    /// `refresh` (default 1h), `retry` (default 10m), `expire` (default 14d).
    pub refresh: Duration,
    pub retry: Duration,
    pub expire: Duration,
    /// `minimum` (default 5m): the negative-caching TTL (RFC 2308). Negative
    /// answers carry the SOA with TTL min(`[dns] ttl`, `minimum`).
    pub minimum: Duration,
}

impl Default for SoaConfig {
    fn default() -> Self {
        SoaConfig {
            mname: None,
            rname: None,
            refresh: defaults::SOA_REFRESH,
            retry: defaults::SOA_RETRY,
            expire: defaults::SOA_EXPIRE,
            minimum: defaults::SOA_MINIMUM,
        }
    }
}

/// `[dns.rrl]`: response rate limiting for UDP, per client prefix, against
/// reflection amplification. TCP is never limited: it cannot be spoofed, and
/// it is where a limited client is sent.
#[derive(Clone, Debug)]
pub struct RrlConfig {
    /// `responses_per_second` (default 200, NSD's default; 0 turns RRL off).
    /// Each prefix may burst to one second's worth.
    pub responses_per_second: u32,
    /// `slip` (default 2). Of the responses over the limit, every `slip`-th
    /// is sent as an empty TC=1 answer so that a real client retries over
    /// TCP; the rest are dropped. 0 drops them all, 1 truncates them all.
    pub slip: u32,
    /// `ipv4_prefix` (default 24) and `ipv6_prefix` (default 56): how
    /// clients are grouped.
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// `exempt` (prefixes, default empty): never limited, e.g. the
    /// organisation's own recursive resolvers.
    pub exempt: Vec<IpNet>,
}

impl Default for RrlConfig {
    fn default() -> Self {
        RrlConfig {
            responses_per_second: defaults::RRL_RESPONSES_PER_SECOND,
            slip: defaults::RRL_SLIP,
            ipv4_prefix: defaults::RRL_IPV4_PREFIX,
            ipv6_prefix: defaults::RRL_IPV6_PREFIX,
            exempt: Vec::new(),
        }
    }
}
