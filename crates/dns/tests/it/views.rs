//! Each view answers every published name with the VIP that serves it for
//! that view's zones, asked with dig, kdig and hickory's client.

use std::net::SocketAddr;
use std::str::FromStr;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use crate::common::*;

/// (name, type, external answer, internal answer); `None` is NXDOMAIN and
/// an empty list NODATA.
type Row = (
    &'static str,
    &'static str,
    Option<&'static [&'static str]>,
    Option<&'static [&'static str]>,
);

const PUBLISHED: &[Row] = &[
    ("mail.contoso.com", "A", Some(&["203.0.113.10"]), Some(&["10.0.10.10"])),
    ("mail.contoso.com", "AAAA", Some(&["2001:db8::10"]), Some(&[])),
    (
        "intranet.contoso.com",
        "A",
        Some(&["203.0.113.10"]),
        Some(&["10.0.10.10"]),
    ),
    ("intranet.contoso.com", "AAAA", Some(&["2001:db8::10"]), Some(&[])),
    ("sip.contoso.com", "A", Some(&["203.0.113.20"]), None),
    ("admin.contoso.com", "A", None, Some(&["10.0.10.10"])),
    (
        "pool01.contoso.com",
        "A",
        None,
        Some(&["127.0.1.11", "127.0.1.12", "127.0.1.13"]),
    ),
];

fn expected(row: &Row, from: &str) -> Option<&'static [&'static str]> {
    if from == INTERNET || from == PARTNERS {
        row.2
    } else {
        row.3
    }
}

fn check_tool(name: &str, run: impl Fn(&str, &[&str]) -> Reply) {
    for from in [INTERNET, PARTNERS, VPN, INTRANET] {
        for row in PUBLISHED {
            let r = run(from, &[row.1, row.0]);
            let what = format!("{name} -b {from} {} {}", row.1, row.0);
            assert!(r.has_flag("aa"), "{what}: AA must be set: {}", r.raw);
            assert!(!r.has_flag("ra"), "{what}: RA must be clear: {}", r.raw);
            match expected(row, from) {
                None => {
                    assert_eq!(r.status, "NXDOMAIN", "{what}: {}", r.raw);
                    assert_eq!(r.section("AUTHORITY")[0].3, "SOA", "{what}: SOA in authority");
                }
                Some(want) => {
                    assert_eq!(r.status, "NOERROR", "{what}: {}", r.raw);
                    assert_eq!(r.answers(row.1), want, "{what}: {}", r.raw);
                    if want.is_empty() {
                        assert_eq!(r.section("AUTHORITY")[0].3, "SOA", "{what}: NODATA carries the SOA");
                    }
                }
            }
        }
    }
}

#[test]
fn dig_sees_each_views_answer_for_every_published_name() {
    let (_s, addr) = server();
    check_tool("dig", |from, args| dig(addr, from, args));
}

#[test]
fn kdig_sees_each_views_answer_for_every_published_name() {
    let (_s, addr) = server();
    check_tool("kdig", |from, args| kdig(addr, from, args));
}

async fn hickory(server: SocketAddr, from: &str) -> Client<TokioRuntimeProvider> {
    let bind: SocketAddr = format!("{from}:0").parse().unwrap();
    let conn = UdpClientStream::builder(server, TokioRuntimeProvider::default())
        .with_bind_addr(Some(bind))
        .build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
    tokio::spawn(bg);
    client
}

#[tokio::test]
async fn hickory_client_sees_each_views_answer_for_every_published_name() {
    let (_s, addr) = server();
    for from in [INTERNET, PARTNERS, VPN, INTRANET] {
        let mut client = hickory(addr, from).await;
        for row in PUBLISHED {
            let rtype = RecordType::from_str(row.1).unwrap();
            let resp = client
                .query(Name::from_str(&format!("{}.", row.0)).unwrap(), DNSClass::IN, rtype)
                .await
                .unwrap_or_else(|e| panic!("hickory {from} {}: {e}", row.0));
            assert!(resp.metadata.authoritative, "{from} {}: AA", row.0);
            assert!(!resp.metadata.recursion_available, "{from} {}: RA", row.0);
            let mut got: Vec<String> = resp
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.to_string()),
                    RData::AAAA(a) => Some(a.to_string()),
                    _ => None,
                })
                .collect();
            got.sort();
            match expected(row, from) {
                None => assert_eq!(resp.metadata.response_code, ResponseCode::NXDomain, "{from} {}", row.0),
                Some(want) => {
                    assert_eq!(resp.metadata.response_code, ResponseCode::NoError, "{from} {}", row.0);
                    assert_eq!(got, want, "{from} {} {}", row.0, row.1);
                }
            }
        }
    }
}

