//! The built-in Contoso topology against the reference architecture.

mod common;

use common::{finding_ids, flow, report_of};
use gatehouse_verify::Report;

fn contoso() -> Report {
    report_of("examples/contoso.toml", gatehouse_model::CONTOSO)
}

#[test]
fn contoso_verifies_without_errors() {
    let r = contoso();
    assert!(!r.has_errors(), "{}", r.to_text());
}

#[test]
fn contoso_meets_every_declared_reach() {
    let r = contoso();
    let declared: usize = gatehouse_model::check(gatehouse_model::CONTOSO)
        .plan
        .unwrap()
        .topology
        .user_types
        .iter()
        .map(|u| u.reaches.len())
        .sum();
    assert_eq!(r.reaches.len(), declared);
    let unmet: Vec<_> = r.reaches.iter().filter(|x| x.from.is_empty()).collect();
    assert!(unmet.is_empty(), "{unmet:#?}");
}

#[test]
fn contoso_keeps_lync_out_of_the_vpn_and_directaccess_tunnels() {
    // Lync SIP is for the intranet and the Edge; remote clients use the Edge.
    assert!(finding_ids(&contoso()).is_empty(), "{:#?}", contoso().findings);
    let r = contoso();
    let zones: Vec<&str> = r
        .flows
        .iter()
        .filter(|f| f.target.label() == "pool01.contoso.com:5061" && f.access.is_open())
        .map(|f| f.zone.as_str())
        .collect();
    assert!(!zones.contains(&"vpn") && !zones.contains(&"directaccess"), "{zones:?}");
    assert!(zones.contains(&"intranet"), "{zones:?}");
}

#[test]
fn contoso_admin_is_open_from_the_intranet_only() {
    let r = contoso();
    let zones: Vec<&str> = r
        .flows
        .iter()
        .filter(|f| f.target.name == "admin.contoso.com" && f.access.is_open())
        .map(|f| f.zone.as_str())
        .collect();
    assert_eq!(zones, ["intranet"]);
}

#[test]
fn contoso_smtp_reaches_exchange_from_eop_only() {
    let r = contoso();
    let open: Vec<(Option<&str>, &str)> = r
        .flows
        .iter()
        .filter(|f| f.target.label() == "smtp.contoso.com:25" && f.access.is_open())
        .map(|f| (f.user_type.as_deref(), f.zone.as_str()))
        .collect();
    assert_eq!(open, [(None, "eop")]);
}

#[test]
fn contoso_office_web_apps_is_open_but_undeclared_and_not_an_error() {
    let r = contoso();
    let f = flow(&r, Some("remote-employees"), "internet", "wac.contoso.com:443 /");
    assert_eq!(f.status(), "undeclared");
    assert!(!r.has_errors());
}

#[test]
fn contoso_text_report_lists_each_user_type_and_ends_with_the_counts() {
    let text = contoso().to_text();
    for u in [
        "partner-companies",
        "individual-partners-and-anonymous",
        "remote-employees",
        "internal-employees",
    ] {
        assert!(text.contains(&format!("user type {u} \"")), "{u} missing:\n{text}");
    }
    assert!(
        text.contains("  met      sip.contoso.com:443       from internet\n"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("0 errors, 0 findings (0 warnings, 0 info), 187 flows"),
        "{text}"
    );
}
