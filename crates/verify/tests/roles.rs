//! A zone's `role` key decides what verification makes of it, over what the
//! zone's name and description suggest.

mod common;

use common::{finding_ids, fixture, report_of};

/// The remote-access fixture with its zones renamed so that no word gives
/// their role away.
fn anonymous_zones(vpn_role: &str, da_role: &str) -> String {
    fixture("lync-over-remote-access.toml")
        .replace("\"vpn\"", "\"branch\"")
        .replace("\"directaccess\"", "\"roaming\"")
        .replace(
            "[zones.vpn]\ndescription = \"Addresses the VPN gateway hands to remote employees\"",
            &format!("[zones.branch]\n{vpn_role}"),
        )
        .replace(
            "[zones.directaccess]\ndescription = \"DirectAccess clients\"",
            &format!("[zones.roaming]\n{da_role}"),
        )
}

#[test]
fn a_stated_vpn_role_finds_lync_in_the_tunnel_whatever_the_zone_is_called() {
    let r = report_of(
        "renamed.toml",
        &anonymous_zones("role = \"vpn\"", "role = \"directaccess\""),
    );
    assert_eq!(finding_ids(&r), ["lync-over-vpn", "lync-over-directaccess"]);
}

#[test]
fn without_a_role_or_a_telling_name_the_tunnel_goes_unnoticed() {
    let r = report_of("renamed.toml", &anonymous_zones("", ""));
    assert!(finding_ids(&r).is_empty(), "{:?}", finding_ids(&r));
}

#[test]
fn a_stated_intranet_role_overrides_a_misleading_name() {
    // The words say VPN, the role says this is the corporate network.
    let text = fixture("lync-over-remote-access.toml").replace(
        "[zones.vpn]\ndescription = \"Addresses the VPN gateway hands to remote employees\"",
        "[zones.vpn]\nrole = \"intranet\"\ndescription = \"Addresses the VPN gateway hands to remote employees\"",
    );
    let r = report_of("intranet-role.toml", &text);
    assert_eq!(finding_ids(&r), ["lync-over-directaccess"]);
}
