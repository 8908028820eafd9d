//! Golden tests of the JSON report: Contoso and a few fixtures, compared
//! byte for byte with `tests/golden/*.json`. To accept a deliberate change:
//! `UPDATE_GOLDEN=1 cargo test -p gatehouse-verify --test golden`.

mod common;

use std::path::PathBuf;

use common::{fixture, report_of};
use gatehouse_model::Source;

fn check(golden: &str, name: &str, text: &str) {
    let report = report_of(name, text);
    let actual = serde_json::to_string_pretty(&report.to_json_in(&Source::new(name, text))).unwrap() + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nrun UPDATE_GOLDEN=1 cargo test -p gatehouse-verify --test golden",
            path.display()
        )
    });
    if actual != expected {
        let line = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{golden} differs from the report, first at line {}:\n  expected: {}\n  actual:   {}\nif the change is meant, run UPDATE_GOLDEN=1 cargo test -p gatehouse-verify --test golden",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>")
        );
    }
}

fn check_fixture(name: &str) {
    check(
        &name.replace(".toml", ".json"),
        &format!("tests/fixtures/{name}"),
        &fixture(name),
    );
}

#[test]
fn contoso_json_matches_its_golden() {
    check("contoso.json", gatehouse_model::CONTOSO_NAME, gatehouse_model::CONTOSO);
}

#[test]
fn mail_hygiene_json_matches_its_golden() {
    check_fixture("mail-hygiene.toml");
}

#[test]
fn lync_through_edge_json_matches_its_golden() {
    check_fixture("lync-through-edge.toml");
}

#[test]
fn admin_exposed_json_matches_its_golden() {
    check_fixture("admin-exposed.toml");
}

#[test]
fn route_user_types_json_matches_its_golden() {
    check_fixture("route-user-types.toml");
}

#[test]
fn declared_blocked_json_matches_its_golden() {
    check_fixture("declared-blocked.toml");
}

#[test]
fn lync_over_remote_access_json_matches_its_golden() {
    check_fixture("lync-over-remote-access.toml");
}
