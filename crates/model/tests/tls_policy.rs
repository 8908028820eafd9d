//! The two listener policies that speak of TLS: `strict_sni` (Host must be
//! the server name) and `hsts` (`Strict-Transport-Security`), as written,
//! as defaulted, and as refused.

use std::time::Duration;

use gatehouse_model::topology::Hsts;
use gatehouse_model::{check, Checked, Plan};

/// An https listener with one certificate, an http one, and a route on both.
const BASE: &str = r#"
[zones.internet]

[services.web]
product = "generic"
class = "sharepoint"

[pools.web]
service = "web"
members = ["10.0.0.11:80"]

[certificates.site]
names = ["www.example.com"]

[listeners.https]
address = "192.0.2.10"
port = 443
protocol = "https"
zones = ["internet"]
certificates = ["site"]

[listeners.http]
address = "192.0.2.10"
port = 80
protocol = "http"
zones = ["internet"]

[routes.site]
listeners = ["https", "http"]
hosts = ["www.example.com"]
pool = "web"
"#;

/// A second certificate, for listeners that offer two.
const OTHER: &str = "\n[certificates.other]\nnames = [\"shop.example.com\"]\n";

/// BASE with `extra` lines added to the table `[table]`.
fn with_in(table: &str, extra: &str) -> Checked {
    let header = format!("[{table}]\n");
    assert!(BASE.contains(&header), "no {header} in BASE");
    check(&BASE.replace(&header, &format!("{header}{extra}\n")))
}

fn plan(c: Checked) -> Plan {
    match c.plan {
        Some(p) => p,
        None => panic!("invalid: {:#?}", c.diagnostics),
    }
}

fn codes(c: &Checked) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code).collect()
}

fn listener<'p>(p: &'p Plan, name: &str) -> &'p gatehouse_model::topology::Listener {
    p.topology.listeners.iter().find(|l| l.name.value == name).unwrap()
}

#[test]
fn strict_sni_is_on_by_default_only_where_a_listener_has_several_certificates() {
    let one = plan(with_in("listeners.https", ""));
    assert!(!listener(&one, "https").strict_sni());
    let two = BASE.replace("certificates = [\"site\"]", "certificates = [\"site\", \"other\"]") + OTHER;
    let several = check(&two);
    assert!(listener(&plan(several), "https").strict_sni());
    // As written, either way.
    let off = check(&two.replace("[listeners.https]\n", "[listeners.https]\nstrict_sni = false\n"));
    assert!(!listener(&plan(off), "https").strict_sni());
    let on = plan(with_in("listeners.https", "strict_sni = true"));
    assert!(listener(&on, "https").strict_sni());
}

#[test]
fn strict_sni_and_hsts_on_a_plain_listener_are_reported_as_unused() {
    for key in ["strict_sni = true", "hsts = true"] {
        let c = with_in("listeners.http", key);
        assert_eq!(codes(&c), vec!["ignored-key"], "{key}: {:#?}", c.diagnostics);
        let p = plan(c);
        assert!(!listener(&p, "http").strict_sni());
        assert_eq!(listener(&p, "http").hsts(), None, "never over plain HTTP");
    }
}

#[test]
fn strict_sni_must_be_a_boolean() {
    let c = with_in("listeners.https", "strict_sni = \"yes\"");
    assert_eq!(codes(&c), vec!["wrong-type"], "{:#?}", c.diagnostics);
}

#[test]
fn https_listeners_send_one_year_of_hsts_by_default_and_plain_ones_none() {
    let p = plan(check(BASE));
    let https = listener(&p, "https");
    let hsts = https.hsts().expect("on by default");
    assert_eq!(hsts.max_age, Duration::from_secs(31_536_000));
    assert_eq!(hsts.header_value(), "max-age=31536000");
    let route = &p.topology.routes[0];
    assert_eq!(route.hsts_on(https), Some(hsts));
    assert_eq!(route.hsts_on(listener(&p, "http")), None);
}

#[test]
fn hsts_is_written_as_false_true_or_a_table() {
    let off = plan(with_in("listeners.https", "hsts = false"));
    assert_eq!(listener(&off, "https").hsts(), None);
    let on = plan(with_in("listeners.https", "hsts = true"));
    assert_eq!(listener(&on, "https").hsts(), Some(Hsts::default_policy()));
    let table = plan(with_in(
        "listeners.https",
        "hsts = { max_age = \"730d\", include_subdomains = true, preload = true }",
    ));
    assert_eq!(
        listener(&table, "https").hsts().unwrap().header_value(),
        "max-age=63072000; includeSubDomains; preload"
    );
    // max-age=0 is how a site tells browsers to forget it (RFC 6797 6.1.1).
    let forget = plan(with_in("listeners.https", "hsts = { max_age = \"0s\" }"));
    assert_eq!(listener(&forget, "https").hsts().unwrap().header_value(), "max-age=0");
}

#[test]
fn a_route_replaces_the_listener_hsts_but_only_on_https() {
    let p = plan(with_in("routes.site", "hsts = { max_age = \"1d\" }"));
    let route = &p.topology.routes[0];
    assert_eq!(
        route.hsts_on(listener(&p, "https")).unwrap().header_value(),
        "max-age=86400"
    );
    assert_eq!(route.hsts_on(listener(&p, "http")), None);
    let off = plan(with_in("routes.site", "hsts = false"));
    assert_eq!(off.topology.routes[0].hsts_on(listener(&off, "https")), None);
    // A route that asks for it has it where its listener turned it off.
    let listener_off = check(
        &BASE
            .replace("certificates = [\"site\"]", "certificates = [\"site\"]\nhsts = false")
            .replace("pool = \"web\"\n", "pool = \"web\"\nhsts = true\n"),
    );
    let listener_off = plan(listener_off);
    let route = &listener_off.topology.routes[0];
    assert_eq!(
        route.hsts_on(listener(&listener_off, "https")),
        Some(Hsts::default_policy())
    );
}

#[test]
fn hsts_preload_without_what_preload_lists_require_is_an_error() {
    for bad in [
        "hsts = { preload = true }",
        "hsts = { include_subdomains = true, preload = true, max_age = \"30d\" }",
    ] {
        let c = with_in("listeners.https", bad);
        assert_eq!(codes(&c), vec!["invalid-value"], "{bad}: {:#?}", c.diagnostics);
        let d = &c.diagnostics[0];
        assert!(
            d.hint
                .as_deref()
                .is_some_and(|h| h.contains("include_subdomains = true")),
            "{d:#?}"
        );
    }
}

#[test]
fn hsts_rejects_unknown_keys_and_other_types() {
    let c = with_in("listeners.https", "hsts = { max_age = \"1d\", subdomains = true }");
    assert_eq!(codes(&c), vec!["unknown-key"], "{:#?}", c.diagnostics);
    let c = with_in("listeners.https", "hsts = \"max-age=1\"");
    assert_eq!(codes(&c), vec!["wrong-type"], "{:#?}", c.diagnostics);
}
