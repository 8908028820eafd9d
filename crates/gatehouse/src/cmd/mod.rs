//! One module per subcommand: its arguments and its `main`.

pub mod check;
pub mod describe;
pub mod diagram;
pub mod explain;
pub mod export;
pub mod lab;
pub mod run;
pub mod verify;

use std::path::PathBuf;

/// The topology file argument shared by most subcommands.
#[derive(clap::Args, Clone, Debug)]
pub struct TopologyArg {
    /// The topology file; the built-in Contoso topology when omitted.
    pub file: Option<PathBuf>,
}

/// Prints a command's output, or its error and exit code.
pub fn print_or_fail(result: Result<String, (u8, String)>) -> std::process::ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err((code, message)) => {
            eprint!("{message}");
            std::process::ExitCode::from(code)
        }
    }
}
