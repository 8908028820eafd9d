//! Who the client is, on listeners behind another load balancer
//! (`trusted_proxies` and `client_address`).
//!
//! - A peer that is not one of the listener's trusted proxies is the client
//!   itself, whatever it sends: its `X-Forwarded-For` and friends are
//!   stripped like any client's ([`crate::headers::strip_client_supplied`]), and
//!   nothing is read as a PROXY header.
//! - `proxy-protocol`: a trusted peer sends a PROXY header (v1 or v2)
//!   before TLS; [`read_proxy_header`] takes exactly its bytes, and the
//!   address it names is the connection's client from then on (zone, ACL,
//!   routes, auth policy, the `X-Forwarded-For` gatehouse sets, the log).
//! - `x-forwarded-for`: a trusted peer's requests may each come from a
//!   different client. The client of a request is the rightmost address in
//!   its `X-Forwarded-For` headers that is not itself a trusted proxy
//!   ([`forwarded_client`]); `Forwarded: for=` is not consulted, so that
//!   exactly one header has to be right.
//!
//! The PROXY header is read by the runtime's reader, the one the L4 VIPs
//! use ([`gatehouse_runtime::l4::proxy_protocol::read_header`]).

use std::net::{IpAddr, SocketAddr};

use gatehouse_model::topology::Listener;
use gatehouse_model::Plan;
use gatehouse_policy::ZoneId;
use gatehouse_runtime::l4::proxy_protocol::{self, HeaderError};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::net::TcpStream;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// How a connection's requests learn their client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The connection's client (the peer, or the address its trusted PROXY
    /// header named) in the zone decided at accept.
    Connection(ZoneId),
    /// A trusted proxy on an `x-forwarded-for` listener: each request's
    /// client is decided from its headers.
    ForwardedFor,
}

/// The client of one request.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub addr: IpAddr,
    pub zone: ZoneId,
    /// The trusted proxy the address came through, for the log.
    pub via: Option<IpAddr>,
    /// The `X-Forwarded-For` chain to send on (trusted `x-forwarded-for`
    /// connections only): the chain as received, with the peer appended.
    pub chain: Option<HeaderValue>,
}

/// Reads the PROXY header a trusted peer sends first and returns the
/// client it names, `None` when it names none (v2 `LOCAL`, v1 `UNKNOWN`).
/// The runtime's reader, the one the L4 VIPs use: it consumes exactly the
/// header's bytes, so the TLS handshake (or the first request) that follows
/// is untouched.
pub(crate) async fn read_proxy_header(stream: &mut TcpStream) -> Result<Option<IpAddr>, HeaderError> {
    let named = proxy_protocol::read_header(stream, proxy_protocol::HEADER_TIMEOUT).await?;
    Ok(named.map(|a| a.ip().to_canonical()))
}

/// The entries of every `X-Forwarded-For` header, in order (several
/// headers read as one comma-separated list, RFC 9110 5.3), trimmed.
fn entries(headers: &HeaderMap) -> impl DoubleEndedIterator<Item = &str> {
    // A value that is not visible ASCII is one unusable entry, not skipped:
    // skipping it would let whatever stands to its left be believed.
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// An entry as an address: a bare IPv4 or IPv6 address, or one with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`), as some balancers write them.
fn address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|a| a.to_canonical())
}

/// The client a trusted proxy names: the rightmost `X-Forwarded-For` entry
/// that is not itself a trusted proxy. Entries are walked from the right
/// because each proxy appends what it saw, so only the right end was
/// written by proxies we trust. An entry that is not an address stops the
/// walk (`None`): what lies to its left was written by someone untrusted.
pub(crate) fn forwarded_client(headers: &HeaderMap, plan: &Plan, listener: &Listener) -> Option<IpAddr> {
    for entry in entries(headers).rev() {
        let addr = address(entry)?;
        if !plan.trusts(listener, addr) {
            return Some(addr);
        }
    }
    None
}

/// The `X-Forwarded-For` to send on for a trusted proxy's request: the
/// chain as received, with the peer appended (what every proxy does).
pub(crate) fn forwarded_chain(headers: &HeaderMap, peer: IpAddr) -> Option<HeaderValue> {
    let mut chain: Vec<&str> = entries(headers).filter(|e| *e != "?").collect();
    let peer = peer.to_canonical().to_string();
    chain.push(&peer);
    HeaderValue::from_str(&chain.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let text = r#"
[gatehouse]
name = "t"
[zones.internet]
[services.web]
product = "generic"
class = "sharepoint"
[pools.web]
service = "web"
members = ["127.0.0.1:8080"]
[listeners.web]
address = "127.0.0.1"
port = 8443
protocol = "http"
zones = ["internet"]
trusted_proxies = ["10.0.0.0/24", "2001:db8::/64"]
client_address = "x-forwarded-for"
[routes.web]
listeners = ["web"]
hosts = ["www.example.test"]
pool = "web"
plain = true
"#;
        let checked = gatehouse_model::check(text);
        checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics))
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(X_FORWARDED_FOR, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn client(values: &[&str]) -> Option<String> {
        let plan = plan();
        let l = plan.listener("web").unwrap();
        forwarded_client(&headers(values), &plan, l).map(|a| a.to_string())
    }

    #[test]
    fn the_rightmost_address_not_a_trusted_proxy_is_the_client() {
        assert_eq!(client(&["192.0.2.9"]).as_deref(), Some("192.0.2.9"));
        // A client forging its own entry is on the left of what it cannot forge.
        assert_eq!(client(&["6.6.6.6, 192.0.2.9"]).as_deref(), Some("192.0.2.9"));
        // Trusted proxies in the chain are skipped; several headers are one list.
        assert_eq!(
            client(&["6.6.6.6, 192.0.2.9", " 10.0.0.7 ,10.0.0.8"]).as_deref(),
            Some("192.0.2.9")
        );
        assert_eq!(client(&["192.0.2.9:4711"]).as_deref(), Some("192.0.2.9"));
        assert_eq!(
            client(&["[2001:db9::1]:4711, 2001:db8::5"]).as_deref(),
            Some("2001:db9::1")
        );
        assert_eq!(client(&["::ffff:192.0.2.9"]).as_deref(), Some("192.0.2.9"));
    }

    #[test]
    fn no_usable_address_names_no_client() {
        assert_eq!(client(&[]), None);
        assert_eq!(client(&[""]), None);
        assert_eq!(client(&["10.0.0.1, 10.0.0.2"]), None, "only trusted proxies");
        // "unknown" was written by a trusted proxy's client side: nothing to
        // its left can be believed.
        assert_eq!(client(&["192.0.2.9, unknown"]), None);
        assert_eq!(client(&["192.0.2.9, 10.0.0.1, bogus, 10.0.0.2"]), None);
    }

    #[test]
    fn the_chain_sent_on_is_the_received_one_with_the_peer_appended() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let sent = |v: &[&str]| forwarded_chain(&headers(v), peer).unwrap();
        assert_eq!(sent(&["192.0.2.9"]), "192.0.2.9, 10.0.0.5");
        assert_eq!(
            sent(&["6.6.6.6,192.0.2.9", "10.0.0.7"]),
            "6.6.6.6, 192.0.2.9, 10.0.0.7, 10.0.0.5"
        );
        assert_eq!(sent(&[]), "10.0.0.5");
    }
}
