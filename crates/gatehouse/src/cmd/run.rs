//! `gatehouse run`: load, validate, start what the plan holds (the L4 VIPs,
//! pools and health checks, and the DNS server), and stay up until told to
//! stop. SIGHUP reloads: a new plan is built to the side and swapped in only
//! when it is valid and every part can take it, so a bad file never takes
//! the old one down. SIGTERM drains open connections before exiting.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_model::{Plan, Source};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{error, info, warn};

use crate::load::{load, Unreadable};
use crate::services::Services;

#[derive(clap::Args)]
pub struct Args {
    /// The topology file; the built-in Contoso topology when omitted.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, in tracing's syntax (`info`, `gatehouse=debug`). RUST_LOG wins when set.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// On SIGTERM or SIGINT, how long open connections may take to finish
    /// before they are closed.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// Threads serving web clients, each with its own event loop (HAProxy's
    /// `nbthread`, nginx's `worker_processes`); one per core when omitted.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_workers: Option<u16>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn main(args: Args) -> ExitCode {
    let Args {
        config,
        log_format,
        log_level,
        drain_timeout,
        http_workers,
    } = args;
    init_logging(log_format, &log_level);
    let plan = match compile(config.as_deref()) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(serve(
        config,
        Arc::new(plan),
        drain_timeout,
        http_workers.map(usize::from),
    ))
}

pub(crate) fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal; logs collected from a pipe stay plain.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Loads and validates the topology; diagnostics go to the log.
fn compile(config: Option<&std::path::Path>) -> Result<Plan, ExitCode> {
    let loaded = load(config).map_err(|Unreadable(why)| {
        error!("{why}");
        ExitCode::from(2)
    })?;
    let checked = gatehouse_model::check(&loaded.text);
    let source = Source::new(&loaded.name, &loaded.text);
    for d in &checked.diagnostics {
        let text = d.render(&source, false);
        if d.is_error() {
            error!(code = d.code, "{text}");
        } else {
            warn!(code = d.code, "{text}");
        }
    }
    match checked.plan {
        Some(plan) => {
            let t = &plan.topology;
            info!(
                topology = %loaded.name,
                zones = t.zones.len(),
                listeners = t.listeners.len(),
                pools = t.pools.len(),
                routes = t.routes.len(),
                "plan compiled"
            );
            Ok(plan)
        }
        None => {
            error!(topology = %loaded.name, errors = checked.errors(), "topology is invalid");
            Err(ExitCode::from(1))
        }
    }
}

async fn serve(config: Option<PathBuf>, plan: Arc<Plan>, drain: Duration, http_workers: Option<usize>) -> ExitCode {
    let (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut usr1)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
    ) else {
        error!("cannot install signal handlers");
        return ExitCode::from(1);
    };
    // Certificate and key paths are relative to the topology file.
    let base_dir = match &config {
        Some(path) => path.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let services = match Services::start(plan.clone(), base_dir, http_workers).await {
        Ok(s) => s,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(1);
        }
    };
    let mut current = plan;
    info!(
        pid = std::process::id(),
        "gatehouse running; SIGHUP reloads, SIGUSR1 logs the ACL counters, SIGTERM or SIGINT stops"
    );
    loop {
        tokio::select! {
            _ = term.recv() => { info!(signal = "SIGTERM", "shutting down"); break; }
            _ = int.recv() => { info!(signal = "SIGINT", "shutting down"); break; }
            _ = usr1.recv() => log_acl_hits(&current, &services),
            _ = hup.recv() => {
                if config.is_none() {
                    info!("reload requested; the built-in topology does not change");
                    continue;
                }
                let Ok(next) = compile(config.as_deref()) else {
                    warn!("reload failed; the previous plan stays in service");
                    continue;
                };
                let next = Arc::new(next);
                match services.reload(next.clone()).await {
                    Ok(()) => { current = next; info!("reloaded: new plan in service"); }
                    Err(e) => warn!("reload failed; the previous plan stays in service: {e}"),
                }
            }
        }
    }
    log_acl_hits(&current, &services);
    services.shutdown(drain).await;
    info!("stopped");
    ExitCode::SUCCESS
}

/// One log line per ACL rule with its hits since the plan went into service.
fn log_acl_hits(plan: &Plan, services: &Services) {
    let hits = services.acl_hits();
    for (i, n) in hits.iter().enumerate() {
        let rule = plan.acl.rules().get(i).map_or("implicit-deny", |r| r.name.as_str());
        info!(rule, hits = n, "acl counter");
    }
}
