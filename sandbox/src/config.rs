//! Sandbox settings fixed at start (builder and command line). Behaviours that tests switch
//! while the sandbox runs are in `knobs` (engine), `throttle` and the IPN sender.

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
    /// Base of the simulated clock: `None` = the wall clock (simulated time runs in real
    /// time), `Some(t)` = frozen at `t` (simulated time moves only by clock advances).
    pub frozen_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            async_delay_secs: 30,
            refund_delay_secs: 30,
            max_clock_skew_secs: 15 * 60,
            required_signed_headers: vec!["x-amz-pay-date".into(), "x-amz-pay-host".into()],
            merchant_id: "A2SANDBOXMERCHANT".into(),
            seed: 0x5eed,
            max_refunds_per_charge: 10,
            state_file: None,
            frozen_at: None,
        }
    }
}

impl Config {
    /// The base of the simulated clock now, Unix ms (offsets are added by the engine).
    pub(crate) fn base_now_ms(&self) -> i64 {
        match self.frozen_at {
            Some(t) => t.timestamp_millis(),
            None => chrono::Utc::now().timestamp_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_base_is_the_wall_clock_unless_frozen() {
        let before = chrono::Utc::now().timestamp_millis();
        let wall = Config::default().base_now_ms();
        assert!(wall >= before && wall <= chrono::Utc::now().timestamp_millis());
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("instant");
        let frozen = Config {
            frozen_at: Some(t),
            ..Default::default()
        };
        assert_eq!(frozen.base_now_ms(), 1_700_000_000_000);
        assert_eq!(frozen.base_now_ms(), frozen.base_now_ms());
    }
}
