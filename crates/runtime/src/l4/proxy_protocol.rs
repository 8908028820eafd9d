//! The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2):
//! the header a VIP sends a member first, so the member learns the real
//! client address and the VIP address the client connected to; and
//! [`read_header`], which takes such a header from a trusted load balancer
//! in front of a VIP (`client_address = "proxy-protocol"`). The parser
//! itself is [`gatehouse_policy::proxy_header`], shared with the HTTP proxy.
//!
//! Addresses are reported as the client and VIP see them; an IPv4 client on
//! a dual-stack socket (`::ffff:a.b.c.d`) is reported as IPv4. When the two
//! ends are of different families, both are given as IPv6 (the IPv4 one
//! mapped), because a header has one family.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use gatehouse_model::topology::Transport;
use gatehouse_policy::proxy_header::{self, Parse};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The 12 bytes every version 2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = proxy_header::V2_SIGNATURE;

/// How long a trusted peer has to send its whole header. A balancer sends
/// it with the connection's first segment; waiting longer only lets a
/// stuck peer hold a socket.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a trusted peer's header was refused.
#[derive(Debug)]
pub enum HeaderError {
    /// The peer closed before a whole header arrived.
    Closed,
    /// No whole header within the timeout.
    Timeout(Duration),
    /// The bytes are not a PROXY header (or a broken one).
    Invalid(&'static str),
    Io(io::Error),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Closed => f.write_str("closed before a whole PROXY header"),
            HeaderError::Timeout(t) => write!(f, "no whole PROXY header within {t:?}"),
            HeaderError::Invalid(why) => f.write_str(why),
            HeaderError::Io(e) => write!(f, "reading the PROXY header: {e}"),
        }
    }
}

/// Reads the PROXY header (v1 or v2) a trusted peer sends first and
/// returns the client address it names, `None` when it names none (v2
/// `LOCAL`, v1 `UNKNOWN`: the peer speaks for itself).
///
/// Exactly the header's bytes are consumed, never the payload behind it:
/// the stream is peeked, and only bytes the parser says belong to the
/// header are read. An incomplete header's bytes all belong to it, so they
/// are consumed before peeking again (which then waits for more).
pub async fn read_header(stream: &mut TcpStream, timeout: Duration) -> Result<Option<SocketAddr>, HeaderError> {
    match tokio::time::timeout(timeout, read_untimed(stream)).await {
        Ok(r) => r,
        Err(_) => Err(HeaderError::Timeout(timeout)),
    }
}

async fn read_untimed(stream: &mut TcpStream) -> Result<Option<SocketAddr>, HeaderError> {
    let mut seen: Vec<u8> = Vec::with_capacity(128);
    let mut peeked = [0u8; 512];
    loop {
        let n = stream.peek(&mut peeked).await.map_err(HeaderError::Io)?;
        if n == 0 {
            return Err(HeaderError::Closed);
        }
        let consumed = seen.len();
        seen.extend_from_slice(&peeked[..n]);
        match proxy_header::parse(&seen) {
            Parse::Parsed { client, header_len } => {
                let rest = header_len - consumed;
                stream.read_exact(&mut peeked[..rest]).await.map_err(HeaderError::Io)?;
                return Ok(client);
            }
            Parse::Incomplete => {
                stream.read_exact(&mut peeked[..n]).await.map_err(HeaderError::Io)?;
            }
            Parse::Invalid(why) => return Err(HeaderError::Invalid(why)),
        }
    }
}

/// The version 1 (text) header for a TCP connection from `src` to `dst`.
pub fn v1(src: SocketAddr, dst: SocketAddr) -> String {
    let (src, dst) = same_family(src, dst);
    let family = if src.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
}

/// The version 2 (binary) header: command PROXY, no TLVs.
pub fn v2(src: SocketAddr, dst: SocketAddr, transport: Transport) -> Vec<u8> {
    let (src, dst) = same_family(src, dst);
    let proto = match transport {
        Transport::Tcp => 0x1,
        Transport::Udp => 0x2,
    };
    let mut out = Vec::with_capacity(16 + 36);
    out.extend_from_slice(&V2_SIGNATURE);
    out.push(0x21); // version 2, command PROXY
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x10 | proto);
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.push(0x20 | proto);
            out.extend_from_slice(&36u16.to_be_bytes());
            out.extend_from_slice(&v6_octets(s));
            out.extend_from_slice(&v6_octets(d));
        }
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

