//! `gatehouse explain`: not implemented yet.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn main(_args: Args) -> ExitCode {
    eprintln!("error: `gatehouse explain` is not implemented yet");
    ExitCode::from(2)
}
