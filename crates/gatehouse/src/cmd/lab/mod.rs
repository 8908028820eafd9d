//! `gatehouse lab`: the built-in Contoso topology (or any topology) on
//! loopback, without root: the same plan compiler and `Services` as
//! `gatehouse run`, after a translation of addresses (translate.rs), with
//! a lab CA (certs.rs) and in-process demo backends for every member
//! (backends.rs). `--drive` then runs a scripted day of every user type
//! and compares it with what `verify --flows` predicts (drive.rs).

mod backends;
mod certs;
mod directory;
mod drive;
mod manifest;
mod ntlm;
mod predict;
mod probes;
mod translate;
mod web;
mod wire;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::signal::unix::{signal, SignalKind};

use crate::services::Services;

#[derive(clap::Args)]
pub struct Args {
    /// The topology file; the built-in Contoso topology when omitted.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Write a JSON description of everything the lab started (docs/lab.md).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Run a scripted day of every user type, compare it with `verify
    /// --flows`, print the table, stop, and exit 0 (all rows match) or 1.
    #[arg(long)]
    pub drive: bool,
    /// Added to every port below 1024 (443 → 8443); 8000 unless root, 0 as root.
    #[arg(long)]
    pub port_offset: Option<u16>,
    /// Where the CA, certificates and translated topology go; a new
    /// temporary directory (removed at exit) when omitted.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// With --drive: predict from this topology instead of the one running
    /// (translated the same way). A broken copy run against the original's
    /// prediction shows that a mismatch is caught.
    #[arg(long)]
    pub predict_from: Option<PathBuf>,
    /// How long an ActiveSync Ping holds its answer.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub ping_hold: Duration,
    /// Log filter for gatehouse's own log on standard error.
    #[arg(long, default_value = "warn")]
    pub log_level: String,
    /// Threads serving web clients.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_workers: u16,
}

/// Everything the lab started, as the manifest and the drive see it.
pub struct Lab {
    pub plan: Arc<gatehouse_model::Plan>,
    /// The plan the drive's predictions come from (`plan` unless --predict-from).
    pub predict: Arc<gatehouse_model::Plan>,
    pub translation: translate::Translation,
    pub members: Vec<backends::Member>,
    pub ca_path: PathBuf,
    pub topology_path: PathBuf,
    pub client_tls: Arc<rustls::ClientConfig>,
    pub ping_hold: Duration,
}

pub fn main(args: Args) -> ExitCode {
    let started = Instant::now();
    crate::cmd::run::init_logging(crate::cmd::run::LogFormat::Text, &args.log_level);
    let (state_dir, temporary) = match &args.state_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("gatehouse-lab-{}", std::process::id())),
            true,
        ),
    };
    let code = match std::fs::create_dir_all(&state_dir) {
        Ok(()) => run(&args, &state_dir, started),
        Err(e) => {
            eprintln!("lab: cannot create {}: {e}", state_dir.display());
            ExitCode::from(1)
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    code
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("lab: {message}");
    ExitCode::from(1)
}

fn run(args: &Args, state_dir: &Path, started: Instant) -> ExitCode {
    let loaded = match crate::load::load(args.config.as_deref()) {
        Ok(l) => l,
        Err(crate::load::Unreadable(why)) => return fail(why),
    };
    let Some(original) = gatehouse_model::check(&loaded.text).plan else {
        return fail(format!("{} is invalid; `gatehouse check` says why", loaded.name));
    };
    let root = unsafe_geteuid() == 0;
    let port_offset = args.port_offset.unwrap_or(if root { 0 } else { 8000 });
    let certificates: Vec<(String, Vec<String>)> = original
        .topology
        .certificates
        .iter()
        .map(|c| (c.name.value.clone(), c.names.iter().map(|n| n.value.clone()).collect()))
        .collect();
    // The backends answer for every name a client may send them (SIP and
    // media names reach the Edge members through L4 VIPs, with their SNI).
    let mut backend_names: Vec<String> = certificates.iter().flat_map(|(_, n)| n.clone()).collect();
    for l in &original.topology.listeners {
        backend_names.extend(l.names.iter().map(|n| n.value.clone()));
    }
    backend_names.sort();
    backend_names.dedup();
    let ca = match certs::generate(state_dir, &certificates, &backend_names) {
        Ok(ca) => ca,
        Err(e) => return fail(e),
    };
    let options = translate::Options {
        port_offset,
        certificates: ca.files.clone(),
    };
    let translation = match translate::translate(&loaded.text, &options) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot translate {} for loopback: {e}", loaded.name)),
    };
    let topology_path = state_dir.join("topology.toml");
    if let Err(e) = std::fs::write(&topology_path, &translation.text) {
        return fail(format!("cannot write {}: {e}", topology_path.display()));
    }
    let checked = gatehouse_model::check(&translation.text);
    let Some(plan) = checked.plan else {
        let source = gatehouse_model::Source::new("lab topology", &translation.text);
        return fail(crate::cmd::check::text_report(&checked, &source, false));
    };
    let plan = Arc::new(plan);
    let predict = match &args.predict_from {
        None => plan.clone(),
        Some(path) => {
            let text = match crate::load::load(Some(path)) {
                Ok(l) => l.text,
                Err(crate::load::Unreadable(why)) => return fail(why),
            };
            let translated = match translate::translate(&text, &options) {
                Ok(t) => t,
                Err(e) => return fail(format!("cannot translate {}: {e}", path.display())),
            };
            match gatehouse_model::check(&translated.text).plan {
                Some(p) => Arc::new(p),
                None => return fail(format!("{} is invalid", path.display())),
            }
        }
    };
    let client_tls = match certs::client_config(&ca) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
            return fail("cannot install signal handlers");
        };
        if let Err(e) = probes::preflight_ports(&translation) {
            return fail(e);
        }
        let members = backends::inventory(&plan);
        let backends = match backends::start(members.clone(), &plan, &ca, args.ping_hold, port_offset) {
            Ok(b) => b,
            Err(e) => return fail(e),
        };
        let services = match Services::start(
            plan.clone(),
            state_dir.to_path_buf(),
            Some(usize::from(args.http_workers)),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                backends.shutdown().await;
                return fail(format!("gatehouse could not start; nothing is left running: {e}"));
            }
        };
        let lab = Lab {
            plan: plan.clone(),
            predict,
            translation,
            members,
            ca_path: ca.ca_path.clone(),
            topology_path,
            client_tls,
            ping_hold: args.ping_hold,
        };
        let mut code = ExitCode::SUCCESS;
        if let Some(path) = &args.manifest {
            if let Err(e) = manifest::write(&lab, path) {
                code = fail(e);
            }
        }
        let ready = started.elapsed();
        if code == ExitCode::SUCCESS {
            print!("{}", manifest::banner(&lab, ready));
            if args.drive {
                let ok = tokio::select! {
                    ok = drive::run(&lab) => ok,
                    _ = int.recv() => { println!("interrupted"); false }
                    _ = term.recv() => { println!("terminated"); false }
                };
                code = if ok { ExitCode::SUCCESS } else { ExitCode::from(1) };
            } else {
                println!("Ctrl-C stops the lab.");
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
        }
        services.shutdown(Duration::from_millis(500)).await;
        backends.shutdown().await;
        println!("lab stopped");
        code
    })
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
