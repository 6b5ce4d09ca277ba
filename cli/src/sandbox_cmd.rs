//! `savedwallet sandbox`: run the Amazon Pay API v2 simulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use savedwallet_sandbox::{Sandbox, CONTROL_API_HELP};

/// Arguments of `savedwallet sandbox`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = CONTROL_API_HELP)]
pub struct SandboxArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8085")]
    listen: SocketAddr,
    /// Register a merchant public key: KEY_ID=PEM_FILE (SubjectPublicKeyInfo PEM). Repeatable.
    #[arg(long = "public-key", value_name = "KEY_ID=PEM_FILE")]
    public_keys: Vec<String>,
    /// Keep state (objects, keys, idempotency keys, clock) in this JSON file across restarts.
    #[arg(long = "state", value_name = "FILE")]
    state: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Turn off Amazon's sandbox throttling quotas (Create Charge: burst 2, 1/s).
    #[arg(long)]
    no_throttling: bool,
    /// Seconds (0 to 86400) until asynchronous authorizations and captures resolve.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    async_delay: i64,
    /// Seconds (0 to 86400) until refunds settle.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=86_400))]
    refund_delay: i64,
    /// Allowed x-amz-pay-date skew, seconds.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(i64).range(0..))]
    max_clock_skew: i64,
    /// Seed of ids and fault injection (deterministic runs).
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

/// Runs the command: serve until Ctrl-C.
pub async fn run(args: SandboxArgs) -> ExitCode {
    let mut builder = Sandbox::builder()
        .throttling(!args.no_throttling)
        .async_delay_secs(args.async_delay)
        .refund_delay_secs(args.refund_delay)
        .max_clock_skew_secs(args.max_clock_skew)
        .seed(args.seed);
    for spec in &args.public_keys {
        let Some((id, file)) = spec.split_once('=') else {
            eprintln!("error: --public-key expects KEY_ID=PEM_FILE, got {spec:?}");
            return ExitCode::from(2);
        };
        match std::fs::read_to_string(file) {
            Ok(pem) => builder = builder.public_key(id, pem),
            Err(e) => {
                eprintln!("error: cannot read public key file {file}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(state) = &args.state {
        builder = builder.state_file(state);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        builder = builder.tls(cert, key);
    }
    let handle = match builder.spawn(args.listen).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: cannot start the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Amazon Pay sandbox listening on {}", handle.base_url());
    println!("API base URL: {}", handle.base_url());
    println!("Control API: {}", handle.control_url());
    println!(
        "Payment-method update link: {}",
        handle.payment_method_update_url("{chargePermissionId}")
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: cannot wait for Ctrl-C: {e}");
    }
    match handle.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
