//! Every file in tests/bad-topologies/ holds one mistake. `gatehouse check`
//! must report exactly one error for it, with exit code 1, and print exactly
//! the golden `.expected` text beside it (file:line:col, caret, hint).
//!
//! Regenerate the goldens after an intended change with
//! `UPDATE_GOLDEN=1 cargo test -p gatehouse --test bad_topologies`, then
//! read the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn bad_topologies() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/bad-topologies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn check(relative: &str, format: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(workspace_root())
        .args(["check", relative, "--format", format, "--color", "never"])
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn there_are_at_least_twenty_broken_topologies() {
    assert!(bad_topologies().len() >= 20, "only {} files", bad_topologies().len());
}

#[test]
fn each_broken_topology_has_exactly_one_error_and_its_golden_message() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for path in bad_topologies() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let relative = format!("tests/bad-topologies/{name}");
        let (code, text) = check(&relative, "text");
        if code != 1 {
            failures.push(format!("{name}: exit code {code}, expected 1"));
        }
        let (_, json) = check(&relative, "json");
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        if report["errors"] != 1 || report["warnings"] != 0 {
            failures.push(format!(
                "{name}: {} errors and {} warnings, expected one mistake",
                report["errors"], report["warnings"]
            ));
        }
        let diag = &report["diagnostics"][0];
        if !diag["line"].is_u64() || !diag["column"].is_u64() || !diag["hint"].is_string() && diag["label"].is_null() {
            failures.push(format!("{name}: the error has no position or no help: {diag}"));
        }
        let golden = path.with_extension("expected");
        if update {
            std::fs::write(&golden, &text).unwrap();
        } else {
            let expected =
                std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("{} is missing", golden.display()));
            if expected != text {
                failures.push(format!(
                    "{name}: output differs from {}:\n--- expected\n{expected}\n--- got\n{text}",
                    golden.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
