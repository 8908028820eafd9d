//! The drive's rows and what the verify crate predicts for each: the
//! flows of `verify --flows`, plus questions no user type declares, with
//! `explain` saying what a refused client sees.

use std::net::{IpAddr, Ipv4Addr};

use gatehouse_model::topology::{Protocol, Transport};
use gatehouse_verify::explain::{explain, Destination, Effect, Query, Verdict};
use gatehouse_verify::Flow;

use super::Lab;

/// What the verify crate predicts a client sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// A member of this pool answers.
    Reach { pool: String },
    /// gatehouse answers this HTTP status itself; no member sees it.
    Gatehouse(u16),
    /// The connection is closed (or refused) before any answer.
    Closed,
    /// The client's DNS view has no address for the name.
    NoAnswer,
    /// The DNS server refuses the query.
    DnsRefused,
}

impl Expect {
    pub(super) fn text(&self) -> String {
        match self {
            Expect::Reach { pool } => format!("reach {pool}"),
            Expect::Gatehouse(s) => format!("gatehouse {s}"),
            Expect::Closed => "closed".into(),
            Expect::NoAnswer => "no DNS answer".into(),
            Expect::DnsRefused => "DNS refused".into(),
        }
    }
}

/// One row to drive.
#[derive(Clone, Debug)]
pub(super) struct Row {
    pub(super) who: String,
    pub(super) zone: String,
    pub(super) src: Ipv4Addr,
    pub(super) name: String,
    pub(super) transport: Transport,
    pub(super) port: u16,
    pub(super) path: Option<String>,
    /// The listener's protocol; `None` for a DNS-balanced name.
    pub(super) protocol: Option<Protocol>,
    pub(super) label: String,
    pub(super) expect: Result<Expect, String>,
    /// The address `explain` says the name resolves to, when it is reached.
    pub(super) address: Option<Ipv4Addr>,
}

pub(super) struct Outcome {
    pub(super) seen: String,
    pub(super) why: Option<String>,
    pub(super) ms: u128,
}

fn effect_expect(effect: Effect) -> Expect {
    match effect {
        Effect::NoAnswer => Expect::NoAnswer,
        Effect::Refused => Expect::DnsRefused,
        Effect::NotListening | Effect::Closed => Expect::Closed,
        Effect::BadRequest => Expect::Gatehouse(400),
        Effect::NotFound => Expect::Gatehouse(404),
        Effect::Forbidden => Expect::Gatehouse(403),
        Effect::SignInUnavailable => Expect::Gatehouse(503),
    }
}

/// The prediction for one question: `explain`'s verdict, checked against
/// the flow's own path when there is a flow.
fn predict(lab: &Lab, q: &Query, flow: Option<&Flow>) -> (Result<Expect, String>, Option<Ipv4Addr>) {
    let x = explain(&lab.predict, q);
    let address = match (&x.verdict, x.address) {
        (Verdict::Allowed, Some(IpAddr::V4(a))) => Some(a),
        _ => None,
    };
    (predict_verdict(&x, flow), address)
}

fn predict_verdict(x: &gatehouse_verify::explain::Explanation, flow: Option<&Flow>) -> Result<Expect, String> {
    let from_explain = match &x.verdict {
        Verdict::Allowed => Expect::Reach {
            pool: x.pool.clone().unwrap_or_default(),
        },
        // Straight to the members: the pool is the flow's.
        Verdict::DnsOnly => Expect::Reach {
            pool: x
                .pool
                .clone()
                .or_else(|| flow.map(|f| f.entry.pool.clone()))
                .unwrap_or_default(),
        },
        Verdict::Redirected { .. } => Expect::Gatehouse(308),
        Verdict::Denied { effect, .. } => effect_expect(*effect),
    };
    if let Some(f) = flow {
        let reaches = f.access.is_open() && f.stopped_at().is_none() && f.refused_at_runtime().is_none();
        let agree = match &from_explain {
            Expect::Reach { pool } => reaches && *pool == f.entry.pool,
            _ => !reaches,
        };
        if !agree {
            return Err(format!(
                "verify --flows says {} ({}), explain says {}: {}",
                if reaches { "reached" } else { "refused" },
                f.entry.pool,
                from_explain.text(),
                x.because
            ));
        }
    }
    Ok(from_explain)
}

pub(super) fn web_path(route_path: &str) -> String {
    match route_path.to_ascii_lowercase().as_str() {
        "/" => "/".into(),
        "/ews" => "/EWS/Exchange.asmx".into(),
        "/microsoft-server-activesync" => {
            "/Microsoft-Server-ActiveSync?Cmd=Ping&User=alice&DeviceId=lab1&DeviceType=SmartPhone".into()
        }
        _ => format!("{route_path}/"),
    }
}

pub(super) fn rows(lab: &Lab) -> Vec<Row> {
    let report = gatehouse_verify::verify(&lab.predict);
    let mut out = Vec::new();
    let mut add = |who: String,
                   zone: &str,
                   name: &str,
                   transport: Transport,
                   port: u16,
                   path: Option<String>,
                   flow: Option<&Flow>| {
        let Some(z) = lab.translation.zone(zone) else { return };
        let listener = flow.and_then(|f| f.entry.listener.clone());
        let protocol = match (&listener, flow) {
            (Some(l), _) => lab.plan.listener(l).map(|l| l.protocol.value),
            (None, Some(_)) => None,
            (None, None) => lab
                .plan
                .topology
                .listeners
                .iter()
                .find(|l| {
                    l.ports.value.first <= port && port <= l.ports.value.last && l.names.iter().any(|n| n.value == name)
                })
                .map(|l| l.protocol.value)
                .or(Some(if path.is_some() { Protocol::Https } else { Protocol::Tcp })),
        };
        let q = Query {
            src: IpAddr::V4(z.source),
            dst: Destination::Name(name.to_string()),
            transport,
            port,
            host: path.as_ref().map(|_| name.to_string()),
            path: path.clone(),
        };
        let label = match &path {
            Some(p) if p != "/" => format!("{name}:{port} {p}"),
            _ if transport == Transport::Udp => format!("{name}:{port}/udp"),
            _ => format!("{name}:{port}"),
        };
        let (expect, address) = predict(lab, &q, flow);
        out.push(Row {
            who,
            zone: zone.to_string(),
            src: z.source,
            name: name.to_string(),
            transport,
            port,
            path,
            protocol,
            label,
            expect,
            address,
        });
    };
    for f in &report.flows {
        let t = &f.target;
        add(
            f.user_type.clone().unwrap_or_else(|| "-".into()),
            &f.zone,
            &t.name,
            t.transport,
            t.ports.first,
            t.paths.first().cloned(),
            Some(f),
        );
    }
    // Questions no user type declares; their answers are explain's.
    let smtp = super::translate::lab_port(25, lab.translation.port_offset).unwrap_or(25);
    let https = super::translate::lab_port(443, lab.translation.port_offset).unwrap_or(443);
    for zone in ["internet", "partners", "intranet"] {
        add(
            "(smtp)".into(),
            zone,
            "smtp.contoso.com",
            Transport::Tcp,
            smtp,
            None,
            None,
        );
    }
    for zone in ["internet", "partners", "vpn", "directaccess"] {
        add(
            "(admin)".into(),
            zone,
            "admin.contoso.com",
            Transport::Tcp,
            https,
            Some("/".into()),
            None,
        );
    }
    add(
        "(eop)".into(),
        "eop",
        "mail.contoso.com",
        Transport::Tcp,
        https,
        Some("/owa".into()),
        None,
    );
    out
}
