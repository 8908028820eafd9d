//! `explain` and the proxy agree: over generated topologies (listener zones,
//! routes with hosts, prefixes, zone lists, auth policies, `plain` and
//! `ignore_case`) and generated request heads from clients in several zones,
//! what `explain` predicts is what a real client gets from the running
//! proxy: the connection closed at accept, the status gatehouse answers
//! with, the redirect's location, or the request forwarded to the pool.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use gatehouse_model::topology::Transport;
use gatehouse_verify::explain::{explain, Destination, Effect, Query, Verdict};
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Client zones: the lab's catch-all (127/8), two zones the ACL lets in,
/// one it does not.
const SOURCES: [&str; 4] = ["127.0.0.1", "127.0.1.5", "127.0.2.5", "127.0.3.5"];
const ZONES: [&str; 3] = ["lab", "a", "b"];
const HOSTS: [&str; 3] = ["one.test", "two.test", "*.wild.test"];
const PREFIXES: [&str; 4] = ["/", "/a", "/a/b", "/B"];
const POLICIES: [&str; 4] = ["pass-through", "anonymous", "deny", "corp-basic"];
const ASKED_HOSTS: [Option<&str>; 5] = [
    Some("one.test"),
    Some("TWO.test"),
    Some("x.wild.test"),
    Some("other.test"),
    None,
];
const ASKED_PATHS: [&str; 9] = ["/", "/a", "/a/b/c", "/A", "/%61", "/x/../a", "/a%2fb", "//a", "/B?q=1"];

#[derive(Clone, Debug)]
struct RouteSpec {
    /// Bit 0: on the https listener; bit 1: on the http one.
    on: u8,
    host: usize,
    prefix: usize,
    /// A bit per zone of [`ZONES`]; `None`: every zone.
    zones: Option<u8>,
    auth_default: usize,
    auth_for_a: Option<usize>,
    plain: bool,
    ignore_case: Option<bool>,
    exchange: bool,
}

#[derive(Clone, Debug)]
struct Spec {
    https_zones: u8,
    http_zones: u8,
    routes: Vec<RouteSpec>,
}

#[derive(Clone, Copy, Debug)]
struct Ask {
    source: usize,
    https: bool,
    host: usize,
    path: usize,
}

fn zone_list(mask: u8) -> String {
    let z: Vec<String> = (0..ZONES.len())
        .filter(|i| mask & (1 << i) != 0)
        .map(|i| format!("\"{}\"", ZONES[i]))
        .collect();
    format!("[{}]", z.join(", "))
}

fn route_spec() -> impl Strategy<Value = RouteSpec> {
    (
        1u8..4,
        0..HOSTS.len(),
        0..PREFIXES.len(),
        proptest::option::of(1u8..8),
        0..POLICIES.len(),
        proptest::option::of(0..POLICIES.len()),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(on, host, prefix, zones, auth_default, auth_for_a, plain, ignore_case, exchange)| RouteSpec {
                on,
                host,
                prefix,
                zones,
                auth_default,
                auth_for_a,
                plain,
                ignore_case,
                exchange,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    (1u8..8, 1u8..8, proptest::collection::vec(route_spec(), 1..5)).prop_map(|(https_zones, http_zones, routes)| Spec {
        https_zones,
        http_zones,
        routes,
    })
}

fn ask() -> impl Strategy<Value = Ask> {
    (
        0..SOURCES.len(),
        any::<bool>(),
        0..ASKED_HOSTS.len(),
        0..ASKED_PATHS.len(),
    )
        .prop_map(|(source, https, host, path)| Ask {
            source,
            https,
            host,
            path,
        })
}

/// The topology text of a spec, on the given ports and backend.
fn topology(spec: &Spec, https: u16, http: u16, member: u16) -> String {
    let mut t = format!(
        r#"
[zones.a]
prefixes = ["127.0.1.0/24"]
[zones.b]
prefixes = ["127.0.2.0/24"]
[zones.c]
prefixes = ["127.0.3.0/24"]

[[acl]]
name = "a-b-web"
action = "allow"
from = ["a", "b"]
protocol = "tcp"

[auth_providers.corp-basic]
method = "basic"
url = "ldaps://dc.lab.test"

[certificates.lab]
names = ["one.test", "two.test", "*.wild.test"]

[pools.web]
service = "web"
members = ["127.0.0.1:{member}"]
[pools.mail]
service = "exchange"
members = ["127.0.0.1:{member}"]

[listeners.https]
address = "127.0.0.1"
port = {https}
protocol = "https"
zones = {}
certificates = ["lab"]

[listeners.http]
address = "127.0.0.1"
port = {http}
protocol = "http"
zones = {}
"#,
        zone_list(spec.https_zones),
        zone_list(spec.http_zones),
    );
    // One route per host, prefix and listener: the topology allows no two.
    let mut taken = std::collections::HashSet::new();
    for (i, r) in spec.routes.iter().enumerate() {
        let listeners: Vec<&str> = [(1, "\"https\""), (2, "\"http\"")]
            .into_iter()
            .filter(|(bit, name)| r.on & bit != 0 && taken.insert((*name, r.host, r.prefix)))
            .map(|(_, name)| name)
            .collect();
        if listeners.is_empty() {
            continue;
        }
        t.push_str(&format!(
            "[routes.r{i}]\nlisteners = [{}]\nhosts = [\"{}\"]\npaths = [\"{}\"]\npool = \"{}\"\nauth_default = \"{}\"\nplain = {}\n",
            listeners.join(", "),
            HOSTS[r.host],
            PREFIXES[r.prefix],
            if r.exchange { "mail" } else { "web" },
            POLICIES[r.auth_default],
            r.plain,
        ));
        if let Some(z) = r.zones {
            t.push_str(&format!("zones = {}\n", zone_list(z)));
        }
        if let Some(p) = r.auth_for_a {
            t.push_str(&format!("auth = {{ a = \"{}\" }}\n", POLICIES[p]));
        }
        if let Some(c) = r.ignore_case {
            t.push_str(&format!("ignore_case = {c}\n"));
        }
    }
    t
}

/// What a client saw.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// Closed before any answer: refused at accept.
    Closed,
    Answer {
        status: u16,
        location: Option<String>,
    },
}

fn predicted(v: &Verdict) -> Seen {
    let answer = |status| Seen::Answer { status, location: None };
    match v {
        Verdict::Allowed => answer(200),
        Verdict::Redirected { location } => Seen::Answer {
            status: 301,
            location: Some(location.clone()),
        },
        Verdict::Denied { effect, .. } => match effect {
            Effect::BadRequest => answer(400),
            Effect::NotFound => answer(404),
            Effect::Forbidden => answer(403),
            Effect::SignInUnavailable => answer(503),
            Effect::Closed | Effect::NotListening | Effect::NoAnswer | Effect::Refused => Seen::Closed,
        },
        Verdict::DnsOnly => Seen::Closed,
    }
}

async fn connect_from(src: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(src, 0))?;
    socket.connect(to).await
}

