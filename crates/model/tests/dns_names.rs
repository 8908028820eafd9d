//! The names at the DNS apex: `[dns] ns`, `[dns.soa] mname` and `rname` are
//! absolute host names, and `check` says when an NS name cannot be
//! reached from a view.

use gatehouse_model::diag::Severity;
use gatehouse_model::{check, Checked};

/// A small valid topology with split DNS; tests add keys to `[dns]`.
const BASE: &str = r#"
[zones.internet]
[zones.intranet]
prefixes = ["10.0.0.0/8"]

[services.web]
product = "generic"
class = "sharepoint"

[pools.web]
service = "web"
members = ["10.0.0.11:80"]

[listeners.http]
address = "192.0.2.10"
port = 80
protocol = "http"
zones = ["internet", "intranet"]

[routes.site]
listeners = ["http"]
hosts = ["www.example.com"]
pool = "web"

[dns]
apex = "example.com"
"#;

const VIEWS: &str = r#"
[dns.views.external]
zones = ["internet"]

[dns.views.internal]
zones = ["intranet"]
"#;

/// BASE with `keys` in `[dns]`, the two views, and `tables` after them.
fn dns(keys: &str, tables: &str) -> Checked {
    check(&format!("{BASE}{keys}\n{VIEWS}\n{tables}"))
}

fn codes(c: &Checked) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code).collect()
}

fn a_record(name: &str, value: &str, views: &str) -> String {
    format!("[[dns.records]]\nname = \"{name}\"\ntype = \"A\"\nvalue = \"{value}\"\nviews = [{views}]\n")
}

