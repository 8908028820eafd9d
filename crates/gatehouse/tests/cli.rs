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

#[test]
fn run_reloads_on_sighup_keeps_the_old_plan_on_a_bad_file_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("topology.toml");
    let good = std::fs::read_to_string(contoso_path()).unwrap();
    std::fs::write(&config, &good).unwrap();
    let mut run = Running::start(&config, &[]);
    run.wait_for("gatehouse running");

    std::fs::write(
        &config,
        good.replace("pool = \"exchange-ews\"", "pool = \"exchange-ewz\""),
    )
    .unwrap();
    run.signal("-HUP");
    run.wait_for("does not exist");
    run.wait_for("reload failed; the previous plan stays in service");
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "a bad reload must not stop gatehouse"
    );

    std::fs::write(&config, &good).unwrap();
    run.signal("-HUP");
    run.wait_for("reloaded: new plan in service");

    run.signal("-TERM");
    run.wait_for("stopped");
    let status = run.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn run_stops_cleanly_on_sigint() {
    let run = Running::start(&contoso_path(), &[]);
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
    let run = Running::start(&contoso_path(), &["--log-format", "json"]);
    let line = run.wait_for("gatehouse running");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(event["level"], "INFO");
    assert!(event["message"].as_str().unwrap().contains("gatehouse running"));
}