/// One HTTP/1.1 request as written, the answer as read until the close.
async fn exchange(mut io: impl AsyncRead + AsyncWrite + Unpin, host: Option<&str>, path: &str) -> Seen {
    let host = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    let head = format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n");
    if io.write_all(head.as_bytes()).await.is_err() {
        return Seen::Closed;
    }
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), io.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    let Some(status) = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
    else {
        return Seen::Closed;
    };
    let location = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("location: ").or_else(|| l.strip_prefix("Location: ")))
        .map(str::to_string);
    Seen::Answer { status, location }
}

async fn send(ask: Ask, https: SocketAddr, http: SocketAddr) -> Seen {
    let src: IpAddr = SOURCES[ask.source].parse().unwrap();
    let (host, path) = (ASKED_HOSTS[ask.host], ASKED_PATHS[ask.path]);
    let to = if ask.https { https } else { http };
    let Ok(tcp) = connect_from(src, to).await else {
        return Seen::Closed;
    };
    if !ask.https {
        return exchange(tcp, host, path).await;
    }
    let sni = host.map(str::to_ascii_lowercase);
    match tls_over(tcp, sni.as_deref(), &[]).await {
        Ok(tls) => exchange(tls, host, path).await,
        Err(_) => Seen::Closed,
    }
}

fn agree(spec: &Spec, asks: &[Ask]) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let member = echo("member").await;
        let (https, http) = (free_port(), free_port());
        let text = format!("{LAB}\n{}", topology(spec, https, http, member.port()));
        let Some(plan) = gatehouse_model::check(&text).plan.map(Arc::new) else {
            // A spec the topology rules reject says nothing about agreement.
            return Ok(());
        };
        let (_proxy, _log) = start(plan.clone(), |_| {}).await;
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        for &ask in asks {
            let port = if ask.https { https } else { http };
            let query = Query {
                src: SOURCES[ask.source].parse().unwrap(),
                dst: Destination::Address(loopback),
                transport: Transport::Tcp,
                port,
                host: ASKED_HOSTS[ask.host].map(str::to_string),
                path: Some(ASKED_PATHS[ask.path].to_string()),
            };
            let x = explain(&plan, &query);
            let seen = send(ask, SocketAddr::new(loopback, https), SocketAddr::new(loopback, http)).await;
            prop_assert_eq!(
                predicted(&x.verdict),
                seen,
                "\n{}\nexplain said:\n{}",
                topology(spec, https, http, member.port()),
                x
            );
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn explain_predicts_what_the_proxy_does(spec in spec(), asks in proptest::collection::vec(ask(), 12)) {
        agree(&spec, &asks)?;
    }
}

/// The generator is worth its cases only if most topologies it writes are
/// valid and its requests meet every kind of outcome.
#[test]
fn the_generated_topologies_are_mostly_valid_and_meet_every_outcome() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut valid, mut kinds) = (0, std::collections::BTreeSet::new());
    for _ in 0..200 {
        let spec = spec().new_tree(&mut runner).unwrap().current();
        let Some(plan) = gatehouse_model::check(&format!("{LAB}\n{}", topology(&spec, 8443, 8080, 9000))).plan else {
            continue;
        };
        valid += 1;
        for source in SOURCES {
            for host in ASKED_HOSTS {
                for path in ASKED_PATHS {
                    for port in [8443, 8080] {
                        let query = Query {
                            src: source.parse().unwrap(),
                            dst: Destination::Address("127.0.0.1".parse().unwrap()),
                            transport: Transport::Tcp,
                            port,
                            host: host.map(str::to_string),
                            path: Some(path.to_string()),
                        };
                        let seen = predicted(&explain(&plan, &query).verdict);
                        kinds.insert(match seen {
                            Seen::Closed => 0,
                            Seen::Answer { status, .. } => status,
                        });
                    }
                }
            }
        }
    }
    assert!(valid >= 150, "only {valid} of 200 generated topologies are valid");
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec![0, 200, 301, 400, 403, 404, 503],
        "every outcome is met"
    );
}
