//! Runs gatehouse's HTTP proxy alone from a topology file until SIGTERM or
//! SIGINT, for the HTTP benchmark: `gatehouse run` would also start the L4
//! balancer, DNS and health checks, which the benchmark does not exercise.
//!
//! Usage: `http_gatehouse TOPOLOGY.toml`. Connection workers:
//! `GATEHOUSE_THREADS` (default: one per core the process may run on). Logs: `RUST_LOG` (default `warn`, so access
//! lines are not written during a benchmark).

use std::sync::Arc;
use std::time::Duration;

fn main() {
    let path = std::env::args().nth(1).expect("usage: http_gatehouse TOPOLOGY.toml");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,rustls=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let checked = gatehouse_model::check(&text);
    let Some(plan) = checked.plan else {
        for d in &checked.diagnostics {
            eprintln!("{d:?}");
        }
        std::process::exit(1);
    };
    let base = std::path::Path::new(&path)
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_default();
    // The accept loops run here; connections are served by the proxy's
    // own workers, one thread each.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut options = gatehouse_proxy::ProxyOptions::new(base);
        if let Some(n) = std::env::var("GATEHOUSE_THREADS").ok().and_then(|t| t.parse().ok()) {
            options.workers = n;
        }
        let proxy = match gatehouse_proxy::HttpProxy::start_with(Arc::new(plan), options).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        eprintln!("http_gatehouse listening on {:?}", proxy.local_addrs());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        proxy.shutdown(Duration::from_secs(5)).await;
    });
}
