//! `explain` on a small topology built to pin down the route rules it shares
//! with the proxy (exact host before wildcard, case-sensitive paths unless a
//! route ignores case) and the DNS server's refusal of a zone with no view.

use gatehouse_model::topology::Transport;
use gatehouse_model::Plan;
use gatehouse_verify::explain::{explain, Destination, Effect, Explanation, Phase, Query, Verdict};

const TOPOLOGY: &str = r#"
[gatehouse]
name = "Routes"
default_zone = "internet"

[zones.internet]
[zones.inside]
prefixes = ["10.0.0.0/8"]

[services.web]
product = "generic"
class = "sharepoint"

[pools.app]
service = "web"
members = ["10.0.1.1:8080"]

[pools.other]
service = "web"
members = ["10.0.1.2:8080"]

[certificates.site]
names = ["example.com", "*.example.com"]

[listeners.web]
address = "192.0.2.10"
port = 443
protocol = "https"
zones = ["internet", "inside"]
certificates = ["site"]

[listeners.raw]
address = "192.0.2.10"
port = 9000
protocol = "tcp"
zones = ["internet"]
pool = "other"

[routes.api]
listeners = ["web"]
hosts = ["app.example.com"]
paths = ["/api"]
pool = "app"

[routes.catch-all]
listeners = ["web"]
hosts = ["*.example.com"]
pool = "other"

[routes.guide]
listeners = ["web"]
hosts = ["docs.example.com"]
paths = ["/Guide"]
pool = "app"
ignore_case = true

[routes.manual]
listeners = ["web"]
hosts = ["docs.example.com"]
paths = ["/Manual"]
pool = "other"

[dns]
apex = "example.com"
listen = ["192.0.2.53:53"]
[dns.views.inside]
zones = ["inside"]

[[acl]]
action = "allow"
from = ["internet", "inside"]
ports = [443, 9000, 53]
"#;

fn plan() -> Plan {
    let checked = gatehouse_model::check(TOPOLOGY);
    checked
        .plan
        .unwrap_or_else(|| panic!("valid topology: {:#?}", checked.diagnostics))
}

fn ask(plan: &Plan, dst: &str, transport: Transport, port: u16, host: Option<&str>, path: &str) -> Explanation {
    let q = Query {
        src: "192.0.2.99".parse().unwrap(),
        dst: Destination::parse(dst).unwrap(),
        transport,
        port,
        host: host.map(str::to_string),
        path: Some(path.to_string()),
    };
    explain(plan, &q)
}

fn route_for(plan: &Plan, host: &str, path: &str) -> Option<String> {
    let x = ask(plan, "192.0.2.10", Transport::Tcp, 443, Some(host), path);
    assert!(
        x.route.is_some() == (x.verdict == Verdict::Allowed),
        "a routed request is allowed here, an unrouted one is not: {x}"
    );
    x.route
}

#[test]
fn a_wildcard_host_is_used_only_when_no_route_names_the_host_exactly() {
    let plan = plan();
    assert_eq!(route_for(&plan, "app.example.com", "/api/v1").as_deref(), Some("api"));
    assert_eq!(
        route_for(&plan, "foo.example.com", "/anything").as_deref(),
        Some("catch-all")
    );
    // app.example.com is named exactly, so its other paths do not fall to the wildcard.
    let x = ask(
        &plan,
        "192.0.2.10",
        Transport::Tcp,
        443,
        Some("app.example.com"),
        "/other",
    );
    assert_eq!(
        x.verdict,
        Verdict::Denied {
            phase: Phase::Route,
            effect: Effect::NotFound
        }
    );
    // A wildcard covers one label only.
    assert_eq!(route_for(&plan, "a.b.example.com", "/"), None);
}

#[test]
fn paths_are_case_sensitive_unless_the_route_ignores_case() {
    let plan = plan();
    assert_eq!(
        route_for(&plan, "docs.example.com", "/guide/intro").as_deref(),
        Some("guide")
    );
    assert_eq!(route_for(&plan, "DOCS.example.com", "/GUIDE").as_deref(), Some("guide"));
    assert_eq!(
        route_for(&plan, "docs.example.com", "/Manual/ch1").as_deref(),
        Some("manual")
    );
    assert_eq!(route_for(&plan, "docs.example.com", "/manual/ch1"), None);
}

#[test]
fn a_tcp_listener_forwards_the_stream_and_ignores_host_and_path() {
    let plan = plan();
    let x = ask(
        &plan,
        "192.0.2.10",
        Transport::Tcp,
        9000,
        Some("app.example.com"),
        "/api",
    );
    assert_eq!(
        (x.verdict.clone(), x.pool.as_deref(), x.route.as_deref()),
        (Verdict::Allowed, Some("other"), None)
    );
    assert!(x.to_string().contains("--host and --path do not apply"), "{x}");
}

#[test]
fn the_dns_server_refuses_a_zone_that_has_no_view() {
    let plan = plan();
    let x = ask(&plan, "192.0.2.53", Transport::Udp, 53, None, "/");
    assert_eq!(
        x.verdict,
        Verdict::Denied {
            phase: Phase::Dns,
            effect: Effect::Refused
        }
    );
    assert_eq!(
        x.acl_rule.as_deref(),
        Some("rule-1"),
        "the ACL let the query through first"
    );
}

#[test]
fn a_name_in_no_dns_view_of_the_client_is_denied_at_dns_but_explained_by_address_too() {
    let plan = plan();
    // The internet zone has no view at all: its queries are refused, and the
    // walk goes on by address to show the listener would serve it.
    let x = ask(&plan, "app.example.com", Transport::Tcp, 443, None, "/api");
    assert_eq!(
        x.verdict,
        Verdict::Denied {
            phase: Phase::Dns,
            effect: Effect::Refused
        }
    );
    assert_eq!(x.route.as_deref(), Some("api"));
    assert!(
        x.because.contains("By address it would be let through"),
        "{}",
        x.because
    );
}
