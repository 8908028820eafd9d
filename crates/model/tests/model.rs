//! The model from its public API: decoding (defaults, member and port
//! forms), validation rules that the broken-topology goldens do not cover,
//! and what the compiled plan holds.

use std::net::IpAddr;
use std::time::Duration;

use gatehouse_model::topology::{Affinity, AuthPolicy, CheckKind, PortRange, Protocol, Transport};
use gatehouse_model::{check, Checked, CONTOSO};

/// A small valid topology; tests change one thing in it.
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

[user_types.visitors]
zones = ["internet"]
reaches = ["www.example.com"]
"#;

fn with(extra: &str) -> Checked {
    check(&format!("{BASE}\n{extra}"))
}

fn codes(c: &Checked) -> Vec<&'static str> {
    c.diagnostics.iter().map(|d| d.code).collect()
}

fn only(c: &Checked, code: &str) {
    assert_eq!(codes(c), vec![code], "{:#?}", c.diagnostics);
}

#[test]
fn the_base_topology_is_valid() {
    let c = check(BASE);
    assert!(c.plan.is_some() && c.diagnostics.is_empty(), "{:#?}", c.diagnostics);
}

#[test]
fn the_built_in_contoso_topology_is_valid_and_warns_only_of_unenforced_pre_authentication() {
    let c = check(CONTOSO);
    assert!(c.plan.is_some(), "{:#?}", c.diagnostics);
    // One per (route, zone) that names a provider: refused until enforced.
    assert_eq!(
        codes(&c),
        vec!["pre-authentication-not-enforced"; 7],
        "{:#?}",
        c.diagnostics
    );
}

#[test]
fn documented_defaults_apply() {
    let plan = with("[pools.checked]\nservice = \"web\"\nmembers = [\"10.0.0.12:80\"]\nhealth = { type = \"http\", path = \"/up\", host = \"www.example.com\" }\n").plan.unwrap();
    let t = &plan.topology;
    let route = &t.routes[0];
    assert_eq!(route.timeouts.connect.value, Duration::from_secs(5));
    assert_eq!(route.timeouts.idle.value, Duration::from_secs(60));
    assert!(route.timeouts.total.is_none());
    assert_eq!(route.affinity, Affinity::None);
    assert_eq!(route.auth_default.value, AuthPolicy::PassThrough);
    assert_eq!(route.paths[0].value, "/");
    assert_eq!(t.default_zone.value, "internet");
    let h = t
        .pools
        .iter()
        .find(|p| p.name.value == "checked")
        .unwrap()
        .health
        .as_ref()
        .unwrap();
    assert_eq!(
        (h.kind, h.interval.value, h.timeout.value, h.rise.value, h.fall.value),
        (CheckKind::Http, Duration::from_secs(5), Duration::from_secs(2), 2, 3)
    );
    assert_eq!(h.expect_status, vec![200]);
    assert_eq!(t.listeners[0].idle_timeout.value, Duration::from_secs(300));
    let m = &t.pools[0].members[0];
    assert_eq!((m.weight, m.backup, m.max_connections), (1, false, None));
}

#[test]
fn members_take_host_port_bare_host_and_bracketed_ipv6_forms() {
    let plan = with("[pools.forms]\nservice = \"web\"\nmembers = [\"10.0.0.21\", \"[2001:db8::21]:8443\", \"2001:db8::22\", \"fe1.corp.example.com:443\", { address = \"10.0.0.23:81\", weight = 3, backup = true, max_connections = 100 }]\n").plan.unwrap();
    let p = plan.pool("forms").unwrap();
    let got: Vec<(String, Option<u16>)> = p
        .members
        .iter()
        .map(|m| (m.host.value.clone(), m.port.as_ref().map(|p| p.value)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("10.0.0.21".into(), None),
            ("2001:db8::21".into(), Some(8443)),
            ("2001:db8::22".into(), None),
            ("fe1.corp.example.com".into(), Some(443)),
            ("10.0.0.23".into(), Some(81)),
        ]
    );
    assert_eq!(
        (p.members[4].weight, p.members[4].backup, p.members[4].max_connections),
        (3, true, Some(100))
    );
}

