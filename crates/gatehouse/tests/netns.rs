//! The nftables export enforces exactly what gatehouse enforces.
//!
//! Builds "internet", "partner", "intranet" and "gateway" network namespaces
//! joined by veth pairs and probes every listener from every client address,
//! twice, each in a lab of its own:
//! - with `gatehouse export nftables` loaded in the gateway namespace and a
//!   plain accept-all TCP/UDP listener on every listener's socket: nftables
//!   alone decides;
//! - with a real `gatehouse run` in the gateway namespace (no ruleset) in
//!   front of accept-all backends: gatehouse alone decides.
//!
//! Both matrices must equal the plan's decision ([`decided_by_gatehouse`]:
//! the gateway ACL plus the listener's zone restriction), so nftables alone
//! and gatehouse alone allow exactly the same flows. The only difference is
//! how a denial looks: nftables drops the SYN, gatehouse completes the
//! handshake and closes the connection before reading a byte.
//!
//! Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN), `ip` (iproute2) and
//! `nft` (nftables). Where namespaces cannot be created the test skips with
//! a loud message, except under CI (`CI` set), where it fails: CI must run it.
//! Namespaces are named `ghnt-<pid>-<role>` and removed even on panic; ones
//! left by a killed run are swept at the next start.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use gatehouse_model::topology::Transport;
use gatehouse_model::Plan;

/// A small topology whose zones match the namespaces' subnets. vpn sits
/// inside intranet and eop inside partners, so longest-prefix match matters;
/// one internet host is denied by prefix before the zone rules.
const TOPOLOGY: &str = r#"
[gatehouse]
name = "netns test"
default_zone = "internet"

[zones.internet]
[zones.partners]
prefixes = ["198.51.100.0/24", "2001:db8:100::/48"]
[zones.eop]
prefixes = ["198.51.100.128/25"]
[zones.intranet]
prefixes = ["10.0.0.0/8", "fd00::/8"]
[zones.vpn]
prefixes = ["10.1.0.128/25"]

[services.web]
product = "generic"
class = "sharepoint"

[pools.backends]
service = "web"
members = ["127.0.0.1"]

[listeners.web-public]
address = "203.0.113.10"
port = 443
protocol = "tcp"
zones = ["internet", "partners"]
pool = "backends"

[listeners.web-public-v6]
address = "2001:db8:ffff::10"
port = 443
protocol = "tcp"
zones = ["internet", "partners", "intranet"]
pool = "backends"

[listeners.web-internal]
address = "10.0.10.10"
port = 443
protocol = "tcp"
zones = ["intranet", "vpn"]
pool = "backends"

[listeners.admin]
address = "10.0.10.10"
port = 8443
protocol = "tcp"
zones = ["intranet"]
pool = "backends"

[listeners.smtp]
address = "203.0.113.25"
port = 25
protocol = "tcp"
zones = ["eop"]
pool = "backends"

[listeners.media-udp]
address = "203.0.113.22"
port = 3478
protocol = "udp"
zones = ["internet", "partners"]
pool = "backends"

[listeners.media-tcp]
address = "203.0.113.22"
port = "50000-50003"
protocol = "tcp"
zones = ["internet", "partners"]
pool = "backends"

[dns]
apex = "example.com"
listen = ["10.0.10.53:53"]
[dns.views.inside]
zones = ["intranet", "vpn"]
[dns.views.outside]
zones = ["internet", "partners", "eop"]

[[acl]]
name = "blocked-host"
action = "deny"
from = ["192.0.2.66/32"]
protocol = "tcp"
ports = [443]

[[acl]]
name = "smtp"
action = "allow"
from = ["eop"]
protocol = "tcp"
ports = [25]

[[acl]]
name = "web"
action = "allow"
from = ["internet", "partners", "intranet", "vpn"]
protocol = "tcp"
ports = [443, 8443]

[[acl]]
name = "media"
action = "allow"
from = ["internet", "partners"]
ports = [3478, "50000-50003"]

[[acl]]
name = "dns"
action = "allow"
from = ["intranet", "vpn"]
ports = [53]
"#;

/// Client namespaces: (role, gateway-side addresses, client addresses).
const CLIENTS: [(&str, [&str; 2], &[&str]); 3] = [
    (
        "internet",
        ["192.0.2.1/24", "2001:db8:1::1/64"],
        &["192.0.2.2/24", "192.0.2.66/24", "2001:db8:1::2/64"],
    ),
    (
        "partner",
        ["198.51.100.1/24", "2001:db8:100::1/64"],
        &["198.51.100.2/24", "198.51.100.200/24", "2001:db8:100::2/64"],
    ),
    (
        "intranet",
        ["10.1.0.1/24", "fd00:1::1/64"],
        &["10.1.0.2/24", "10.1.0.200/24", "fd00:1::2/64"],
    ),
];

