//! `savedwallet keys` (work in progress).

use std::process::ExitCode;

/// Arguments of `savedwallet keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {}

/// Runs the command.
pub async fn run(_args: KeysArgs) -> ExitCode {
    eprintln!("not built yet");
    ExitCode::FAILURE
}
