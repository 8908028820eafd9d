//! Runs gatehouse's DNS server alone, for bench/dns/run.sh: loads a
//! topology, serves its views on the given addresses until SIGTERM or
//! SIGINT, then prints the query counters.
//!
//! ```text
//! dns_gatehouse TOPOLOGY.toml LISTEN... [--workers N] [--no-rrl] [--allow-transfer PREFIX]
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_dns::{AllUp, DnsConfig, DnsServer};

fn main() {
    if let Err(e) = run() {
        eprintln!("dns_gatehouse: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: dns_gatehouse TOPOLOGY.toml LISTEN... [--workers N] [--no-rrl]")?;
    let mut listen: Vec<SocketAddr> = Vec::new();
    let mut config = DnsConfig::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--workers" => {
                config.udp_workers = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--workers needs a number")?;
            }
            "--no-rrl" => config.rrl.responses_per_second = 0,
            "--allow-transfer" => config.allow_transfer.push(
                args.next()
                    .and_then(|p| p.parse().ok())
                    .ok_or("--allow-transfer needs a prefix")?,
            ),
            addr => listen.push(addr.parse().map_err(|e| format!("{addr}: {e}"))?),
        }
    }
    if listen.is_empty() {
        return Err("give at least one address to listen on, e.g. 127.0.0.1:5300".into());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let checked = gatehouse_model::check(&text);
    let errors = checked.errors();
    let plan = checked
        .plan
        .ok_or_else(|| format!("{path} has {} error(s); run `gatehouse check {path}`", errors))?;
    let server = DnsServer::start_with(Arc::new(plan), Arc::new(AllUp), &listen, config).map_err(|e| e.to_string())?;
    eprintln!("dns_gatehouse: serving on {:?}", server.local_addrs());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok::<(), std::io::Error>(())
    })
    .map_err(|e| e.to_string())?;
    let stats = server.stats();
    server.shutdown();
    let total: u64 = stats.queries.iter().map(|q| q.count).sum();
    eprintln!(
        "dns_gatehouse: {total} queries answered, {} truncated, {} rate-limited",
        stats.truncated,
        stats.rrl_dropped + stats.rrl_slipped
    );
    Ok(())
}