#[test]
fn a_member_port_of_zero_points_at_the_port() {
    let c = with("[pools.zero]\nservice = \"web\"\nmembers = [\"10.0.0.21:0\"]\n");
    only(&c, "invalid-port");
    let d = &c.diagnostics[0];
    let text = format!("{BASE}\n[pools.zero]\nservice = \"web\"\nmembers = [\"10.0.0.21:0\"]\n");
    assert_eq!(&text[d.span.clone().unwrap()], "0");
}

#[test]
fn port_ranges_are_read_inclusively() {
    let plan = with("[pools.media]\nservice = \"web\"\nmembers = [\"10.0.0.31\"]\n[listeners.media]\naddress = \"192.0.2.22\"\nport = \"50000-59999\"\nprotocol = \"tcp\"\nzones = [\"internet\"]\npool = \"media\"\n").plan.unwrap();
    let l = plan.listener("media").unwrap();
    assert_eq!(
        l.ports.value,
        PortRange {
            first: 50000,
            last: 59999
        }
    );
    assert!(l.ports.value.contains(50000) && l.ports.value.contains(59999) && !l.ports.value.contains(60000));
}

#[test]
fn tcp_and_udp_may_share_a_port_but_two_tcp_listeners_may_not() {
    let udp = "[pools.av]\nservice = \"web\"\nmembers = [\"10.0.0.41\"]\n[listeners.av-udp]\naddress = \"192.0.2.10\"\nport = 80\nprotocol = \"udp\"\nzones = [\"internet\"]\npool = \"av\"\n";
    assert!(with(udp).plan.is_some(), "{:#?}", with(udp).diagnostics);
    let tcp = udp.replace("protocol = \"udp\"", "protocol = \"tcp\"");
    only(&with(&tcp), "listener-conflict");
}

#[test]
fn a_wildcard_listener_conflicts_with_a_specific_address_on_the_same_port() {
    let c = with("[listeners.any]\naddress = \"0.0.0.0\"\nport = 80\nprotocol = \"http\"\nzones = [\"internet\"]\n");
    only(&c, "listener-conflict");
}

#[test]
fn overlapping_port_ranges_conflict() {
    let c = with("[pools.m]\nservice = \"web\"\nmembers = [\"10.0.0.41\"]\n[listeners.a]\naddress = \"192.0.2.30\"\nport = \"1000-2000\"\nprotocol = \"tcp\"\nzones = [\"internet\"]\npool = \"m\"\n[listeners.b]\naddress = \"192.0.2.30\"\nport = \"2000-3000\"\nprotocol = \"tcp\"\nzones = [\"internet\"]\npool = \"m\"\n");
    only(&c, "listener-conflict");
}

#[test]
fn a_pool_of_backups_only_is_a_warning_not_an_error() {
    let c = with("[pools.spare]\nservice = \"web\"\nmembers = [{ address = \"10.0.0.51:80\", backup = true }]\n");
    only(&c, "all-backup");
    assert!(c.plan.is_some());
}

#[test]
fn duplicate_members_are_an_error() {
    only(
        &with("[pools.twice]\nservice = \"web\"\nmembers = [\"10.0.0.51:80\", \"10.0.0.51:80\"]\n"),
        "duplicate-member",
    );
}

#[test]
fn an_http_check_needs_a_path_and_a_tcp_check_ignores_one() {
    only(&with("[pools.p]\nservice = \"web\"\nmembers = [\"10.0.0.51:80\"]\nhealth = { type = \"http\", host = \"www.example.com\" }\n"), "missing-key");
    only(
        &with(
            "[pools.p]\nservice = \"web\"\nmembers = [\"10.0.0.51:80\"]\nhealth = { type = \"tcp\", path = \"/x\" }\n",
        ),
        "ignored-key",
    );
}

#[test]
fn zero_rise_or_fall_is_an_error() {
    only(
        &with("[pools.p]\nservice = \"web\"\nmembers = [\"10.0.0.51:80\"]\nhealth = { type = \"tcp\", fall = 0 }\n"),
        "invalid-value",
    );
}

#[test]
fn a_zero_timeout_is_an_error() {
    let c = check(&BASE.replace("pool = \"web\"\n", "pool = \"web\"\ntimeouts = { idle = \"0s\" }\n"));
    only(&c, "zero-timeout");
}

