//! DNS load balancing as `gatehouse run` does it: a DNS-balanced pool's
//! name answers with the members the runtime's own health checks find up,
//! drops a member that dies and takes it back when it recovers.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;

const POOL: [&str; 3] = ["127.0.1.11", "127.0.1.12", "127.0.1.13"];

/// A TCP listener standing in for one SIP front end; `kill` closes it,
/// `revive` listens again on the same address.
struct Member {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(addr: SocketAddr) -> Member {
        let listener = TcpListener::bind(addr).expect("member binds");
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((c, _)) => drop(c),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Member {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn kill(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    fn revive(&mut self) {
        *self = Member::start(self.addr);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

fn topology(sip: u16, dns: u16) -> String {
    format!(
        r#"[zones.internet]
role = "internet"

[zones.lab]
role = "intranet"
prefixes = ["127.0.0.0/8"]

[services.lync]
product = "lync"
class = "lync-sip"

[pools.lync-fe]
service = "lync"
members = ["127.0.1.11:{sip}", "127.0.1.12:{sip}", "127.0.1.13:{sip}"]
health = {{ type = "tcp", interval = "300ms", timeout = "200ms", rise = 1, fall = 1 }}
dns_balanced = true
dns_name = "pool01.lab.example"
dns_ttl = "10s"

[dns]
apex = "lab.example"
listen = ["127.0.0.1:{dns}"]

[dns.views.lab]
zones = ["lab"]

[dns.views.outside]
zones = ["internet"]

[[acl]]
name = "dns"
action = "allow"
from = ["lab"]
ports = [{dns}]
"#
    )
}

fn pool01(dns: u16) -> Vec<String> {
    let out = Command::new("dig")
        .args(["+short", "+time=1", "+tries=2", "-b", "127.0.0.1", "-p"])
        .arg(dns.to_string())
        .args(["@127.0.0.1", "pool01.lab.example", "A"])
        .output()
        .expect("dig is installed (scripts/packages/dns.txt)");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(";;") && !l.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Polls until pool01 answers `want`; returns how long that took.
fn wait_for(dns: u16, want: &[&str]) -> Duration {
    let start = Instant::now();
    loop {
        let got = pool01(dns);
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "pool01 still answers {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn run_answers_a_balanced_pool_with_the_members_its_health_checks_find_up() {
    let first = Member::start("127.0.1.11:0".parse().unwrap());
    let sip = first.addr.port();
    let mut members = vec![first];
    for ip in &POOL[1..] {
        members.push(Member::start(format!("{ip}:{sip}").parse().unwrap()));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("topology.toml");
    let dns = free_port();
    std::fs::write(&config, topology(sip, dns)).unwrap();
    let run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");
    wait_for(dns, &POOL);

    // Checks every 300 ms with fall = 1: gone in well under a second; far
    // more is allowed on a loaded machine.
    members[1].kill();
    let gone = wait_for(dns, &["127.0.1.11", "127.0.1.13"]);
    eprintln!("dead member left DNS after {gone:?}");
    members[1].revive();
    let back = wait_for(dns, &POOL);
    eprintln!("recovered member back in DNS after {back:?}");
    drop(run);
}
