//! The nftables export handed to the real `nft`: it passes `nft -c -f`, it
//! loads with `nft -f` inside a fresh network namespace (and loads again over
//! itself), and the kernel's set lookups put addresses in the zones gatehouse
//! classifies them into.
//!
//! Needs `nft` (Debian package nftables) and `unshare` (util-linux). As root
//! the namespace is a plain `unshare --net`; otherwise a user namespace maps
//! us to root inside it. A missing tool or a refused namespace fails the test
//! with the reason: these checks are the point of the export.

#[path = "nftables/parse.rs"]
#[allow(dead_code)] // shared with nftables.rs, which uses all of it
mod parse;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output};

use gatehouse_model::Plan;
use gatehouse_render::nftables::nftables;

fn plan(text: &str) -> Plan {
    gatehouse_model::check(text).plan.expect("topology should be valid")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs a shell script in a fresh network namespace, as root inside it.
fn in_fresh_netns(script: &str) -> Output {
    let nft = Command::new("nft").arg("--version").output();
    assert!(
        nft.is_ok_and(|o| o.status.success()),
        "`nft` is not installed: install the Debian package nftables (listed in scripts/packages/gateway.txt)"
    );
    let mut cmd = Command::new("unshare");
    if !is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    let out = cmd
        .args(["--net", "--", "sh", "-c", script])
        .output()
        .expect("`unshare` (util-linux) must be installed to give nft a private network namespace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("unshare failed"),
        "cannot create a network namespace for nft ({stderr}); run as root or allow unprivileged user namespaces"
    );
    out
}

/// Writes the ruleset where the shell can read it; removed on drop.
struct RulesetFile(PathBuf);

impl RulesetFile {
    fn new(label: &str, text: &str) -> RulesetFile {
        let path = std::env::temp_dir().join(format!("gatehouse-{label}-{}.nft", std::process::id()));
        std::fs::write(&path, text).expect("write the ruleset to the temp dir");
        RulesetFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8")
    }
}

impl Drop for RulesetFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nft_check_accepts_the_contoso_and_edge_case_exports() {
    for (label, text) in [
        ("contoso", gatehouse_model::CONTOSO),
        ("edge-cases", include_str!("nftables/edge-cases.toml")),
    ] {
        let file = RulesetFile::new(&format!("check-{label}"), &nftables(&plan(text)));
        let out = in_fresh_netns(&format!("nft -c -f '{}'", file.path()));
        assert_success(&out, &format!("nft -c -f on the {label} export"));
    }
}

#[test]
fn the_export_loads_in_a_network_namespace_and_loading_it_again_replaces_it() {
    let file = RulesetFile::new("load", &nftables(&plan(gatehouse_model::CONTOSO)));
    let f = file.path();
    let out = in_fresh_netns(&format!(
        "nft -f '{f}' && nft -f '{f}' && nft list tables && nft list counters"
    ));
    assert_success(&out, "loading the Contoso export twice");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        listed.matches("table inet gatehouse").count(),
        2,
        "one table, listed by both commands:\n{listed}"
    );
    assert_eq!(
        listed.matches("counter acl_2_web {").count(),
        1,
        "the reload replaced the counters:\n{listed}"
    );
    assert!(listed.contains("counter acl_implicit_deny {"));
}

#[test]
fn the_kernel_finds_each_address_in_exactly_the_zone_gatehouse_classifies() {
    let plan = plan(gatehouse_model::CONTOSO);
    let text = nftables(&plan);
    let sets = parse::zone_sets(&text);
    let file = RulesetFile::new("lookup", &text);
    let samples: Vec<IpAddr> = [
        "10.0.0.1",
        "10.199.255.255",
        "10.200.0.0",
        "10.200.7.7",
        "10.200.255.255",
        "10.201.0.0",
        "11.0.0.0",
        "40.92.1.1",
        "40.94.0.0",
        "198.51.100.20",
        "172.16.2.1",
        "192.0.2.99",
        "2001:db8:da::5",
        "2001:db8:100::1",
        "2001:db8:101::1",
        "fd12:3456::1",
        "2a01:111:f403::9",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    let mut script = format!("nft -f '{}' || exit 1\n", file.path());
    for addr in &samples {
        for set in sets.iter().filter(|s| s.v6 == addr.is_ipv6()) {
            let name = format!("zone_{}_{}", set.zone, if set.v6 { "v6" } else { "v4" });
            script.push_str(&format!(
                "nft get element inet gatehouse {name} '{{ {addr} }}' >/dev/null 2>&1 && echo '{addr} {}'\n",
                set.zone
            ));
        }
    }
    script.push_str("exit 0\n");
    let out = in_fresh_netns(&script);
    assert_success(&out, "kernel set lookups");
    let found = String::from_utf8_lossy(&out.stdout);
    for addr in &samples {
        let zones: Vec<&str> = found
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(a, _)| *a == addr.to_string())
            .map(|(_, z)| z)
            .collect();
        assert_eq!(
            zones,
            vec![plan.zone_name(plan.classify(*addr))],
            "kernel zone sets holding {addr}"
        );
    }
}
