//! `gatehouse run` reloads all or nothing, from the outside: a new plan
//! that any one part (the L4 VIPs, the reverse proxy, the DNS server)
//! cannot take leaves every part on the old plan, and the error names the
//! part; the same plan, once it can be taken, moves every part. `[dns]`
//! may be added, moved and removed on reload.

mod common;

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;

use common::*;

/// A plan on loopback: an SMTP-style TCP VIP for each of `vips` (each
/// publishing `smtpN.lab.example`), a plain web listener for each of
/// `webs`, and DNS on each of `dns` (none: no `[dns]`).
fn plan(vips: &[u16], webs: &[u16], dns: &[u16], backend: u16) -> String {
    let mut t = format!(
        r#"[zones.internet]
role = "internet"

[zones.lab]
role = "intranet"
prefixes = ["127.0.0.0/8"]

[services.mail]
product = "exchange"
class = "exchange-mail"

[pools.echo]
service = "mail"
members = ["127.0.0.1:{backend}"]

[[acl]]
name = "lab"
action = "allow"
from = ["lab"]
"#
    );
    if !dns.is_empty() {
        let listen: Vec<String> = dns.iter().map(|p| format!("\"127.0.0.1:{p}\"")).collect();
        t.push_str(&format!(
            "\n[dns]\napex = \"lab.example\"\nlisten = [{}]\n\n[dns.views.lab]\nzones = [\"lab\"]\n\n[dns.views.outside]\nzones = [\"internet\"]\n",
            listen.join(", ")
        ));
    }
    for (i, vip) in vips.iter().enumerate() {
        t.push_str(&format!(
            "\n[listeners.smtp{i}]\naddress = \"127.0.0.1\"\nport = {vip}\nprotocol = \"tcp\"\nzones = [\"lab\"]\npool = \"echo\"\nnames = [\"smtp{i}.lab.example\"]\n"
        ));
    }
    for (i, web) in webs.iter().enumerate() {
        t.push_str(&format!(
            "\n[listeners.web{i}]\naddress = \"127.0.0.1\"\nport = {web}\nprotocol = \"http\"\nzones = [\"lab\"]\n\
             [routes.web{i}]\nlisteners = [\"web{i}\"]\nhosts = [\"web{i}.lab.example\"]\npool = \"echo\"\nplain = true\n"
        ));
    }
    t
}

/// The A records dig gets for `name` from the DNS server on `port`.
fn dig(port: u16, name: &str) -> String {
    let out = Command::new("dig")
        .args(["+short", "+time=1", "+tries=2", "-b", "127.0.0.1", "-p"])
        .arg(port.to_string())
        .args(["@127.0.0.1", name, "A"])
        .output()
        .expect("dig is installed (scripts/packages/dns.txt)");
    // Without an answer dig prints its complaint, behind `;;`.
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.starts_with(";;"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// What each part serves, as a client sees it.
#[derive(Debug, PartialEq)]
struct Seen {
    second_vip: bool,
    second_web: bool,
    second_name: String,
}

fn seen(vip: u16, web: u16, dns: u16) -> Seen {
    Seen {
        second_vip: echo_through(vip).is_ok(),
        second_web: listening(web),
        second_name: dig(dns, "smtp1.lab.example"),
    }
}

#[test]
fn a_plan_that_one_part_cannot_prepare_moves_no_part() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("topology.toml");
    let backend = echo_backend();
    let (vip0, vip1, web0, web1, dns0, dns1) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    std::fs::write(&config, plan(&[vip0], &[web0], &[dns0], backend)).unwrap();
    let run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");
    let old = Seen {
        second_vip: false,
        second_web: false,
        second_name: String::new(),
    };
    assert_eq!(seen(vip1, web1, dns0), old);

    // The next plan adds a VIP (L4), a web listener (the proxy), a name
    // (DNS data) and a DNS listen address (DNS sockets). Each part in turn
    // finds its new port taken.
    let next = plan(&[vip0, vip1], &[web0, web1], &[dns0, dns1], backend);
    std::fs::write(&config, &next).unwrap();
    for (part, taken) in [("L4 VIPs", vip1), ("reverse proxy", web1), ("DNS", dns1)] {
        let _tcp = TcpListener::bind(("127.0.0.1", taken)).unwrap();
        let _udp = (part == "DNS").then(|| UdpSocket::bind(("127.0.0.1", taken)).unwrap());
        run.signal("-HUP");
        let line = run.wait_for("reload failed; the previous plan stays in service");
        assert!(line.contains(&format!("{part}: ")), "the error names the part: {line}");
        // Drop the taken port's holder only after looking, so that the
        // look does not reach it.
        let vip_seen = part != "L4 VIPs" && echo_through(vip1).is_ok();
        let web_seen = part != "reverse proxy" && listening(web1);
        assert!(!vip_seen && !web_seen, "{part}: a part moved");
        assert_eq!(dig(dns0, "smtp1.lab.example"), "", "{part}: DNS moved");
        if part != "DNS" {
            assert_eq!(dig(dns1, "smtp0.lab.example"), "", "{part}: DNS bound its new address");
        }
        assert_eq!(
            echo_through(vip0).unwrap(),
            "EHLO lab\r\n",
            "{part}: the old plan serves"
        );
    }

    // With every port free, the same file moves every part at once.
    run.signal("-HUP");
    run.wait_for("reloaded: new plan in service");
    assert_eq!(
        seen(vip1, web1, dns0),
        Seen {
            second_vip: true,
            second_web: true,
            second_name: "127.0.0.1".into(),
        }
    );
    assert_eq!(
        dig(dns1, "smtp1.lab.example"),
        "127.0.0.1",
        "the new DNS address serves"
    );
}

#[test]
fn dns_is_added_moved_and_removed_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("topology.toml");
    let backend = echo_backend();
    let (vip, first, second) = (free_port(), free_port(), free_port());
    std::fs::write(&config, plan(&[vip], &[], &[], backend)).unwrap();
    let run = Running::start(&config, &[]);
    run.wait_for("the DNS server is off");
    run.wait_for("gatehouse running");
    assert_eq!(dig(first, "smtp0.lab.example"), "");

    let reload = |dns: &[u16]| {
        std::fs::write(&config, plan(&[vip], &[], dns, backend)).unwrap();
        run.signal("-HUP");
        run.wait_for("reloaded: new plan in service");
    };
    reload(&[first]);
    assert_eq!(dig(first, "smtp0.lab.example"), "127.0.0.1", "added");

    reload(&[first, second]);
    assert_eq!(dig(first, "smtp0.lab.example"), "127.0.0.1", "kept");
    assert_eq!(dig(second, "smtp0.lab.example"), "127.0.0.1", "added beside");

    reload(&[second]);
    assert_eq!(dig(second, "smtp0.lab.example"), "127.0.0.1", "kept");
    assert_eq!(dig(first, "smtp0.lab.example"), "", "moved away");
    assert!(
        UdpSocket::bind(("127.0.0.1", first)).is_ok(),
        "the old address is free again"
    );

    reload(&[]);
    assert_eq!(dig(second, "smtp0.lab.example"), "", "removed");
    assert!(UdpSocket::bind(("127.0.0.1", second)).is_ok());
    assert_eq!(echo_through(vip).unwrap(), "EHLO lab\r\n", "the VIP served throughout");
}
