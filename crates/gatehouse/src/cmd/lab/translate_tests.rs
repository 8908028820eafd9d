use super::*;

fn opts(offset: u16) -> Options {
    Options {
        port_offset: offset,
        certificates: BTreeMap::new(),
    }
}

fn contoso(offset: u16) -> Translation {
    translate(gatehouse_model::CONTOSO, &opts(offset)).expect("contoso translates")
}

#[test]
fn every_supported_block_maps_every_host_and_nothing_else() {
    let blocks: [([u8; 3], [u8; 3]); 6] = [
        ([10, 0, 0], [127, 10, 0]),
        ([172, 16, 0], [127, 172, 0]),
        ([192, 168, 0], [127, 168, 0]),
        ([203, 0, 113], [127, 203, 113]),
        ([198, 51, 100], [127, 198, 100]),
        ([192, 0, 2], [127, 192, 2]),
    ];
    let mut seen = BTreeSet::new();
    for (from, to) in blocks {
        // Blocks are /16 (10.0, 172.16, 192.168) or /24 (the documentation ones).
        let wide = from[2] == 0 && to[2] == 0;
        for c in 0..=255u8 {
            if !wide && c != from[2] {
                continue;
            }
            for d in 0..=255u8 {
                let ip = Ipv4Addr::new(from[0], from[1], c, d);
                let lab = lab_host(ip).unwrap();
                let want = if wide {
                    Ipv4Addr::new(to[0], to[1], c, d)
                } else {
                    Ipv4Addr::new(to[0], to[1], to[2], d)
                };
                assert_eq!(lab, want, "{ip}");
                assert!(lab.is_loopback());
                // Injective, and never inside a zone's /16 (127.1 to 127.9).
                assert!(seen.insert(lab), "{lab} twice");
                assert!(!(1..=9).contains(&lab.octets()[1]), "{lab} is in a zone range");
            }
        }
    }
    assert_eq!(
        lab_host(Ipv4Addr::new(127, 5, 0, 10)).unwrap(),
        Ipv4Addr::new(127, 5, 0, 10)
    );
    for bad in [
        "10.1.0.1",
        "172.17.0.1",
        "8.8.8.8",
        "203.0.114.1",
        "198.51.101.1",
        "192.0.3.1",
        "192.169.0.1",
    ] {
        let err = lab_host(bad.parse().unwrap()).unwrap_err();
        assert!(err.contains(bad) && err.contains("docs/lab.md"), "{err}");
    }
}

#[test]
fn ports_below_1024_move_by_the_offset_and_no_others() {
    for p in 0..=u16::MAX {
        let want = if p < 1024 { p + 8000 } else { p };
        assert_eq!(lab_port(p, 8000).unwrap(), want);
        assert_eq!(lab_port(p, 0).unwrap(), p);
    }
    assert!(lab_port(1000, 65000).unwrap_err().contains("past 65535"));
    assert_eq!(lab_range(50000, 59999, 8000).unwrap(), (50000, 59999));
    assert_eq!(lab_range(20, 21, 8000).unwrap(), (8020, 8021));
    assert!(lab_range(1000, 2000, 8000).unwrap_err().contains("straddles"));
    assert_eq!(lab_range(1000, 2000, 0).unwrap(), (1000, 2000));
}

#[test]
fn contoso_zones_get_their_documented_ranges() {
    let t = contoso(8000);
    let want = [
        ("internet", "127.1.0.0/16"),
        ("partners", "127.2.0.0/16"),
        ("eop", "127.3.0.0/16"),
        ("edge", "127.6.0.0/16"),
        ("vpn", "127.4.0.0/16"),
        ("directaccess", "127.7.0.0/16"),
        ("intranet", "127.5.0.0/16"),
    ];
    assert_eq!(t.zones.len(), want.len());
    for (name, prefix) in want {
        let z = t.zone(name).unwrap();
        assert_eq!(z.prefix, prefix, "{name}");
        assert_eq!(
            z.source.octets()[..2],
            [127, prefix[4..].split('.').next().unwrap().parse::<u8>().unwrap()]
        );
    }
    assert_eq!(t.zone("eop").unwrap().original.len(), 6);
}

#[test]
fn contoso_translates_to_a_valid_loopback_topology_with_the_same_verdicts() {
    let t = contoso(8000);
    let checked = gatehouse_model::check(&t.text);
    let errors: Vec<String> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let plan = checked.plan.unwrap();
    for l in &plan.topology.listeners {
        let IpAddr::V4(ip) = l.address.value else {
            panic!("v6 listener")
        };
        assert!(ip.is_loopback(), "{}", l.name.value);
        assert!(l.ports.value.first >= 1024, "{}", l.name.value);
    }
    for p in &plan.topology.pools {
        for m in &p.members {
            assert!(m.host.value.starts_with("127."), "{}", m.host.value);
        }
    }
    // The flows' verdicts are the original's, row by row.
    let original = gatehouse_verify::verify(&gatehouse_model::check(gatehouse_model::CONTOSO).plan.unwrap());
    let lab = gatehouse_verify::verify(&plan);
    let verdicts = |r: &gatehouse_verify::Report| -> Vec<(Option<String>, String, String, &'static str)> {
        r.flows
            .iter()
            .map(|f| (f.user_type.clone(), f.zone.clone(), f.target.name.clone(), f.status()))
            .collect()
    };
    assert_eq!(verdicts(&original), verdicts(&lab));
    assert_eq!(original.errors.len(), lab.errors.len());
}

