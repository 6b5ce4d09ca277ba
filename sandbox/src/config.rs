//! Sandbox settings (builder and command line).

use std::path::PathBuf;

/// Behaviour settings of a sandbox instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seconds until an asynchronous authorization / capture resolves (Amazon: ~30 s).
    pub async_delay_secs: i64,
    /// Seconds until a refund settles.
    pub refund_delay_secs: i64,
    /// Allowed difference between `x-amz-pay-date` and the wall clock, seconds.
    pub max_clock_skew_secs: i64,
    /// Apply Amazon's throttling quotas (SPEC §9).
    pub throttling: bool,
    /// Headers that must appear in `SignedHeaders` (lower case).
    pub required_signed_headers: Vec<String>,
    /// Merchant id written into IPN messages.
    pub merchant_id: String,
    /// Seed of every random choice (ids, fault injection).
    pub seed: u64,
    /// Maximum refunds per charge (TransactionCountExceeded above).
    pub max_refunds_per_charge: u32,
    /// JSON snapshot file (`--state`); in memory only when None.
    pub state_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            async_delay_secs: 30,
            refund_delay_secs: 30,
            max_clock_skew_secs: 15 * 60,
            throttling: true,
            required_signed_headers: vec!["x-amz-pay-date".into(), "x-amz-pay-host".into()],
            merchant_id: "A2SANDBOXMERCHANT".into(),
            seed: 0x5eed,
            max_refunds_per_charge: 10,
            state_file: None,
        }
    }
}