#[test]
fn a_route_zone_restriction_narrows_what_is_published() {
    let plan = check(
        &BASE
            .replace("pool = \"web\"\n", "pool = \"web\"\nzones = [\"intranet\"]\n")
            .replace("zones = [\"internet\"]\nreaches", "zones = [\"intranet\"]\nreaches"),
    )
    .plan
    .unwrap();
    let published: Vec<_> = plan.published.iter().filter(|p| p.name == "www.example.com").collect();
    assert_eq!(published.len(), 1);
    assert!(published[0].admits("intranet") && !published[0].admits("internet"));
    assert_eq!(published[0].transport, Transport::Tcp);
}

#[test]
fn a_user_type_outside_a_restricted_route_reaches_nothing() {
    let c = check(&BASE.replace("pool = \"web\"\n", "pool = \"web\"\nzones = [\"intranet\"]\n"));
    only(&c, "reaches-nothing");
}

#[test]
fn a_reach_to_an_unpublished_name_suggests_the_close_one() {
    let c = check(&BASE.replace("reaches = [\"www.example.com\"]", "reaches = [\"ww.example.com\"]"));
    only(&c, "unknown-reference");
    assert_eq!(
        c.diagnostics[0].label.as_deref(),
        Some("did you mean \"www.example.com\"?")
    );
}

#[test]
fn https_routes_must_be_covered_by_a_certificate_unless_files_are_given() {
    let https = BASE.replace(
        "protocol = \"http\"\n",
        "protocol = \"https\"\ncertificates = [\"site\"]\n",
    );
    let named = format!("{https}\n[certificates.site]\nnames = [\"*.example.com\"]\n");
    assert!(check(&named).plan.is_some(), "{:#?}", check(&named).diagnostics);
    let other = format!("{https}\n[certificates.site]\nnames = [\"*.example.org\"]\n");
    only(&check(&other), "host-not-covered");
    // With PEM files the certificate's own names are checked at start-up.
    let files = format!("{https}\n[certificates.site]\ncert = \"site.pem\"\nkey = \"site.key\"\n");
    assert!(check(&files).plan.is_some(), "{:#?}", check(&files).diagnostics);
    only(
        &check(&format!("{https}\n[certificates.site]\ncert = \"site.pem\"\n")),
        "missing-key",
    );
}

#[test]
fn acl_sources_are_zones_or_prefixes() {
    let plan = with("[[acl]]\naction = \"allow\"\nfrom = [\"intranet\", \"192.0.2.0/24\", \"2001:db8::1\"]\nprotocol = \"tcp\"\nports = [80, \"8000-8080\"]\n").plan.unwrap();
    let addr: IpAddr = "192.0.2.7".parse().unwrap();
    let internet = plan.classify(addr);
    assert_eq!(plan.zone_name(internet), "internet");
    assert!(plan.gateway(internet, addr, Transport::Tcp, 8080).is_allowed());
    assert!(!plan.gateway(internet, addr, Transport::Udp, 8080).is_allowed());
    assert!(!plan.gateway(internet, addr, Transport::Tcp, 8081).is_allowed());
    let other: IpAddr = "198.51.100.1".parse().unwrap();
    assert!(
        !plan
            .gateway(plan.classify(other), other, Transport::Tcp, 80)
            .is_allowed(),
        "deny unless allowed"
    );
    let inside: IpAddr = "10.9.9.9".parse().unwrap();
    assert!(plan
        .gateway(plan.classify(inside), inside, Transport::Tcp, 80)
        .is_allowed());
}

#[test]
fn an_empty_acl_denies_everything() {
    let plan = check(BASE).plan.unwrap();
    let addr: IpAddr = "10.1.1.1".parse().unwrap();
    let d = plan.gateway(plan.classify(addr), addr, Transport::Tcp, 80);
    assert!(!d.is_allowed());
    assert_eq!(d.rule, None, "the implicit deny decided");
}

