//! `savedwallet pay`: call any Amazon Pay API v2 operation, signed, and print the JSON.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use savedwallet_amazon_pay::{
    new_idempotency_key, AmazonPayClient, AttemptFailure, ClientConfig, Error, Operation, Outcome,
    Pacing, RetryPolicy, SigningAlgorithm,
};
use savedwallet_shared::region::{Environment, Region};
use secrecy::SecretString;

/// Exit code when Amazon Pay answered with an error status (4xx/5xx).
pub const EXIT_API_ERROR: u8 = 1;
/// Exit code for usage or configuration errors (also what clap uses for bad flags).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when Amazon Pay could not be reached or its answer could not be read.
pub const EXIT_TRANSPORT: u8 = 3;

const EXAMPLES: &str = "\
Examples:
  export AMAZON_PAY_REGION=eu AMAZON_PAY_ENV=sandbox
  export AMAZON_PAY_PUBLIC_KEY_ID=SANDBOX-AEXAMPLEKEYID AMAZON_PAY_PRIVATE_KEY_FILE=keys/private.pem
  savedwallet pay get-charge-permission S01-1234567-1234567
  savedwallet pay create-charge --body charge.json --idempotency-key order-0001-attempt-1
  echo '{\"closureReason\":\"buyer cancelled\"}' | savedwallet pay close-charge-permission S01-1234567-1234567 --body -
  savedwallet pay create-charge --body charge.json --simulation-code HardDeclined
  savedwallet pay get-charge S01-1234567-1234567-C000001 --endpoint http://127.0.0.1:8085

Exit codes: 0 success, 1 Amazon Pay error (reasonCode on stderr), 2 usage/config error,
3 timeout, network error or unreadable response. The response JSON goes to stdout;
status lines go to stderr.";

/// Arguments of `savedwallet pay`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct PayArgs {
    #[command(flatten)]
    options: PayOptions,
    #[command(subcommand)]
    operation: PayOperation,
}

/// Connection and signing options shared by every operation.
#[derive(Debug, clap::Args)]
struct PayOptions {
    /// Amazon Pay region: na (us), eu (de, uk) or jp.
    #[arg(long, global = true, env = "AMAZON_PAY_REGION", value_name = "REGION")]
    region: Option<String>,
    /// Environment: sandbox or live (legacy key ids use it for the /sandbox|/live path prefix).
    #[arg(
        long = "env",
        global = true,
        env = "AMAZON_PAY_ENV",
        default_value = "sandbox",
        value_name = "ENV"
    )]
    environment: String,
    /// Public key id from Seller Central (e.g. SANDBOX-AEXAMPLEKEYID).
    #[arg(
        long,
        global = true,
        env = "AMAZON_PAY_PUBLIC_KEY_ID",
        value_name = "ID"
    )]
    public_key_id: Option<String>,
    /// Private key PEM file (PKCS#8 or PKCS#1) matching the public key id.
    #[arg(
        long,
        global = true,
        env = "AMAZON_PAY_PRIVATE_KEY_FILE",
        value_name = "PEM_FILE"
    )]
    private_key: Option<PathBuf>,
    /// Send to this base URL instead of Amazon's host (http or https), e.g. the local sandbox.
    #[arg(long, global = true, env = "AMAZON_PAY_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,
    /// Idempotency key for POST operations (max 32 of A-Z a-z 0-9 - _); default: random.
    /// Reuse a key only to replay a request whose response was lost.
    #[arg(long, global = true, value_name = "KEY")]
    idempotency_key: Option<String>,
    /// Signing algorithm: v2 (AMZN-PAY-RSASSA-PSS-V2, salt 32) or v1 (AMZN-PAY-RSASSA-PSS, salt 20).
    #[arg(
        long,
        global = true,
        env = "AMAZON_PAY_ALGORITHM",
        default_value = "v2",
        value_name = "ALG"
    )]
    algorithm: String,
    /// Sandbox only: force an outcome with x-amz-pay-simulation-code (e.g. HardDeclined).
    #[arg(long, global = true, value_name = "CODE")]
    simulation_code: Option<String>,
    /// Per-attempt request timeout in seconds.
    #[arg(long, global = true, default_value_t = 35, value_name = "SECS")]
    timeout: u64,
    /// Do not retry on 408/425/429/5xx/timeouts (default: up to 3 retries, same idempotency key).
    #[arg(long, global = true)]
    no_retry: bool,
    /// Log each attempt (operation, status, Amazon request id, timing) to stderr;
    /// RUST_LOG overrides the filter.
    #[arg(long, short, global = true)]
    verbose: bool,
}

