//! `savedwallet sandbox`: run the Amazon Pay API v2 simulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use savedwallet_sandbox::ipn::SignatureVersion;
use savedwallet_sandbox::{
    ConversionFields, HardDeclineEffect, Knobs, MfaFailureEffect, MfaRegions,
    MissingChargeInitiator, QuotaClock, Sandbox, CONTROL_API_HELP,
};
use savedwallet_shared::api::Operation;

/// One `--quota OP=BURST/PER_SECOND` value.
#[derive(Debug, Clone, PartialEq)]
struct QuotaSpec {
    op: Operation,
    burst: u32,
    per_second: f64,
}

fn parse_quota(s: &str) -> Result<QuotaSpec, String> {
    let bad =
        || format!("expected OPERATION=BURST/PER_SECOND (e.g. create-charge=100/40), got {s:?}");
    let (op, numbers) = s.split_once('=').ok_or_else(bad)?;
    let (burst, rate) = numbers.split_once('/').ok_or_else(bad)?;
    let op: Operation = op.trim().parse().map_err(|e| format!("{e}"))?;
    Ok(QuotaSpec {
        op,
        burst: burst.trim().parse().map_err(|_| bad())?,
        per_second: rate.trim().parse().map_err(|_| bad())?,
    })
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a probability from 0 to 1, got {s:?}")),
    }
}

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
    /// Turn off Amazon's throttling quotas (sandbox Create Charge: burst 2, 1/s).
    #[arg(long)]
    no_throttling: bool,
    /// Multiply Amazon's burst and restore rates (e.g. 10 for live Create Charge 100, 40/s).
    #[arg(long, default_value_t = 1.0)]
    quota_scale: f64,
    /// Explicit quota for one operation: OPERATION=BURST/PER_SECOND. Repeatable.
    #[arg(long = "quota", value_name = "OP=BURST/PER_SECOND", value_parser = parse_quota)]
    quotas: Vec<QuotaSpec>,
    /// Which clock refills the quotas: simulated (jumps refill) or wall (real-time benchmarks).
    #[arg(long, default_value = "simulated", value_name = "simulated|wall")]
    quota_clock: QuotaClock,
    /// Freeze the simulated clock at start: it then moves only by clock advances.
    #[arg(long)]
    freeze_clock: bool,
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
    /// What HardDeclined does to the permission: non-chargeable (at once) or stays-chargeable.
    #[arg(long, default_value = "non-chargeable", value_name = "EFFECT")]
    hard_decline: HardDeclineEffect,
    /// What a failed MFA challenge does: non-chargeable (MFAFailed) or stays-chargeable.
    #[arg(long, default_value = "non-chargeable", value_name = "EFFECT")]
    mfa_failure: MfaFailureEffect,
    /// A Saved Wallet charge without chargeInitiator: reject (400) or treat-as-citu.
    #[arg(long, default_value = "reject", value_name = "MODE")]
    missing_charge_initiator: MissingChargeInitiator,
    /// Whose CIT charges get MFA: eu-uk (Amazon's page) or all-regions.
    #[arg(long, default_value = "eu-uk", value_name = "SCOPE")]
    mfa_regions: MfaRegions,
    /// convertedAmount / conversionRate: strings ("14.00", "1.00") or null.
    #[arg(long, default_value = "strings", value_name = "FORM")]
    conversion_fields: ConversionFields,
    /// HTTP status of CheckoutSessionCanceled: 422 or 400.
    #[arg(long, default_value_t = 422)]
    checkout_session_canceled_status: u16,
    /// Delay of a canHandlePendingAuthorization:false Create Charge answer, ms (0 to 30000;
    /// capped at 15000 outside JP).
    #[arg(long, default_value_t = 0)]
    sync_latency_ms: u64,
    /// SNS SignatureVersion of IPN endpoints registered without one: 1 or 2.
    #[arg(long, default_value = "1", value_name = "1|2")]
    ipn_signature_version: SignatureVersion,
    /// Probability (0 to 1) that an IPN is delivered twice.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    ipn_duplicate_rate: f64,
    /// Probability (0 to 1) that an IPN is held back and sent after the next one.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    ipn_reorder_rate: f64,
    /// Longest hold of a reordered IPN, ms.
    #[arg(long, default_value_t = 2_000)]
    ipn_reorder_max_hold_ms: u64,
}

impl SandboxArgs {
    fn knobs(&self) -> Knobs {
        Knobs {
            hard_decline: self.hard_decline,
            mfa_failure: self.mfa_failure,
            missing_charge_initiator: self.missing_charge_initiator,
            mfa_regions: self.mfa_regions,
            conversion_fields: self.conversion_fields,
            checkout_session_canceled_status: self.checkout_session_canceled_status,
            sync_latency_ms: self.sync_latency_ms,
        }
    }
}

/// Runs the command: serve until Ctrl-C.
pub async fn run(args: SandboxArgs) -> ExitCode {
    let (version, duplicates, reorder) = (
        args.ipn_signature_version,
        args.ipn_duplicate_rate,
        args.ipn_reorder_rate,
    );
    let hold = Duration::from_millis(args.ipn_reorder_max_hold_ms);
    let mut builder = Sandbox::builder()
        .throttling(!args.no_throttling)
        .quota_scale(args.quota_scale)
        .quota_clock(args.quota_clock)
        .knobs(args.knobs())
        .async_delay_secs(args.async_delay)
        .refund_delay_secs(args.refund_delay)
        .max_clock_skew_secs(args.max_clock_skew)
        .seed(args.seed)
        .ipn_config(move |c| {
            c.signature_version = version;
            c.duplicate_rate = duplicates;
            c.reorder_rate = reorder;
            c.reorder_max_hold = hold;
        });
    for q in &args.quotas {
        builder = builder.quota(q.op, q.burst, q.per_second);
    }
    if args.freeze_clock {
        builder = builder.freeze_clock();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_specs_parse() {
        assert_eq!(
            parse_quota("create-charge=100/40"),
            Ok(QuotaSpec {
                op: Operation::CreateCharge,
                burst: 100,
                per_second: 40.0
            })
        );
        for bad in [
            "create-charge",
            "create-charge=100",
            "nope=1/1",
            "get-charge=x/1",
        ] {
            assert!(parse_quota(bad).is_err(), "{bad}");
        }
        assert!(parse_rate("1.5").is_err() && parse_rate("0.25") == Ok(0.25));
    }
}