#[test]
fn dns_records_outside_the_apex_are_refused() {
    let dns = "[dns]\napex = \"example.com\"\n[dns.views.all]\nzones = [\"internet\", \"intranet\"]\n";
    assert!(with(dns).plan.is_some(), "{:#?}", with(dns).diagnostics);
    only(
        &with(&format!(
            "{dns}[[dns.records]]\nname = \"www.example.org.\"\ntype = \"A\"\nvalue = \"192.0.2.1\"\n"
        )),
        "outside-zone",
    );
    only(
        &with(&format!(
            "{dns}[[dns.records]]\nname = \"_sip._tls\"\ntype = \"SRV\"\nvalue = \"0 0 443\"\n"
        )),
        "invalid-record",
    );
    only(
        &with(&format!(
            "{dns}[[dns.records]]\nname = \"v6\"\ntype = \"AAAA\"\nvalue = \"192.0.2.1\"\n"
        )),
        "invalid-record",
    );
}

#[test]
fn a_zone_in_no_dns_view_is_a_warning() {
    let c = with("[dns]\napex = \"example.com\"\n[dns.views.outside]\nzones = [\"internet\"]\n");
    only(&c, "zone-without-view");
}

#[test]
fn a_broken_entry_is_reported_once_not_again_by_every_reference() {
    // The listener's address is wrong; the route that names it must not add
    // "listener does not exist".
    let c = check(&BASE.replace("address = \"192.0.2.10\"", "address = \"192.0.2.300\""));
    only(&c, "invalid-address");
}

#[test]
fn a_lone_value_is_read_as_a_list_of_one() {
    let plan = check(&BASE.replace("hosts = [\"www.example.com\"]", "hosts = \"www.example.com\""))
        .plan
        .unwrap();
    assert_eq!(plan.topology.routes[0].hosts.len(), 1);
}

#[test]
fn keywords_are_case_insensitive_but_names_are_not() {
    assert_eq!(
        check(&BASE.replace("protocol = \"http\"", "protocol = \"HTTP\""))
            .plan
            .unwrap()
            .topology
            .listeners[0]
            .protocol
            .value,
        Protocol::Http
    );
    only(
        &check(&BASE.replace("pool = \"web\"\n", "pool = \"Web\"\n")),
        "unknown-reference",
    );
}

#[test]
fn diagnostics_come_out_in_file_order() {
    let c = check(
        &BASE
            .replace("product = \"generic\"", "product = \"genric\"")
            .replace("port = 80", "port = 0"),
    );
    let starts: Vec<usize> = c.diagnostics.iter().map(|d| d.span.clone().unwrap().start).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    assert_eq!(c.errors(), 2, "{:#?}", c.diagnostics);
}

#[test]
fn a_dns_socket_on_a_listener_address_and_port_is_an_error() {
    let dns = "[dns]\napex = \"example.com\"\nlisten = [\"192.0.2.10:80\"]\n[dns.views.all]\nzones = [\"internet\", \"intranet\"]\n";
    only(&with(dns), "listener-conflict");
    assert!(with(&dns.replace(":80", ":53")).plan.is_some());
}

#[test]
fn a_name_on_two_addresses_must_serve_the_same_ports_on_both() {
    let dns = "[dns]\napex = \"example.com\"\n[dns.views.all]\nzones = [\"internet\", \"intranet\"]\n";
    let second = |port: u16| {
        format!(
            "{dns}[pools.mail]\nservice = \"web\"\nmembers = [\"10.0.0.61\"]\n[listeners.other]\naddress = \"192.0.2.11\"\nport = {port}\nprotocol = \"tcp\"\nzones = [\"internet\"]\npool = \"mail\"\nnames = [\"www.example.com\"]\n"
        )
    };
    let c = with(&second(993));
    only(&c, "name-on-several-addresses");
    assert!(
        c.diagnostics[0]
            .message
            .contains("192.0.2.10 (tcp 80); 192.0.2.11 (tcp 993)"),
        "{}",
        c.diagnostics[0].message
    );
    // Two VIPs serving the same port are two ways in, not a trap.
    assert!(
        with(&second(80)).diagnostics.is_empty(),
        "{:#?}",
        with(&second(80)).diagnostics
    );
}

