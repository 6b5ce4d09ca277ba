//! `savedwallet`: the operator's command line — the whole local stack, call Amazon Pay by
//! hand, run the sandbox simulator alone, make signing keys.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod keys;
mod local_cmd;
mod pay;
mod sandbox_cmd;
mod simulate_cmd;

/// savedwallet — an Amazon Pay Saved Wallet backend.
#[derive(Debug, Parser)]
#[command(name = "savedwallet", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole stack locally: API, IPN endpoint, sandbox simulator, store, jobs.
    Local(local_cmd::LocalArgs),
    /// Call any Amazon Pay API v2 operation (signed) and print the response JSON.
    Pay(pay::PayArgs),
    /// Manage signing keys.
    Keys(keys::KeysArgs),
    /// Run the Amazon Pay sandbox simulator.
    Sandbox(sandbox_cmd::SandboxArgs),
    /// Months of recurring billing against the sandbox, with faults, then the invariant check.
    Simulate(simulate_cmd::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Local(args) => local_cmd::run(args).await,
            Command::Pay(args) => pay::run(args).await,
            Command::Keys(args) => keys::run(args).await,
            Command::Sandbox(args) => sandbox_cmd::run(args).await,
            Command::Simulate(args) => simulate_cmd::run(args).await,
        }
    })
}
