//! Feeds arbitrary packets to the DNS query path, from clients in every
//! zone of the Contoso topology, over UDP and TCP, with wildcards and
//! transfers on so that every branch is reachable.
//!
//! Input: byte 0 picks the client address, byte 1 the transport; the rest
//! is the DNS message. Besides "never panics", every response sent must be
//! a DNS message hickory can parse, answer the same ID with QR=1, echo the
//! question byte for byte, and fit the client's UDP size.

#![no_main]

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use gatehouse_dns::{AllUp, DnsConfig, Engine, RrlConfig, Verdict, Worker};
use gatehouse_model::topology::Transport;
use hickory_proto::op::Message;
use hickory_proto::serialize::binary::BinDecodable;
use libfuzzer_sys::fuzz_target;

const CLIENTS: [&str; 8] = [
    "192.0.2.1",      // internet
    "198.51.100.7",   // partners
    "10.1.2.3",       // intranet
    "10.200.0.5",     // vpn
    "2001:db8:da::1", // directaccess
    "40.92.0.1",      // eop
    "172.16.2.9",     // edge
    "::ffff:10.1.2.3",
];

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut text = gatehouse_model::CONTOSO.to_string();
        text.push_str("\n[[dns.records]]\nname = \"*.apps\"\ntype = \"A\"\nvalue = \"203.0.113.99\"\n");
        let plan = gatehouse_model::check(&text).plan.expect("contoso is valid");
        let config = DnsConfig {
            wildcards: true,
            allow_transfer: vec!["10.0.0.0/8".parse().unwrap()],
            rrl: RrlConfig {
                responses_per_second: 0,
                ..RrlConfig::default()
            },
            ..DnsConfig::default()
        };
        Engine::new(Arc::new(plan), Arc::new(AllUp), config, 1).expect("engine builds")
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let src: IpAddr = CLIENTS[data[0] as usize % CLIENTS.len()].parse().unwrap();
    let transport = if data[1] & 1 == 0 { Transport::Udp } else { Transport::Tcp };
    let msg = &data[2..];
    let engine = engine();
    let snap = engine.current().load_full();
    let mut worker = Worker::new(0);
    let mut out = Vec::new();
    if engine.respond(&snap, &mut worker, msg, src, transport, 53, &mut out) == Verdict::Drop {
        return;
    }
    assert!(out.len() >= 12, "response shorter than a header");
    assert_eq!(out[..2], msg[..2], "response ID differs");
    assert!(out[2] & 0x80 != 0, "QR not set");
    let parsed = Message::from_bytes(&out).unwrap_or_else(|e| panic!("unparseable response {out:?}: {e}"));
    if parsed.queries.len() == 1 {
        // The question as the client sent it: labels, root, type, class.
        let mut end = 12;
        while msg[end] != 0 {
            end += 1 + msg[end] as usize;
        }
        end += 5;
        assert_eq!(out[12..end], msg[12..end], "question not echoed");
    }
    if transport == Transport::Udp {
        let limit = parsed.edns.as_ref().map_or(512, |_| 1232);
        assert!(out.len() <= limit, "{} bytes over UDP, limit {limit}", out.len());
    }
});
