//! A zone's `role` key decides which remote-access device the description
//! names, whatever the zone is called.

use gatehouse_render::describe::{describe, DescribeFormat, Lang};

/// Contoso with the VPN zone renamed "branch", its description dropped, and
/// the given extra line (a role, or nothing) in its place.
fn contoso_with_branch(extra: &str) -> String {
    let text = gatehouse_model::CONTOSO.replace("\"vpn\"", "\"branch\"").replace(
        "[zones.vpn]\nrole = \"branch\"\ndescription = \"Addresses handed to remote employees by the VPN gateway\"",
        &format!("[zones.branch]\n{extra}"),
    );
    assert!(text.contains("[zones.branch]"), "the VPN zone was not renamed");
    text
}

fn english(text: &str) -> String {
    let checked = gatehouse_model::check(text);
    let plan = checked.plan.unwrap_or_else(|| panic!("{:#?}", checked.diagnostics));
    describe(&plan, Lang::En, DescribeFormat::Markdown)
}

#[test]
fn a_stated_vpn_role_names_the_vpn_gateway() {
    let out = english(&contoso_with_branch("role = \"vpn\""));
    assert!(
        out.contains("- VPN gateway: its clients arrive in zone `branch`"),
        "{out}"
    );
}

#[test]
fn without_a_role_or_a_telling_name_the_device_stays_generic() {
    let out = english(&contoso_with_branch(""));
    assert!(
        !out.contains("VPN gateway: its clients arrive in zone `branch`"),
        "{out}"
    );
    assert!(out.contains("zone `branch`"), "{out}");
}
