//! Shared test helpers: the test topology, servers on loopback, and
//! runners for the real `dig` and `kdig` whose output is parsed into
//! something to assert on.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;

use gatehouse_dns::{AllUp, DnsConfig, DnsServer, MemberHealth};
use gatehouse_model::Plan;

pub const TOPOLOGY: &str = include_str!("../data/split.toml");

/// Loopback sources mapped to zones by the test topology.
pub const INTERNET: &str = "127.0.0.1";
pub const PARTNERS: &str = "127.0.0.2";
pub const VPN: &str = "127.0.0.3";
pub const INTRANET: &str = "127.0.0.4";
pub const BLOCKED: &str = "127.0.0.9";
pub const LAB: &str = "127.0.0.10";

/// Compiles topology text, failing the test with the diagnostics.
pub fn plan_from(text: &str) -> Arc<Plan> {
    let checked = gatehouse_model::check(text);
    match checked.plan {
        Some(p) => Arc::new(p),
        None => panic!("test topology is invalid: {:#?}", checked.diagnostics),
    }
}

pub fn plan(sip_port: u16) -> Arc<Plan> {
    plan_from(&TOPOLOGY.replace("{SIP_PORT}", &sip_port.to_string()))
}

pub fn server_with(plan: Arc<Plan>, health: Arc<dyn MemberHealth>, config: DnsConfig) -> DnsServer {
    let config = DnsConfig {
        udp_workers: 2,
        ..config
    };
    DnsServer::start_with(plan, health, &["127.0.0.1:0".parse().unwrap()], config).expect("server starts")
}

/// A server for the test topology with every member up and default settings.
pub fn server() -> (DnsServer, SocketAddr) {
    let s = server_with(plan(5061), Arc::new(AllUp), DnsConfig::default());
    let addr = s.local_addrs()[0];
    (s, addr)
}

/// One parsed `dig` or `kdig` answer.
#[derive(Debug, Default)]
pub struct Reply {
    pub status: String,
    pub flags: Vec<String>,
    /// (section, owner, ttl, type, data) of every record shown.
    pub records: Vec<(String, String, u32, String, String)>,
    pub raw: String,
}

impl Reply {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    /// Data of the records of `rtype` in the answer section, sorted.
    pub fn answers(&self, rtype: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .records
            .iter()
            .filter(|r| r.0 == "ANSWER" && r.3 == rtype)
            .map(|r| r.4.clone())
            .collect();
        v.sort();
        v
    }

    pub fn section(&self, name: &str) -> Vec<&(String, String, u32, String, String)> {
        self.records.iter().filter(|r| r.0 == name).collect()
    }
}

fn tool(name: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{name}` is not installed: this test runs the real tool. Install the Debian package \
         `{package}` (scripts/packages/dns.txt lists it; scripts/test installs it)."
    );
    Command::new(name)
}

/// Runs dig from `from` against `server` with extra arguments.
pub fn dig(server: SocketAddr, from: &str, args: &[&str]) -> Reply {
    let out = tool("dig", "dnsutils")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "-b",
            from,
            "+time=2",
            "+tries=1",
            "+norecurse",
        ])
        .args(args)
        .output()
        .expect("dig runs");
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// Runs kdig from `from` against `server` with extra arguments.
pub fn kdig(server: SocketAddr, from: &str, args: &[&str]) -> Reply {
    let out = tool("kdig", "knot-dnsutils")
        .arg(format!("@{}", server.ip()))
        .args([
            "-p",
            &server.port().to_string(),
            "-b",
            from,
            "+time=2",
            "+retry=0",
            "+norecurse",
        ])
        .args(args)
        .output()
        .expect("kdig runs");
    parse(&String::from_utf8_lossy(&out.stdout))
}

/// Parses the text both dig and kdig print.
pub fn parse(text: &str) -> Reply {
    let mut r = Reply {
        raw: text.to_string(),
        ..Reply::default()
    };
    let mut section = String::new();
    for line in text.lines() {
        let l = line.trim();
        if let Some(i) = l.find("status: ") {
            r.status = l[i + 8..].split([',', ';']).next().unwrap_or("").trim().to_string();
        }
        let lower = l.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix(";; flags:") {
            r.flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect();
        }
        if let Some(s) = l.strip_prefix(";; ").and_then(|s| s.strip_suffix(" SECTION:")) {
            section = s.to_string();
            continue;
        }
        if l.is_empty() || l.starts_with(';') {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() >= 4 && !section.is_empty() {
            let ttl = f[1].parse().unwrap_or(0);
            r.records.push((
                section.clone(),
                f[0].to_string(),
                ttl,
                f[3].to_string(),
                f[4..].join(" "),
            ));
        }
    }
    r
}
