//! Tests of the network analysis on the Contoso topology.

use gatehouse_model::topology::{PortRange, Tier, Transport};
use gatehouse_model::Plan;

use super::*;

fn contoso() -> Plan {
    gatehouse_model::check(gatehouse_model::CONTOSO).plan.expect("valid")
}

#[test]
fn contoso_zones_get_the_roles_of_the_poster() {
    let plan = contoso();
    let net = Network::new(&plan);
    let z = |n: &str| net.zone(n).unwrap();
    assert!(z("internet").outside && z("partners").outside && z("eop").outside);
    assert!(!z("intranet").outside && !z("vpn").outside && !z("edge").outside);
    assert_eq!(z("vpn").remote_access, Some(RemoteAccess::Vpn));
    assert_eq!(z("directaccess").remote_access, Some(RemoteAccess::DirectAccess));
    assert_eq!(z("intranet").remote_access, None);
    assert!(z("eop").mail_hygiene && !z("internet").mail_hygiene);
}

#[test]
fn pools_on_the_same_servers_share_one_group() {
    let plan = contoso();
    let net = Network::new(&plan);
    let cas = &net.groups[net.group_of(plan.pool("exchange-owa").unwrap())];
    assert_eq!(cas.tier, Tier::FrontEnd);
    assert!(cas.pools.iter().any(|p| p.name.value == "exchange-smtp"));
    assert_eq!(cas.hosts, ["10.0.2.11", "10.0.2.12", "10.0.2.13"]);
    let edge = net.group_of(plan.pool("lync-edge").unwrap());
    let onward: Vec<&str> = net.onward(edge).iter().map(|&g| net.groups[g].id.as_str()).collect();
    assert_eq!(onward, ["lync-front-end"]);
}

#[test]
fn partner_federation_crosses_the_gateway_by_its_rule() {
    let plan = contoso();
    let net = Network::new(&plan);
    let partners = net
        .user_types
        .iter()
        .find(|u| u.user_type.name.value == "partner-companies")
        .unwrap();
    assert!(partners.external);
    let sip = partners
        .flows
        .iter()
        .find(|f| f.ports == PortRange::single(5061))
        .unwrap();
    assert_eq!(sip.gate, Gate::Allowed("lync-federation".into()));
    assert_eq!(sip.auth, FlowAuth::Layer4);
    assert_eq!(net.groups[sip.group].tier, Tier::Edge);
}

#[test]
fn smtp_from_another_zone_is_denied_by_the_implicit_rule() {
    let plan = contoso();
    assert_eq!(gate(&plan.topology, "internet", Transport::Tcp, 25), Gate::Denied(None));
    assert_eq!(
        gate(&plan.topology, "eop", Transport::Tcp, 25),
        Gate::Allowed("smtp-from-eop".into())
    );
}

#[test]
fn a_provider_route_is_pre_authentication_that_gatehouse_does_not_enforce_yet() {
    let plan = contoso();
    let t = &plan.topology;
    let route = |n: &str| t.routes.iter().find(|r| r.name.value == n).unwrap();
    assert_eq!(
        route_auth(t, route("exchange-owa"), "internet"),
        FlowAuth::PreAuth {
            provider: "corp-forms".into(),
            method: gatehouse_model::topology::AuthMethod::Forms,
            enforced: false,
        }
    );
    assert_eq!(route_auth(t, route("exchange-owa"), "intranet"), FlowAuth::PassThrough);
    assert_eq!(route_auth(t, route("sharepoint"), "partners"), FlowAuth::Refused);
}
