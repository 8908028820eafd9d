//! Helpers shared by the verify tests: fixtures by name, plans, reports.
#![allow(dead_code)]

use std::path::PathBuf;

use gatehouse_model::{Plan, Source};
use gatehouse_verify::Report;

/// `crates/verify/tests/fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("cannot read fixture {name}: {e}"))
}

/// Compiles a topology text, failing the test with its diagnostics when it is invalid.
pub fn plan_of(name: &str, text: &str) -> Plan {
    let checked = gatehouse_model::check(text);
    match checked.plan {
        Some(plan) => plan,
        None => {
            let source = Source::new(name, text);
            let shown: Vec<String> = checked.diagnostics.iter().map(|d| d.render(&source, false)).collect();
            panic!("{name} is not a valid topology:\n{}", shown.join("\n"));
        }
    }
}

pub fn report_of(name: &str, text: &str) -> Report {
    gatehouse_verify::verify(&plan_of(name, text))
}

/// The report for a fixture file.
pub fn report(name: &str) -> Report {
    report_of(name, &fixture(name))
}

pub fn finding_ids(r: &Report) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.id).collect()
}

pub fn error_ids(r: &Report) -> Vec<&'static str> {
    r.errors.iter().map(|e| e.id).collect()
}

/// The flow of `user_type` from `zone` to the target labelled `label`.
pub fn flow<'r>(r: &'r Report, user_type: Option<&str>, zone: &str, label: &str) -> &'r gatehouse_verify::Flow {
    r.flows
        .iter()
        .find(|f| f.user_type.as_deref() == user_type && f.zone == zone && f.target.label() == label)
        .unwrap_or_else(|| {
            let all: Vec<String> = r
                .flows
                .iter()
                .map(|f| format!("{:?} {} {}", f.user_type, f.zone, f.target.label()))
                .collect();
            panic!("no flow {user_type:?} {zone} {label}; flows:\n{}", all.join("\n"))
        })
}
