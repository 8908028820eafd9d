//! Protocol behaviour: truncation and TCP fallback, EDNS, 0x20, refusals,
//! malformed input, the gateway ACL, rate limiting, transfers, wildcards,
//! counters and atomic reloads.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_dns::{AllUp, DnsConfig, DnsServer, RrlConfig};

use crate::common::*;

/// Sends raw bytes from `from` and returns the reply, if any.
fn raw(server: SocketAddr, from: &str, msg: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind(format!("{from}:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
    s.send_to(msg, server).unwrap();
    let mut buf = [0u8; 4096];
    s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

fn rcode(reply: &[u8]) -> u8 {
    reply[3] & 0x0f
}

#[test]
fn oversized_udp_answer_sets_tc_and_dig_retries_over_tcp() {
    let (_s, addr) = server();
    let cut = dig(addr, INTERNET, &["+noedns", "+ignore", "TXT", "big.contoso.com"]);
    assert!(cut.has_flag("tc"), "{}", cut.raw);
    assert!(cut.answers("TXT").is_empty(), "{}", cut.raw);
    let full = dig(addr, INTERNET, &["+noedns", "TXT", "big.contoso.com"]);
    assert!(full.raw.contains("Truncated, retrying in TCP mode"), "{}", full.raw);
    assert_eq!(full.answers("TXT").len(), 3, "{}", full.raw);
    assert!(!full.has_flag("tc"));
}

#[test]
fn edns_buffer_size_is_honoured() {
    let (_s, addr) = server();
    let small = dig(addr, INTERNET, &["+bufsize=512", "+ignore", "TXT", "big.contoso.com"]);
    assert!(small.has_flag("tc"), "{}", small.raw);
    let large = dig(addr, INTERNET, &["+bufsize=1232", "+ignore", "TXT", "big.contoso.com"]);
    assert!(!large.has_flag("tc"), "{}", large.raw);
    assert_eq!(large.answers("TXT").len(), 3, "{}", large.raw);
    let k = kdig(addr, INTRANET, &["+bufsize=4096", "TXT", "big.contoso.com"]);
    assert_eq!(k.answers("TXT").len(), 3, "{}", k.raw);
    assert!(k.raw.contains("UDP size: 1232"), "we advertise 1232: {}", k.raw);
}

#[test]
fn foreign_names_are_refused_without_recursion() {
    let (_s, addr) = server();
    for from in [INTERNET, INTRANET] {
        let r = dig(addr, from, &["+recurse", "A", "www.example.org"]);
        assert_eq!(r.status, "REFUSED", "{}", r.raw);
        assert!(!r.has_flag("aa") && !r.has_flag("ra"), "{}", r.raw);
        let k = kdig(addr, from, &["A", "contoso.com.evil.example"]);
        assert_eq!(k.status, "REFUSED", "{}", k.raw);
    }
}

#[test]
fn question_case_is_echoed_and_lookup_ignores_it() {
    let (_s, addr) = server();
    let r = raw(addr, INTERNET, &query(7, "MaIl.CoNtOsO.cOm", 1)).expect("answer");
    assert_eq!(&r[..2], &[0, 7]);
    assert_eq!(&r[12..30], b"\x04MaIl\x07CoNtOsO\x03cOm\x00");
    assert_eq!(rcode(&r), 0);
    assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1, "one answer");
    assert!(r.ends_with(&[203, 0, 113, 10]));
    let d = dig(addr, INTERNET, &["+question", "A", "MAIL.contoso.COM"]);
    assert!(d.raw.contains(";MAIL.contoso.COM."), "{}", d.raw);
    assert_eq!(d.answers("A"), ["203.0.113.10"]);
}

#[test]
fn nxdomain_and_nodata_are_told_apart() {
    let (_s, addr) = server();
    let nx = dig(addr, INTERNET, &["A", "nothing.contoso.com"]);
    assert_eq!(nx.status, "NXDOMAIN");
    assert_eq!(nx.section("AUTHORITY")[0].3, "SOA", "{}", nx.raw);
    assert!(nx.section("AUTHORITY")[0].2 <= 300, "negative TTL is the SOA minimum");
    // An empty non-terminal exists: NOERROR with no answer.
    let ent = dig(addr, INTERNET, &["A", "_tcp.contoso.com"]);
    assert_eq!(
        (ent.status.as_str(), ent.answers("A").len()),
        ("NOERROR", 0),
        "{}",
        ent.raw
    );
    // A name with other types: NODATA.
    let nodata = kdig(addr, INTERNET, &["MX", "mail.contoso.com"]);
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.section("ANSWER").is_empty() && nodata.section("AUTHORITY")[0].3 == "SOA");
    // Below a name that exists, still NXDOMAIN.
    assert_eq!(dig(addr, INTERNET, &["A", "x.mail.contoso.com"]).status, "NXDOMAIN");
}

#[test]
fn malformed_queries_get_formerr_and_the_server_keeps_serving() {
    let (s, addr) = server();
    // A compression pointer in the question.
    let mut bad = query(9, "mail.contoso.com", 1);
    bad.truncate(12);
    bad.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    let r = raw(addr, INTERNET, &bad).expect("FORMERR is sent");
    assert_eq!((&r[..2], rcode(&r), r[2] & 0x80), (&[0u8, 9][..], 1, 0x80));
    // A question cut short, two questions, garbage.
    let mut cut = query(10, "mail.contoso.com", 1);
    cut.truncate(20);
    assert_eq!(rcode(&raw(addr, INTERNET, &cut).unwrap()), 1);
    let mut two = query(11, "mail.contoso.com", 1);
    two[5] = 2;
    assert_eq!(rcode(&raw(addr, INTERNET, &two).unwrap()), 1);
    assert!(raw(addr, INTERNET, b"\x01\x02\x03").is_none(), "too short to answer");
    // Opcode STATUS is not implemented.
    let mut status = query(12, "mail.contoso.com", 1);
    status[2] = 0x10;
    assert_eq!(rcode(&raw(addr, INTERNET, &status).unwrap()), 4);
    // EDNS version 1 gets BADVERS.
    let v1 = dig(addr, INTERNET, &["+edns=1", "+noednsneg", "A", "mail.contoso.com"]);
    assert_eq!(v1.status, "BADVERS", "{}", v1.raw);
    // Still serving.
    assert_eq!(
        dig(addr, INTERNET, &["A", "mail.contoso.com"]).answers("A"),
        ["203.0.113.10"]
    );
    assert!(s.stats().count(None, Some("FORMERR"), None) >= 3);
}

#[test]
fn notimp_echoes_only_the_id_and_opcode() {
    let (_s, addr) = server();
    // dig with opcode STATUS, asking for recursion and checking disabled.
    let d = dig(
        addr,
        INTERNET,
        &["+opcode=status", "+recurse", "+cdflag", "A", "mail.contoso.com"],
    );
    assert_eq!(d.status, "NOTIMP", "{}", d.raw);
    assert!(d.raw.contains("opcode: STATUS"), "{}", d.raw);
    assert_eq!(d.flags, ["qr"], "no flag of the query is copied: {}", d.raw);
    // Raw opcodes IQUERY, STATUS, NOTIFY, UPDATE and 15, every bit after
    // the opcode set (AA TC RD RA Z AD CD, and a stray RCODE).
    for opcode in [1u8, 2, 4, 5, 15] {
        let mut m = query(0x4242, "mail.contoso.com", 1);
        m[2] = (opcode << 3) | 0x07;
        m[3] = 0xff;
        let r = raw(addr, INTERNET, &m).expect("NOTIMP is sent");
        assert_eq!(
            r,
            [0x42, 0x42, 0x80 | (opcode << 3), 4, 0, 0, 0, 0, 0, 0, 0, 0],
            "opcode {opcode}: header only, with ID, QR, the opcode and NOTIMP"
        );
    }
    // A FORMERR to a QUERY still echoes RD (RFC 1035 §4.1.1).
    let mut two = query(13, "mail.contoso.com", 1);
    two[5] = 2;
    let r = raw(addr, INTERNET, &two).unwrap();
    assert_eq!((r[2], r[3]), (0x81, 0x01));
}

#[test]
fn clients_denied_by_the_gateway_acl_are_dropped_and_counted() {
    let (s, addr) = server();
    let r = dig(addr, BLOCKED, &["A", "mail.contoso.com"]);
    assert!(r.status.is_empty(), "no answer expected: {}", r.raw);
    assert!(raw(addr, BLOCKED, &query(1, "mail.contoso.com", 1)).is_none());
    let t = dig(addr, BLOCKED, &["+tcp", "A", "mail.contoso.com"]);
    assert!(t.status.is_empty(), "TCP closed without an answer: {}", t.raw);
    let stats = s.stats();
    assert!(stats.acl_dropped >= 3, "{stats:?}");
    // The implicit deny (last counter) saw them.
    assert!(*s.acl_hits().last().unwrap() >= 3, "{:?}", s.acl_hits());
}

#[test]
fn the_gateway_acl_judges_the_port_the_query_arrives_on() {
    // Only port 53 is open: a server on another port answers nobody.
    let text = TOPOLOGY
        .replace("{SIP_PORT}", "5061")
        .replace("ports = [53, \"1024-65535\"]", "ports = [53]");
    let s = DnsServer::start(plan_from(&text), Arc::new(AllUp), &["127.0.0.1:0".parse().unwrap()]).unwrap();
    let addr = s.local_addrs()[0];
    assert_ne!(addr.port(), 53);
    assert!(raw(addr, INTRANET, &query(1, "mail.contoso.com", 1)).is_none());
    assert!(s.stats().acl_dropped >= 1, "{:?}", s.stats());
}

#[test]
fn zone_without_a_view_is_refused() {
    let (_s, addr) = server();
    let r = dig(addr, LAB, &["A", "mail.contoso.com"]);
    assert_eq!(r.status, "REFUSED", "{}", r.raw);
}

#[test]
fn rate_limiting_slips_and_drops_excess_udp_but_not_tcp() {
    let config = DnsConfig {
        rrl: RrlConfig {
            responses_per_second: 5,
            slip: 2,
            ..RrlConfig::default()
        },
        ..DnsConfig::default()
    };
    let s = server_with(plan(5061), Arc::new(AllUp), config);
    let addr = s.local_addrs()[0];
    let sock = UdpSocket::bind(format!("{PARTNERS}:0")).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    for i in 0..60u16 {
        sock.send_to(&query(i, "mail.contoso.com", 1), addr).unwrap();
    }
    let (mut full, mut tc) = (0, 0);
    let mut buf = [0u8; 1500];
    while let Ok(n) = sock.recv(&mut buf) {
        if buf[2] & 0x02 != 0 {
            tc += 1;
        } else if n > 40 {
            full += 1;
        }
    }
    assert!((1..=15).contains(&full), "full answers: {full}");
    assert!(tc >= 10, "truncated answers: {tc}");
    let stats = s.stats();
    assert!(stats.rrl_dropped >= 10 && stats.rrl_slipped >= 10, "{stats:?}");
    let t = dig(addr, PARTNERS, &["+tcp", "A", "mail.contoso.com"]);
    assert_eq!(t.answers("A"), ["203.0.113.10"], "{}", t.raw);
}

#[test]
fn transfers_are_refused_unless_allowed_and_then_carry_the_clients_view() {
    let (_s, addr) = server();
    let r = dig(addr, INTRANET, &["AXFR", "contoso.com"]);
    assert!(r.raw.contains("Transfer failed"), "{}", r.raw);
    let ixfr = dig(addr, INTRANET, &["IXFR=1", "contoso.com"]);
    assert!(ixfr.answers("SOA").is_empty(), "{}", ixfr.raw);
    // The topology's `allow_transfer` key opens transfers to one client.
    let text = TOPOLOGY
        .replace("{SIP_PORT}", "5061")
        .replace("[dns]\n", "[dns]\nallow_transfer = [\"127.0.0.4/32\"]\n");
    let s = DnsServer::start(plan_from(&text), Arc::new(AllUp), &["127.0.0.1:0".parse().unwrap()]).unwrap();
    let addr = s.local_addrs()[0];
    let inside = dig(addr, INTRANET, &["AXFR", "contoso.com"]);
    assert!(inside.raw.contains("admin.contoso.com."), "{}", inside.raw);
    assert!(!inside.raw.contains("sip.contoso.com.\t"), "{}", inside.raw);
    let soas = inside
        .raw
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .count();
    assert_eq!(soas, 2, "SOA opens and closes the transfer: {}", inside.raw);
    let outside = dig(addr, INTERNET, &["AXFR", "contoso.com"]);
    assert!(outside.raw.contains("Transfer failed"), "{}", outside.raw);
}

#[test]
fn wildcards_answer_only_when_configured() {
    let (_s, addr) = server();
    assert_eq!(dig(addr, INTERNET, &["A", "foo.apps.contoso.com"]).status, "NXDOMAIN");
    let literal = dig(addr, INTERNET, &["A", "*.apps.contoso.com"]);
    assert_eq!(literal.answers("A"), ["203.0.113.99"]);
    // The topology's `wildcards` key turns them on.
    let text = TOPOLOGY
        .replace("{SIP_PORT}", "5061")
        .replace("[dns]\n", "[dns]\nwildcards = true\n");
    let s = DnsServer::start(plan_from(&text), Arc::new(AllUp), &["127.0.0.1:0".parse().unwrap()]).unwrap();
    let addr = s.local_addrs()[0];
    let r = dig(addr, INTERNET, &["A", "Foo.Bar.apps.contoso.com"]);
    assert_eq!(r.answers("A"), ["203.0.113.99"], "{}", r.raw);
    assert_eq!(
        r.section("ANSWER")[0].1,
        "Foo.Bar.apps.contoso.com.",
        "owner is the query name"
    );
    assert_eq!(dig(addr, INTERNET, &["MX", "foo.apps.contoso.com"]).status, "NOERROR");
    // A wildcard does not cover names that exist.
    assert_eq!(
        dig(addr, INTERNET, &["A", "mail.contoso.com"]).answers("A"),
        ["203.0.113.10"]
    );
}

#[test]
fn counters_split_by_view_rcode_and_type() {
    let (s, addr) = server();
    dig(addr, INTERNET, &["A", "mail.contoso.com"]);
    dig(addr, INTERNET, &["A", "admin.contoso.com"]);
    dig(addr, INTRANET, &["AAAA", "admin.contoso.com"]);
    let st = s.stats();
    assert_eq!(st.count(Some("external"), Some("NOERROR"), Some("A")), 1, "{st:?}");
    assert_eq!(st.count(Some("external"), Some("NXDOMAIN"), Some("A")), 1, "{st:?}");
    assert_eq!(st.count(Some("internal"), Some("NOERROR"), Some("AAAA")), 1, "{st:?}");
}

#[test]
fn reload_swaps_all_records_at_once() {
    // No rate limiting: the reader below queries as fast as it can.
    let config = DnsConfig {
        rrl: RrlConfig {
            responses_per_second: 0,
            ..RrlConfig::default()
        },
        ..DnsConfig::default()
    };
    let s = server_with(plan(5061), Arc::new(AllUp), config.clone());
    let addr = s.local_addrs()[0];
    let old = plan(5061);
    let text = TOPOLOGY
        .replace("{SIP_PORT}", "5061")
        .replace("0 0 443 mail.contoso.com.", "0 0 444 mail.contoso.com.")
        .replace("\"10.0.10.10\"", "\"10.0.10.11\"");
    let new = plan_from(&text);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let sock = UdpSocket::bind(format!("{INTRANET}:0")).unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let (mut old_seen, mut new_seen) = (0, 0);
            let mut buf = [0u8; 1500];
            let mut id = 0u16;
            while !stop.load(Ordering::Relaxed) {
                id = id.wrapping_add(1);
                sock.send_to(&query(id, "_autodiscover._tcp.contoso.com", 33), addr)
                    .unwrap();
                let n = sock.recv(&mut buf).expect("every query is answered");
                let r = &buf[..n];
                // SRV port and the target's address in the additional section.
                let port_444 = r.windows(6).any(|w| w == [0, 0, 0, 0, 1, 188]);
                let addr_11 = r.ends_with(&[10, 0, 10, 11]);
                assert_eq!(port_444, addr_11, "a response mixed old and new data: {r:?}");
                if port_444 {
                    new_seen += 1;
                } else {
                    old_seen += 1;
                }
            }
            (old_seen, new_seen)
        })
    };
    for i in 0..40 {
        s.reload_with(if i % 2 == 0 { new.clone() } else { old.clone() }, config.clone())
            .unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let (o, n) = reader.join().unwrap();
    assert!(o > 0 && n > 0, "both versions were served: old {o}, new {n}");
    // DNS data that cannot be served (a CNAME beside other records) is
    // rejected with a clear error and the old data stays.
    // `gatehouse check` refuses such a topology; the server still defends
    // itself against a plan compiled without validation.
    let clash = TOPOLOGY.replace("{SIP_PORT}", "5061")
        + "\n[[dns.records]]\nname = \"mail\"\ntype = \"CNAME\"\nvalue = \"intranet.contoso.com.\"\n";
    assert!(gatehouse_model::check(&clash).plan.is_none());
    let (topology, _) = gatehouse_model::decode::decode(&clash);
    let unchecked = Arc::new(gatehouse_model::Plan::compile(topology.unwrap()));
    let err = s.reload(unchecked).unwrap_err().to_string();
    assert!(err.contains("CNAME and other records"), "{err}");
    assert_eq!(
        dig(addr, INTERNET, &["A", "mail.contoso.com"]).answers("A"),
        ["203.0.113.10"]
    );
}
