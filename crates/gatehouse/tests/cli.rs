//! The command line from the outside: exit codes, output formats, and the
//! life of `gatehouse run` (start, reload, bad reload, stop).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn gatehouse() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    c
}

fn contoso_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/contoso.toml")
}

#[test]
fn check_without_a_file_validates_the_built_in_contoso_topology() {
    let out = gatehouse().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("examples/contoso.toml: valid:"), "{text}");
    assert!(text.contains("4 user types"), "{text}");
}

#[test]
fn check_of_the_contoso_file_passes() {
    let out = gatehouse().args(["check", "examples/contoso.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn every_example_topology_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = gatehouse().arg("check").arg(&path).output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn check_of_a_missing_file_exits_2() {
    let out = gatehouse().args(["check", "no/such/topology.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no/such/topology.toml"));
}

#[test]
fn check_of_a_file_that_is_not_utf8_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[gatehouse]\nname = \"Caf\xe9\"\n").unwrap();
    let out = gatehouse().arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
}

#[test]
fn check_reports_every_problem_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.toml");
    let text = std::fs::read_to_string(contoso_path())
        .unwrap()
        .replace("pool = \"exchange-ews\"", "pool = \"exchange-ewz\"")
        .replace("port = 5269", "port = 70000");
    std::fs::write(&path, text).unwrap();
    let out = gatehouse()
        .arg("check")
        .arg(&path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"], 2, "{report:#}");
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"unknown-reference") && codes.contains(&"invalid-port"),
        "{codes:?}"
    );
    let pool = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "unknown-reference")
        .unwrap();
    assert_eq!(pool["label"], "did you mean \"exchange-ews\"?");
    assert!(pool["line"].as_u64().unwrap() > 1 && pool["column"] == 8, "{pool}");
}

#[test]
fn check_json_of_a_valid_topology_says_so() {
    let out = gatehouse().args(["check", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["errors"], 0);
    assert_eq!(report["file"], "examples/contoso.toml");
}

#[test]
fn warnings_do_not_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warn.toml");
    // A zone nobody can be in is worth a warning, not a failure.
    let text = std::fs::read_to_string(contoso_path()).unwrap().replace(
        "[zones.partners]",
        "[zones.lab]\ndescription = \"not wired yet\"\n\n[dns.views.lab]\nzones = [\"lab\"]\n\n[zones.partners]",
    );
    std::fs::write(&path, text).unwrap();
    let out = gatehouse().arg("check").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("warning: zone \"lab\" has no prefixes"), "{text}");
    assert!(text.contains("1 warning"), "{text}");
}

/// A running `gatehouse run` whose log lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(config: &Path, extra: &[&str]) -> Running {
        let mut child = gatehouse()
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running { child, lines }
    }

    /// Waits for a log line containing `needle`; panics after 20 s.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line containing {needle:?}"),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP (and, for DNS, UDP) port on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// An echo server standing in for a pool member; it runs until the test ends.
fn echo_backend() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let mut writer = stream;
                let _ = std::io::copy(&mut reader, &mut writer);
            });
        }
    });
    port
}

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

/// Sends a line through a VIP and reads the echo.
fn echo_through(port: u16) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"EHLO lab\r\n")?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
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

/// A web server standing in for a pool member: every request gets 200 and
/// the member's name.
fn web_backend(name: &'static str) -> u16 {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut line = String::new();
                    // Read one request head; bodies are not sent in these tests.
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{name}", name.len());
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
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
    let run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");
    std::thread::sleep(Duration::from_millis(1000));
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

#[test]
fn check_warns_about_a_certificate_that_expires_soon_or_misses_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-keyout",
            "mail.key",
            "-out",
            "mail.pem",
            "-days",
            "10",
            "-subj",
            "/CN=mail.fabrikam.com",
        ])
        .args(["-addext", "subjectAltName=DNS:mail.fabrikam.com"])
        .output()
        .expect("openssl is installed (scripts/packages/http.txt)");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/exchange-only.toml");
    let text = std::fs::read_to_string(example)
        .unwrap()
        .replace(
            "names = [\"mail.fabrikam.com\", \"portal.fabrikam.com\"]",
            "cert = \"mail.pem\"\nkey = \"mail.key\"",
        )
        .replace(
            "hosts = [\"mail.fabrikam.com\"]",
            "hosts = [\"mail.fabrikam.com\", \"portal.fabrikam.com\"]",
        );
    let config = dir.path().join("site.toml");
    std::fs::write(&config, text).unwrap();
    let out = gatehouse()
        .arg("check")
        .arg(&config)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "warnings do not fail the check");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let messages: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "certificate")
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert!(messages.iter().any(|m| m.contains("expire")), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("portal.fabrikam.com")),
        "{messages:?}"
    );
    assert_eq!(report["warnings"], messages.len(), "{report:#}");
}
