//! `savedwallet sandbox_cmd` (work in progress).

use std::process::ExitCode;

/// Arguments of `savedwallet sandbox`.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {}

/// Runs the command.
pub async fn run(_args: SandboxArgs) -> ExitCode {
    eprintln!("not built yet");
    ExitCode::FAILURE
}