/// The operation to call (Amazon Pay API v2, Saved Wallet subset).
#[derive(Debug, clap::Subcommand)]
enum PayOperation {
    /// POST /v2/checkoutSessions
    CreateCheckoutSession {
        /// JSON body file, or - for stdin (sent byte-exact).
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// GET /v2/checkoutSessions/{id}
    GetCheckoutSession {
        /// Checkout session id.
        id: String,
    },
    /// PATCH /v2/checkoutSessions/{id}
    UpdateCheckoutSession {
        /// Checkout session id.
        id: String,
        /// JSON body file, or - for stdin (sent byte-exact).
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// POST /v2/checkoutSessions/{id}/complete
    CompleteCheckoutSession {
        /// Checkout session id.
        id: String,
        /// JSON body file, or - for stdin (sent byte-exact); `{}` for setup-only sessions.
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// GET /v2/chargePermissions/{id}
    GetChargePermission {
        /// Charge permission id.
        id: String,
    },
    /// PATCH /v2/chargePermissions/{id}
    UpdateChargePermission {
        /// Charge permission id.
        id: String,
        /// JSON body file, or - for stdin (sent byte-exact).
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// DELETE /v2/chargePermissions/{id}/close
    CloseChargePermission {
        /// Charge permission id.
        id: String,
        /// JSON body file, or - for stdin, e.g. {"closureReason":"...","cancelPendingCharges":true}.
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// POST /v2/charges
    CreateCharge {
        /// JSON body file, or - for stdin (sent byte-exact).
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// GET /v2/charges/{id}
    GetCharge {
        /// Charge id.
        id: String,
    },
    /// POST /v2/charges/{id}/capture
    CaptureCharge {
        /// Charge id.
        id: String,
        /// JSON body file, or - for stdin, e.g. {"captureAmount":{"amount":"14.99","currencyCode":"EUR"}}.
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// DELETE /v2/charges/{id}/cancel
    CancelCharge {
        /// Charge id.
        id: String,
        /// JSON body file, or - for stdin, e.g. {"cancellationReason":"..."}.
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// POST /v2/refunds
    CreateRefund {
        /// JSON body file, or - for stdin (sent byte-exact).
        #[arg(long, value_name = "FILE|-")]
        body: String,
    },
    /// GET /v2/refunds/{id}
    GetRefund {
        /// Refund id.
        id: String,
    },
}

impl PayOperation {
    /// The operation, its path id and its body source.
    fn parts(&self) -> (Operation, Option<&str>, Option<&str>) {
        use PayOperation as P;
        match self {
            P::CreateCheckoutSession { body } => {
                (Operation::CreateCheckoutSession, None, Some(body))
            }
            P::GetCheckoutSession { id } => (Operation::GetCheckoutSession, Some(id), None),
            P::UpdateCheckoutSession { id, body } => {
                (Operation::UpdateCheckoutSession, Some(id), Some(body))
            }
            P::CompleteCheckoutSession { id, body } => {
                (Operation::CompleteCheckoutSession, Some(id), Some(body))
            }
            P::GetChargePermission { id } => (Operation::GetChargePermission, Some(id), None),
            P::UpdateChargePermission { id, body } => {
                (Operation::UpdateChargePermission, Some(id), Some(body))
            }
            P::CloseChargePermission { id, body } => {
                (Operation::CloseChargePermission, Some(id), Some(body))
            }
            P::CreateCharge { body } => (Operation::CreateCharge, None, Some(body)),
            P::GetCharge { id } => (Operation::GetCharge, Some(id), None),
            P::CaptureCharge { id, body } => (Operation::CaptureCharge, Some(id), Some(body)),
            P::CancelCharge { id, body } => (Operation::CancelCharge, Some(id), Some(body)),
            P::CreateRefund { body } => (Operation::CreateRefund, None, Some(body)),
            P::GetRefund { id } => (Operation::GetRefund, Some(id), None),
        }
    }
}

/// A usage/config problem, reported before anything is sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// Runs the command.
pub async fn run(args: PayArgs) -> ExitCode {
    if args.options.verbose {
        init_tracing();
    }
    let (op, id, body_source) = args.operation.parts();
    let prepared = prepare(&args.options, op, body_source);
    let (client, body, key) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match client.call_raw(op, id, body, key.as_deref()).await {
        Ok(resp) => {
            eprintln!(
                "HTTP {} {} (request id {}, attempts {})",
                resp.status,
                op,
                resp.request_id.as_deref().unwrap_or("-"),
                resp.attempts
            );
            match serde_json::to_string_pretty(&resp.body) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: cannot print the response: {e}");
                    ExitCode::from(EXIT_TRANSPORT)
                }
            }
        }
        Err(e) => ExitCode::from(report_error(&e, op, key.as_deref())),
    }
}

/// Prints what went wrong to stderr; returns the exit code.
fn report_error(e: &Error, op: Operation, key: Option<&str>) -> u8 {
    let code = match e {
        Error::Declined {
            status,
            reason_code,
            message,
            request_id,
        }
        | Error::Api {
            status,
            reason_code,
            message,
            request_id,
            ..
        }
        | Error::Unanswered {
            last:
                Some(AttemptFailure::Status {
                    status,
                    reason_code,
                    message,
                    request_id,
                    ..
                }),
            ..
        } => {
            eprintln!("{reason_code}: {message}");
            eprintln!(
                "(HTTP {status}, {op}, request id {})",
                request_id.as_deref().unwrap_or("-")
            );
            EXIT_API_ERROR
        }
        Error::InvalidRequest(_) | Error::Config(_) | Error::InvalidKey(_) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
        _ => {
            eprintln!("error: {e}");
            EXIT_TRANSPORT
        }
    };
    if e.outcome() == Outcome::Unknown {
        if let Some(k) = key {
            eprintln!(
                "the outcome is unknown: Amazon may have acted. Resend with --idempotency-key {k} \
                 and the same body to learn it (never with a new key)."
            );
        }
    }
    code
}

type Prepared = (AmazonPayClient, Option<Vec<u8>>, Option<String>);

/// Validates options, loads the key and the body; nothing is sent yet.
fn prepare(
    o: &PayOptions,
    op: Operation,
    body_source: Option<&str>,
) -> Result<Prepared, UsageError> {
    let region: Region = o
        .region
        .as_deref()
        .ok_or_else(|| UsageError("--region (or AMAZON_PAY_REGION) is required".into()))?
        .parse()
        .map_err(|e| UsageError(format!("{e}")))?;
    let environment: Environment = o
        .environment
        .parse()
        .map_err(|e| UsageError(format!("--env: {e}")))?;
    let public_key_id = o.public_key_id.clone().ok_or_else(|| {
        UsageError("--public-key-id (or AMAZON_PAY_PUBLIC_KEY_ID) is required".into())
    })?;
    let key_path = o.private_key.as_ref().ok_or_else(|| {
        UsageError("--private-key (or AMAZON_PAY_PRIVATE_KEY_FILE) is required".into())
    })?;
    let pem = std::fs::read_to_string(key_path).map_err(|e| {
        UsageError(format!(
            "cannot read the private key {}: {e}",
            key_path.display()
        ))
    })?;
    let algorithm: SigningAlgorithm = o.algorithm.parse().map_err(|_| {
        UsageError(format!(
            "--algorithm must be v1 or v2, got {:?}",
            o.algorithm
        ))
    })?;
    let mut config = ClientConfig::new(region, environment, public_key_id, SecretString::from(pem));
    config.algorithm = algorithm;
    config.endpoint = match &o.endpoint {
        Some(e) => {
            Some(url::Url::parse(e).map_err(|err| UsageError(format!("--endpoint {e:?}: {err}")))?)
        }
        None => None,
    };
    if o.timeout == 0 {
        return Err(UsageError("--timeout must be at least 1 second".into()));
    }
    config.request_timeout = Duration::from_secs(o.timeout);
    // One call from a terminal never approaches Amazon's quotas.
    config.pacing = Pacing::Off;
    if o.no_retry {
        config.retry = RetryPolicy::none();
    }
    let mut client = AmazonPayClient::new(config).map_err(|e| UsageError(e.to_string()))?;
    if let Some(code) = &o.simulation_code {
        client = client
            .with_simulation_code(code.clone())
            .map_err(|e| UsageError(e.to_string()))?;
    }
    let body = match body_source {
        Some(src) => Some(read_body(src)?),
        None => None,
    };
    let key = if op.takes_idempotency_key() {
        let key = o
            .idempotency_key
            .clone()
            .unwrap_or_else(new_idempotency_key);
        savedwallet_amazon_pay::validate_idempotency_key(&key)
            .map_err(|e| UsageError(e.to_string()))?;
        eprintln!("idempotency key: {key}");
        Some(key)
    } else {
        if o.idempotency_key.is_some() {
            eprintln!(
                "note: --idempotency-key is ignored for {op} (Amazon Pay only uses it on POST)"
            );
        }
        None
    };
    Ok((client, body, key))
}

/// Reads a body from a file or stdin (`-`); checks it is JSON but sends it unchanged.
fn read_body(src: &str) -> Result<Vec<u8>, UsageError> {
    let bytes = if src == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| UsageError(format!("cannot read the body from stdin: {e}")))?;
        buf
    } else {
        std::fs::read(src)
            .map_err(|e| UsageError(format!("cannot read the body file {src}: {e}")))?
    };
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .map_err(|e| UsageError(format!("the body is not valid JSON: {e}")))?;
    Ok(bytes)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("savedwallet_amazon_pay=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
