//! What `verify` returns: the flows it worked out, the errors (declared
//! flows that are blocked, undeclared flows that are open) and the findings
//! from the reference guidance. The text and JSON forms live in
//! [`super::output`].

use gatehouse_model::diag::Span;
use gatehouse_model::topology::{PortRange, Product, TrafficClass, Transport};

/// The whole answer of [`super::verify`].
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// `[gatehouse] name`.
    pub topology: String,
    /// Every flow a user type declares or can open, then the flows open from
    /// zones that no user type comes from. Closed, undeclared flows are left out.
    pub flows: Vec<Flow>,
    pub errors: Vec<FlowError>,
    pub findings: Vec<Finding>,
    /// The user types analysed, in topology order.
    pub user_types: Vec<UserTypeInfo>,
    /// How each user type's declarations are met, in topology order.
    pub reaches: Vec<Reached>,
    /// How many user types, zones and published targets were analysed.
    pub counts: Counts,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub user_types: usize,
    pub zones: usize,
    pub targets: usize,
}

impl Report {
    /// True when at least one error was found (`gatehouse verify` exits 1).
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// A user type as verification saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTypeInfo {
    pub name: String,
    pub label: Option<String>,
    pub zones: Vec<String>,
}

/// How one declaration of a user type is met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    pub user_type: String,
    /// As declared: `name`, `name:port`, or `route NAME` for a route's `user_types`.
    pub reach: String,
    /// The user type's zones from which a declared target of it is open; empty when blocked.
    pub from: Vec<String>,
}

/// Something a client can connect to: a published name on a port (range)
/// and, for web names, the path prefixes of one route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Lower-case host name.
    pub name: String,
    pub transport: Transport,
    pub ports: PortRange,
    /// The route's path prefixes (`/` for a whole host); empty for layer-4 names.
    pub paths: Vec<String>,
    /// The places that publish it; a zone uses whichever admits it (split
    /// DNS sends each side to its own VIP).
    pub entries: Vec<Entry>,
}

/// One place a target is published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The listener (VIP); `None` for a DNS-balanced pool's name.
    pub listener: Option<String>,
    /// The route, for web names.
    pub route: Option<String>,
    /// The pool the traffic ends in.
    pub pool: String,
}

impl Target {
    /// `mail.contoso.com:443 /owa`, `av.contoso.com:3478 udp`, `sip.contoso.com:5061`.
    pub fn label(&self) -> String {
        let mut s = format!("{}:{}", self.name, self.ports);
        if self.transport == Transport::Udp {
            s.push_str(" udp");
        }
        if !self.paths.is_empty() {
            s.push(' ');
            s.push_str(&self.paths.join(","));
        }
        s
    }

    /// The same target narrowed to one port (for per-port questions such as SMTP 25).
    pub fn on_port(&self, port: u16) -> Target {
        Target {
            ports: PortRange::single(port),
            ..self.clone()
        }
    }
}

/// Whether traffic gets through: from every address of the zone, from some
/// of them (an ACL rule on a prefix, or only part of a port range), or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    Blocked,
    Partial,
    Open,
}

impl Access {
    pub fn keyword(self) -> &'static str {
        match self {
            Access::Open => "open",
            Access::Partial => "partial",
            Access::Blocked => "blocked",
        }
    }

    /// Open or partial: at least some clients of the zone get through.
    pub fn is_open(self) -> bool {
        self != Access::Blocked
    }
}

/// The phases of a path, in the order traffic meets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Where the client is: its zone.
    Zone,
    /// A VPN gateway or DirectAccess server the client comes through.
    RemoteAccess,
    /// Which DNS view answers the name, and with what.
    Dns,
    /// The gateway ACL.
    Gateway,
    /// The VIP (listener), or the members of a DNS-balanced pool.
    Vip,
    /// Host and path routing on a web listener.
    Route,
    /// The route's auth policy for the zone.
    Auth,
    Pool,
    /// The server tier the pool belongs to.
    Tier,
    /// The Lync Edge relaying the traffic inward to the Lync pool.
    EdgeRelay,
}

impl Step {
    pub fn keyword(self) -> &'static str {
        match self {
            Step::Zone => "zone",
            Step::RemoteAccess => "remote-access",
            Step::Dns => "dns",
            Step::Gateway => "gateway",
            Step::Vip => "vip",
            Step::Route => "route",
            Step::Auth => "auth",
            Step::Pool => "pool",
            Step::Tier => "tier",
            Step::EdgeRelay => "edge-relay",
        }
    }
}

