//! Helpers shared by the render tests: the Contoso plan, plans of changed
//! topologies, and golden files.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

pub mod chromium;

use gatehouse_model::Plan;

pub const CONTOSO: &str = gatehouse_model::CONTOSO;

pub fn contoso() -> Plan {
    plan_of(CONTOSO)
}

/// The plan of a topology text that must be valid.
pub fn plan_of(text: &str) -> Plan {
    let checked = gatehouse_model::check(text);
    let errors: Vec<String> = checked.diagnostics.iter().map(|d| format!("{d:?}")).collect();
    checked
        .plan
        .unwrap_or_else(|| panic!("the test topology is invalid: {errors:#?}"))
}

pub fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file byte for byte; with
/// `UPDATE_GOLDEN=1` in the environment, rewrites the file instead.
pub fn golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}\nrun `UPDATE_GOLDEN=1 cargo test -p gatehouse-render` to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n\
             if the change is intended, run `UPDATE_GOLDEN=1 cargo test -p gatehouse-render` and review the diff",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end of file>"),
            actual.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}
