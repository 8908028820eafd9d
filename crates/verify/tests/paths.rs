//! Walking one path: each hop passes, blocks or narrows the flow, and says why.

mod common;

use common::{fixture, flow, plan_of, report, report_of};
use gatehouse_verify::flows::{Access, Network, Outcome, Step};

/// The baseline Exchange fixture with a partners zone and the given ACL rules.
fn with_partners(acl: &str) -> String {
    let base = fixture("exchange-basic.toml");
    let cut = base.find("[[acl]]").unwrap();
    base[..cut]
        .replace(
            "[zones.intranet]",
            "[zones.partners]\nprefixes = [\"198.51.100.0/24\"]\n\n[zones.intranet]",
        )
        .replace(
            "zones = [\"internet\", \"intranet\"]\ncertificates",
            "zones = [\"internet\", \"partners\", \"intranet\"]\ncertificates",
        )
        .replace(
            "[user_types.employees]\nzones = [\"internet\", \"intranet\"]",
            "[user_types.employees]\nzones = [\"partners\", \"intranet\"]",
        )
        + acl
}

#[test]
fn an_acl_rule_on_a_prefix_inside_a_zone_opens_it_partly() {
    let text = with_partners(
        "[[acl]]\nname = \"one-partner\"\naction = \"allow\"\nfrom = [\"198.51.100.7/32\", \"intranet\"]\nprotocol = \"tcp\"\nports = [443]\n",
    );
    let r = report_of("partial.toml", &text);
    let f = flow(&r, Some("employees"), "partners", "mail.fabrikam.com:443 /owa");
    assert_eq!(f.access, Access::Partial);
    let gw = f.path.iter().find(|h| h.step == Step::Gateway).unwrap();
    assert_eq!(gw.outcome, Outcome::Partial);
    assert!(gw.detail.contains("from 198.51.100.7/32 only"), "{}", gw.detail);
    assert!(gw.detail.contains("implicit deny"), "{}", gw.detail);
    // Partly open still meets the declaration.
    assert!(!r.has_errors(), "{:#?}", r.errors);
}

#[test]
fn a_prefix_rule_covering_the_whole_zone_opens_it_fully() {
    let text = with_partners(
        "[[acl]]\nname = \"partners-by-prefix\"\naction = \"allow\"\nfrom = [\"198.51.0.0/16\", \"intranet\"]\nprotocol = \"tcp\"\nports = [443]\n",
    );
    let r = report_of("covering.toml", &text);
    let f = flow(&r, Some("employees"), "partners", "mail.fabrikam.com:443 /owa");
    assert_eq!(f.access, Access::Open);
}

#[test]
fn the_first_matching_rule_wins_even_when_it_denies() {
    let text = with_partners(
        "[[acl]]\nname = \"no-partners\"\naction = \"deny\"\nfrom = [\"partners\"]\n\n[[acl]]\nname = \"web\"\naction = \"allow\"\nfrom = [\"partners\", \"intranet\"]\nprotocol = \"tcp\"\nports = [443]\n",
    );
    let plan = plan_of("deny-first.toml", &text);
    let net = Network::new(&plan);
    let zone = plan.zone_id("partners").unwrap();
    let w = net.walk(zone, &net.targets[0], None);
    assert_eq!(w.access, Access::Blocked);
    let gw = w.hops.iter().find(|h| h.step == Step::Gateway).unwrap();
    assert_eq!(gw.name, "no-partners");
    assert!(
        gw.detail
            .contains("rule \"no-partners\" denies tcp/443 from zone partners"),
        "{}",
        gw.detail
    );
}

#[test]
fn a_port_range_allowed_in_part_is_partial_with_each_piece_named() {
    let plan = plan_of("contoso.toml", gatehouse_model::CONTOSO);
    let net = Network::new(&plan);
    let media = net
        .targets
        .iter()
        .find(|t| t.label() == "av.contoso.com:50000-59999")
        .unwrap();
    let internet = plan.zone_id("internet").unwrap();
    assert_eq!(net.walk(internet, media, None).access, Access::Open);
    let text = gatehouse_model::CONTOSO.replace("ports = [3478, \"50000-59999\"]", "ports = [3478, \"50000-54999\"]");
    let plan = plan_of("narrow.toml", &text);
    let net = Network::new(&plan);
    let w = net.walk(internet, media, None);
    assert_eq!(w.access, Access::Partial);
    let gw = w.hops.iter().find(|h| h.step == Step::Gateway).unwrap();
    assert!(
        gw.detail.contains("tcp/50000-54999 from zone internet"),
        "{}",
        gw.detail
    );
    assert!(gw.detail.contains("no rule allows tcp/55000-59999"), "{}", gw.detail);
}

