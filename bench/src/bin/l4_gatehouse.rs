//! Runs gatehouse's L4 runtime over a topology file until SIGTERM or
//! SIGINT: the gatehouse side of bench/l4 until `gatehouse run` wires the
//! runtime in.
//!
//! Usage: l4_gatehouse TOPOLOGY.toml
//!
//! `L4_WORKERS=N` sets the number of Tokio worker threads (default: one
//! per CPU); `RUST_LOG` the log filter (default `warn`).

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: l4_gatehouse TOPOLOGY.toml");
        std::process::exit(2);
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("error: cannot read {path}: {e}");
        std::process::exit(1);
    });
    let checked = gatehouse_model::check(&text);
    let Some(plan) = checked.plan else {
        for d in &checked.diagnostics {
            eprintln!("{d:?}");
        }
        eprintln!("error: {path} has {} error(s)", checked.errors());
        std::process::exit(1);
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("L4_WORKERS").ok().and_then(|n| n.parse().ok()) {
        builder.worker_threads(n);
    }
    let rt = builder.enable_all().build().expect("tokio runtime");
    rt.block_on(async {
        let runtime = match gatehouse_runtime::Runtime::start(Arc::new(plan)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        runtime.shutdown(Duration::from_secs(5)).await;
    });
}
