//! gatehouse: the gateway router, load balancer, TLS reverse proxy and split
//! DNS of a collaboration network, driven by one topology file.

mod check;
mod load;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "One topology file in; gateway, load balancer, reverse proxy and split DNS out.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a topology file and report every problem at once.
    ///
    /// Exit codes: 0 valid (warnings allowed), 1 invalid, 2 unreadable.
    Check {
        /// The topology file; the built-in Contoso topology when omitted.
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Colour the text output.
        #[arg(long, value_enum, default_value_t = Colour::Auto)]
        color: Colour,
    },
    /// Load and validate the topology, then run what its plan holds until
    /// SIGINT or SIGTERM. SIGHUP reloads the file; a bad file keeps the old plan.
    Run {
        /// The topology file; the built-in Contoso topology when omitted.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log line format.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Log filter, in tracing's syntax (`info`, `gatehouse=debug`). RUST_LOG wins when set.
        #[arg(long, default_value = "info")]
        log_level: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { file, format, color } => check::main(file.as_deref(), format, color),
        Command::Run { config, log_format, log_level } => run::main(config, log_format, &log_level),
    }
}