#[test]
fn the_base_is_valid() {
    let c = dns("", "");
    assert!(c.plan.is_some() && c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}

#[test]
fn a_single_label_name_is_an_error_pointing_at_it() {
    for (keys, tables, what) in [
        ("ns = [\"ns1\"]", "", "NS name"),
        ("", "[dns.soa]\nmname = \"ns1\"", "SOA primary"),
        ("", "[dns.soa]\nrname = \"hostmaster.\"", "SOA mailbox"),
    ] {
        let c = dns(keys, tables);
        assert_eq!(codes(&c), ["single-label-name"], "{keys}{tables}: {:#?}", c.diagnostics);
        let d = &c.diagnostics[0];
        assert!(c.plan.is_none() && d.severity == Severity::Error);
        assert!(d.message.contains(what), "{}", d.message);
        assert!(d.span.is_some(), "it points at the value");
        let hint = d.hint.as_deref().unwrap();
        assert!(hint.contains(".example.com\""), "{hint}");
    }
}

#[test]
fn names_inside_the_apex_with_addresses_are_clean() {
    let records = a_record("ns1", "192.0.2.53", "") + &a_record("ns2", "10.0.0.53", "");
    let c = dns(
        "ns = [\"ns1.example.com\", \"NS2.example.com.\"]",
        &format!("[dns.soa]\nmname = \"ns1.example.com\"\nrname = \"hostmaster.example.com\"\n{records}"),
    );
    assert!(c.plan.is_some() && c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}

#[test]
fn a_name_outside_the_apex_warns_unless_written_with_the_trailing_dot() {
    let c = dns(
        "ns = [\"ns1.example.net\"]",
        "[dns.soa]\nmname = \"ns1.example.net\"\nrname = \"dns.example.org\"",
    );
    assert!(c.plan.is_some());
    assert_eq!(codes(&c), ["name-outside-apex"; 3], "{:#?}", c.diagnostics);
    let d = &c.diagnostics[0];
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(
        d.label.as_deref(),
        Some("read as the absolute name ns1.example.net., not ns1.example.net.example.com.")
    );
    let quiet = dns(
        "ns = [\"ns1.example.net.\"]",
        "[dns.soa]\nmname = \"ns1.example.net.\"\nrname = \"dns.example.org.\"",
    );
    assert!(quiet.diagnostics.is_empty(), "{:#?}", quiet.diagnostics);
}

#[test]
fn an_ns_name_inside_the_apex_needs_an_address_in_every_view() {
    let c = dns("ns = [\"ns1.example.com\"]", "");
    assert_eq!(codes(&c), ["ns-without-address"], "{:#?}", c.diagnostics);
    let d = &c.diagnostics[0];
    assert!(
        d.message
            .contains("ns1.example.com has no A or AAAA record in DNS views \"external\", \"internal\""),
        "{}",
        d.message
    );
    assert!(d.hint.as_deref().unwrap().contains("named \"ns1\""));
    // An address in one view only: the other is named.
    let c = dns(
        "ns = [\"ns1.example.com\"]",
        &a_record("ns1", "192.0.2.53", "\"external\""),
    );
    assert_eq!(codes(&c), ["ns-without-address"]);
    assert!(
        c.diagnostics[0].message.ends_with("in DNS view \"internal\""),
        "{}",
        c.diagnostics[0].message
    );
    // A name a listener publishes to both views has its addresses.
    let c = dns("ns = [\"www.example.com\"]", "");
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}

#[test]
fn listening_only_on_unspecified_addresses_leaves_the_generated_ns_without_address() {
    let c = dns("listen = [\"0.0.0.0:53\"]", "");
    assert_eq!(codes(&c), ["ns-without-address"], "{:#?}", c.diagnostics);
    assert!(c.diagnostics[0].message.contains("ns1.example.com"));
    // Its own address, or an A record for the generated name, is enough.
    assert!(dns("listen = [\"192.0.2.53:53\"]", "").diagnostics.is_empty());
    let named = dns("listen = [\"0.0.0.0:53\"]", &a_record("ns1", "192.0.2.53", ""));
    assert!(named.diagnostics.is_empty(), "{:#?}", named.diagnostics);
}

#[test]
fn only_private_listen_addresses_warn_that_the_default_zones_view_has_no_ns() {
    let c = dns("listen = [\"10.0.0.53:53\", \"[fd00::53]:53\"]", "");
    assert_eq!(codes(&c), ["no-public-ns"], "{:#?}", c.diagnostics);
    let d = &c.diagnostics[0];
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("DNS view \"external\""), "{}", d.message);
    let hint = d.hint.as_deref().unwrap();
    assert!(
        hint.contains("NODATA") && hint.contains("ns1.example.com does not exist"),
        "{hint}"
    );
    // One public address is enough, and so are NS names given outright.
    assert!(dns("listen = [\"10.0.0.53:53\", \"192.0.2.53:53\"]", "")
        .diagnostics
        .is_empty());
    let nat = dns(
        "listen = [\"10.0.0.53:53\"]\nns = [\"ns1.example.com\"]",
        &(a_record("ns1", "192.0.2.53", "\"external\"") + &a_record("ns1", "10.0.0.53", "\"internal\"")),
    );
    assert!(nat.diagnostics.is_empty(), "{:#?}", nat.diagnostics);
    // No view holds the default zone: nothing is missing from it.
    let inside_only = check(&format!(
        "{BASE}listen = [\"10.0.0.53:53\"]\n[dns.views.internal]\nzones = [\"intranet\"]\n"
    ));
    assert_eq!(
        codes(&inside_only),
        ["zone-without-view"],
        "{:#?}",
        inside_only.diagnostics
    );
}

#[test]
fn a_record_name_or_target_that_repeats_the_apex_warns() {
    let record = |name: &str, rtype: &str, value: &str| {
        format!("[[dns.records]]\nname = \"{name}\"\ntype = \"{rtype}\"\nvalue = \"{value}\"\n")
    };
    for (name, rtype, value, means) in [
        (
            "_sip._tls",
            "SRV",
            "0 0 443 sip.example.com",
            "sip.example.com.example.com.",
        ),
        ("@", "MX", "0 Mail.Example.com", "mail.example.com.example.com."),
        ("webmail", "CNAME", "example.com", "example.com.example.com."),
        ("mail.example.com", "A", "192.0.2.25", "mail.example.com.example.com."),
    ] {
        let c = dns("", &record(name, rtype, value));
        assert!(c.plan.is_some());
        assert_eq!(codes(&c), ["apex-repeated"], "{name} {value}: {:#?}", c.diagnostics);
        assert!(
            c.diagnostics[0].message.ends_with(means),
            "{}",
            c.diagnostics[0].message
        );
    }
    // Relative names, and full names with the dot, are what a zone file means.
    let fine = record("_sip._tls", "SRV", "0 0 443 sip.example.com.")
        + &record("webmail", "CNAME", "www")
        + &record("mail.example.com.", "A", "192.0.2.25");
    let c = dns("", &fine);
    assert!(c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}
