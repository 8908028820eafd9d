//! gatehouse: the gateway router, load balancer, reverse proxy and split
//! DNS of a collaboration network, driven by one topology file.

mod cmd;
mod load;
mod services;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "One topology file in; gateway, load balancer, reverse proxy and split DNS out."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a topology file and report every problem at once.
    ///
    /// Exit codes: 0 valid (warnings allowed), 1 invalid, 2 unreadable.
    Check(cmd::check::Args),
    /// Load and validate the topology, then run what its plan holds until
    /// SIGINT or SIGTERM. SIGHUP reloads the file; a bad file keeps the old plan.
    Run(cmd::run::Args),
    /// Check every user type's path through the network against what it is
    /// declared to reach, and report findings from the reference guidance.
    Verify(cmd::verify::Args),
    /// Draw the network as SVG or Graphviz DOT.
    Diagram(cmd::diagram::Args),
    /// Write the accessible text description of the network (en, es, fr).
    Describe(cmd::describe::Args),
    /// Export the gateway policy for another enforcer (nftables).
    Export(cmd::export::Args),
    /// Explain which zone, rule and route decide one flow, and why.
    Explain(cmd::explain::Args),
    /// Start the topology (the built-in Contoso one by default) on loopback
    /// with demo backends for every member; `--drive` checks every user
    /// type's path against `verify --flows` and stops.
    Lab(cmd::lab::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(args) => cmd::check::main(args),
        Command::Run(args) => cmd::run::main(args),
        Command::Verify(args) => cmd::verify::main(args),
        Command::Diagram(args) => cmd::diagram::main(args),
        Command::Describe(args) => cmd::describe::main(args),
        Command::Export(args) => cmd::export::main(args),
        Command::Explain(args) => cmd::explain::main(args),
        Command::Lab(args) => cmd::lab::main(args),
    }
}
