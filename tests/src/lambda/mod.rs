//! What every run of the real Lambda bootstrap binaries stands on (the tests in
//! `tests/tests/lambda` and the `lambda-bench` benchmark): the binaries built by
//! `scripts/build-lambda-bins`, one moto per process (DynamoDB, SQS, Secrets Manager,
//! EventBridge, [`moto`]), and per test a [`Deployment`]: a fresh table, key secret,
//! billing queue, event bus with a rule delivering to a queue the test reads, and a sandbox
//! simulator whose merchant key the secret holds ([`deployment`]); the events the functions
//! are invoked with ([`events`]) and the buyer's flows through them ([`flows`]); what the
//! benchmark reads off processes and zips ([`measure`]).
//!
//! The target directory is found from the running executable (an integration test in
//! `<target>/<profile>/deps/`, a bin in `<target>/<profile>/`): see [`target_dir`].

pub mod deployment;
pub mod events;
pub mod flows;
pub mod measure;
pub mod moto;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use savedwallet_shared::region::Region;

pub use deployment::Deployment;
pub use events::{
    api_event, api_event_raw, call, expect_failure, run_job, scheduler_event, sqs_event, ApiReply,
    Caller,
};
pub use flows::{admin_order, buyer_get, daily_plan, save_wallet, subscribe_in_the_past, Api};
pub use moto::{aws_config, moto_endpoint};

/// The nine functions, as `scripts/build-lambda-bins` names its copies of the one binary
/// (a copy named after a function runs that function).
pub const FUNCTIONS: [&str; 9] = savedwallet_functions::lambda::Function::NAMES;

/// The key id the sandbox knows the merchant's key by.
pub const KEY_ID: &str = "SANDBOX-LAMBDABINARYTESTKEY0001";
/// The sandbox's merchant id (written into its IPNs).
pub const MERCHANT_ID: &str = "A2SANDBOXMERCHANT";
/// Checkout sessions' store id.
pub const STORE_ID: &str = "amzn1.application-oa2-client.savedwalletlambdatest";
/// The merchant's frontend (return URLs must be https in a Lambda configuration).
pub const SHOP: &str = "https://shop.example";
/// The Amazon Pay region of the deployment (charges in EUR).
pub const REGION: Region = Region::Eu;

/// The workspace's root directory (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The target directory the running executable was built into: the nearest ancestor of
/// `current_exe()` holding cargo's `CACHEDIR.TAG` (for an integration test that is the
/// parent of its `CARGO_TARGET_TMPDIR`; above `<target>/<triple>/`, also tagged); without one, the directory above the profile's
/// (`<target>/<profile>/deps/x` or `<target>/<profile>/x`).
pub fn target_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the path of the running executable");
        let tagged = |d: &Path| d.join("CACHEDIR.TAG").is_file();
        if let Some(dir) = exe.ancestors().skip(1).find(|d| tagged(d)) {
            // `<target>/<triple>/` of a cross build is tagged too: the target dir is above.
            return match dir.parent() {
                Some(up) if tagged(up) => up.to_path_buf(),
                _ => dir.to_path_buf(),
            };
        }
        let profile = exe.parent().expect("the executable's directory");
        let profile = if profile.ends_with("deps") {
            profile.parent().expect("the profile directory")
        } else {
            profile
        };
        profile
            .parent()
            .expect("the target directory")
            .to_path_buf()
    })
    .clone()
}

/// `<target dir>/lambda-bins` of the build the running executable belongs to (see
/// [`target_dir`]), or `SAVEDWALLET_LAMBDA_BINS`.
pub fn bins_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SAVEDWALLET_LAMBDA_BINS") {
        return PathBuf::from(dir);
    }
    target_dir().join("lambda-bins")
}

const HOW_TO_BUILD: &str = "run scripts/build-lambda-bins first (./scripts/test does): it \
builds the Lambda binaries as they are deployed (no local-sns) into <target>/lambda-bins/plain \
and an ipn with local-sns into <target>/lambda-bins/local-sns; or set SAVEDWALLET_LAMBDA_BINS";

/// The newest modification time of the `.rs` sources the functions are built from
/// (functions, app, shared, amazon-pay).
pub fn newest_source_mtime() -> Option<SystemTime> {
    fn walk(dir: &Path, newest: &mut Option<SystemTime>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if path.extension().is_some_and(|x| x == "rs") {
                if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                    *newest = Some(newest.map_or(t, |n| n.max(t)));
                }
            }
        }
    }
    let mut newest = None;
    for krate in ["functions", "app", "shared", "amazon-pay"] {
        walk(&workspace_root().join(krate).join("src"), &mut newest);
    }
    newest
}

/// Checks once that every binary is there and not older than the sources it is built from.
fn check_bins() -> &'static Result<(), String> {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let dir = bins_dir();
        let mut wanted: Vec<PathBuf> = FUNCTIONS.iter().map(|f| dir.join("plain").join(f)).collect();
        wanted.push(dir.join("local-sns").join("ipn"));
        let newest = newest_source_mtime();
        for bin in &wanted {
            let meta = std::fs::metadata(bin)
                .map_err(|e| format!("{} is missing ({e}): {HOW_TO_BUILD}", bin.display()))?;
            if let (Some(src), Ok(built)) = (newest, meta.modified()) {
                if built < src {
                    return Err(format!(
                        "{} is older than the sources (functions, app, shared, amazon-pay): {HOW_TO_BUILD}",
                        bin.display()
                    ));
                }
            }
        }
        Ok(())
    })
}

/// The deployed (no local-sns) binary of `function`; fails the test when it is missing.
pub fn plain_bin(function: &str) -> PathBuf {
    if let Err(e) = check_bins() {
        panic!("{e}");
    }
    bins_dir().join("plain").join(function)
}

/// The `ipn` binary built with local-sns; fails the test when it is missing.
pub fn local_sns_ipn_bin() -> PathBuf {
    if let Err(e) = check_bins() {
        panic!("{e}");
    }
    bins_dir().join("local-sns").join("ipn")
}

/// Polls `check` until it gives a value or `within` has passed (then the test fails with
/// `what`). Never a fixed sleep: it returns as soon as the condition holds.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
