//! Header hygiene between client and backend: hop-by-hop headers are
//! dropped both ways, client-supplied forwarding and identity headers are
//! stripped, and gatehouse's own `X-Forwarded-*` and `Forwarded` are set.
//! The one exception: a trusted proxy's `X-Forwarded-For` chain is passed
//! on with the proxy appended (see [`crate::client`]).

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one hop, never the message (RFC 9110 7.6.1), plus
/// the non-standard ones proxies are known to mishandle. Constants, so that
/// the per-request work is hashing, not parsing names.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Forwarding headers a client could forge; gatehouse sets its own.
const FORWARDING: [HeaderName; 7] = [
    header::FORWARDED,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    HeaderName::from_static("x-forwarded-port"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-client-ip"),
];

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
    for h in &HOP_BY_HOP {
        if keep_upgrade && h == header::UPGRADE {
            continue;
        }
        headers.remove(h);
    }
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
    /// `X-Forwarded-For` named).
    pub client: IpAddr,
    /// The `X-Forwarded-For` chain to send instead of just the client:
    /// only for a trusted proxy's request, whose chain it extends.
    pub chain: Option<&'a HeaderValue>,
    pub proto: &'static str,
    /// The Host (or `:authority`) the client asked for, as sent.
    pub host: Option<&'a HeaderValue>,
}

/// Strips client-supplied forwarding and identity headers, then sets
/// `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded` (RFC 7239).
pub(crate) fn set_forwarding(headers: &mut HeaderMap, f: &ForwardedFor<'_>) {
    for h in &FORWARDING {
        headers.remove(h);
    }
    if headers.keys().any(|k| k.as_str().starts_with(IDENTITY_PREFIX)) {
        let identity: Vec<HeaderName> = headers
            .keys()
            .filter(|k| k.as_str().starts_with(IDENTITY_PREFIX))
            .cloned()
            .collect();
        for k in identity {
            headers.remove(k);
        }
    }
    let client = f.client.to_canonical();
    let ip = client.to_string();
    match f.chain {
        Some(chain) => {
            headers.insert(X_FORWARDED_FOR, chain.clone());
        }
        None => {
            if let Ok(v) = HeaderValue::from_str(&ip) {
                headers.insert(X_FORWARDED_FOR, v);
            }
        }
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(f.proto));
    let mut forwarded = match client {
        IpAddr::V4(_) => format!("for={ip}"),
        IpAddr::V6(_) => format!("for=\"[{ip}]\""),
    };
    forwarded.push_str(";proto=");
    forwarded.push_str(f.proto);
    if let Some(host) = f.host {
        headers.insert(X_FORWARDED_HOST, host.clone());
        if let Ok(h) = host.to_str() {
            if h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) {
                forwarded.push_str(";host=");
                forwarded.push_str(h);
            }
        }
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
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
