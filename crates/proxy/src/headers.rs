//! Header hygiene between client and backend: hop-by-hop headers are
//! dropped both ways, client-supplied forwarding and identity headers are
//! stripped, and gatehouse's own `X-Forwarded-*` and `Forwarded` are
//! written into the request head that goes to the backend.
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
    // The usual message has none (no `Connection` either, so nothing it
    // names): one pass over the names instead of three lookups.
    if !headers.keys().any(is_hop_by_hop) {
        if keep_upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
        return;
    }
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
    /// The Host (or `:authority`) the client asked for, as sent. Either
    /// comes from a parsed header value or URI, so it holds no CR or LF.
    pub host: Option<&'a [u8]>,
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

/// Strips what a client may not pass on: forwarding and identity headers
/// (gatehouse writes its own) and `Expect` (gatehouse answered it when it
/// began reading the body).
pub(crate) fn strip_client_supplied(headers: &mut HeaderMap) {
    remove_where(headers, |n| {
        is_forwarding(n) || n == header::EXPECT || n.as_str().starts_with(IDENTITY_PREFIX)
    });
}

/// Writes `X-Forwarded-For`, `-Proto`, `-Host` and `Forwarded` (RFC 7239)
/// as header lines of the request head going to the backend. Straight
/// into the head: inserting four fields into the request's map, only to
/// read them out again when writing, cost more than the rest of the
/// header work together.
pub(crate) fn write_forwarding(out: &mut Vec<u8>, f: &ForwardedFor<'_>) {
    let fresh;
    let client = match f.client {
        Rendered::Ready(c) => c,
        Rendered::Fresh(addr, proto) => {
            fresh = ClientHeaders::new(addr, proto);
            &fresh
        }
    };
    let mut line = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    line(b"x-forwarded-for", f.chain.unwrap_or(&client.xff).as_bytes());
    line(b"x-forwarded-proto", client.proto.as_bytes());
    if let Some(host) = f.host {
        line(b"x-forwarded-host", host);
    }
    out.extend_from_slice(b"forwarded: ");
    out.extend_from_slice(client.forwarded.as_bytes());
    if let Some(host) = f.host {
        // RFC 7239 4: a value is a token or a quoted string; `:` and `[]`
        // (a port, an IPv6 literal) are not token characters.
        if host.iter().all(|b| b.is_ascii_alphanumeric() || b".-_~".contains(b)) {
            out.extend_from_slice(b";host=");
            out.extend_from_slice(host);
        } else if host.iter().all(|b| b.is_ascii_alphanumeric() || b".-_~:[]".contains(b)) {
            out.extend_from_slice(b";host=\"");
            out.extend_from_slice(host);
            out.push(b'"');
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether a header name has an underscore: IIS server variables read `_`
/// and `-` alike, so `X_Forwarded_For` would shadow gatehouse's own
/// `X-Forwarded-For`. Dropped, as nginx does by default.
fn has_underscore(name: &HeaderName) -> bool {
    name.as_str().as_bytes().contains(&b'_')
}

/// Drops header names with underscores (see [`has_underscore`]); one pass
/// over the names and no allocation when there is none.
pub(crate) fn strip_underscored(headers: &mut HeaderMap) {
    if !headers.keys().any(has_underscore) {
        return;
    }
    for n in headers.keys().filter(|n| has_underscore(n)) {
        // The name only: values may carry credentials.
        tracing::debug!(header = %n.as_str(), "dropped a request header whose name has an underscore");
    }
    remove_where(headers, has_underscore);
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
    fn forwarding_headers_are_stripped_and_written_for_the_client() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
            ("x-gatehouse-user", "admin"),
            ("expect", "100-continue"),
            ("accept", "*/*"),
        ] {
            h.insert(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        strip_client_supplied(&mut h);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["accept"]);

        let ready = ClientHeaders::new("192.0.2.7".parse().unwrap(), "https");
        let mut out = Vec::new();
        write_forwarding(
            &mut out,
            &ForwardedFor {
                client: Rendered::Ready(&ready),
                chain: None,
                host: Some(b"owa.contoso.com"),
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-forwarded-for: 192.0.2.7\r\nx-forwarded-proto: https\r\nx-forwarded-host: owa.contoso.com\r\n\
             forwarded: for=192.0.2.7;proto=https;host=owa.contoso.com\r\n"
        );

        // A trusted proxy's chain goes on; an IPv6 client is quoted; a host
        // with characters `Forwarded` cannot carry stays out of it.
        let chain = HeaderValue::from_static("198.51.100.1, 10.0.0.5");
        let mut out = Vec::new();
        write_forwarding(
            &mut out,
            &ForwardedFor {
                client: Rendered::Fresh("2001:db8::1".parse().unwrap(), "http"),
                chain: Some(&chain),
                host: Some(b"a b"),
            },
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "x-forwarded-for: 198.51.100.1, 10.0.0.5\r\nx-forwarded-proto: http\r\nx-forwarded-host: a b\r\n\
             forwarded: for=\"[2001:db8::1]\";proto=http\r\n"
        );
    }

    #[test]
    fn forwarded_quotes_a_host_with_a_port_or_an_ipv6_literal() {
        let ready = ClientHeaders::new("192.0.2.7".parse().unwrap(), "https");
        for (host, want) in [
            (&b"mail.contoso.com:16443"[..], "host=\"mail.contoso.com:16443\""),
            (b"[2001:db8::1]:443", "host=\"[2001:db8::1]:443\""),
            (b"mail.contoso.com", "host=mail.contoso.com"),
        ] {
            let mut out = Vec::new();
            write_forwarding(
                &mut out,
                &ForwardedFor {
                    client: Rendered::Ready(&ready),
                    chain: None,
                    host: Some(host),
                },
            );
            let out = String::from_utf8(out).unwrap();
            let forwarded = out.lines().find(|l| l.starts_with("forwarded: ")).unwrap();
            assert!(forwarded.ends_with(&format!(";{want}")), "{forwarded}");
        }
    }

    #[test]
    fn header_names_with_underscores_are_dropped() {
        let mut h = HeaderMap::new();
        for n in ["x_forwarded_for", "transfer_encoding", "accept", "x-real-thing"] {
            h.insert(HeaderName::from_static(n), HeaderValue::from_static("1"));
        }
        strip_underscored(&mut h);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["accept", "x-real-thing"]);
    }

    #[test]
    fn a_message_without_hop_by_hop_fields_is_left_alone_unless_upgrading() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.len(), 2);
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h.get(header::CONNECTION).unwrap(), "upgrade");
        assert_eq!(h.len(), 3);
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
