//! `gatehouse run` from the outside, on loopback: it serves the plan's TCP
//! VIPs, web routes and DNS, reloads on SIGHUP (keeping the old plan when the
//! new one is bad), and stops cleanly on SIGTERM and SIGINT.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// A topology on loopback: a TCP VIP in front of `backend`, and DNS.
fn loopback_topology(vips: &[u16], backend: u16, dns: u16) -> String {
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
health = {{ type = "tcp", interval = "1s", timeout = "500ms" }}

[dns]
apex = "lab.example"
listen = ["127.0.0.1:{dns}"]

[dns.views.lab]
zones = ["lab"]

[dns.views.outside]
zones = ["internet"]

[[acl]]
name = "lab"
action = "allow"
from = ["lab"]
protocol = "tcp"
ports = [{ports}]

[[acl]]
name = "dns"
action = "allow"
from = ["lab"]
ports = [{dns}]
"#,
        ports = vips.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
    );
    for (i, vip) in vips.iter().enumerate() {
        t.push_str(&format!(
            "\n[listeners.smtp{i}]\naddress = \"127.0.0.1\"\nport = {vip}\nprotocol = \"tcp\"\nzones = [\"lab\"]\npool = \"echo\"\nnames = [\"smtp{i}.lab.example\"]\n"
        ));
    }
    t
}

#[test]
fn run_serves_the_plans_tcp_vip_and_dns() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lab.toml");
    let (vip, dns) = (free_port(), free_port());
    std::fs::write(&config, loopback_topology(&[vip], echo_backend(), dns)).unwrap();
    let run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");
    assert_eq!(echo_through(vip).unwrap(), "EHLO lab\r\n");
    let dig = Command::new("dig")
        .args([
            "+short",
            "+time=2",
            "+tries=1",
            "-b",
            "127.0.0.1",
            "-p",
            &dns.to_string(),
            "@127.0.0.1",
            "smtp0.lab.example",
            "A",
        ])
        .output()
        .expect("dig is installed (scripts/packages/dns.txt)");
    assert_eq!(String::from_utf8_lossy(&dig.stdout).trim(), "127.0.0.1");
}

#[test]
fn run_publishes_web_routes_over_tls_from_the_runtimes_healthy_members() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("web.toml");
    let (https, dns) = (free_port(), free_port());
    // One member is dead from the start: the runtime's health check marks it
    // down and the reverse proxy, picking from the runtime's pools, skips it.
    let (live, dead) = (web_backend("live"), free_port());
    let text = format!(
        r#"{base}
[services.web]
product = "sharepoint"
class = "sharepoint"

[certificates.lab]
names = ["intranet.lab.example"]

[pools.web]
service = "web"
members = ["127.0.0.1:{dead}", "127.0.0.1:{live}"]
health = {{ type = "http", path = "/", host = "intranet.lab.example", interval = "200ms", timeout = "150ms", fall = 1, rise = 1 }}

[listeners.https]
address = "127.0.0.1"
port = {https}
protocol = "https"
zones = ["lab"]
certificates = ["lab"]

[routes.intranet]
listeners = ["https"]
hosts = ["intranet.lab.example"]
pool = "web"

[[acl]]
name = "web"
action = "allow"
from = ["lab"]
protocol = "tcp"
ports = [{https}]

# No retries: a request sent to the dead member would fail, so every 200
# below shows that the dead member was never picked.
[http]
retries = 0
"#,
        base = loopback_topology(&[free_port()], echo_backend(), dns)
    );
    std::fs::write(&config, text).unwrap();
    let run = Running::start(&config, &["--http-workers", "3"]);
    run.wait_for("gatehouse running");
    std::thread::sleep(Duration::from_millis(1000));
    // Web clients are served by exactly the worker threads asked for.
    let workers = std::fs::read_dir(format!("/proc/{}/task", run.child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).ok())
        .filter(|name| name.starts_with("gatehouse-http"))
        .count();
    assert_eq!(workers, 3);
    let resolve = format!("intranet.lab.example:{https}:127.0.0.1");
    let url = format!("https://intranet.lab.example:{https}/");
    for _ in 0..10 {
        let out = Command::new("curl")
            .args([
                "-sk",
                "--max-time",
                "5",
                "--resolve",
                &resolve,
                "-w",
                " %{http_code}",
                &url,
            ])
            .output()
            .expect("curl is installed (scripts/packages/http.txt)");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "live 200");
    }
}

#[test]
fn run_reloads_on_sighup_keeps_the_old_plan_on_a_bad_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("topology.toml");
    let (first, second, dns, backend) = (free_port(), free_port(), free_port(), echo_backend());
    let good = loopback_topology(&[first], backend, dns);
    std::fs::write(&config, &good).unwrap();
    let mut run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");
    assert!(echo_through(first).is_ok());

    std::fs::write(&config, good.replace("pool = \"echo\"", "pool = \"ecko\"")).unwrap();
    run.signal("-HUP");
    run.wait_for("does not exist");
    run.wait_for("reload failed; the previous plan stays in service");
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "a bad reload must not stop gatehouse"
    );
    assert_eq!(
        echo_through(first).unwrap(),
        "EHLO lab\r\n",
        "the old plan still serves"
    );

    std::fs::write(&config, loopback_topology(&[first, second], backend, dns)).unwrap();
    run.signal("-HUP");
    run.wait_for("reloaded: new plan in service");
    assert_eq!(echo_through(second).unwrap(), "EHLO lab\r\n", "the new listener serves");
    assert_eq!(echo_through(first).unwrap(), "EHLO lab\r\n");

    run.signal("-TERM");
    run.wait_for("stopped");
    let status = run.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(echo_through(first).is_err(), "nothing listens after a stop");
}

#[test]
fn run_refuses_to_start_when_a_listener_cannot_bind() {
    // The built-in Contoso topology uses addresses this machine does not have.
    let out = gatehouse().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot listen on"), "{err}");
    assert!(err.contains("not configured on any interface of this host"), "{err}");
}

#[test]
fn run_stops_cleanly_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lab.toml");
    std::fs::write(&config, loopback_topology(&[free_port()], echo_backend(), free_port())).unwrap();
    let run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");
    run.signal("-INT");
    run.wait_for("signal=\"SIGINT\"");
    let mut run = run;
    assert_eq!(run.child.wait().unwrap().code(), Some(0));
}

#[test]
fn run_refuses_an_invalid_topology_with_exit_code_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[zones.internet]\n[pools.x]\nservice = \"nope\"\n").unwrap();
    let out = gatehouse().arg("run").arg("--config").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("topology is invalid"));
}

#[test]
fn run_logs_json_lines_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lab.toml");
    std::fs::write(&config, loopback_topology(&[free_port()], echo_backend(), free_port())).unwrap();
    let run = Running::start(&config, &["--log-format", "json"]);
    let line = run.wait_for("gatehouse running");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(event["level"], "INFO");
    assert!(event["message"].as_str().unwrap().contains("gatehouse running"));
}
