//! The path rule against every route restriction and auth policy of the
//! Contoso topology: for each restricted route, every way of reaching its
//! prefix from another route's prefix through the backend's decoding is
//! refused, and no other prefix on the same host can be reached with a
//! path the rule lets through.

use gatehouse_model::path::judge;
use gatehouse_model::topology::AuthPolicy;

/// Ways a client writes "go up one segment, then into `target`" that IIS
/// resolves and a proxy routing on raw bytes would not.
const ESCAPES: &[&str] = &[
    "..\\",
    "..%5c",
    "..%5C",
    "%2e%2e/",
    "%2E%2E/",
    ".%2e/",
    "%2e./",
    "../",
    "..%2f",
    "..%2F",
    "%2e%2e%5c",
    "%c0%ae%c0%ae/",
    "..%c0%af",
    "..%e0%80%af",
    "..%c1%9c",
    "..%255c",
    "%252e%252e/",
    "..;/",
    "%u002e%u002e/",
    "..%u005c",
    "..%U005C",
    "%00../",
    "..\0/",
    "./../",
];

#[test]
fn every_restricted_contoso_route_is_out_of_reach_of_decoding_tricks() {
    let plan = gatehouse_model::check(gatehouse_model::CONTOSO)
        .plan
        .expect("contoso is valid");
    let t = &plan.topology;
    let mut probes = 0;
    for (ri, r) in t.routes.iter().enumerate() {
        let restricted =
            r.zones.is_some() || !r.auth.is_empty() || !matches!(r.auth_default.value, AuthPolicy::PassThrough);
        if !restricted {
            continue;
        }
        for l in &r.listeners {
            let table = plan.route_table(&l.value).expect("an http(s) listener");
            for h in &r.hosts {
                let host = h.value.trim_start_matches("*.").to_string();
                for target in &r.paths {
                    let target = target.value.trim_start_matches('/');
                    // Start from every other route's prefix on the host, and
                    // from a prefix no route names.
                    let mut starts: Vec<String> = t
                        .routes
                        .iter()
                        .enumerate()
                        .filter(|(oi, o)| *oi != ri && o.hosts.iter().any(|oh| oh.value == h.value))
                        .flat_map(|(_, o)| o.paths.iter().map(|p| p.value.trim_end_matches('/').to_string()))
                        .collect();
                    starts.push("/nothing-here".into());
                    for start in &starts {
                        for e in ESCAPES {
                            let probe = format!("{start}/{e}{target}");
                            probes += 1;
                            assert!(
                                judge(&probe).is_err(),
                                "route {} ({}{} on {}): {probe:?} was let through",
                                r.name.value,
                                host,
                                target,
                                l.value
                            );
                        }
                    }
                    // The route itself is reached as written, and in any case.
                    let direct = format!("/{target}");
                    let normal = judge(&direct).expect("a route prefix is a normal path");
                    let m = table.lookup(&host, &normal).expect("the prefix routes");
                    assert!(
                        t.routes[m.route]
                            .paths
                            .iter()
                            .any(|p| p.value.trim_start_matches('/') == target),
                        "{direct} on {host} took route {}",
                        t.routes[m.route].name.value
                    );
                }
            }
        }
    }
    assert!(
        probes > 1000,
        "only {probes} probes: the Contoso routes were not all covered"
    );
}