fn same_family(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let (src, dst) = (canonical(src), canonical(dst));
    if src.is_ipv4() == dst.is_ipv4() {
        return (src, dst);
    }
    let v6 = |a: SocketAddr| SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::from(v6_octets(a.ip()))), a.port());
    (v6(src), v6(dst))
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_policy::proxy_header::parse;

    /// What the shared parser reads back from one of our headers.
    fn read_back(header: &[u8]) -> Option<SocketAddr> {
        match parse(header) {
            Parse::Parsed { client, header_len } => {
                assert_eq!(header_len, header.len());
                client.map(canonical)
            }
            other => panic!("{other:?} for {header:?}"),
        }
    }

    /// A connected pair on loopback: (what the peer writes to, what the VIP reads).
    async fn pair() -> (TcpStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        (peer, l.accept().await.unwrap().0)
    }

    #[tokio::test]
    async fn read_header_takes_a_dribbled_header_and_leaves_the_payload() {
        use tokio::io::AsyncWriteExt;
        let (mut peer, mut vip) = pair().await;
        let mut bytes = v2(sa("198.51.100.7:40000"), sa("203.0.113.25:25"), Transport::Tcp);
        bytes.extend_from_slice(b"EHLO");
        let writer = tokio::spawn(async move {
            for b in bytes {
                peer.write_all(&[b]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            peer
        });
        let got = read_header(&mut vip, Duration::from_secs(5)).await.unwrap();
        assert_eq!(got, Some(sa("198.51.100.7:40000")));
        let _peer = writer.await.unwrap();
        let mut rest = [0u8; 4];
        vip.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"EHLO");
    }

    #[tokio::test]
    async fn read_header_gives_up_on_a_silent_or_closing_peer() {
        use tokio::io::AsyncWriteExt;
        let (mut peer, mut vip) = pair().await;
        peer.write_all(b"PROXY TCP4 ").await.unwrap();
        let late = read_header(&mut vip, Duration::from_millis(100)).await;
        assert!(matches!(late, Err(HeaderError::Timeout(_))), "{late:?}");
        peer.shutdown().await.unwrap();
        let closed = read_header(&mut vip, Duration::from_secs(5)).await;
        assert!(matches!(closed, Err(HeaderError::Closed)), "{closed:?}");
    }

    /// Every header this VIP can send is one the parser (and so a VIP
    /// behind this one) reads back, mixed families included.
    #[test]
    fn our_headers_round_trip_through_the_shared_parser() {
        let pairs = [
            ("192.168.0.1:56324", "192.168.0.11:443"),
            ("255.255.255.255:65535", "0.0.0.0:0"),
            ("[2001:db8::1]:1024", "[2001:db8::2]:5061"),
            ("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[::]:1"),
            ("[::ffff:198.51.100.7]:40000", "[::ffff:203.0.113.25]:25"),
            ("192.0.2.1:1000", "[2001:db8::2]:443"),
            ("[2001:db8::9]:7", "192.0.2.2:80"),
        ];
        for (src, dst) in pairs {
            let want = Some(canonical(sa(src)));
            assert_eq!(read_back(v1(sa(src), sa(dst)).as_bytes()), want, "v1 {src}");
            assert_eq!(read_back(&v2(sa(src), sa(dst), Transport::Tcp)), want, "v2 {src}");
        }
        // UDP headers are well-formed but name no TCP client.
        assert_eq!(
            read_back(&v2(sa("10.0.0.1:5000"), sa("10.0.0.2:3478"), Transport::Udp)),
            None
        );
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// proxy-protocol.txt section 2.1's example line.
    #[test]
    fn v1_matches_the_spec_example() {
        assert_eq!(
            v1(sa("192.168.0.1:56324"), sa("192.168.0.11:443")),
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
        );
    }

    /// The spec's worst cases fix the longest lines at 56 (TCP4) and 104
    /// (TCP6) bytes, CRLF included.
    #[test]
    fn v1_worst_cases_have_the_spec_lengths() {
        let tcp4 = v1(sa("255.255.255.255:65535"), sa("255.255.255.255:65535"));
        assert_eq!(tcp4, "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
        assert_eq!(tcp4.len(), 56);
        let max6 = "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535";
        let tcp6 = v1(sa(max6), sa(max6));
        assert_eq!(tcp6.len(), 104);
        assert!(tcp6.starts_with("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "));
    }

    #[test]
    fn v1_reports_mapped_clients_as_ipv4() {
        assert_eq!(
            v1(sa("[::ffff:198.51.100.7]:40000"), sa("[::ffff:203.0.113.25]:25")),
            "PROXY TCP4 198.51.100.7 203.0.113.25 40000 25\r\n"
        );
    }

    /// Section 2.2: signature, 0x21 (v2, PROXY), 0x11 (TCP over IPv4),
    /// length 12, then source and destination addresses and ports. The same
    /// bytes HAProxy sends for 172.19.0.1:42578 → 172.19.0.3:80.
    #[test]
    fn v2_tcp4_matches_the_spec_layout() {
        let got = v2(sa("172.19.0.1:42578"), sa("172.19.0.3:80"), Transport::Tcp);
        let want: [u8; 28] = [
            0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, // signature
            0x21, 0x11, 0x00, 0x0c, // v2 PROXY, TCP4, 12 bytes
            0xac, 0x13, 0x00, 0x01, 0xac, 0x13, 0x00, 0x03, // 172.19.0.1, 172.19.0.3
            0xa6, 0x52, 0x00, 0x50, // 42578, 80
        ];
        assert_eq!(got, want);
    }

    /// TCP over IPv6 is 0x21 with 36 bytes of addresses; UDP is 0x12/0x22.
    #[test]
    fn v2_tcp6_and_udp_use_the_spec_codes() {
        let got = v2(sa("[2001:db8::1]:1024"), sa("[2001:db8::2]:5061"), Transport::Tcp);
        assert_eq!(&got[..12], &V2_SIGNATURE);
        assert_eq!(&got[12..16], &[0x21, 0x21, 0x00, 0x24]);
        assert_eq!(got.len(), 16 + 36);
        let mut addr1 = [0u8; 16];
        addr1[0..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        addr1[15] = 1;
        assert_eq!(&got[16..32], &addr1);
        assert_eq!(&got[48..52], &[0x04, 0x00, 0x13, 0xc5]);
        let udp = v2(sa("10.0.0.1:5000"), sa("10.0.0.2:3478"), Transport::Udp);
        assert_eq!(udp[13], 0x12);
    }

    #[test]
    fn v2_mixed_families_map_ipv4_into_ipv6() {
        let got = v2(sa("192.0.2.1:1000"), sa("[2001:db8::2]:443"), Transport::Tcp);
        assert_eq!(got[13], 0x21);
        assert_eq!(
            &got[16..32],
            &"::ffff:192.0.2.1".parse::<std::net::Ipv6Addr>().unwrap().octets()
        );
    }
}
