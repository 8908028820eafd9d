//! The crate's modules import one another without a circle, so that the
//! request path reads from the phases down to their leaves
//! (`scripts/proxy-modules` draws the graph from the `use` lines).

use std::process::Command;

#[test]
fn the_proxy_modules_have_no_import_circle() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/proxy-modules");
    let out = Command::new("bash")
        .arg(script)
        .arg("--check")
        .output()
        .expect("bash runs scripts/proxy-modules");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "import circle in crates/proxy:\n{said}");
    assert!(said.contains("no circle among"), "{said}");
}
