//! Reading a PROXY protocol header (HAProxy's proxy-protocol.txt, versions
//! 1 and 2): how a trusted load balancer in front of a listener tells the
//! client's address before the connection's first byte.
//!
//! [`parse`] is a pure function over the bytes received so far, so that the
//! L4 runtime and the HTTP proxy (which must not depend on each other) share
//! one parser and the socket code around it stays a few lines. It never
//! reads past the header: `header_len` says exactly how many bytes to
//! consume, and whatever follows is the client's payload (or TLS).
//!
//! What counts as an address, as HAProxy does it:
//! - v1 `TCP4`/`TCP6` lines and v2 `PROXY` headers over TCP on IPv4 or IPv6
//!   give the client's address;
//! - v1 `UNKNOWN`, the v2 `LOCAL` command (the balancer's own health
//!   checks), and v2 families or transports other than TCP over IP (UNIX
//!   sockets, UDP, unspecified) give none: the caller then uses the peer's
//!   own address;
//! - anything else, including a v1 line over 107 bytes or a v2 header whose
//!   length is too short for its family, is [`Parse::Invalid`].
//!
//! Only callers that *trust* the peer may act on the result: this module
//! says what the bytes claim, not whether to believe them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12 bytes every version 2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

/// The longest version 1 line, CRLF included (section 2.1).
pub const V1_MAX_LEN: usize = 107;

/// The longest version 2 header: 16 fixed bytes and a 16-bit length.
pub const V2_MAX_LEN: usize = 16 + u16::MAX as usize;

const V1_PREFIX: &[u8] = b"PROXY ";

/// What the bytes received so far amount to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// A header may still be coming: read more and parse again.
    Incomplete,
    /// Not a PROXY header, or a broken one; the reason is for logs.
    Invalid(&'static str),
    /// A complete header of `header_len` bytes. `client` is `None` when the
    /// header carries no usable address (v1 `UNKNOWN`, v2 `LOCAL`, or a
    /// family other than TCP over IP): use the peer's address then.
    Parsed {
        client: Option<SocketAddr>,
        header_len: usize,
    },
}

/// Parses a PROXY protocol header (v1 or v2) at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parse {
    if buf.first() == Some(&V2_SIGNATURE[0]) {
        parse_v2(buf)
    } else {
        parse_v1(buf)
    }
}

fn parse_v1(buf: &[u8]) -> Parse {
    let n = buf.len().min(V1_PREFIX.len());
    if buf[..n] != V1_PREFIX[..n] {
        return Parse::Invalid("not a PROXY protocol header");
    }
    // The line ends at the first LF, which must follow a CR and come
    // within the spec's 107 bytes; a receiver never waits for more.
    let window = &buf[..buf.len().min(V1_MAX_LEN)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX_LEN {
            Parse::Invalid("PROXY v1 line longer than 107 bytes")
        } else {
            Parse::Incomplete
        };
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Parse::Invalid("PROXY v1 line does not end with CRLF");
    }
    let Ok(line) = std::str::from_utf8(&buf[V1_PREFIX.len()..lf - 1]) else {
        return Parse::Invalid("PROXY v1 line is not text");
    };
    let header_len = lf + 1;
    // "UNKNOWN" may be followed by anything up to the CRLF (section 2.1).
    if line == "UNKNOWN" || line.starts_with("UNKNOWN ") {
        return Parse::Parsed {
            client: None,
            header_len,
        };
    }
    // Exactly one space between the fields.
    let fields: Vec<&str> = line.split(' ').collect();
    let [family, src, dst, sport, dport] = fields[..] else {
        return Parse::Invalid("PROXY v1 line does not have 5 fields");
    };
    // The destination is checked for form but not used: the listener
    // knows its own address.
    let src = match family {
        "TCP4" => match (src.parse::<Ipv4Addr>(), dst.parse::<Ipv4Addr>()) {
            (Ok(s), Ok(_)) => IpAddr::V4(s),
            _ => return Parse::Invalid("PROXY v1 TCP4 line with a bad IPv4 address"),
        },
        "TCP6" => match (src.parse::<Ipv6Addr>(), dst.parse::<Ipv6Addr>()) {
            (Ok(s), Ok(_)) => IpAddr::V6(s),
            _ => return Parse::Invalid("PROXY v1 TCP6 line with a bad IPv6 address"),
        },
        _ => return Parse::Invalid("PROXY v1 line with an unknown protocol"),
    };
    match (port(sport), port(dport)) {
        (Some(sport), Some(_)) => Parse::Parsed {
            client: Some(SocketAddr::new(src, sport)),
            header_len,
        },
        _ => Parse::Invalid("PROXY v1 line with a bad port"),
    }
}

