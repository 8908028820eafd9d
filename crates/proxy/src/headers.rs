//! Header hygiene between client and backend: hop-by-hop headers are
//! dropped both ways, client-supplied forwarding and identity headers are
//! stripped, and gatehouse's own `X-Forwarded-*` and `Forwarded` are set.
//! The one exception: a trusted proxy's `X-Forwarded-For` chain is passed
//! on with the proxy appended (see [`crate::client`]).

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one hop, never the message (RFC 9110 7.6.1), plus
/// the non-standard ones proxies are known to mishandle.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "transfer-encoding"
            | "upgrade"
    )
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Forwarding headers a client could forge; gatehouse sets its own.
fn is_forwarding(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-forwarded-port"
            | "x-real-ip"
            | "x-client-ip"
    )
}

/// Removes every header `doomed` picks. One pass over the names, and no
/// hashing at all in the usual case where none is present: asking the map
/// to remove each absent name in turn cost more than the rest of the
/// header work together.
fn remove_where(headers: &mut HeaderMap, doomed: impl Fn(&HeaderName) -> bool) {
    if !headers.keys().any(&doomed) {
        return;
    }
    let names: Vec<HeaderName> = headers.keys().filter(|n| doomed(n)).cloned().collect();
    for n in names {
        headers.remove(n);
    }
}

/// Prefix of the identity headers gatehouse sets for backends (pre-
/// authentication will set `X-Gatehouse-User`). Any client-supplied header
/// with this prefix is removed, so a backend can trust them.
pub const IDENTITY_PREFIX: &str = "x-gatehouse-";

/// Removes hop-by-hop headers, including those named in `Connection`. When
/// `keep_upgrade` is set (an Upgrade exchange being tunnelled), `Upgrade` and
/// `Connection: upgrade` survive.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !(keep_upgrade && n == header::UPGRADE))
        .collect();
    for n in named {
        // `Connection: close, Content-Length` must not remove message framing.
        if n != header::CONTENT_LENGTH && n != header::HOST {
            headers.remove(&n);
        }
    }
    let te_trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("trailers")));
    remove_where(headers, |n| is_hop_by_hop(n) && !(keep_upgrade && n == header::UPGRADE));
    if te_trailers {
        // The one TE value that is end to end: the client accepts trailers.
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// What the request looked like to gatehouse, for the forwarding headers.
pub(crate) struct ForwardedFor<'a> {
    /// The request's client (for a trusted proxy's request, the one its
    /// `X-Forwarded-For` named), already rendered when it is the
    /// connection's own client.
    pub client: Rendered<'a>,
    /// The `X-Forwarded-For` chain to send instead of just the client:
    /// only for a trusted proxy's request, whose chain it extends.
    pub chain: Option<&'a HeaderValue>,
    /// The Host (or `:authority`) the client asked for, as sent.
    pub host: Option<&'a HeaderValue>,
}

/// The request's client: the connection's own, rendered when it was
/// accepted, or another (named by a trusted proxy) to render now.
pub(crate) enum Rendered<'a> {
    Ready(&'a ClientHeaders),
    Fresh(IpAddr, &'static str),
}

/// A client's `X-Forwarded-For` value and the start of its `Forwarded`
/// value, rendered once per connection rather than once per request.
pub(crate) struct ClientHeaders {
    pub addr: IpAddr,
    xff: HeaderValue,
    /// `for=...;proto=...`
    forwarded: String,
    proto: &'static str,
}

impl ClientHeaders {
    pub fn new(addr: IpAddr, proto: &'static str) -> Self {
        let client = addr.to_canonical();
        let ip = client.to_string();
        let forwarded = match client {
            IpAddr::V4(_) => format!("for={ip};proto={proto}"),
            IpAddr::V6(_) => format!("for=\"[{ip}]\";proto={proto}"),
        };
        ClientHeaders {
            addr,
            // An address always renders to a valid header value.
            xff: HeaderValue::from_str(&ip).unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            forwarded,
            proto,
        }
    }
}

/// Strips client-supplied forwarding and identity headers, then sets
/// `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded` (RFC 7239).
pub(crate) fn set_forwarding(headers: &mut HeaderMap, f: &ForwardedFor<'_>) {
    remove_where(headers, |n| is_forwarding(n) || n.as_str().starts_with(IDENTITY_PREFIX));
    let fresh;
    let client = match f.client {
        Rendered::Ready(c) => c,
        Rendered::Fresh(addr, proto) => {
            fresh = ClientHeaders::new(addr, proto);
            &fresh
        }
    };
    headers.insert(X_FORWARDED_FOR, f.chain.unwrap_or(&client.xff).clone());
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(client.proto));
    // Sized once: growing it for the host cost a second allocation.
    let mut forwarded = String::with_capacity(client.forwarded.len() + f.host.map_or(0, |h| h.len() + 6));
    forwarded.push_str(&client.forwarded);
    if let Some(host) = f.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
        if let Ok(h) = host.to_str() {
            if h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) {
                forwarded.push_str(";host=");
                forwarded.push_str(h);
            }
        }
    }
    // Built from an address, a protocol name and checked host characters.
    if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(forwarded)) {
        headers.insert(header::FORWARDED, v);
    }
}

/// Whether an `Authorization` or `WWW-Authenticate` value uses a
/// connection-bound scheme (NTLM or Negotiate), which requires pinning.
pub(crate) fn is_connection_auth(value: &HeaderValue) -> bool {
    let v = value.as_bytes();
    let scheme = v.split(|b| *b == b' ' || *b == b',').next().unwrap_or(v);
    scheme.eq_ignore_ascii_case(b"ntlm") || scheme.eq_ignore_ascii_case(b"negotiate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_named_headers_are_dropped_but_not_framing() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("x-secret, content-length"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        h.insert(header::TE, HeaderValue::from_static("gzip, trailers"));
        strip_hop_by_hop(&mut h, false);
        assert!(h.get("x-secret").is_none());
        assert!(h.get(header::CONNECTION).is_none());
        assert_eq!(h.get(header::CONTENT_LENGTH).unwrap(), "5");
        assert_eq!(h.get(header::TE).unwrap(), "trailers");
    }

    #[test]
    fn ntlm_and_negotiate_are_connection_auth_schemes() {
        assert!(is_connection_auth(&HeaderValue::from_static("NTLM TlRMTVNT")));
        assert!(is_connection_auth(&HeaderValue::from_static("Negotiate")));
        assert!(is_connection_auth(&HeaderValue::from_static("negotiate abc")));
        assert!(!is_connection_auth(&HeaderValue::from_static("Basic dXNlcg==")));
        assert!(!is_connection_auth(&HeaderValue::from_static("NTLMX")));
    }
}
