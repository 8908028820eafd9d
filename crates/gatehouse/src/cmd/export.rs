//! `gatehouse export nftables [FILE] [-o OUT]`: the gateway policy as an
//! nftables ruleset, for the host firewall or the real router.
//!
//! Exit codes: 0 written, 1 invalid topology, 2 unreadable topology or
//! unwritable output. Diagnostics go to stderr so that stdout carries only
//! the ruleset.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::load::load_plan;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub target: Target,
}

#[derive(clap::Subcommand)]
pub enum Target {
    /// One nftables `inet` table: zone sets, the ACL in order with counters,
    /// and a default drop for the listeners' addresses and ports. Load it
    /// with `nft -f`; loading again replaces the table atomically.
    Nftables(Output),
}

#[derive(clap::Args)]
pub struct Output {
    /// The topology file; the built-in Contoso topology when omitted.
    pub file: Option<PathBuf>,
    /// Write here instead of stdout (replaced atomically); `-` is stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    let Target::Nftables(Output { file, output }) = args.target;
    let plan = match load_plan(file.as_deref()) {
        Ok(plan) => plan,
        Err((code, message)) => {
            eprint!("{message}");
            return ExitCode::from(code);
        }
    };
    let ruleset = gatehouse_render::nftables::nftables(&plan);
    let written = match output.as_deref() {
        None => std::io::stdout().write_all(ruleset.as_bytes()),
        Some(p) if p == Path::new("-") => std::io::stdout().write_all(ruleset.as_bytes()),
        Some(p) => write_atomically(p, &ruleset),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let to = output.map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
            eprintln!("error: cannot write {to}: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes beside the target and renames, so a firewall that loads the file
/// never sees half a ruleset.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