#[test]
fn contoso_listeners_members_and_dns_are_translated() {
    let t = contoso(8000);
    let https = t.listener("https-public").unwrap();
    assert_eq!(https.address, Ipv4Addr::new(127, 203, 113, 10));
    assert_eq!((https.ports, https.original_ports), ((8443, 8443), (443, 443)));
    let media = t.listener("edge-av-media").unwrap();
    assert_eq!(media.ports, (50000, 59999));
    assert_eq!(
        t.listener("https-internal").unwrap().address,
        Ipv4Addr::new(127, 10, 10, 10)
    );
    assert_eq!(t.hosts.get(&Ipv4Addr::new(127, 10, 2, 11)).unwrap(), "10.0.2.11");
    assert_eq!(t.hosts.get(&Ipv4Addr::new(127, 172, 1, 12)).unwrap(), "172.16.1.12");
    assert_eq!(
        t.dns_listen,
        vec![
            "127.203.113.53:8053".parse().unwrap(),
            "127.10.10.53:8053".parse().unwrap()
        ]
    );
    assert!(t.text.contains("\"0 0 8443 sip.contoso.com.\""), "SRV ports shift");
    assert!(t.text.contains("\"0 0 5061 sip.contoso.com.\""), "high SRV ports stay");
    assert!(t.text.contains("\"127.203.113.30\""), "A records move");
    assert!(t.text.contains("\"127.10.2.11:8443\""));
    assert!(t.text.contains("backend_port = 4443"));
    assert!(
        t.text.contains("\"sip.contoso.com:8443\"") && t.text.contains("\"sip.contoso.com:5061\""),
        "reaches ports"
    );
    assert!(
        !t.text.contains("203.0.113.") && !t.text.contains("\"10.0."),
        "no original address left"
    );
}

#[test]
fn offset_zero_keeps_every_port() {
    let t = contoso(0);
    for l in &t.listeners {
        assert_eq!(l.ports, l.original_ports, "{}", l.name);
    }
    assert_eq!(t.dns_listen[0].port(), 53);
}

#[test]
fn certificates_without_files_get_the_lab_ones() {
    let mut o = opts(8000);
    o.certificates
        .insert("public".into(), ("/s/public.pem".into(), "/s/public.key".into()));
    let t = translate(gatehouse_model::CONTOSO, &o).unwrap();
    let plan = gatehouse_model::check(&t.text).plan.unwrap();
    let c = plan
        .topology
        .certificates
        .iter()
        .find(|c| c.name.value == "public")
        .unwrap();
    assert_eq!(c.cert.as_ref().unwrap().value, "/s/public.pem");
    assert_eq!(c.key.as_ref().unwrap().value, "/s/public.key");
    let internal = plan
        .topology
        .certificates
        .iter()
        .find(|c| c.name.value == "internal")
        .unwrap();
    assert!(internal.cert.is_none());
}

#[test]
fn what_cannot_be_translated_is_refused_with_its_name() {
    let base = "[gatehouse]\nname = \"x\"\n[zones.internet]\nrole = \"internet\"\n";
    let cases = [
        (
            "[listeners.a]\naddress = \"8.8.8.8\"\nport = 443\nprotocol = \"tcp\"\n",
            "listener a: 8.8.8.8",
        ),
        (
            "[listeners.a]\naddress = \"2001:db8::1\"\nport = 443\n",
            "listener a: \"2001:db8::1\" is not an IPv4",
        ),
        (
            "[listeners.a]\naddress = \"10.0.0.1\"\nport = \"1000-2000\"\n",
            "straddles 1024",
        ),
        ("[pools.p]\nmembers = [\"1.2.3.4:80\"]\n", "pool p: 1.2.3.4"),
        (
            "[[acl]]\nname = \"r\"\nfrom = [\"10.0.0.0/8\"]\n",
            "acl rule r: the source prefix 10.0.0.0/8",
        ),
        ("[dns]\nlisten = [\"[::1]:53\"]\n", "IPv4 loopback"),
        (
            "[listeners.a]\naddress = \"10.0.0.1\"\nport = 443\n[listeners.b]\naddress = \"10.0.0.1\"\nport = 8443\n",
            "pick another --port-offset",
        ),
        ("[[acl]]\nports = [80, 8080]\n", "moves port 80 onto 8080"),
        ("not toml [", "not TOML"),
    ];
    for (extra, want) in cases {
        let err = translate(&format!("{base}{extra}"), &opts(8000)).unwrap_err();
        assert!(err.contains(want), "{extra}: {err}");
    }
}

#[test]
fn zones_without_a_role_are_placed_by_name_then_in_spare_ranges() {
    let text = "[zones.corp-vpn]\n[zones.lab-a]\n[zones.lab-b]\n[zones.internet]\n";
    let t = translate(text, &opts(8000)).unwrap();
    assert_eq!(t.zone("corp-vpn").unwrap().prefix, "127.4.0.0/16");
    assert_eq!(t.zone("lab-a").unwrap().prefix, "127.8.0.0/16");
    assert_eq!(t.zone("lab-b").unwrap().prefix, "127.9.0.0/16");
    assert_eq!(t.zone("internet").unwrap().prefix, "127.1.0.0/16");
    let ten = (0..10).map(|i| format!("[zones.z{i}]\n")).collect::<String>();
    assert!(translate(&ten, &opts(8000)).unwrap_err().contains("nine zones"));
}