/// A v1 port: decimal, 0 to 65535, no sign and no leading zero.
fn port(s: &str) -> Option<u16> {
    let digits = !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

fn parse_v2(buf: &[u8]) -> Parse {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] != V2_SIGNATURE[..n] {
        return Parse::Invalid("not a PROXY protocol header");
    }
    if buf.len() < 16 {
        return Parse::Incomplete;
    }
    let (version, command) = (buf[12] >> 4, buf[12] & 0x0F);
    if version != 2 {
        return Parse::Invalid("PROXY v2 header with an unknown version");
    }
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let header_len = 16 + len;
    if command > 1 {
        return Parse::Invalid("PROXY v2 header with an unknown command");
    }
    if buf.len() < header_len {
        return Parse::Incomplete;
    }
    let body = &buf[16..header_len];
    if command == 0 {
        // LOCAL: the balancer speaking for itself; addresses are ignored.
        return Parse::Parsed {
            client: None,
            header_len,
        };
    }
    let client = match buf[13] {
        0x11 => {
            let Some(a) = body.get(..12) else {
                return Parse::Invalid("PROXY v2 TCP4 header shorter than its addresses");
            };
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be_bytes([a[8], a[9]])))
        }
        0x21 => {
            let Some(a) = body.get(..36) else {
                return Parse::Invalid("PROXY v2 TCP6 header shorter than its addresses");
            };
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let ip = Ipv6Addr::from(octets);
            Some(SocketAddr::new(IpAddr::V6(ip), u16::from_be_bytes([a[32], a[33]])))
        }
        fam if fam >> 4 > 3 || fam & 0x0F > 2 => {
            return Parse::Invalid("PROXY v2 header with an unknown family or transport")
        }
        // UNSPEC, UNIX sockets, UDP: defined, but no TCP client address.
        _ => None,
    };
    Parse::Parsed { client, header_len }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn parsed(client: Option<&str>, header_len: usize) -> Parse {
        Parse::Parsed {
            client: client.map(sa),
            header_len,
        }
    }

    /// Section 2.1's example line, with payload behind it.
    #[test]
    fn v1_spec_example_gives_the_source_and_stops_at_the_crlf() {
        let line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(parse(line), parsed(Some("192.168.0.1:56324"), 47));
    }

    #[test]
    fn v1_tcp6_and_the_longest_lines_parse() {
        let tcp4 = b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
        assert_eq!(parse(tcp4), parsed(Some("255.255.255.255:65535"), 56));
        let max6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let tcp6 = format!("PROXY TCP6 {max6} {max6} 65535 65535\r\n");
        assert_eq!(tcp6.len(), 104);
        assert_eq!(parse(tcp6.as_bytes()), parsed(Some(&format!("[{max6}]:65535")), 104));
        assert_eq!(
            parse(b"PROXY TCP6 2001:db8::1 2001:db8::2 1024 443\r\n"),
            parsed(Some("[2001:db8::1]:1024"), 45)
        );
    }

    #[test]
    fn v1_unknown_carries_no_client_whatever_follows_it() {
        assert_eq!(parse(b"PROXY UNKNOWN\r\n"), parsed(None, 15));
        let long = b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\nX";
        assert_eq!(parse(long), parsed(None, long.len() - 1));
    }

    #[test]
    fn v1_prefixes_of_a_line_are_incomplete() {
        let line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
        for n in 0..line.len() {
            assert_eq!(parse(&line[..n]), Parse::Incomplete, "{n} bytes");
        }
    }

    #[test]
    fn v1_broken_lines_are_invalid() {
        let bad: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n",
            b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
            b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY \xff\r\n",
        ];
        for b in bad {
            assert!(
                matches!(parse(b), Parse::Invalid(_)),
                "{:?} should be invalid, got {:?}",
                String::from_utf8_lossy(b),
                parse(b)
            );
        }
    }

    #[test]
    fn v1_without_a_crlf_in_107_bytes_is_invalid_not_incomplete() {
        let mut long = b"PROXY UNKNOWN ".to_vec();
        long.resize(106, b'x');
        assert_eq!(parse(&long), Parse::Incomplete);
        long.push(b'\r');
        assert!(matches!(parse(&long), Parse::Invalid(_)), "107 bytes, no LF");
        long.push(b'\n');
        assert!(matches!(parse(&long), Parse::Invalid(_)), "the CRLF ends at byte 108");
        let mut exact = b"PROXY UNKNOWN ".to_vec();
        exact.resize(105, b'x');
        exact.extend_from_slice(b"\r\n");
        assert_eq!(parse(&exact), parsed(None, 107));
    }

    /// Section 2.2: TCP over IPv4 from 172.19.0.1:42578 to 172.19.0.3:80.
    const V2_TCP4: [u8; 28] = [
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
        0x21, 0x11, 0x00, 0x0c, // v2 PROXY, TCP4, 12 bytes
        0xac, 0x13, 0x00, 0x01, 0xac, 0x13, 0x00, 0x03, // addresses
        0xa6, 0x52, 0x00, 0x50, // ports
    ];

    #[test]
    fn v2_tcp4_gives_the_source_and_its_exact_length() {
        let mut with_payload = V2_TCP4.to_vec();
        with_payload.extend_from_slice(b"\x16\x03\x01");
        assert_eq!(parse(&with_payload), parsed(Some("172.19.0.1:42578"), 28));
        for n in 0..V2_TCP4.len() {
            assert_eq!(parse(&V2_TCP4[..n]), Parse::Incomplete, "{n} bytes");
        }
    }

    #[test]
    fn v2_tlvs_after_the_addresses_are_skipped() {
        let mut h = V2_TCP4.to_vec();
        // Addresses, then one TLV: PP2_TYPE_AUTHORITY, length 3, "a.b".
        h[15] = 12 + 6;
        h.extend_from_slice(&[0x02, 0x00, 0x03, b'a', b'.', b'b']);
        assert_eq!(parse(&h), parsed(Some("172.19.0.1:42578"), 34));
    }

    #[test]
    fn v2_tcp6_gives_the_source() {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend_from_slice(&[0x21, 0x21, 0x00, 0x24]);
        h.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        h.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        h.extend_from_slice(&[0x04, 0x00, 0x01, 0xbb]);
        assert_eq!(parse(&h), parsed(Some("[2001:db8::1]:1024"), 52));
    }

    #[test]
    fn v2_local_unspec_unix_and_udp_carry_no_client() {
        let local = [&V2_SIGNATURE[..], &[0x20, 0x00, 0x00, 0x00]].concat();
        assert_eq!(parse(&local), parsed(None, 16));
        // LOCAL with addresses: skipped all the same.
        let mut local4 = V2_TCP4.to_vec();
        local4[12] = 0x20;
        assert_eq!(parse(&local4), parsed(None, 28));
        let mut udp = V2_TCP4.to_vec();
        udp[13] = 0x12;
        assert_eq!(parse(&udp), parsed(None, 28));
        let mut unix = [&V2_SIGNATURE[..], &[0x21, 0x31, 0x00, 0xd8]].concat();
        unix.resize(16 + 216, 0);
        assert_eq!(parse(&unix), parsed(None, 232));
        let unspec = [&V2_SIGNATURE[..], &[0x21, 0x00, 0x00, 0x00]].concat();
        assert_eq!(parse(&unspec), parsed(None, 16));
    }

    #[test]
    fn v2_broken_headers_are_invalid() {
        let mut version1 = V2_TCP4;
        version1[12] = 0x11;
        let mut command2 = V2_TCP4;
        command2[12] = 0x22;
        let mut short4 = V2_TCP4.to_vec();
        short4[15] = 8;
        short4.truncate(24);
        let mut family = V2_TCP4;
        family[13] = 0x41;
        let mut transport = V2_TCP4;
        transport[13] = 0x13;
        let mut signature = V2_TCP4;
        signature[11] = 0x0b;
        for (what, h) in [
            ("version 1", &version1[..]),
            ("command 2", &command2[..]),
            ("length too short for TCP4", &short4[..]),
            ("family 4", &family[..]),
            ("transport 3", &transport[..]),
            ("signature", &signature[..]),
        ] {
            assert!(matches!(parse(h), Parse::Invalid(_)), "{what}: {:?}", parse(h));
        }
    }

    fn v1_line(src: SocketAddr, dst: SocketAddr) -> String {
        let family = if src.is_ipv4() { "TCP4" } else { "TCP6" };
        format!(
            "PROXY {family} {} {} {} {}\r\n",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        )
    }

    fn v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                h.extend_from_slice(&[0x21, 0x11, 0, 12]);
                h.extend_from_slice(&s.octets());
                h.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                h.extend_from_slice(&[0x21, 0x21, 0, 36]);
                h.extend_from_slice(&s.octets());
                h.extend_from_slice(&d.octets());
            }
            _ => unreachable!("same family"),
        }
        h.extend_from_slice(&src.port().to_be_bytes());
        h.extend_from_slice(&dst.port().to_be_bytes());
        h
    }

    fn addr_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>(), any::<[u8; 4]>(), any::<u16>()).prop_map(|(s, sp, d, dp)| (
                SocketAddr::new(IpAddr::from(s), sp),
                SocketAddr::new(IpAddr::from(d), dp)
            )),
            (any::<[u8; 16]>(), any::<u16>(), any::<[u8; 16]>(), any::<u16>()).prop_map(|(s, sp, d, dp)| (
                SocketAddr::new(IpAddr::from(s), sp),
                SocketAddr::new(IpAddr::from(d), dp)
            )),
        ]
    }

    proptest! {
        /// The fuzz target's property: no input panics, and a parsed
        /// header never claims more bytes than were given.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Parse::Parsed { header_len, .. } = parse(&bytes) {
                prop_assert!(header_len <= bytes.len());
            }
        }

        /// Random bytes behind either signature reach the deeper checks.
        #[test]
        fn random_bytes_after_a_signature_never_panic(
            v2 in any::<bool>(),
            rest in proptest::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut bytes = if v2 { V2_SIGNATURE.to_vec() } else { b"PROXY ".to_vec() };
            bytes.extend_from_slice(&rest);
            if let Parse::Parsed { header_len, .. } = parse(&bytes) {
                prop_assert!(header_len <= bytes.len());
            }
        }

        /// Any address written in either version reads back, and payload
        /// after it is never part of the header; every strict prefix is
        /// incomplete.
        #[test]
        fn written_headers_read_back((src, dst) in addr_pair(), payload in proptest::collection::vec(any::<u8>(), 0..40)) {
            for header in [v1_line(src, dst).into_bytes(), v2_header(src, dst)] {
                let mut bytes = header.clone();
                bytes.extend_from_slice(&payload);
                prop_assert_eq!(parse(&bytes), Parse::Parsed { client: Some(src), header_len: header.len() });
                for n in 0..header.len() {
                    prop_assert_eq!(parse(&header[..n]), Parse::Incomplete);
                }
            }
        }
    }
}
