//! The gateway's policy, enforced by a running gatehouse on loopback.
//! Clients bind to different source addresses in 127.0.0.0/8, which the
//! test topology maps to zones: 127.0.0.2 is a partner, 127.0.0.3 the
//! intranet, and every other address the internet. The test shows allow
//! and deny on a TCP VIP, a UDP VIP and web routes, the admin route hidden
//! (404) outside the intranet, and the per-rule ACL counters moving.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::*;

const PARTNER: &str = "127.0.0.2";
const INTRANET: &str = "127.0.0.3";
const INTERNET: &str = "127.0.0.4";

/// A UDP echo server standing in for a media relay.
fn udp_echo() -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    port
}

fn topology(tcp: u16, udp: u16, https: u16, dns: u16) -> String {
    format!(
        r#"[zones.internet]
role = "internet"

[zones.partners]
role = "partner"
prefixes = ["{PARTNER}/32"]

[zones.intranet]
role = "intranet"
prefixes = ["{INTRANET}/32"]

[services.mail]
product = "exchange"
class = "exchange-mail"

[services.av]
product = "lync"
class = "lync-sip"

[services.web]
product = "lync"
class = "lync-web"

[certificates.lab]
names = ["meet.lab.example", "admin.lab.example"]

[pools.echo]
service = "mail"
members = ["127.0.0.1:{echo}"]

[pools.relay]
service = "av"
members = ["127.0.0.1:{relay}"]

[pools.web]
service = "web"
members = ["127.0.0.1:{web}"]

[listeners.federation]
address = "127.0.0.1"
port = {tcp}
protocol = "tcp"
zones = ["partners"]
pool = "echo"

[listeners.media]
address = "127.0.0.1"
port = {udp}
protocol = "udp"
zones = ["partners", "intranet"]
pool = "relay"

[listeners.https]
address = "127.0.0.1"
port = {https}
protocol = "https"
zones = ["internet", "partners", "intranet"]
certificates = ["lab"]

[routes.meet]
listeners = ["https"]
hosts = ["meet.lab.example"]
pool = "web"

[routes.admin]
listeners = ["https"]
hosts = ["admin.lab.example"]
pool = "web"
zones = ["intranet"]

[dns]
apex = "lab.example"
listen = ["127.0.0.1:{dns}"]

[dns.views.all]
zones = ["internet", "partners", "intranet"]

[[acl]]
name = "federation"
action = "allow"
from = ["partners"]
protocol = "tcp"
ports = [{tcp}]

[[acl]]
name = "media"
action = "allow"
from = ["partners", "intranet"]
protocol = "udp"
ports = [{udp}]

[[acl]]
name = "web"
action = "allow"
from = ["partners", "intranet"]
protocol = "tcp"
ports = [{https}]
"#,
        echo = echo_backend(),
        relay = udp_echo(),
        web = web_backend("web"),
    )
}

/// Connects from `src` and sends a line; `Some(echo)` if it came back,
/// `None` if the connection was closed or reset first.
fn tcp_from(src: &str, port: u16) -> Option<String> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(src.parse().unwrap(), 0).into()).unwrap();
    sock.connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)).into(), Duration::from_secs(5))
        .ok()?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"hello\n").ok()?;
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then_some(out)
}

/// Sends a datagram from `src`; the echo if one comes back within a second.
fn udp_from(src: &str, port: u16) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind(SocketAddr::new(src.parse::<IpAddr>().unwrap(), 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    sock.send_to(b"stun", ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 64];
    sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

/// GETs `https://host/` from `src`: the status, or `None` when the
/// connection was refused before TLS.
fn https_from(src: &str, port: u16, host: &str) -> Option<u16> {
    let out = Command::new("curl")
        .args([
            "-sk",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--interface",
            src,
        ])
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg(format!("https://{host}:{port}/"))
        .output()
        .expect("curl is installed (scripts/packages/http.txt)");
    let code: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    (code != 0).then_some(code)
}

#[test]
fn gatehouse_allows_and_denies_by_zone_on_tcp_udp_and_web_routes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    let (tcp, udp, https, dns) = (free_port(), free_port(), free_port(), free_port());
    std::fs::write(&config, topology(tcp, udp, https, dns)).unwrap();
    let run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");

    // TCP VIP: partners only.
    assert_eq!(tcp_from(PARTNER, tcp).as_deref(), Some("hello\n"));
    assert_eq!(
        tcp_from(INTRANET, tcp),
        None,
        "the listener does not admit the intranet"
    );
    assert_eq!(tcp_from(INTERNET, tcp), None, "no ACL rule allows the internet");

    // UDP VIP: partners and the intranet.
    assert_eq!(udp_from(PARTNER, udp).as_deref(), Some(&b"stun"[..]));
    assert_eq!(udp_from(INTRANET, udp).as_deref(), Some(&b"stun"[..]));
    assert_eq!(udp_from(INTERNET, udp), None);

    // Web routes: admin exists only for the intranet; elsewhere it is a 404,
    // not a 403, so that it is not revealed.
    assert_eq!(https_from(PARTNER, https, "meet.lab.example"), Some(200));
    assert_eq!(https_from(PARTNER, https, "admin.lab.example"), Some(404));
    assert_eq!(https_from(INTRANET, https, "admin.lab.example"), Some(200));
    assert_eq!(
        https_from(INTERNET, https, "meet.lab.example"),
        None,
        "closed before TLS"
    );

    // The counters moved, rule by rule.
    run.signal("-USR1");
    let mut hits = std::collections::HashMap::new();
    for _ in 0..4 {
        let line = run.wait_for("acl counter");
        let field = |key: &str| {
            let start = line.find(&format!("{key}=")).unwrap() + key.len() + 1;
            line[start..]
                .split_whitespace()
                .next()
                .unwrap()
                .trim_matches('"')
                .to_string()
        };
        hits.insert(field("rule"), field("hits").parse::<u64>().unwrap());
    }
    assert_eq!(hits["federation"], 1, "{hits:?}");
    assert!(hits["media"] >= 2, "{hits:?}");
    assert!(hits["web"] >= 3, "{hits:?}");
    // Internet TCP, UDP and web, and the intranet on the TCP VIP's port.
    assert!(hits["implicit-deny"] >= 4, "{hits:?}");
}