#[test]
fn the_edge_relays_inward_through_the_edge_zone() {
    let r = report("lync-through-edge.toml");
    let f = flow(&r, Some("remote"), "internet", "sip.fabrikam.com:443");
    let steps: Vec<&str> = f.path.iter().map(|h| h.step.keyword()).collect();
    assert_eq!(steps, ["zone", "gateway", "vip", "pool", "tier", "edge-relay"]);
    let relay = f.path.last().unwrap();
    assert_eq!(relay.outcome, Outcome::Pass);
    assert!(
        relay.detail.contains("from zone edge to pool01.fabrikam.com:5061"),
        "{}",
        relay.detail
    );
}

#[test]
fn an_edge_that_cannot_reach_the_lync_pool_blocks_remote_lync() {
    let text = fixture("lync-through-edge.toml").replace("from = [\"intranet\", \"edge\"]", "from = [\"intranet\"]");
    let r = report_of("edge-cut-off.toml", &text);
    assert_eq!(r.errors.len(), 1, "{:#?}", r.errors);
    assert_eq!(r.errors[0].user_type.as_deref(), Some("remote"));
    assert!(
        r.errors[0].reasons[0].contains("the Edge cannot relay from zone edge"),
        "{:?}",
        r.errors[0].reasons
    );
    assert!(r.errors[0].fix.contains("Edge"));
}

#[test]
fn a_dns_balanced_pool_is_reached_without_a_vip_in_its_views_only() {
    let plan = plan_of("contoso.toml", gatehouse_model::CONTOSO);
    let net = Network::new(&plan);
    let pool01 = net.targets.iter().find(|t| t.name == "pool01.contoso.com").unwrap();
    let inside = net.walk(plan.zone_id("intranet").unwrap(), pool01, None);
    assert_eq!(inside.access, Access::Open);
    let vip = inside.hops.iter().find(|h| h.step == Step::Vip).unwrap();
    assert!(vip.detail.contains("no VIP"), "{}", vip.detail);
    let dns = inside.hops.iter().find(|h| h.step == Step::Dns).unwrap();
    assert!(dns
        .detail
        .contains("view internal answers pool01.contoso.com with the healthy members"));
    let outside = net.walk(plan.zone_id("internet").unwrap(), pool01, None);
    let vip = outside.hops.iter().find(|h| h.step == Step::Vip).unwrap();
    assert_eq!(vip.outcome, Outcome::Block);
    assert!(
        vip.detail.contains("answers only in DNS views internal"),
        "{}",
        vip.detail
    );
}

#[test]
fn pre_authentication_blocks_a_user_type_that_does_not_use_the_provider() {
    let r = report("exchange-basic.toml");
    assert!(r.flows.iter().all(|f| f.auth == "pass-through"));
    let plan = plan_of("contoso.toml", gatehouse_model::CONTOSO);
    let net = Network::new(&plan);
    let remote = plan
        .topology
        .user_types
        .iter()
        .find(|u| u.name.value == "remote-employees")
        .unwrap();
    let partnerweb = net.targets.iter().find(|t| t.name == "partnerweb.contoso.com").unwrap();
    let w = net.walk(plan.zone_id("internet").unwrap(), partnerweb, Some(remote));
    let auth = w.hops.iter().find(|h| h.step == Step::Auth).unwrap();
    assert_eq!((auth.name.as_str(), auth.outcome), ("partner-forms", Outcome::Block));
    assert_eq!(w.auth, "partner-forms (forms)");
    // Anybody holding the credentials gets through.
    assert_eq!(
        net.walk(plan.zone_id("internet").unwrap(), partnerweb, None).access,
        Access::Open
    );
}

#[test]
fn an_auth_policy_of_deny_refuses_the_zone() {
    let plan = plan_of("contoso.toml", gatehouse_model::CONTOSO);
    let net = Network::new(&plan);
    let intranet = net.targets.iter().find(|t| t.name == "intranet.contoso.com").unwrap();
    let w = net.walk(plan.zone_id("partners").unwrap(), intranet, None);
    let auth = w.hops.iter().find(|h| h.step == Step::Auth).unwrap();
    assert_eq!((auth.name.as_str(), auth.outcome), ("deny", Outcome::Block));
    assert_eq!(w.access, Access::Blocked);
}

