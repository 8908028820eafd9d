//! The apex's NS and SOA as dig sees them: `ns`, `mname` and `rname` are
//! absolute names, and what each view serves when the server's own
//! addresses are private.

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_dns::{AllUp, DnsConfig, DnsServer};

use crate::common::*;

const LISTEN: &str = "listen = [\"203.0.113.53:53\", \"10.0.10.53:53\"]\n";

/// The test topology with `[dns] listen` replaced and `extra` (keys of
/// `[dns]`, then its subtables) after it, served with the settings the
/// topology states, as `gatehouse run` does.
fn serve(listen: &str, extra: &str) -> (DnsServer, SocketAddr) {
    let text = TOPOLOGY.replace("{SIP_PORT}", "5061");
    assert!(text.contains(LISTEN));
    let plan = plan_from(&text.replace(LISTEN, &format!("{listen}{extra}")));
    let config = DnsConfig::from_plan(&plan);
    let s = server_with(plan, Arc::new(AllUp), config);
    let addr = s.local_addrs()[0];
    (s, addr)
}

#[test]
fn ns_mname_and_rname_are_absolute_names() {
    let (_s, addr) = serve(
        "listen = [\"203.0.113.53:53\"]\n",
        "ns = [\"ns1.contoso.com\", \"ns2.example.net\"]\n\
         [dns.soa]\nmname = \"ns1.contoso.com\"\nrname = \"dns-admin.contoso.com\"\n\
         [[dns.records]]\nname = \"ns1\"\ntype = \"A\"\nvalue = \"203.0.113.53\"\n",
    );
    for from in [INTERNET, INTRANET] {
        let ns = dig(addr, from, &["NS", "contoso.com"]);
        assert_eq!(ns.answers("NS"), ["ns1.contoso.com.", "ns2.example.net."], "{}", ns.raw);
        let soa = dig(addr, from, &["SOA", "contoso.com"]);
        let data = soa.answers("SOA").join("");
        assert!(
            data.starts_with("ns1.contoso.com. dns-admin.contoso.com. "),
            "{}",
            soa.raw
        );
        assert_eq!(
            dig(addr, from, &["A", "ns1.contoso.com"]).answers("A"),
            ["203.0.113.53"]
        );
    }
    // Nothing is served under a doubled apex.
    let doubled = dig(addr, INTERNET, &["A", "ns1.contoso.com.contoso.com"]);
    assert_eq!(doubled.status, "NXDOMAIN", "{}", doubled.raw);
}

#[test]
fn trailing_dots_are_optional_in_ns_and_the_soa() {
    let (_s, addr) = serve(
        LISTEN,
        "ns = [\"ns1.example.net.\", \"NS2.Example.NET\"]\n\
         [dns.soa]\nmname = \"ns1.example.net.\"\nrname = \"hostmaster.example.net\"\n",
    );
    let ns = dig(addr, INTERNET, &["NS", "contoso.com"]);
    assert_eq!(ns.answers("NS"), ["ns1.example.net.", "ns2.example.net."], "{}", ns.raw);
    let soa = dig(addr, INTERNET, &["SOA", "contoso.com"]);
    let data = soa.answers("SOA").join("");
    assert!(
        data.starts_with("ns1.example.net. hostmaster.example.net. "),
        "{}",
        soa.raw
    );
}

#[test]
fn the_default_soa_primary_is_a_server_every_view_serves() {
    // The private address first: ns1 is only in the inside views, so the
    // SOA names ns2, which the Internet's view serves too.
    let (_s, addr) = serve("listen = [\"10.0.10.53:53\", \"203.0.113.53:53\"]\n", "");
    for from in [INTERNET, INTRANET] {
        let soa = dig(addr, from, &["SOA", "contoso.com"]);
        let mname = soa.answers("SOA").join("");
        assert!(mname.starts_with("ns2.contoso.com. "), "{}", soa.raw);
        let a = dig(addr, from, &["A", "ns2.contoso.com"]);
        assert_eq!(a.answers("A"), ["203.0.113.53"], "{}", a.raw);
    }
    let outside = dig(addr, INTERNET, &["NS", "contoso.com"]);
    assert_eq!(outside.answers("NS"), ["ns2.contoso.com."], "{}", outside.raw);
}

#[test]
fn with_only_private_listen_addresses_the_external_view_has_no_ns() {
    // What docs/topology.md says, and what `check` warns about
    // (`no-public-ns`): the inside views get ns1 with its address; the
    // Internet's view gets the SOA alone, NODATA for NS, and no ns1.
    let (_s, addr) = serve("listen = [\"10.0.10.53:53\"]\n", "");
    let inside = dig(addr, INTRANET, &["NS", "contoso.com"]);
    assert_eq!(inside.answers("NS"), ["ns1.contoso.com."], "{}", inside.raw);
    assert_eq!(
        dig(addr, INTRANET, &["A", "ns1.contoso.com"]).answers("A"),
        ["10.0.10.53"]
    );
    let outside = dig(addr, INTERNET, &["NS", "contoso.com"]);
    assert_eq!(outside.status, "NOERROR", "{}", outside.raw);
    assert!(outside.answers("NS").is_empty(), "NODATA: {}", outside.raw);
    let soa = dig(addr, INTERNET, &["SOA", "contoso.com"]);
    assert!(
        soa.answers("SOA").join("").starts_with("ns1.contoso.com. "),
        "{}",
        soa.raw
    );
    assert_eq!(dig(addr, INTERNET, &["A", "ns1.contoso.com"]).status, "NXDOMAIN");
}
