//! `savedwallet pay` (work in progress).

use std::process::ExitCode;

/// Arguments of `savedwallet pay`.
#[derive(Debug, clap::Args)]
pub struct PayArgs {}

/// Runs the command.
pub async fn run(_args: PayArgs) -> ExitCode {
    eprintln!("not built yet");
    ExitCode::FAILURE
}
