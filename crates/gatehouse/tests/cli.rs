//! `gatehouse check` from the outside: exit codes, output formats, every
//! problem at once, and the warnings about certificate files.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn check_without_a_file_validates_the_built_in_contoso_topology() {
    let out = gatehouse().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("examples/contoso.toml: valid:")),
        "{text}"
    );
    assert!(text.contains("4 user types"), "{text}");
}

#[test]
fn check_warns_that_unenforced_pre_authentication_refuses_and_still_passes() {
    let out = gatehouse().args(["check", "examples/contoso.toml"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let owa = "warning: route \"exchange-owa\" pre-authenticates zone \"internet\" with corp-forms (forms), \
               which gatehouse does not enforce yet: those requests are refused with 503";
    assert!(text.contains(owa), "{text}");
    assert!(text.contains("--> examples/contoso.toml:464:21"), "{text}");
    assert!(text.contains("forms sign-in is not enforced yet"), "{text}");
    assert!(
        text.contains("write \"pass-through\" to let the backend authenticate"),
        "{text}"
    );
    assert!(
        text.contains("route \"partnerweb\" pre-authenticates zone \"partners\" with partner-saml (saml)"),
        "{text}"
    );
    assert!(text.contains("; 7 warnings"), "{text}");

    let out = gatehouse()
        .args([
            "explain",
            "192.0.2.99",
            "mail.contoso.com",
            "tcp/443",
            "--path",
            "/owa/",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "explain exits 1 on a refused flow: {text}");
    assert!(
        text.contains("DENIED at auth (HTTP 503, sign-in unavailable)"),
        "{text}"
    );
    assert!(text.contains("pool exchange-owa is not reached"), "{text}");
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
    // Contoso's seven pre-authentication warnings, and this one.
    assert!(text.contains("8 warnings"), "{text}");
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
    let others = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] != "certificate" && d["code"] != "pre-authentication-not-enforced")
        .count();
    assert_eq!(others, 0, "{report:#}");
}

#[test]
fn check_warns_when_every_dns_listen_address_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private-dns.toml");
    let text = std::fs::read_to_string(contoso_path()).unwrap();
    let public = "listen = [\"203.0.113.53:53\", \"10.0.10.53:53\"]";
    assert!(text.contains(public));
    std::fs::write(&path, text.replace(public, "listen = [\"10.0.10.53:53\"]")).unwrap();
    let out = gatehouse()
        .arg("check")
        .arg(&path)
        .args(["--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "a warning: {text}");
    assert!(
        text.contains(
            "warning: every [dns] `listen` address is private, so DNS view \"external\" (the default zone's) has no NS records"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("--> {}:621:11", path.display())), "{text}");
    assert!(
        text.contains("there an NS query gets NODATA and the SOA's primary ns1.contoso.com does not exist"),
        "{text}"
    );
    assert!(text.contains("through NAT, set `ns = [\"ns1.contoso.com\"]`"), "{text}");
    // Contoso's seven pre-authentication warnings, and this one.
    assert!(text.contains("; 8 warnings"), "{text}");

    let json = gatehouse()
        .arg("check")
        .arg(&path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let d = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "no-public-ns")
        .expect("the no-public-ns warning");
    assert_eq!(
        (d["severity"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
        (Some("warning"), Some(621), Some(11))
    );
}