#[test]
fn mx_points_to_exchange_online_protection_in_every_view() {
    let (_s, addr) = server();
    for from in [INTERNET, INTRANET] {
        let r = dig(addr, from, &["MX", "contoso.com"]);
        assert_eq!(
            r.answers("MX"),
            ["0 contoso-com.mail.protection.outlook.com."],
            "{}",
            r.raw
        );
        let k = kdig(addr, from, &["MX", "contoso.com"]);
        assert_eq!(
            k.answers("MX"),
            ["0 contoso-com.mail.protection.outlook.com."],
            "{}",
            k.raw
        );
        let t = dig(addr, from, &["TXT", "contoso.com"]);
        assert_eq!(t.answers("TXT"), ["\"MS=ms48151623\""], "{}", t.raw);
    }
}

#[test]
fn srv_records_follow_their_views_with_target_addresses() {
    let (_s, addr) = server();
    let ext = dig(addr, INTERNET, &["SRV", "_sipfederationtls._tcp.contoso.com"]);
    assert_eq!(ext.answers("SRV"), ["0 0 5061 sip.contoso.com."], "{}", ext.raw);
    // The target's address rides along in the additional section.
    assert!(
        ext.section("ADDITIONAL")
            .iter()
            .any(|r| r.1 == "sip.contoso.com." && r.4 == "203.0.113.20"),
        "{}",
        ext.raw
    );
    for (name, port) in [("_sip._tls", 443), ("_xmpp-server._tcp", 5269)] {
        let r = kdig(addr, PARTNERS, &["SRV", &format!("{name}.contoso.com")]);
        assert_eq!(r.answers("SRV"), [format!("0 0 {port} sip.contoso.com.")], "{}", r.raw);
    }
    let int = dig(addr, INTRANET, &["SRV", "_sipinternaltls._tcp.contoso.com"]);
    assert_eq!(int.answers("SRV"), ["0 0 5061 pool01.contoso.com."], "{}", int.raw);
    // External-only SRV records do not exist inside, and the reverse.
    assert_eq!(
        dig(addr, INTRANET, &["SRV", "_sip._tls.contoso.com"]).status,
        "NXDOMAIN"
    );
    assert_eq!(
        dig(addr, INTERNET, &["SRV", "_sipinternaltls._tcp.contoso.com"]).status,
        "NXDOMAIN"
    );
    for from in [INTERNET, VPN] {
        let r = dig(addr, from, &["SRV", "_autodiscover._tcp.contoso.com"]);
        assert_eq!(r.answers("SRV"), ["0 0 443 mail.contoso.com."], "{}", r.raw);
    }
}

#[test]
fn cname_is_followed_to_the_views_own_address() {
    let (_s, addr) = server();
    let ext = dig(addr, INTERNET, &["A", "webmail.contoso.com"]);
    assert_eq!(ext.answers("CNAME"), ["mail.contoso.com."], "{}", ext.raw);
    assert_eq!(ext.answers("A"), ["203.0.113.10"], "{}", ext.raw);
    let int = kdig(addr, INTRANET, &["A", "webmail.contoso.com"]);
    assert_eq!(int.answers("A"), ["10.0.10.10"], "{}", int.raw);
}

#[test]
fn apex_has_generated_soa_and_ns() {
    let (_s, addr) = server();
    let soa = dig(addr, INTERNET, &["SOA", "contoso.com"]);
    let data = &soa.answers("SOA")[0];
    assert!(data.starts_with("ns1.contoso.com. hostmaster.contoso.com. "), "{data}");
    let inside = dig(addr, INTRANET, &["NS", "contoso.com"]);
    assert_eq!(
        inside.answers("NS"),
        ["ns1.contoso.com.", "ns2.contoso.com."],
        "{}",
        inside.raw
    );
    // The server on a private address is not published to the Internet view.
    let outside = dig(addr, INTERNET, &["NS", "contoso.com"]);
    assert_eq!(outside.answers("NS"), ["ns1.contoso.com."], "{}", outside.raw);
    assert!(
        outside.section("ADDITIONAL").iter().any(|r| r.4 == "203.0.113.53"),
        "{}",
        outside.raw
    );
    assert_eq!(dig(addr, INTERNET, &["A", "ns2.contoso.com"]).status, "NXDOMAIN");
    assert_eq!(
        dig(addr, INTRANET, &["A", "ns2.contoso.com"]).answers("A"),
        ["10.0.10.53"]
    );
}