/// Listener addresses, on the gateway's loopback.
const VIPS: [&str; 6] = [
    "203.0.113.10/32",
    "203.0.113.22/32",
    "203.0.113.25/32",
    "10.0.10.10/32",
    "10.0.10.53/32",
    "2001:db8:ffff::10/128",
];

/// How long a probe waits before calling a flow dropped.
const DROP_TIMEOUT: Duration = Duration::from_secs(1);

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cmd}`: {e} (is it installed? see scripts/packages/gateway.txt)"))
}

fn ip(args: &[&str]) {
    let out = run("ip", args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The namespaces and links of one test run; deleted on drop, even on panic.
struct Lab {
    prefix: String,
    /// One letter per lab, so that labs of one test process do not collide.
    tag: char,
    roles: Vec<String>,
}

impl Lab {
    fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    /// Creates the namespaces, or says why it cannot.
    fn create(tag: char) -> Result<Lab, String> {
        sweep_stale();
        let mut lab = Lab {
            prefix: format!("ghnt-{}-{tag}", std::process::id()),
            tag,
            roles: Vec::new(),
        };
        let first = run("ip", &["netns", "add", &lab.ns("gateway")]);
        if !first.status.success() {
            return Err(String::from_utf8_lossy(&first.stderr).trim().to_string());
        }
        lab.roles.push("gateway".into());
        let gw = lab.ns("gateway");
        ip(&["-n", &gw, "link", "set", "lo", "up"]);
        for vip in VIPS {
            ip(&["-n", &gw, "addr", "add", vip, "dev", "lo"]);
        }
        let id = std::process::id() % 100_000;
        for (i, (role, gw_addrs, addrs)) in CLIENTS.iter().enumerate() {
            let ns = lab.ns(role);
            ip(&["netns", "add", &ns]);
            lab.roles.push(role.to_string());
            let (g, c) = (format!("g{id}{}{i}", lab.tag), format!("c{id}{}{i}", lab.tag));
            ip(&[
                "link", "add", &g, "netns", &gw, "type", "veth", "peer", "name", &c, "netns", &ns,
            ]);
            for (n, dev, list) in [(&gw, &g, &gw_addrs[..]), (&ns, &c, addrs)] {
                for a in list {
                    // nodad: IPv6 addresses are usable at once.
                    ip(&["-n", n, "addr", "add", a, "dev", dev, "nodad"]);
                }
                ip(&["-n", n, "link", "set", dev, "up"]);
                ip(&["-n", n, "link", "set", "lo", "up"]);
            }
            for via in gw_addrs.iter().map(|a| a.split('/').next().unwrap()) {
                ip(&["-n", &ns, "route", "add", "default", "via", via]);
            }
        }
        Ok(lab)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for role in &self.roles {
            let _ = run("ip", &["netns", "del", &self.ns(role)]);
        }
    }
}

/// Removes namespaces left by runs that were killed before cleaning up.
fn sweep_stale() {
    let list = run("ip", &["netns", "list"]);
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(pid) = name.strip_prefix("ghnt-").and_then(|r| r.split('-').next()) else {
            continue;
        };
        if pid
            .parse::<u32>()
            .is_ok_and(|p| p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists())
        {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// Moves the calling thread into a namespace; sockets it creates live there.
fn enter(ns: &str) {
    let f = File::open(format!("/run/netns/{ns}")).unwrap_or_else(|e| panic!("open netns {ns}: {e}"));
    // SAFETY: setns only changes this thread's network namespace; `f` is an
    // open namespace file for the duration of the call.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns({ns}): {}", std::io::Error::last_os_error());
}

/// One flow to try: from a client address to a socket.
#[derive(Clone, Debug)]
struct Probe {
    ns: String,
    src: IpAddr,
    dst: SocketAddr,
    transport: Transport,
}

/// What a client sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Connected and got the listener's greeting (or UDP echo).
    Open,
    /// Refused: nothing listens there.
    Refused,
    /// No answer: dropped.
    Silent,
    /// Connected, then closed (or reset) before a single byte: how gatehouse
    /// itself turns away a TCP connection the gateway denies.
    Closed,
}

/// A DNS query for `example.com A`, so that DNS sockets answer the probe.
const DNS_QUERY: [u8; 29] = [
    0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm',
    0, 0, 1, 0, 1,
];

fn probe(p: &Probe, timeout: Duration) -> Seen {
    enter(&p.ns);
    let classify = |e: std::io::Error| match e.kind() {
        ErrorKind::ConnectionRefused => Seen::Refused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Seen::Silent,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => Seen::Closed,
        _ => panic!("probe {p:?}: {e}"),
    };
    let dns = p.dst.port() == 53;
    match p.transport {
        Transport::Tcp => {
            let domain = socket2::Domain::for_address(p.dst);
            let s = socket2::Socket::new(domain, socket2::Type::STREAM, None).unwrap();
            s.bind(&SocketAddr::new(p.src, 0).into()).unwrap();
            if let Err(e) = s.connect_timeout(&p.dst.into(), timeout) {
                return classify(e);
            }
            let mut stream: std::net::TcpStream = s.into();
            stream.set_read_timeout(Some(timeout)).unwrap();
            if dns {
                let mut framed = vec![0, DNS_QUERY.len() as u8];
                framed.extend_from_slice(&DNS_QUERY);
                if let Err(e) = std::io::Write::write_all(&mut stream, &framed) {
                    return classify(e);
                }
            }
            let mut buf = [0u8; 16];
            match stream.read(&mut buf) {
                Ok(n) if n > 0 => Seen::Open,
                Ok(_) => Seen::Closed,
                Err(e) => classify(e),
            }
        }
        Transport::Udp => {
            let s = UdpSocket::bind(SocketAddr::new(p.src, 0)).unwrap();
            s.connect(p.dst).unwrap();
            s.set_read_timeout(Some(timeout)).unwrap();
            s.send(if dns { &DNS_QUERY[..] } else { b"probe" }).unwrap();
            let mut buf = [0u8; 16];
            s.recv(&mut buf).map_or_else(classify, |_| Seen::Open)
        }
    }
}

/// Runs every probe in parallel, each in its own thread and namespace.
fn probe_all(probes: &[Probe], timeout: Duration) -> Vec<Seen> {
    let handles: Vec<JoinHandle<Seen>> = probes
        .iter()
        .cloned()
        .map(|p| std::thread::spawn(move || probe(&p, timeout)))
        .collect();
    handles.into_iter().map(|h| h.join().expect("probe thread")).collect()
}

/// Accept-all listeners on every socket gatehouse would open, behind the
/// exported ruleset; stops its threads on drop.
struct NftablesGateway {
    _servers: AcceptAll,
}

impl NftablesGateway {
    fn start(lab: &Lab, plan: &Plan, topology_file: &std::path::Path) -> NftablesGateway {
        let dir = topology_file.parent().unwrap();
        let ruleset = dir.join("gatehouse.nft");
        let export = Command::new(assert_cmd::cargo::cargo_bin("gatehouse"))
            .args(["export", "nftables"])
            .arg(topology_file)
            .arg("-o")
            .arg(&ruleset)
            .output()
            .expect("run gatehouse export nftables");
        assert!(
            export.status.success(),
            "export failed: {}",
            String::from_utf8_lossy(&export.stderr)
        );
        let gw = lab.ns("gateway");
        let load = run("ip", &["netns", "exec", &gw, "nft", "-f", ruleset.to_str().unwrap()]);
        assert!(
            load.status.success(),
            "nft -f in the gateway namespace: {}",
            String::from_utf8_lossy(&load.stderr)
        );

        let mut sockets: Vec<(SocketAddr, Transport)> = Vec::new();
        for l in &plan.topology.listeners {
            for port in l.ports.value.first..=l.ports.value.last {
                sockets.push((SocketAddr::new(l.address.value, port), l.protocol.value.transport()));
            }
        }
        for s in &plan.topology.dns.as_ref().unwrap().listen {
            sockets.push((s.value, Transport::Udp));
            sockets.push((s.value, Transport::Tcp));
        }
        NftablesGateway {
            _servers: AcceptAll::bind(&gw, sockets),
        }
    }
}

/// The loop that serves one bound socket until told to stop.
type Serve = Box<dyn FnOnce(Arc<AtomicBool>) + Send>;

/// Binds one accept-all socket and returns the loop that serves it.
fn serve(addr: SocketAddr, t: Transport) -> Serve {
    const POLL: Duration = Duration::from_millis(20);
    match t {
        Transport::Tcp => {
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind tcp {addr}: {e}"));
            l.set_nonblocking(true).unwrap();
            Box::new(move |stop: Arc<AtomicBool>| {
                while !stop.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((mut c, _)) => {
                            let _ = std::io::Write::write_all(&mut c, b"gatehouse-probe\n");
                        }
                        Err(_) => std::thread::sleep(POLL),
                    }
                }
            })
        }
        Transport::Udp => {
            let u = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind udp {addr}: {e}"));
            u.set_read_timeout(Some(POLL)).unwrap();
            Box::new(move |stop: Arc<AtomicBool>| {
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = u.recv_from(&mut buf) {
                        let _ = u.send_to(&buf[..n], from);
                    }
                }
            })
        }
    }
}

/// What gatehouse decides for a probe: `Open` when the gateway ACL allows it
/// and the listener admits the zone, `Silent` when either refuses (the
/// runtime closes at accept; the ruleset drops), `Refused` when no listener
/// or DNS socket is there.
fn decided_by_gatehouse(plan: &Plan, p: &Probe) -> Seen {
    let port = p.dst.port();
    let listener = plan.topology.listeners.iter().find(|l| {
        l.address.value == p.dst.ip() && l.protocol.value.transport() == p.transport && l.ports.value.contains(port)
    });
    let dns = plan
        .topology
        .dns
        .as_ref()
        .is_some_and(|d| d.listen.iter().any(|s| s.value == p.dst));
    if listener.is_none() && !dns {
        return Seen::Refused;
    }
    let zone = plan.classify(p.src);
    let allowed = plan.gateway(zone, p.src, p.transport, port).is_allowed()
        && listener.is_none_or(|l| plan.listener_admits(l, zone));
    if allowed {
        Seen::Open
    } else {
        Seen::Silent
    }
}

/// Every client address against every socket of its family, plus a port
/// nothing listens on (which the ruleset must leave alone).
fn probes(lab: &Lab, plan: &Plan) -> Vec<Probe> {
    let mut targets: Vec<(SocketAddr, Transport)> = Vec::new();
    for l in &plan.topology.listeners {
        let r = l.ports.value;
        for port in [r.first, r.last].into_iter().collect::<std::collections::BTreeSet<_>>() {
            targets.push((SocketAddr::new(l.address.value, port), l.protocol.value.transport()));
        }
    }
    for s in &plan.topology.dns.as_ref().unwrap().listen {
        targets.extend([(s.value, Transport::Udp), (s.value, Transport::Tcp)]);
    }
    targets.push(("203.0.113.10:22".parse().unwrap(), Transport::Tcp));
    targets.push(("[2001:db8:ffff::10]:22".parse().unwrap(), Transport::Tcp));
    let mut out = Vec::new();
    for (role, _, addrs) in CLIENTS {
        for a in addrs {
            let src: IpAddr = a.split('/').next().unwrap().parse().unwrap();
            for &(dst, transport) in targets.iter().filter(|(d, _)| d.is_ipv4() == src.is_ipv4()) {
                out.push(Probe {
                    ns: lab.ns(role),
                    src,
                    dst,
                    transport,
                });
            }
        }
    }
    out
}

/// The namespaces for one test, or `None` (with a loud message) where they
/// cannot be created outside CI.
fn lab_or_skip(tag: char) -> Option<Lab> {
    for tool in ["ip", "nft"] {
        let ok = Command::new(tool).arg("-V").output().is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "`{tool}` is missing: install iproute2 and nftables (scripts/packages/gateway.txt)"
        );
    }
    match Lab::create(tag) {
        Ok(lab) => Some(lab),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the network-namespace test, but namespaces cannot be created: {why}")
        }
        Err(why) => {
            eprintln!("\n{0}\nSKIPPED: network namespaces cannot be created here ({why}).\nRun as root (or with CAP_NET_ADMIN and CAP_SYS_ADMIN) to check the gateway.\n{0}\n", "!".repeat(72));
            None
        }
    }
}

/// Probes every socket from every client and compares with the plan's
/// decision; `tcp_denial` is how a denied TCP connection looks to a client.
fn assert_matrix(lab: &Lab, plan: &Plan, enforcer: &str, tcp_denial: Seen) {
    let probes = probes(lab, plan);
    let expected: Vec<Seen> = probes
        .iter()
        .map(|p| match (decided_by_gatehouse(plan, p), p.transport) {
            (Seen::Silent, Transport::Tcp) => tcp_denial,
            (seen, _) => seen,
        })
        .collect();
    let mut seen = probe_all(&probes, DROP_TIMEOUT);
    // A loaded machine can be slow to answer: look again, with more
    // patience, only at the cells that disagree.
    let retry: Vec<usize> = (0..probes.len()).filter(|&i| seen[i] != expected[i]).collect();
    let again = probe_all(
        &retry.iter().map(|&i| probes[i].clone()).collect::<Vec<_>>(),
        DROP_TIMEOUT * 3,
    );
    for (i, s) in retry.into_iter().zip(again) {
        seen[i] = s;
    }
    let mismatches: Vec<String> = probes
        .iter()
        .zip(expected.iter().zip(&seen))
        .filter(|(_, (e, s))| e != s)
        .map(|(p, (e, s))| {
            format!(
                "{} -> {} {}: the plan decides {e:?}, {enforcer} gives {s:?}",
                p.src,
                p.dst,
                p.transport.keyword()
            )
        })
        .collect();
    assert!(mismatches.is_empty(), "the matrices differ:\n{}", mismatches.join("\n"));
    // The matrix must not be trivial: both outcomes occur, in every client namespace.
    for (role, _, _) in CLIENTS {
        let mine: Vec<Seen> = probes
            .iter()
            .zip(&seen)
            .filter(|(p, _)| p.ns == lab.ns(role))
            .map(|(_, s)| *s)
            .collect();
        assert!(
            mine.contains(&Seen::Open) && (mine.contains(&Seen::Silent) || mine.contains(&Seen::Closed)),
            "{role}: {mine:?}"
        );
    }
}

#[test]
fn nftables_export_alone_gives_the_reachability_matrix_gatehouse_enforces() {
    let plan = gatehouse_model::check(TOPOLOGY)
        .plan
        .expect("the test topology is valid");
    let Some(lab) = lab_or_skip('n') else { return };
    let dir = tempfile::tempdir().unwrap();
    let topology_file = dir.path().join("netns.toml");
    std::fs::write(&topology_file, TOPOLOGY).unwrap();
    let _gateway = NftablesGateway::start(&lab, &plan, &topology_file);
    assert_matrix(&lab, &plan, "nftables", Seen::Silent);
}

/// A `gatehouse run` in the gateway namespace in front of accept-all
/// backends on the namespace's loopback; stopped on drop.
struct RunningGateway {
    child: std::process::Child,
    _backends: AcceptAll,
}

/// Accept-all sockets serving until dropped.
struct AcceptAll {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl AcceptAll {
    /// Binds every socket from inside namespace `ns`; the threads serving
    /// them may run anywhere.
    fn bind(ns: &str, sockets: Vec<(SocketAddr, Transport)>) -> AcceptAll {
        let stop = Arc::new(AtomicBool::new(false));
        let bound: Vec<Serve> = std::thread::scope(|s| {
            s.spawn(|| {
                enter(ns);
                sockets.iter().map(|&(addr, t)| serve(addr, t)).collect()
            })
            .join()
            .unwrap()
        });
        let threads = bound
            .into_iter()
            .map(|f| {
                let stop = stop.clone();
                std::thread::spawn(move || f(stop))
            })
            .collect();
        AcceptAll { stop, threads }
    }
}

impl Drop for AcceptAll {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl RunningGateway {
    fn start(lab: &Lab, plan: &Plan, topology_file: &std::path::Path) -> RunningGateway {
        // The pool's member is 127.0.0.1 without a port: the client's port.
        let mut sockets: Vec<(SocketAddr, Transport)> = Vec::new();
        for l in &plan.topology.listeners {
            for port in l.ports.value.first..=l.ports.value.last {
                sockets.push((SocketAddr::from(([127, 0, 0, 1], port)), l.protocol.value.transport()));
            }
        }
        sockets.sort_by_key(|(a, t)| (a.port(), *t));
        sockets.dedup();
        let gw = lab.ns("gateway");
        let backends = AcceptAll::bind(&gw, sockets);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &gw])
            .arg(assert_cmd::cargo::cargo_bin("gatehouse"))
            .arg("run")
            .arg("--config")
            .arg(topology_file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start gatehouse run in the gateway namespace");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line.contains("gatehouse running") => break,
                Ok(line) => log.push(line),
                Err(_) => {
                    let _ = child.kill();
                    panic!("gatehouse did not start in the gateway namespace:\n{}", log.join("\n"));
                }
            }
        }
        RunningGateway {
            child,
            _backends: backends,
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_running_gatehouse_alone_gives_the_same_reachability_matrix() {
    let plan = gatehouse_model::check(TOPOLOGY)
        .plan
        .expect("the test topology is valid");
    let Some(lab) = lab_or_skip('g') else { return };
    let dir = tempfile::tempdir().unwrap();
    let topology_file = dir.path().join("netns.toml");
    std::fs::write(&topology_file, TOPOLOGY).unwrap();
    let _gateway = RunningGateway::start(&lab, &plan, &topology_file);
    // No ruleset here: gatehouse closes denied TCP connections at accept and
    // drops denied datagrams itself.
    assert_matrix(&lab, &plan, "gatehouse run", Seen::Closed);
}