#[test]
fn zone_roles_are_read_and_checked() {
    let plan = check(&BASE.replace("[zones.intranet]\n", "[zones.intranet]\nrole = \"intranet\"\n"))
        .plan
        .unwrap();
    let role = plan.topology.zones[1].role.as_ref().unwrap().value;
    assert_eq!(role, gatehouse_model::topology::ZoneRole::Intranet);
    assert!(!role.is_outside());
    let c = check(&BASE.replace("[zones.intranet]\n", "[zones.intranet]\nrole = \"vnp\"\n"));
    only(&c, "invalid-value");
    assert_eq!(c.diagnostics[0].label.as_deref(), Some("did you mean \"vpn\"?"));
    only(
        &check(&BASE.replace("[zones.internet]\n", "[zones.internet]\nrole = \"intranet\"\n")),
        "inside-default-zone",
    );
}

#[test]
fn dns_server_settings_have_documented_defaults_and_can_be_set() {
    let dns = "[dns]\napex = \"example.com\"\n[dns.views.all]\nzones = [\"internet\", \"intranet\"]\n";
    let plan = with(dns).plan.unwrap();
    let d = plan.topology.dns.as_ref().unwrap();
    assert!(!d.wildcards && d.allow_transfer.is_empty() && d.ns.is_empty());
    assert_eq!(
        (
            d.rrl.responses_per_second,
            d.rrl.slip,
            d.rrl.ipv4_prefix,
            d.rrl.ipv6_prefix
        ),
        (200, 2, 24, 56)
    );
    assert_eq!((d.max_udp_payload, d.tcp_max_connections), (1232, 512));
    assert_eq!(d.soa.minimum.value, Duration::from_secs(300));
    let set = dns.replace(
        "apex = \"example.com\"\n",
        "apex = \"example.com\"\nwildcards = true\nallow_transfer = [\"10.0.0.53\"]\nns = [\"ns1.example.com\"]\nmax_udp_payload = 4096\n[dns.soa]\nrname = \"dns-admin.example.com\"\nminimum = \"1m\"\n[dns.rrl]\nresponses_per_second = 50\nexempt = [\"10.0.0.0/8\"]\n",
    );
    let plan = with(&set)
        .plan
        .unwrap_or_else(|| panic!("{:#?}", with(&set).diagnostics));
    let d = plan.topology.dns.as_ref().unwrap();
    assert!(d.wildcards);
    assert_eq!(d.allow_transfer[0].value.to_string(), "10.0.0.53/32");
    assert_eq!(d.soa.minimum.value, Duration::from_secs(60));
    assert_eq!(
        (d.rrl.responses_per_second, d.rrl.exempt.len(), d.max_udp_payload),
        (50, 1, 4096)
    );
    only(
        &with(&dns.replace(
            "apex = \"example.com\"\n",
            "apex = \"example.com\"\nmax_udp_payload = 100\n",
        )),
        "out-of-range",
    );
    only(
        &with(&dns.replace(
            "apex = \"example.com\"\n",
            "apex = \"example.com\"\n[dns.rrl]\nipv4_prefix = 33\n",
        )),
        "out-of-range",
    );
    only(&with(&format!("{dns}[dns.soa]\nretry = \"0s\"\n")), "zero-timeout");
}

#[test]
fn a_cname_must_be_alone_at_its_name() {
    let dns = "[dns]\napex = \"example.com\"\n[dns.views.all]\nzones = [\"internet\", \"intranet\"]\n";
    let cname = |name: &str| {
        format!("{dns}[[dns.records]]\nname = \"{name}\"\ntype = \"CNAME\"\nvalue = \"elsewhere.example.net.\"\n")
    };
    assert!(
        with(&cname("alias")).plan.is_some(),
        "{:#?}",
        with(&cname("alias")).diagnostics
    );
    only(&with(&cname("@")), "cname-conflict");
    only(&with(&cname("www")), "cname-conflict");
    let beside = format!(
        "{}[[dns.records]]\nname = \"alias\"\ntype = \"TXT\"\nvalue = \"hello\"\n",
        cname("alias")
    );
    only(&with(&beside), "cname-conflict");
}

