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
    let r = contoso();
    let ids = finding_ids(&r);
    assert!(
        !ids.contains(&"lync-over-vpn") && !ids.contains(&"lync-over-directaccess"),
        "{:#?}",
        r.findings
    );
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
            .ends_with("0 errors, 7 findings (7 warnings, 0 info), 187 flows"),
        "{text}"
    );
}

#[test]
fn contoso_warns_once_per_route_and_zone_whose_pre_authentication_is_refused_at_runtime() {
    // The seven policies `check` warns about, each with the user types the
    // design lets through and gatehouse refuses with 503 until it enforces
    // the method; the flows still meet their declarations (the intent).
    let r = contoso();
    assert!(!r.has_errors(), "{:#?}", r.errors);
    let found: Vec<&gatehouse_verify::Finding> = r
        .findings
        .iter()
        .filter(|f| f.id == "pre-authentication-not-enforced")
        .collect();
    assert_eq!(found.len(), 7, "{found:#?}");
    assert_eq!(found.len(), r.findings.len(), "{:#?}", r.findings);
    let heads: Vec<&str> = found
        .iter()
        .map(|f| f.message.split(", which").next().unwrap())
        .collect();
    assert_eq!(
        heads,
        [
            "route exchange-owa pre-authenticates zone internet with corp-forms (forms)",
            "route exchange-ecp pre-authenticates zone internet with corp-forms (forms)",
            "route exchange-activesync pre-authenticates zone internet with corp-basic (basic)",
            "route exchange-autodiscover pre-authenticates zone internet with corp-basic (basic)",
            "route sharepoint pre-authenticates zone internet with corp-forms (forms)",
            "route partnerweb pre-authenticates zone internet with partner-forms (forms)",
            "route partnerweb pre-authenticates zone partners with partner-saml (saml)",
        ]
    );
    assert_eq!(
        found[0].message,
        "route exchange-owa pre-authenticates zone internet with corp-forms (forms), which gatehouse does not \
         enforce yet: user type remote-employees is refused with 503 (sign-in unavailable) on \
         mail.contoso.com:443 /owa until forms is enforced"
    );
    assert!(
        found[6]
            .message
            .contains("user types partner-companies, individual-partners-and-anonymous are refused with 503"),
        "{}",
        found[6].message
    );
    assert!(found
        .iter()
        .all(|f| f.severity == gatehouse_verify::flows::Severity::Warning));
    assert!(found[0]
        .fix
        .contains("\"pass-through\" for zone internet on route exchange-owa"));
    // Each points at the policy that names the provider.
    let text = gatehouse_model::CONTOSO;
    for f in &found {
        let span = f.span.clone().expect("a finding points at its policy");
        assert!(
            text[span.start..].starts_with('"'),
            "{}",
            &text[span.start..span.start + 20]
        );
    }
}

#[test]
fn contoso_owa_auth_hop_says_gatehouse_refuses_it_with_503() {
    let r = contoso();
    let f = flow(&r, Some("remote-employees"), "internet", "mail.contoso.com:443 /owa");
    // The design: remote employees sign in with corp-forms, so the flow meets its reach ...
    assert_eq!(f.status(), "ok");
    assert!(f.stopped_at().is_none(), "{:#?}", f.path);
    // ... but the auth hop says what the proxy does today.
    let auth = f.refused_at_runtime().expect("the auth hop is not enforced");
    assert_eq!(auth.step, gatehouse_verify::flows::Step::Auth);
    assert_eq!(auth.outcome, gatehouse_verify::flows::Outcome::NotEnforced);
    assert_eq!(auth.outcome.keyword(), "not-enforced");
    assert_eq!(
        auth.detail,
        "pre-authentication with corp-forms (forms), which gatehouse does not enforce yet: every request is \
         refused with 503 (sign-in unavailable)"
    );
    // Pass-through and anonymous routes are forwarded as before.
    let ews = flow(&r, Some("remote-employees"), "internet", "mail.contoso.com:443 /EWS");
    assert!(ews.refused_at_runtime().is_none(), "{:#?}", ews.path);
    let meet = flow(
        &r,
        Some("individual-partners-and-anonymous"),
        "internet",
        "meet.contoso.com:443 /",
    );
    assert!(meet.refused_at_runtime().is_none(), "{:#?}", meet.path);
}
