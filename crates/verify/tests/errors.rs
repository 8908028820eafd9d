//! Errors: a declared flow that is blocked, an undeclared flow that is open
//! where the topology says it must not be.

mod common;

use common::{error_ids, fixture, report, report_of};
use gatehouse_model::Source;

#[test]
fn a_declared_flow_blocked_at_the_gateway_is_an_error_naming_zone_hop_and_fix() {
    let r = report("declared-blocked.toml");
    assert_eq!(error_ids(&r), ["declared-flow-blocked"]);
    let e = &r.errors[0];
    assert_eq!(e.user_type.as_deref(), Some("roaming"));
    assert_eq!(e.targets, ["mail.fabrikam.com:443 /owa"]);
    assert_eq!(e.reasons.len(), 1);
    assert!(e.reasons[0]
        .starts_with("from internet: mail.fabrikam.com:443 /owa: no rule allows tcp/443 from zone internet"));
    assert!(e.fix.contains("[[acl]]") && e.fix.contains("\"internet\""), "{}", e.fix);
    // The error points at the reach that declared it.
    let text = fixture("declared-blocked.toml");
    let json = r.to_json_in(&Source::new("declared-blocked.toml", &text));
    let line = json["errors"][0]["line"].as_u64().unwrap() as usize;
    assert!(text
        .lines()
        .nth(line - 1)
        .unwrap()
        .contains("reaches = [\"mail.fabrikam.com\"]"));
    assert!(r.has_errors());
}

#[test]
fn a_reach_met_from_one_of_the_user_types_zones_is_met() {
    let r = report("lync-through-edge.toml");
    assert!(!r.has_errors(), "{:#?}", r.errors);
    let sip = r.reaches.iter().find(|x| x.user_type == "remote").unwrap();
    // Remote users come through the Edge from the Internet, not through the VPN.
    assert_eq!(sip.from, ["internet"]);
}

#[test]
fn a_reach_on_a_port_nothing_publishes_is_an_error() {
    let text = fixture("exchange-basic.toml").replace(
        "reaches = [\"mail.fabrikam.com\"]",
        "reaches = [\"mail.fabrikam.com\", \"mail.fabrikam.com:8443\"]",
    );
    let r = report_of("exchange-8443.toml", &text);
    assert_eq!(error_ids(&r), ["declared-flow-blocked"]);
    assert_eq!(
        r.errors[0].reasons,
        ["mail.fabrikam.com is published on ports 443 only"]
    );
}

#[test]
fn a_route_for_some_user_types_that_others_can_pass_is_an_error() {
    let r = report("route-user-types.toml");
    assert_eq!(error_ids(&r), ["undeclared-user-type-on-route"]);
    let e = &r.errors[0];
    assert_eq!(e.user_type.as_deref(), Some("employees"));
    assert!(e.message.contains("from internet, intranet"), "{}", e.message);
    assert_eq!(e.targets, ["mail.fabrikam.com:443 /ecp"]);
    // The route's own user types are met through it.
    let admins = r.reaches.iter().find(|x| x.reach == "route ecp").unwrap();
    assert_eq!(admins.from, ["intranet"]);
}

#[test]
fn a_route_kept_to_its_user_types_by_zone_and_sign_in_is_not_an_error() {
    let r = report("route-user-types-quiet.toml");
    assert!(!r.has_errors(), "{:#?}", r.errors);
}

#[test]
fn a_route_declared_for_a_user_type_that_cannot_sign_in_is_blocked() {
    // The admins no longer list the provider the route asks for.
    let text = fixture("route-user-types-quiet.toml").replace("auth = [\"admin-forms\"]\n", "");
    let r = report_of("route-user-types-no-sign-in.toml", &text);
    assert_eq!(error_ids(&r), ["declared-flow-blocked"]);
    assert!(r.errors[0].message.contains("reach route ecp"));
    assert!(
        r.errors[0].reasons[0].contains("does not sign in with"),
        "{:?}",
        r.errors[0].reasons
    );
}

#[test]
fn an_inside_only_name_open_from_the_internet_is_an_error() {
    let r = report("admin-exposed.toml");
    assert_eq!(error_ids(&r), ["internal-name-exposed"]);
    let e = &r.errors[0];
    assert_eq!(e.zone.as_deref(), Some("internet"));
    assert_eq!(e.targets, ["admin.fabrikam.com:443 /"]);
    assert!(e.message.contains("(internal)"));
}

#[test]
fn an_inside_only_name_kept_inside_is_not_an_error() {
    let r = report("admin-inside.toml");
    assert!(!r.has_errors(), "{:#?}", r.errors);
}

#[test]
fn smtp_open_beyond_the_hygiene_zone_is_an_error() {
    let r = report("smtp-open-to-internet.toml");
    assert_eq!(error_ids(&r), ["smtp-open-beyond-hygiene"]);
    assert_eq!(r.errors[0].zone.as_deref(), Some("internet"));
    assert_eq!(r.errors[0].targets, ["mail.fabrikam.com:25"]);
}

#[test]
fn smtp_from_the_hygiene_zone_only_is_not_an_error() {
    assert!(!report("mail-hygiene.toml").has_errors());
}

#[test]
fn smtp_open_to_a_zone_that_declares_port_25_is_not_an_error() {
    let r = report("smtp-relay-declared.toml");
    assert!(!r.has_errors(), "{:#?}", r.errors);
}

#[test]
fn smtp_open_to_everyone_without_a_hygiene_zone_is_not_an_error() {
    // Without an eop zone, Internet mail hosts deliver straight to Exchange.
    let text = fixture("smtp-open-to-internet.toml")
        .replace(
            "[zones.eop]\ndescription = \"Exchange Online Protection\"",
            "[zones.mailhosts]",
        )
        .replace("\"40.107.0.0/16\", \"2a01:111:f400::/48\"", "\"192.0.2.0/24\"")
        .replace("\"eop\"", "\"mailhosts\"");
    let r = report_of("smtp-no-hygiene.toml", &text);
    assert!(
        !r.errors.iter().any(|e| e.id == "smtp-open-beyond-hygiene"),
        "{:#?}",
        r.errors
    );
}
