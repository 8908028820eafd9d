//! `gatehouse verify`: does the topology give each user type what the
//! reference architecture says it needs, and nothing it should not have?
//!
//! For every user type, every zone it comes from and every published
//! target (a name on a port, and for web names one route's paths), the path
//! is walked the way traffic goes: zone → VPN or DirectAccess →
//! DNS view → gateway ACL → VIP → route → auth policy → pool → tier, and
//! for the Lync Edge tier on through the Edge's internal zone to the Lync
//! front-end pool. Each hop says whether it passes and why ([`walk`]). An
//! auth hop whose provider's method gatehouse does not enforce yet is
//! [`Outcome::NotEnforced`]: the design passes it, the proxy refuses it with
//! 503, and a `pre-authentication-not-enforced` finding names who is refused.
//!
//! The walks are compared with what user types declare (their `reaches`,
//! and routes' `user_types`); [`intent`] documents precisely which
//! differences are errors. Findings from the reference guidance are in
//! [`findings`] (load balancing, remote access) and [`dns`] (split DNS,
//! certificates); each carries the words of `docs/reference.md` it rests on.
//!
//! Everything here is a pure function of a [`Plan`]: no I/O.
//!
//! ```
//! let plan = gatehouse_model::check(gatehouse_model::CONTOSO).plan.unwrap();
//! let report = gatehouse_verify::flows::verify(&plan);
//! assert!(!report.has_errors());
//! ```

pub mod dns;
pub mod findings;
pub mod gateway;
pub mod intent;
mod output;
pub mod report;
pub mod walk;
pub mod zones;

use gatehouse_model::Plan;

pub use gateway::GatewayVerdict;
pub use report::{
    Access, Counts, Entry, Finding, Flow, FlowError, Guidance, Hop, Outcome, Reached, Report, Severity, Step, Target,
    UserTypeInfo,
};
pub use walk::{Network, Walk};
pub use zones::{ZoneInfo, ZoneKind};

/// Verifies a plan: every flow, the errors, and the findings.
pub fn verify(plan: &Plan) -> Report {
    let net = Network::new(plan);
    let walks = intent::Walks::new(&net);
    let (reaches, errors) = intent::judge(&net, &walks);
    Report {
        topology: plan.topology.name.clone(),
        flows: intent::flows(&net, &walks),
        errors,
        findings: findings::findings(&net, &walks),
        user_types: plan
            .topology
            .user_types
            .iter()
            .map(|u| UserTypeInfo {
                name: u.name.value.clone(),
                label: u.label.clone(),
                zones: u.zones.iter().map(|z| z.value.clone()).collect(),
            })
            .collect(),
        reaches,
        counts: Counts {
            user_types: plan.topology.user_types.len(),
            zones: net.zones.len(),
            targets: net.targets.len(),
        },
    }
}
