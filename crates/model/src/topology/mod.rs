//! The topology as the user wrote it, with the source span of every value
//! that a diagnostic may need to point at.
//!
//! These types are produced by [`crate::decode`] and checked by
//! [`crate::validate`]. They hold names, not resolved references: the
//! [`crate::plan::Plan`] is where references become indices.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use crate::diag::Span;

mod dns;
mod http;

pub use dns::*;
pub use http::*;

/// A value and where it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl Spanned<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// A whole topology file.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// `[gatehouse] name`: the organisation or site, used in titles.
    pub name: String,
    /// `[gatehouse] default_zone`: where unmatched addresses fall.
    pub default_zone: Spanned<String>,
    pub zones: Vec<Zone>,
    pub certificates: Vec<Certificate>,
    pub services: Vec<Service>,
    pub pools: Vec<Pool>,
    pub listeners: Vec<Listener>,
    pub routes: Vec<Route>,
    pub auth_providers: Vec<AuthProvider>,
    pub user_types: Vec<UserType>,
    pub dns: Option<Dns>,
    pub acl: Vec<AclRule>,
    /// `[http]`: settings of the reverse proxy as a whole.
    pub http: HttpSettings,
    /// Entries that were defined but could not be decoded, as
    /// (section, name): references to them are not reported a second time.
    pub unusable: Vec<(&'static str, String)>,
}

/// A named set of source prefixes. A client belongs to the zone whose prefix
/// matches its address most specifically.
#[derive(Clone, Debug)]
pub struct Zone {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub prefixes: Vec<Spanned<IpNet>>,
    /// The zone's role in the reference architecture, when stated. Without
    /// it, verification and rendering infer the role from the name,
    /// description and prefixes.
    pub role: Option<Spanned<ZoneRole>>,
}

/// What a zone stands for in the reference architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneRole {
    /// The public Internet: roaming users, anonymous users, public IM.
    Internet,
    /// Partner organisations with a trust (federation, SAML, mutual TLS).
    Partner,
    /// The cloud mail-hygiene service (Exchange Online Protection).
    Hygiene,
    /// The internal interfaces of the Lync Edge servers.
    Edge,
    /// Addresses handed out by a VPN gateway.
    Vpn,
    /// DirectAccess clients.
    DirectAccess,
    /// The corporate network.
    Intranet,
}