#[test]
fn backend_tls_names_exactly_one_way_to_trust_the_members() {
    use gatehouse_model::topology::BackendVerify;
    let pool = |tls: &str| {
        BASE.replace(
            "members = [\"10.0.0.11:80\"]\n",
            &format!("members = [\"10.0.0.11:80\"]\ntls = {{ {tls} }}\n"),
        )
    };
    let cert = "\n[certificates.front]\nnames = [\"www.example.com\"]\n";
    let plan = check(&format!(
        "{}{cert}",
        pool("same_as = \"front\", server_name = \"cas.example.com\"")
    ))
    .plan
    .unwrap();
    let tls = plan.topology.pools[0].tls.as_ref().unwrap();
    assert!(matches!(&tls.verify, BackendVerify::SameAs(c) if c.value == "front"));
    assert_eq!(tls.server_name.as_ref().unwrap().value, "cas.example.com");
    assert!(check(&pool("ca = \"ca.pem\"")).plan.is_some());
    let pin = "AB:".repeat(31) + "AB";
    assert!(check(&pool(&format!("fingerprint = \"{pin}\""))).plan.is_some());
    only(&check(&pool("fingerprint = \"AB:CD\"")), "invalid-fingerprint");
    only(&check(&pool("server_name = \"cas.example.com\"")), "backend-tls");
    only(&check(&pool("ca = \"ca.pem\", same_as = \"front\"")), "backend-tls");
    only(
        &check(&format!("{}{cert}", pool("same_as = \"frnt\""))),
        "unknown-reference",
    );
}

#[test]
fn http_settings_have_documented_defaults_and_can_be_set() {
    let plan = check(BASE).plan.unwrap();
    let h = &plan.topology.http;
    assert_eq!(
        (h.header_timeout.value, h.handshake_timeout.value),
        (Duration::from_secs(30), Duration::from_secs(10))
    );
    assert_eq!((h.h2_max_streams, h.retries, h.idle_per_member), (128, 2, 1024));
    assert!(h.body_timeout.is_none() && h.affinity_secret_file.is_none());
    let plan = with("[http]\nheader_timeout = \"5s\"\nbody_timeout = \"2m\"\nretries = 0\naffinity_secret_file = \"affinity.key\"\n").plan.unwrap();
    let h = &plan.topology.http;
    assert_eq!((h.header_timeout.value, h.retries), (Duration::from_secs(5), 0));
    assert_eq!(h.body_timeout.as_ref().unwrap().value, Duration::from_secs(120));
    only(&with("[http]\nheader_timeout = \"0s\"\n"), "zero-timeout");
    only(&with("[http]\nretry = 1\n"), "unknown-key");
}

#[test]
fn trusted_proxies_come_with_the_way_they_tell_the_client_address() {
    use gatehouse_model::topology::ClientAddress;
    let behind = |extra: &str| {
        BASE.replace(
            "zones = [\"internet\", \"intranet\"]\n\n[routes",
            &format!("zones = [\"internet\", \"intranet\"]\n{extra}\n[routes"),
        )
    };
    let plan = check(&behind(
        "trusted_proxies = [\"10.9.0.0/29\"]\nclient_address = \"x-forwarded-for\"\n",
    ))
    .plan
    .unwrap();
    let l = &plan.topology.listeners[0];
    assert_eq!(l.client_address.as_ref().unwrap().value, ClientAddress::XForwardedFor);
    assert!(plan.trusts(l, "10.9.0.3".parse().unwrap()));
    assert!(plan.trusts(l, "::ffff:10.9.0.3".parse().unwrap()));
    assert!(!plan.trusts(l, "10.9.0.9".parse().unwrap()));
    assert!(check(&behind(
        "trusted_proxies = [\"10.9.0.1\"]\nclient_address = \"proxy-protocol\"\n"
    ))
    .plan
    .is_some());
    only(&check(&behind("client_address = \"proxy-protocol\"\n")), "missing-key");
    only(&check(&behind("trusted_proxies = [\"10.9.0.1\"]\n")), "missing-key");
    // X-Forwarded-For is an HTTP header: a TCP VIP cannot carry it.
    let tcp = "[pools.m]\nservice = \"web\"\nmembers = [\"10.0.0.41\"]\n[listeners.smtp]\naddress = \"192.0.2.25\"\nport = 25\nprotocol = \"tcp\"\nzones = [\"internet\"]\npool = \"m\"\ntrusted_proxies = [\"10.9.0.1\"]\nclient_address = \"x-forwarded-for\"\n";
    only(&with(tcp), "invalid-value");
}
