//! `gatehouse verify` from the outside: the real binary, its exit codes and
//! its output, on Contoso and on the verify crate's fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../verify/tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .output()
        .expect("gatehouse runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn verify_of_the_built_in_contoso_exits_0_with_no_errors() {
    let o = run(&["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.starts_with("verify Contoso: 4 user types, 7 zones"), "{out}");
    assert!(
        out.contains("user type internal-employees \"Internal employees\""),
        "{out}"
    );
    // The seven pre-authenticated policies are refused at runtime: warnings, not errors.
    assert!(
        out.contains("\nverify: 0 errors, 7 findings (7 warnings, 0 info)"),
        "{out}"
    );
    assert_eq!(
        out.matches("warning[pre-authentication-not-enforced]: route ").count(),
        7,
        "{out}"
    );
}

#[test]
fn verify_of_the_contoso_file_exits_0() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/contoso.toml");
    let o = run(&["verify", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn verify_exits_1_on_a_declared_flow_that_is_blocked_and_points_at_it() {
    let file = fixture_path("declared-blocked.toml");
    let o = run(&["verify", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("error[declared-flow-blocked]: user type roaming"), "{out}");
    assert!(out.contains(&format!("  --> {}:", file.display())), "{out}");
    assert!(out.contains("  BLOCKED  mail.fabrikam.com"), "{out}");
}

#[test]
fn verify_json_is_the_library_report_with_valid_set() {
    let file = fixture_path("admin-exposed.toml");
    let o = run(&["verify", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(json["valid"], true);
    assert_eq!(json["summary"]["errors"], 1);
    assert_eq!(json["errors"][0]["id"], "internal-name-exposed");
    assert_eq!(json["file"], file.to_str().unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    let plan = gatehouse_model::check(&text).plan.expect("the fixture is valid");
    let mut expected =
        gatehouse_verify::verify(&plan).to_json_in(&gatehouse_model::Source::new(file.to_str().unwrap(), &text));
    expected["valid"] = serde_json::Value::Bool(true);
    assert_eq!(json, expected);
}

#[test]
fn verify_flows_lists_every_flow_with_where_it_stops() {
    let o = run(&["verify", "--flows"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("\nflows\n"), "{out}");
    assert!(
        out.contains("route: route exchange-powershell admits only zones intranet (others get 404)"),
        "{out}"
    );
    // A flow the design opens but gatehouse refuses says so on its line.
    let owa = out
        .lines()
        .find(|l| l.starts_with("  ok ") && l.contains(" internet ") && l.contains("mail.contoso.com:443 /owa "))
        .unwrap_or_else(|| panic!("no OWA line from the internet:\n{out}"));
    assert!(
        owa.ends_with(
            "https-public → exchange-owa → exchange-owa; auth: pre-authentication with corp-forms (forms), \
             which gatehouse does not enforce yet: every request is refused with 503 (sign-in unavailable)"
        ),
        "{owa}"
    );
}

#[test]
fn verify_exits_2_on_a_missing_file() {
    let o = run(&["verify", "/nonexistent/topology.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent/topology.toml"));
    let o = run(&["verify", "/nonexistent/topology.toml", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(json["valid"], false);
}

#[test]
fn verify_exits_1_on_an_invalid_topology_and_shows_its_diagnostics() {
    let dir = std::env::temp_dir().join(format!("gatehouse-verify-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.toml");
    std::fs::write(&file, "[routes.owa]\npool = \"nowhere\"\n").unwrap();
    let o = run(&["verify", file.to_str().unwrap()]);
    let json = run(&["verify", file.to_str().unwrap(), "--format", "json"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("invalid"), "{}", stdout(&o));
    assert_eq!(json.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("stdout is JSON");
    assert_eq!(json["valid"], false);
    assert!(!json["diagnostics"].as_array().unwrap().is_empty());
}