/// What one hop does to the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Pass,
    /// Only some addresses or ports get through.
    Partial,
    Block,
    /// Information only; never stops traffic (DNS answers, remote-access entry).
    Note,
    /// The design lets the traffic pass (the user type signs in with the
    /// route's provider), but gatehouse does not enforce that method yet, so
    /// at runtime every request is refused with 503 (sign-in unavailable)
    /// and nothing reaches the pool ([`gatehouse_model::Admission`]). The
    /// flow's access stays the design's; the `pre-authentication-not-enforced`
    /// finding says who is refused.
    NotEnforced,
}

impl Outcome {
    pub fn keyword(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Partial => "partial",
            Outcome::Block => "block",
            Outcome::Note => "note",
            Outcome::NotEnforced => "not-enforced",
        }
    }
}

/// One hop of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub step: Step,
    /// The zone, rule, listener, route, provider, pool or tier at this hop.
    pub name: String,
    /// A sentence saying what happens here and why.
    pub detail: String,
    pub outcome: Outcome,
    /// Where in the topology this hop is decided, when there is one place.
    pub span: Option<Span>,
}

/// One user type (or, for zones no user type comes from, nobody in
/// particular) going from one zone to one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// `None` for a zone that no user type comes from (the Edge, the hygiene service).
    pub user_type: Option<String>,
    pub zone: String,
    pub target: Target,
    /// The entry of `target` this zone uses.
    pub entry: Entry,
    pub product: Option<Product>,
    pub class: Option<TrafficClass>,
    /// The authentication that applies: a provider and its method,
    /// `anonymous`, `pass-through`, `deny`, or none for layer-4 VIPs.
    pub auth: String,
    pub access: Access,
    /// The user type declares it (`reaches`, and the route's `user_types` when set).
    pub declared: bool,
    pub path: Vec<Hop>,
}

impl Flow {
    /// `ok` (declared, open), `blocked` (declared, blocked from this zone),
    /// `undeclared` (open but not declared) or `closed`.
    pub fn status(&self) -> &'static str {
        match (self.declared, self.access.is_open()) {
            (true, true) => "ok",
            (true, false) => "blocked",
            (false, true) => "undeclared",
            (false, false) => "closed",
        }
    }

    /// The first hop that blocks or narrows the flow.
    pub fn stopped_at(&self) -> Option<&Hop> {
        self.path
            .iter()
            .find(|h| matches!(h.outcome, Outcome::Block | Outcome::Partial))
    }

    /// The hop that the design passes but gatehouse refuses at runtime
    /// ([`Outcome::NotEnforced`]), if any.
    pub fn refused_at_runtime(&self) -> Option<&Hop> {
        self.path.iter().find(|h| h.outcome == Outcome::NotEnforced)
    }
}

/// A declared flow that is blocked, or an undeclared flow that is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowError {
    /// Stable identifier: `declared-flow-blocked`, `undeclared-user-type-on-route`,
    /// `internal-name-exposed`, `smtp-open-beyond-hygiene`.
    pub id: &'static str,
    pub message: String,
    pub user_type: Option<String>,
    pub zone: Option<String>,
    /// Target labels concerned.
    pub targets: Vec<String>,
    /// Why, hop by hop, one line per zone or target.
    pub reasons: Vec<String>,
    pub fix: String,
    pub span: Option<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Goes against what the guidance requires or recommends; likely to hurt.
    Warning,
    /// Configuration the guidance says is not needed.
    Info,
}

impl Severity {
    pub fn keyword(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Where a finding's advice comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Guidance {
    /// Words quoted from `docs/reference.md` (the English restatement of the poster).
    pub quote: &'static str,
    /// The section of `docs/reference.md` they come from.
    pub section: &'static str,
    /// What the poster does not say and the finding adds, with its source.
    pub note: Option<&'static str>,
}

/// Advice from the reference architecture about one part of the topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable identifier, such as `lync-over-vpn`.
    pub id: &'static str,
    pub severity: Severity,
    pub message: String,
    pub guidance: Guidance,
    pub fix: String,
    pub span: Option<Span>,
}