#[test]
fn a_route_limited_to_some_zones_blocks_the_others_with_404() {
    let r = report_of("contoso.toml", gatehouse_model::CONTOSO);
    let f = flow(&r, Some("remote-employees"), "vpn", "mail.contoso.com:443 /PowerShell");
    let stop = f.stopped_at().unwrap();
    assert_eq!(stop.step, Step::Route);
    assert!(stop.detail.contains("admits only zones intranet (others get 404)"));
}

#[test]
fn a_route_on_plain_http_without_plain_is_redirected_not_served() {
    let text = fixture("exchange-basic.toml").replace(
        "[routes.owa]",
        "[listeners.http]\naddress = \"203.0.113.10\"\nport = 80\nprotocol = \"http\"\nzones = [\"internet\", \"intranet\"]\n\n[routes.owa-http]\nlisteners = [\"http\"]\nhosts = [\"mail.fabrikam.com\"]\npaths = [\"/owa\"]\npool = \"exchange\"\n\n[routes.owa]",
    );
    let plan = plan_of("redirect.toml", &text);
    let net = Network::new(&plan);
    let plain = net
        .targets
        .iter()
        .find(|t| t.label() == "mail.fabrikam.com:80 /owa")
        .unwrap();
    let w = net.walk(plan.zone_id("intranet").unwrap(), plain, None);
    let route = w.hops.iter().find(|h| h.step == Step::Route).unwrap();
    assert_eq!(route.outcome, Outcome::Block);
    assert!(route.detail.contains("redirected to https://mail.fabrikam.com/"));
}

#[test]
fn a_vpn_flow_names_the_vpn_gateway_and_the_dns_answer() {
    let r = report_of("contoso.toml", gatehouse_model::CONTOSO);
    let f = flow(&r, Some("remote-employees"), "vpn", "intranet.contoso.com:443 /");
    assert_eq!(f.path[1].step, Step::RemoteAccess);
    assert!(f.path[1].detail.contains("VPN gateway"));
    assert_eq!(
        f.path[2].detail,
        "DNS view remote answers intranet.contoso.com with 10.0.10.10"
    );
    assert_eq!(f.entry.listener.as_deref(), Some("https-internal"));
}

#[test]
fn a_zone_without_prefixes_holds_no_client() {
    let text = fixture("exchange-basic.toml").replace("[zones.intranet]", "[zones.lab]\n\n[zones.intranet]");
    let plan = plan_of("empty-zone.toml", &text);
    let net = Network::new(&plan);
    let w = net.walk(plan.zone_id("lab").unwrap(), &net.targets[0], None);
    assert_eq!(w.hops[0].outcome, Outcome::Block);
    assert!(w.hops[0].detail.contains("no prefixes"));
}

#[test]
fn a_wide_port_range_reads_as_the_pieces_that_differ() {
    // Members without ports take any port; a udp rule cuts the range but decides nothing for tcp.
    let text = fixture("lync-over-remote-access.toml")
        .replace("members = [\"10.0.3.11:5061\", \"10.0.3.12:5061\"]", "members = [\"10.0.3.11\", \"10.0.3.12\"]")
        .replace("reaches = [\"pool01.fabrikam.com:5061\"]", "reaches = [\"pool01.fabrikam.com\"]")
        + "\n[[acl]]\nname = \"media\"\naction = \"allow\"\nfrom = [\"intranet\"]\nprotocol = \"udp\"\nports = [3478]\n";
    let plan = plan_of("wide.toml", &text);
    let net = Network::new(&plan);
    let w = net.walk(plan.zone_id("intranet").unwrap(), &net.targets[0], None);
    assert_eq!(w.access, Access::Partial);
    let gw = w.hops.iter().find(|h| h.step == Step::Gateway).unwrap();
    assert_eq!(
        gw.detail,
        "no rule allows tcp/1-5060 from zone intranet: the implicit deny at the end of the ACL; \
         rule \"lync-sip-inside\" allows tcp/5061 from zone intranet; \
         no rule allows tcp/5062-65535 from zone intranet: the implicit deny at the end of the ACL"
    );
}
