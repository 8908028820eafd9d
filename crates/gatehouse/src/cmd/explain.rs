//! `gatehouse explain <src-ip> <dst> <proto/port> [--host NAME --path P]`:
//! which zone, ACL rule, listener, route, auth policy and pool decide one
//! flow, and why.
//!
//! Exit codes: 0 the flow gets through (allowed, answered in DNS, or
//! redirected to HTTPS), 1 it is denied, 2 the topology is unreadable or
//! invalid.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use gatehouse_model::topology::Transport;
use gatehouse_verify::explain::{self, Destination, Explanation, Query, Verdict};

use crate::load::load_plan;

#[derive(clap::Args)]
pub struct Args {
    /// The client's source address (IPv4 or IPv6).
    pub src: IpAddr,
    /// Where it connects: an address, or a published name resolved through
    /// the client's DNS view (split DNS).
    #[arg(value_parser = Destination::parse)]
    pub dst: Destination,
    /// The protocol and port: tcp/443, udp/3478 (a bare port means tcp).
    #[arg(value_name = "PROTO/PORT", value_parser = explain::parse_proto_port)]
    pub proto_port: (Transport, u16),
    /// The HTTP Host and TLS SNI; defaults to the destination name.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The HTTP path; defaults to /.
    #[arg(long, value_name = "P")]
    pub path: Option<String>,
    /// The topology file; the built-in Contoso topology when omitted.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl Args {
    fn query(&self) -> Query {
        Query {
            src: self.src,
            dst: self.dst.clone(),
            transport: self.proto_port.0,
            port: self.proto_port.1,
            host: self.host.clone(),
            path: self.path.clone(),
        }
    }
}

pub fn main(args: Args) -> ExitCode {
    let plan = match load_plan(args.config.as_deref()) {
        Ok(plan) => plan,
        // Exit code 1 means "denied" here, so an unusable topology is 2.
        Err((_, message)) => {
            eprint!("{message}");
            return ExitCode::from(2);
        }
    };
    let x = explain::explain(&plan, &args.query());
    match args.format {
        Format::Text => print!("{x}"),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json(&x)).expect("JSON of plain values")
        ),
    }
    if x.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn json(x: &Explanation) -> serde_json::Value {
    let verdict = match &x.verdict {
        Verdict::Allowed => serde_json::json!({ "outcome": "allowed" }),
        Verdict::DnsOnly => serde_json::json!({ "outcome": "dns-only" }),
        Verdict::Redirected { location } => serde_json::json!({ "outcome": "redirected", "location": location }),
        Verdict::Denied { phase, effect } => serde_json::json!({
            "outcome": "denied",
            "phase": phase.keyword(),
            "effect": effect.keyword(),
        }),
    };
    serde_json::json!({
        "src": x.query.src.to_string(),
        "dst": x.query.dst.to_string(),
        "protocol": x.query.transport.keyword(),
        "port": x.query.port,
        "zone": x.zone,
        "address": x.address.map(|a| a.to_string()),
        "acl_rule": x.acl_rule,
        "listener": x.listener,
        "route": x.route,
        "pool": x.pool,
        "verdict": verdict,
        "because": x.because,
        "steps": x.steps.iter().map(|s| serde_json::json!({
            "phase": s.phase.keyword(),
            "summary": s.summary,
            "details": s.details,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("explain").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn arguments_become_a_query_with_a_name_destination_and_http_options() {
        let args = parse(&[
            "10.200.7.7",
            "Mail.Contoso.com.",
            "tcp/443",
            "--host",
            "mail.contoso.com",
            "--path",
            "/OWA/",
        ])
        .unwrap();
        let q = args.query();
        assert_eq!(q.src, "10.200.7.7".parse::<IpAddr>().unwrap());
        assert_eq!(q.dst, Destination::Name("mail.contoso.com".into()));
        assert_eq!((q.transport, q.port), (Transport::Tcp, 443));
        assert_eq!(q.path.as_deref(), Some("/OWA/"));
    }

    #[test]
    fn bad_protocols_ports_and_destinations_are_usage_errors() {
        assert!(parse(&["192.0.2.1", "203.0.113.25", "icmp/25"]).is_err());
        assert!(parse(&["192.0.2.1", "203.0.113.25", "tcp/0"]).is_err());
        assert!(parse(&["192.0.2.1", "not a name!", "tcp/25"]).is_err());
        assert!(parse(&["nonsense", "203.0.113.25", "25"]).is_err());
        let udp = parse(&["192.0.2.1", "2001:db8::1", "udp/3478"]).unwrap();
        assert_eq!(udp.proto_port, (Transport::Udp, 3478));
    }

    #[test]
    fn json_names_the_deciding_rule_and_the_denying_phase() {
        let plan = gatehouse_model::check(gatehouse_model::CONTOSO).plan.unwrap();
        let args = parse(&["192.0.2.99", "203.0.113.25", "tcp/25"]).unwrap();
        let v = json(&explain::explain(&plan, &args.query()));
        assert_eq!(v["zone"], "internet");
        assert_eq!(v["acl_rule"], serde_json::Value::Null);
        assert_eq!(v["verdict"]["outcome"], "denied");
        assert_eq!(v["verdict"]["phase"], "gateway");
        assert_eq!(v["verdict"]["effect"], "closed");
        assert_eq!(v["steps"][1]["phase"], "gateway");
    }
}