impl ZoneRole {
    pub const ALL: [(&'static str, ZoneRole); 7] = [
        ("internet", ZoneRole::Internet),
        ("partner", ZoneRole::Partner),
        ("hygiene", ZoneRole::Hygiene),
        ("edge", ZoneRole::Edge),
        ("vpn", ZoneRole::Vpn),
        ("directaccess", ZoneRole::DirectAccess),
        ("intranet", ZoneRole::Intranet),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }

    /// Whether clients in such a zone are outside the corporate network.
    pub fn is_outside(self) -> bool {
        matches!(self, ZoneRole::Internet | ZoneRole::Partner | ZoneRole::Hygiene)
    }
}

/// A certificate and key, or (when no files are given) the names a
/// self-signed certificate is generated for.
#[derive(Clone, Debug)]
pub struct Certificate {
    pub name: Spanned<String>,
    pub cert: Option<Spanned<String>>,
    pub key: Option<Spanned<String>>,
    /// The DNS names the certificate covers; `*.example.com` wildcards allowed.
    pub names: Vec<Spanned<String>>,
    pub ocsp: Option<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Product {
    Lync,
    SharePoint,
    Exchange,
    OfficeWebApps,
    Generic,
}

impl Product {
    pub const ALL: [(&'static str, Product); 5] = [
        ("lync", Product::Lync),
        ("sharepoint", Product::SharePoint),
        ("exchange", Product::Exchange),
        ("office-web-apps", Product::OfficeWebApps),
        ("generic", Product::Generic),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }
}

/// The traffic classes of the reference poster's legend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrafficClass {
    /// Green: SIP signalling, IM, A/V and federation.
    LyncSip,
    /// Blue: Lync web services behind the HTTP-aware load balancer.
    LyncWeb,
    /// Purple: SharePoint clients.
    SharePoint,
    /// Orange: Exchange clients (OWA, ActiveSync, EWS, POP, IMAP, submission).
    ExchangeClient,
    /// Grey: server-to-server mail (SMTP 25 with the hygiene service).
    ExchangeMail,
}

impl TrafficClass {
    pub const ALL: [(&'static str, TrafficClass); 5] = [
        ("lync-sip", TrafficClass::LyncSip),
        ("lync-web", TrafficClass::LyncWeb),
        ("sharepoint", TrafficClass::SharePoint),
        ("exchange-client", TrafficClass::ExchangeClient),
        ("exchange-mail", TrafficClass::ExchangeMail),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }

    /// The legend's colour for this class.
    pub fn colour(self) -> &'static str {
        match self {
            TrafficClass::LyncSip => "green",
            TrafficClass::LyncWeb => "blue",
            TrafficClass::SharePoint => "purple",
            TrafficClass::ExchangeClient => "orange",
            TrafficClass::ExchangeMail => "grey",
        }
    }
}

/// A product's service, and the class its traffic is drawn in.
#[derive(Clone, Debug)]
pub struct Service {
    pub name: Spanned<String>,
    pub product: Spanned<Product>,
    pub class: Spanned<TrafficClass>,
    pub description: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    /// Front end / client access: what VIPs send traffic to.
    FrontEnd,
    /// Application servers (SharePoint search, batch processing).
    Application,
    /// Databases and storage (Lync back end, SharePoint SQL, mailbox servers).
    Database,
    /// Remote-access servers such as the Lync Edge.
    Edge,
}

impl Tier {
    pub const ALL: [(&'static str, Tier); 4] = [
        ("front-end", Tier::FrontEnd),
        ("application", Tier::Application),
        ("database", Tier::Database),
        ("edge", Tier::Edge),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    RoundRobin,
    WeightedRoundRobin,
    LeastConnections,
    SourceHash,
}

impl Algorithm {
    pub const ALL: [(&'static str, Algorithm); 4] = [
        ("round-robin", Algorithm::RoundRobin),
        ("weighted-round-robin", Algorithm::WeightedRoundRobin),
        ("least-connections", Algorithm::LeastConnections),
        ("source-hash", Algorithm::SourceHash),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }
}

/// A group of servers behind a VIP or route.
#[derive(Clone, Debug)]
pub struct Pool {
    pub name: Spanned<String>,
    pub service: Spanned<String>,
    pub tier: Tier,
    pub algorithm: Algorithm,
    pub members: Vec<Member>,
    /// Where the `members` key (or the pool table) was written, for "empty pool".
    pub members_span: Span,
    pub health: Option<HealthCheck>,
    /// Answer DNS queries for `dns_name` with the healthy members' addresses.
    pub dns_balanced: bool,
    pub dns_name: Option<Spanned<String>>,
    pub dns_ttl: Spanned<Duration>,
    /// The DNS views that answer for `dns_name`; empty means every view.
    pub dns_views: Vec<Spanned<String>>,
    /// Re-encrypt web traffic to the members ("SSL bridging"); `None` is
    /// plain HTTP.
    pub tls: Option<BackendTls>,
}

/// One server in a pool.
#[derive(Clone, Debug)]
pub struct Member {
    /// The host: an IP address or a DNS name.
    pub host: Spanned<String>,
    /// The member's port; `None` means the port the client connected to
    /// (as for a VIP over a port range), unless a route sets `backend_port`.
    pub port: Option<Spanned<u16>>,
    pub weight: u32,
    /// Used only while every primary member is down.
    pub backup: bool,
    pub max_connections: Option<u32>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    Tcp,
    Http,
    Https,
}

impl CheckKind {
    pub const ALL: [(&'static str, CheckKind); 3] = [
        ("tcp", CheckKind::Tcp),
        ("http", CheckKind::Http),
        ("https", CheckKind::Https),
    ];
}

/// An active health check run against every member of a pool.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    pub kind: CheckKind,
    pub path: Option<Spanned<String>>,
    /// The Host header sent; required for http(s) checks of name-based sites.
    pub host: Option<String>,
    pub expect_status: Vec<u16>,
    pub expect_body: Option<String>,
    pub interval: Spanned<Duration>,
    pub timeout: Spanned<Duration>,
    pub rise: Spanned<u32>,
    pub fall: Spanned<u32>,
    /// Check a port other than the member's own.
    pub port: Option<Spanned<u16>>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Http,
    Https,
}

impl Protocol {
    pub const ALL: [(&'static str, Protocol); 4] = [
        ("tcp", Protocol::Tcp),
        ("udp", Protocol::Udp),
        ("http", Protocol::Http),
        ("https", Protocol::Https),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }

    /// The transport the listener's socket uses.
    pub fn transport(self) -> Transport {
        match self {
            Protocol::Udp => Transport::Udp,
            _ => Transport::Tcp,
        }
    }

    pub fn is_http(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Https)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn keyword(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// An inclusive range of ports; a single port is `first == last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn single(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    pub fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    pub fn overlaps(self, other: PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyProtocol {
    V1,
    V2,
}

/// A VIP: an address and port (or range) that gatehouse accepts on.
#[derive(Clone, Debug)]
pub struct Listener {
    pub name: Spanned<String>,
    pub address: Spanned<IpAddr>,
    pub ports: Spanned<PortRange>,
    pub protocol: Spanned<Protocol>,
    /// Zones whose clients may connect at all.
    pub zones: Vec<Spanned<String>>,
    /// TLS certificates offered (https); the first is the default for clients without SNI
    /// unless `default_certificate` says otherwise.
    pub certificates: Vec<Spanned<String>>,
    pub default_certificate: Option<Spanned<String>>,
    /// The pool behind an L4 (tcp/udp) listener.
    pub pool: Option<Spanned<String>>,
    /// DNS names published for an L4 listener (HTTP listeners publish their routes' hosts).
    pub names: Vec<Spanned<String>>,
    /// Close a connection (or UDP flow) with no traffic for this long.
    pub idle_timeout: Spanned<Duration>,
    pub max_connections: Option<u32>,
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Peers (another load balancer in front) whose word about the client's
    /// address is taken; see `client_address`.
    pub trusted_proxies: Vec<Spanned<IpNet>>,
    /// Where the client's address comes from when the peer is a trusted
    /// proxy. Zones, the ACL and logs then use that address.
    pub client_address: Option<Spanned<ClientAddress>>,
    /// `strict_sni`: a request whose Host is not the TLS server name is
    /// refused. `None` when not written; see [`Listener::strict_sni`].
    pub strict_sni: Option<Spanned<bool>>,
    /// `hsts` as written; see [`Listener::hsts`].
    pub hsts: Option<HstsSetting>,
    pub description: Option<String>,
    pub span: Span,
}

impl Listener {
    /// Whether Host must equal the TLS server name: as written, else on
    /// where the listener offers more than one certificate, because there a
    /// name that picks one certificate could otherwise reach another
    /// certificate's sites. Plain listeners have no server name.
    pub fn strict_sni(&self) -> bool {
        self.protocol.value == Protocol::Https
            && self
                .strict_sni
                .as_ref()
                .map_or(self.certificates.len() > 1, |s| s.value)
    }

    /// The HSTS policy of this listener's responses: as written, else
    /// [`Hsts::default_policy`] on https listeners. Never on plain HTTP
    /// (RFC 6797 7.2: a header sent over plain HTTP proves nothing).
    pub fn hsts(&self) -> Option<Hsts> {
        if self.protocol.value != Protocol::Https {
            return None;
        }
        match &self.hsts {
            Some(written) => written.value.clone(),
            None => Some(Hsts::default_policy()),
        }
    }
}

/// How a trusted proxy in front of a listener tells the client's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAddress {
    /// A PROXY protocol header (v1 or v2) before the first byte.
    ProxyProtocol,
    /// The `X-Forwarded-For` header of each HTTP request.
    XForwardedFor,
}

impl ClientAddress {
    pub const ALL: [(&'static str, ClientAddress); 2] = [
        ("proxy-protocol", ClientAddress::ProxyProtocol),
        ("x-forwarded-for", ClientAddress::XForwardedFor),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affinity {
    None,
    Cookie,
    SourceIp,
}

impl Affinity {
    pub const ALL: [(&'static str, Affinity); 3] = [
        ("none", Affinity::None),
        ("cookie", Affinity::Cookie),
        ("source-ip", Affinity::SourceIp),
    ];
}

/// Per-route timeouts. `total` is off unless set: long polls must live.
#[derive(Clone, Debug)]
pub struct Timeouts {
    pub connect: Spanned<Duration>,
    pub idle: Spanned<Duration>,
    pub total: Option<Spanned<Duration>>,
}

/// What the gateway does before a request from a zone reaches the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthPolicy {
    /// Anyone may pass; the backend decides (anonymous meeting joins).
    Anonymous,
    /// gatehouse does not authenticate; NTLM, Negotiate or SAML go to the backend.
    PassThrough,
    /// Refuse every request from this zone.
    Deny,
    /// Pre-authenticate with this provider.
    Provider(String),
}

impl AuthPolicy {
    pub const BUILT_IN: [&'static str; 3] = ["anonymous", "pass-through", "deny"];

    pub fn parse(word: &str) -> AuthPolicy {
        match word {
            "anonymous" => AuthPolicy::Anonymous,
            "pass-through" => AuthPolicy::PassThrough,
            "deny" => AuthPolicy::Deny,
            other => AuthPolicy::Provider(other.to_string()),
        }
    }
}

impl Route {
    /// The HSTS policy of this route's responses on `listener`: the
    /// route's own when written, else the listener's; never on plain HTTP.
    pub fn hsts_on(&self, listener: &Listener) -> Option<Hsts> {
        match &self.hsts {
            Some(written) if listener.protocol.value == Protocol::Https => written.value.clone(),
            _ => listener.hsts(),
        }
    }
}

/// Host names plus path prefixes on HTTP listeners, sent to one pool.
#[derive(Clone, Debug)]
pub struct Route {
    pub name: Spanned<String>,
    pub listeners: Vec<Spanned<String>>,
    pub hosts: Vec<Spanned<String>>,
    pub paths: Vec<Spanned<String>>,
    pub pool: Spanned<String>,
    /// Zones allowed on this route, on top of the listener's. Others get 404.
    pub zones: Option<Vec<Spanned<String>>>,
    pub timeouts: Timeouts,
    pub affinity: Affinity,
    /// Auth policy per zone; zones not named use `auth_default`.
    pub auth: Vec<(Spanned<String>, Spanned<AuthPolicy>)>,
    pub auth_default: Spanned<AuthPolicy>,
    /// The member port to use instead of the member's own (443 to 4443 for Lync).
    pub backend_port: Option<Spanned<u16>>,
    /// Replace the Host header sent to the backend.
    pub host_rewrite: Option<String>,
    /// Match paths without regard to case (Exchange virtual directories).
    pub ignore_case: Option<bool>,
    /// Served on plain HTTP instead of redirecting to HTTPS.
    pub plain: bool,
    /// WebSocket upgrades are tunnelled on this route; off, any Upgrade is refused.
    pub websocket: bool,
    /// `hsts` as written: replaces the listener's policy on this route.
    pub hsts: Option<HstsSetting>,
    /// The user types this route is published for; empty when not stated.
    /// Verification treats other user types' flows to it as undeclared.
    pub user_types: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    Forms,
    Basic,
    Saml,
    ClientCertificate,
    Negotiate,
}

impl AuthMethod {
    pub const ALL: [(&'static str, AuthMethod); 5] = [
        ("forms", AuthMethod::Forms),
        ("basic", AuthMethod::Basic),
        ("saml", AuthMethod::Saml),
        ("client-certificate", AuthMethod::ClientCertificate),
        ("negotiate", AuthMethod::Negotiate),
    ];

    pub fn keyword(self) -> &'static str {
        keyword_of(&Self::ALL, self)
    }
}

/// An identity source used for pre-authentication.
#[derive(Clone, Debug)]
pub struct AuthProvider {
    pub name: Spanned<String>,
    pub method: Spanned<AuthMethod>,
    /// Directory (ldap://, ldaps://) or identity-provider metadata URL.
    pub url: Option<Spanned<String>>,
    pub description: Option<String>,
}

/// Something a user type is meant to reach: a published name, optionally one port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    pub name: String,
    pub port: Option<u16>,
}

/// A kind of user from the reference architecture.
#[derive(Clone, Debug)]
pub struct UserType {
    pub name: Spanned<String>,
    pub label: Option<String>,
    pub zones: Vec<Spanned<String>>,
    /// Auth providers (or `anonymous`, `pass-through`) this user type uses.
    pub auth: Vec<Spanned<String>>,
    pub reaches: Vec<Spanned<Reach>>,
    pub reaches_span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Deny,
}

/// The protocol an ACL rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AclProtocol {
    Any,
    Tcp,
    Udp,
}

/// Where an ACL rule's traffic comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Zone(String),
    Prefix(IpNet),
}

/// One ordered rule of the gateway's access list. The first match wins; no
/// match is a deny.
#[derive(Clone, Debug)]
pub struct AclRule {
    pub name: Option<String>,
    pub action: Action,
    pub from: Vec<Spanned<Source>>,
    pub protocol: AclProtocol,
    /// Empty means every port.
    pub ports: Vec<Spanned<PortRange>>,
    pub span: Span,
}

fn keyword_of<T: PartialEq + Copy>(all: &[(&'static str, T)], value: T) -> &'static str {
    all.iter()
        .find(|(_, v)| *v == value)
        .map(|(k, _)| *k)
        .expect("every variant has a keyword")
}
