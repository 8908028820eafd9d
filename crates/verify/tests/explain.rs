//! Golden tests of `explain` on the Contoso topology: every user type
//! reaching every product it is declared to reach, and the denials an
//! operator asks about (partner to admin, internet to SMTP 25, EOP to 443...).
//!
//! Each case's text rendering is compared byte for byte with
//! `tests/explain/<case>.txt`; run with `UPDATE_GOLDEN=1` to rewrite them
//! after an intended change, and review the diff.

use std::collections::BTreeSet;
use std::path::PathBuf;

use gatehouse_model::topology::Product;
use gatehouse_model::Plan;
use gatehouse_verify::explain::{explain, parse_proto_port, Destination, Effect, Explanation, Phase, Query, Verdict};

/// What a case must come to, besides its golden text.
#[derive(Debug)]
enum Expect {
    /// Reaches this pool.
    Pool(&'static str),
    /// Refused at admit with 503 because the route's pre-authentication is
    /// not enforced yet; the route goes to this pool once it is. Counts as
    /// reaching the product: the topology declares and publishes the flow.
    SignInUnavailable(&'static str),
    /// The DNS server answers the query.
    Answered,
    DnsOnly,
    Redirected,
    Denied(Phase, Effect),
}

/// (golden name, `gatehouse explain` arguments, expectation).
type Case = (&'static str, &'static str, Expect);

fn reaching_cases() -> Vec<Case> {
    use Expect::*;
    vec![
        // partner-companies (zone partners)
        (
            "partners-partnerweb-saml",
            "198.51.100.20 partnerweb.contoso.com tcp/443",
            SignInUnavailable("sharepoint-wfe"),
        ),
        (
            "partners-sip-federation",
            "198.51.100.20 sip.contoso.com tcp/5061",
            Pool("lync-edge"),
        ),
        (
            "internet-sipexternal-cname",
            "192.0.2.99 sipexternal.contoso.com tcp/5061",
            Pool("lync-edge"),
        ),
        (
            "partners-v6-xmpp-federation",
            "2001:db8:100::20 sip.contoso.com tcp/5269",
            Pool("lync-edge"),
        ),
        (
            "partners-mail-ews",
            "198.51.100.20 mail.contoso.com tcp/443 --path /EWS/Exchange.asmx",
            Pool("exchange-ews"),
        ),
        // individual-partners-and-anonymous (zones internet, partners)
        (
            "internet-meet-anonymous",
            "192.0.2.99 meet.contoso.com tcp/443 --path /contoso/alice/K7X2",
            Pool("lync-web-external"),
        ),
        (
            "internet-partnerweb-saml",
            "192.0.2.99 partnerweb.contoso.com tcp/443",
            SignInUnavailable("sharepoint-wfe"),
        ),
        (
            "internet-sip-access",
            "192.0.2.99 sip.contoso.com tcp/443",
            Pool("lync-edge"),
        ),
        (
            "partners-webconf",
            "198.51.100.20 webconf.contoso.com tcp/443",
            Pool("lync-edge"),
        ),
        (
            "internet-av-udp",
            "192.0.2.99 av.contoso.com udp/3478",
            Pool("lync-edge"),
        ),
        // remote-employees (zones internet, vpn, directaccess)
        (
            "internet-owa-encoded-path",
            "192.0.2.99 mail.contoso.com tcp/443 --path //%6Fwa/",
            SignInUnavailable("exchange-owa"),
        ),
        (
            "internet-owa-forms",
            "192.0.2.99 mail.contoso.com tcp/443 --path /owa/",
            SignInUnavailable("exchange-owa"),
        ),
        (
            "internet-activesync-basic-any-case",
            "192.0.2.99 mail.contoso.com tcp/443 --path /microsoft-server-activesync?Cmd=Sync",
            SignInUnavailable("exchange-activesync"),
        ),
        (
            "internet-autodiscover-basic",
            "192.0.2.99 autodiscover.contoso.com tcp/443 --path /Autodiscover/Autodiscover.xml",
            SignInUnavailable("exchange-autodiscover"),
        ),
        (
            "internet-teams-forms",
            "192.0.2.99 teams.contoso.com tcp/443 --path /sites/finance",
            SignInUnavailable("sharepoint-wfe"),
        ),
        (
            "internet-lyncdiscover-plain-http",
            "192.0.2.99 lyncdiscover.contoso.com tcp/80",
            Pool("lync-web-external"),
        ),
        (
            "vpn-intranet-sharepoint",
            "10.200.7.7 intranet.contoso.com tcp/443",
            Pool("sharepoint-wfe"),
        ),
        (
            "vpn-imaps",
            "10.200.7.7 mail.contoso.com tcp/993",
            Pool("exchange-clients-l4"),
        ),
        (
            "directaccess-owa-upper-case",
            "2001:db8:da::5 mail.contoso.com tcp/443 --path /OWA/",
            Pool("exchange-owa"),
        ),
        (
            "directaccess-dial-in",
            "2001:db8:da::5 dial.contoso.com tcp/443",
            Pool("lync-web-internal"),
        ),
        // internal-employees (zone intranet)
        (
            "intranet-my-site",
            "10.1.2.3 my.contoso.com tcp/443",
            Pool("sharepoint-wfe"),
        ),
        (
            "intranet-mail-mapi",
            "10.1.2.3 mail.contoso.com tcp/443 --path /mapi/emsmdb",
            Pool("exchange-mapi"),
        ),
        (
            "intranet-exchange-powershell",
            "10.1.2.3 mail.contoso.com tcp/443 --path /powershell",
            Pool("exchange-powershell"),
        ),
        (
            "intranet-meet",
            "10.1.2.3 meet.contoso.com tcp/443",
            Pool("lync-web-internal"),
        ),
        ("intranet-pool01-sip", "10.1.2.3 pool01.contoso.com tcp/5061", DnsOnly),
        (
            "intranet-admin",
            "10.1.2.3 admin.contoso.com tcp/443",
            Pool("lync-web-internal"),
        ),
        (
            "intranet-v4-mapped-admin",
            "::ffff:10.1.2.3 10.0.10.10 tcp/443 --host admin.contoso.com",
            Pool("lync-web-internal"),
        ),
        (
            "intranet-office-web-apps",
            "10.1.2.3 wac.contoso.com tcp/443 --path /hosting/discovery",
            Pool("office-web-apps"),
        ),
        // Exchange Online Protection and the DNS server
        ("eop-smtp", "40.107.3.4 smtp.contoso.com tcp/25", Pool("exchange-smtp")),
        ("intranet-dns-query", "10.1.2.3 10.0.10.53 udp/53", Expect::Answered),
        (
            "internet-meet-over-http-redirects",
            "192.0.2.99 meet.contoso.com tcp/80",
            Redirected,
        ),
    ]
}

fn denial_cases() -> Vec<Case> {
    use Effect::*;
    use Expect::Denied;
    use Phase::*;
    vec![
        (
            "internet-ecp-through-owa-backslash",
            "192.0.2.99 mail.contoso.com tcp/443 --path /owa/..%5cecp/",
            Denied(Phase::Route, Effect::BadRequest),
        ),
        (
            "partners-admin-by-name",
            "198.51.100.20 admin.contoso.com tcp/443",
            Denied(Dns, NoAnswer),
        ),
        (
            "partners-admin-by-address",
            "198.51.100.20 10.0.10.10 tcp/443 --host admin.contoso.com",
            Denied(Listener, Closed),
        ),
        (
            "vpn-admin-hidden-404",
            "10.200.7.7 10.0.10.10 tcp/443 --host admin.contoso.com",
            Denied(Route, NotFound),
        ),
        (
            "vpn-admin-not-in-dns",
            "10.200.7.7 admin.contoso.com tcp/443",
            Denied(Dns, NoAnswer),
        ),
        (
            "internet-smtp-by-address",
            "192.0.2.99 203.0.113.25 tcp/25",
            Denied(Gateway, Closed),
        ),
        (
            "internet-smtp-by-name",
            "192.0.2.99 smtp.contoso.com tcp/25",
            Denied(Gateway, Closed),
        ),
        ("eop-https", "40.92.1.1 203.0.113.10 tcp/443", Denied(Gateway, Closed)),
        (
            "partners-intranet-sharepoint-403",
            "198.51.100.20 intranet.contoso.com tcp/443",
            Denied(Auth, Forbidden),
        ),
        (
            "internet-exchange-powershell-404",
            "192.0.2.99 mail.contoso.com tcp/443 --path /PowerShell",
            Denied(Route, NotFound),
        ),
        (
            "internet-owa-lookalike-path-404",
            "192.0.2.99 mail.contoso.com tcp/443 --path /owagent",
            Denied(Route, NotFound),
        ),
        (
            "edge-http-internal",
            "172.16.2.5 10.0.10.10 tcp/80 --host mail.contoso.com",
            Denied(Gateway, Closed),
        ),
        (
            "internet-pool01",
            "192.0.2.99 pool01.contoso.com tcp/5061",
            Denied(Dns, NoAnswer),
        ),
        (
            "internet-pop3-cleartext",
            "192.0.2.99 10.0.10.10 tcp/110",
            Denied(Gateway, Closed),
        ),
        (
            "partners-imaps",
            "198.51.100.20 mail.contoso.com tcp/993",
            Denied(Gateway, Closed),
        ),
        (
            "internet-unused-port",
            "192.0.2.99 203.0.113.10 tcp/8443",
            Denied(Listener, NotListening),
        ),
        (
            "internet-unknown-name",
            "192.0.2.99 nosuch.contoso.com tcp/443",
            Denied(Dns, NoAnswer),
        ),
    ]
}

fn plan() -> Plan {
    gatehouse_model::check(gatehouse_model::CONTOSO)
        .plan
        .expect("Contoso is valid")
}

/// Parses `src dst proto/port [--host NAME] [--path P]` as the CLI does.
fn query(args: &str) -> Query {
    let words: Vec<&str> = args.split_whitespace().collect();
    let (transport, port) = parse_proto_port(words[2]).unwrap();
    let mut q = Query {
        src: words[0].parse().unwrap(),
        dst: Destination::parse(words[1]).unwrap(),
        transport,
        port,
        host: None,
        path: None,
    };
    for pair in words[3..].chunks(2) {
        match pair {
            ["--host", h] => q.host = Some(h.to_string()),
            ["--path", p] => q.path = Some(p.to_string()),
            other => panic!("bad case arguments {other:?}"),
        }
    }
    q
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/explain")
}

/// Compares (or, with UPDATE_GOLDEN=1, rewrites) the golden of one case;
/// returns a description of the mismatch.
fn check_golden(name: &str, args: &str, x: &Explanation) -> Option<String> {
    let text = format!("$ gatehouse explain {args}\n{x}");
    let path = golden_dir().join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return None;
    }
    match std::fs::read_to_string(&path) {
        Ok(golden) if golden == text => None,
        Ok(golden) => Some(format!(
            "{name}: output differs from {}\n--- golden\n{golden}--- actual\n{text}",
            path.display()
        )),
        Err(e) => Some(format!(
            "{name}: cannot read {} ({e}); run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )),
    }
}

fn verdict_matches(plan: &Plan, x: &Explanation, expect: &Expect) -> bool {
    match (expect, &x.verdict) {
        (Expect::Pool(p), Verdict::Allowed) => x.pool.as_deref() == Some(*p),
        (
            Expect::SignInUnavailable(p),
            Verdict::Denied {
                phase: Phase::Auth,
                effect: Effect::SignInUnavailable,
            },
        ) => {
            let route = plan
                .topology
                .routes
                .iter()
                .find(|r| Some(&r.name.value) == x.route.as_ref());
            x.pool.is_none() && route.is_some_and(|r| r.pool.value == *p)
        }
        (Expect::Answered, Verdict::Allowed) => x.pool.is_none(),
        (Expect::DnsOnly, Verdict::DnsOnly) => true,
        (Expect::Redirected, Verdict::Redirected { .. }) => true,
        (Expect::Denied(phase, effect), Verdict::Denied { phase: p, effect: e }) => p == phase && e == effect,
        _ => false,
    }
}

fn run(cases: &[Case]) {
    let plan = plan();
    let mut failures = Vec::new();
    for (name, args, expect) in cases {
        let x = explain(&plan, &query(args));
        if !verdict_matches(&plan, &x, expect) {
            failures.push(format!(
                "{name}: expected {expect:?}, got {:?} (pool {:?}): {}",
                x.verdict, x.pool, x.because
            ));
        }
        failures.extend(check_golden(name, args, &x));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_user_type_reaches_each_product_it_is_declared_for() {
    run(&reaching_cases());
}

#[test]
fn denials_name_the_phase_that_stops_the_flow() {
    run(&denial_cases());
}

/// The product behind a published name: its route's or listener's pool's service.
fn product_of(plan: &Plan, name: &str) -> Option<Product> {
    let p = plan.published.iter().find(|p| p.name == name)?;
    let pool = match (&p.route, &p.listener) {
        (Some(r), _) => plan
            .topology
            .routes
            .iter()
            .find(|x| x.name.value == *r)?
            .pool
            .value
            .clone(),
        (None, Some(l)) => plan.listener(l)?.pool.as_ref()?.value.clone(),
        (None, None) => plan
            .topology
            .pools
            .iter()
            .find(|x| x.dns_name.as_ref().is_some_and(|n| n.value == name))?
            .name
            .value
            .clone(),
    };
    let service = &plan.pool(&pool)?.service.value;
    Some(
        plan.topology
            .services
            .iter()
            .find(|s| s.name.value == *service)?
            .product
            .value,
    )
}

#[test]
fn the_cases_cover_every_user_type_and_product_pair_and_every_golden_is_a_case() {
    let plan = plan();
    let cases: Vec<(String, String)> = reaching_cases()
        .into_iter()
        .filter(|(_, _, e)| !matches!(e, Expect::Denied(..) | Expect::Redirected))
        .map(|(_, args, _)| {
            let q = query(args);
            let name = match q.dst {
                Destination::Name(n) => n,
                Destination::Address(_) => q.host.unwrap_or_default(),
            };
            (plan.zone_name(plan.classify(q.src)).to_string(), name)
        })
        .collect();
    let mut missing = Vec::new();
    for u in &plan.topology.user_types {
        let products: BTreeSet<Product> = u
            .reaches
            .iter()
            .filter_map(|r| product_of(&plan, &r.value.name))
            .collect();
        for product in products {
            let covered = cases.iter().any(|(zone, name)| {
                u.zones.iter().any(|z| z.value == *zone)
                    && u.reaches.iter().any(|r| r.value.name == *name)
                    && product_of(&plan, name) == Some(product)
            });
            if !covered {
                missing.push(format!("{} -> {}", u.name.value, product.keyword()));
            }
        }
    }
    assert!(missing.is_empty(), "no allowed explain case for: {missing:?}");

    let names: BTreeSet<String> = reaching_cases()
        .into_iter()
        .chain(denial_cases())
        .map(|(n, _, _)| format!("{n}.txt"))
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let orphans: Vec<&String> = files.difference(&names).collect();
    assert!(
        orphans.is_empty(),
        "golden files without a case (delete them): {orphans:?}"
    );
}
