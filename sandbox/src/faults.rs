//! Fault injection (control API) and Amazon's throttling (SPEC §9).

use std::collections::HashMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use savedwallet_shared::region::Environment;
use serde::{Deserialize, Serialize};

/// How an "apply then drop" fault loses the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DropMode {
    /// Close the connection mid-response (the client sees a transport error).
    #[default]
    Abort,
    /// Hold the response for `hangMs`, then abort (the client sees a timeout).
    Hang,
}

/// Fault settings, set with `PUT /_sandbox/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added latency before every API request, ms.
    pub latency_ms: u64,
    /// Probability of answering 429 TooManyRequests without applying.
    pub rate_429: f64,
    /// Probability of answering 503/500 without applying.
    pub rate_5xx: f64,
    /// Probability of applying the request and then losing the response.
    pub drop_response_rate: f64,
    /// How a dropped response is lost.
    pub drop_mode: DropMode,
    /// Hang duration for `DropMode::Hang`, ms.
    pub hang_ms: u64,
    /// Probability of resetting the connection without applying.
    pub reset_rate: f64,
    /// Seed of the fault dice (deterministic tests).
    pub seed: u64,
    /// Only the next N API requests are subject to faults (None = all).
    pub remaining: Option<u32>,
    /// Only these operations (e.g. `CreateCharge`) are subject to faults (None = all).
    pub operations: Option<Vec<String>>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency_ms: 0,
            rate_429: 0.0,
            rate_5xx: 0.0,
            drop_response_rate: 0.0,
            drop_mode: DropMode::Abort,
            hang_ms: 30_000,
            reset_rate: 0.0,
            seed: 1,
            remaining: None,
            operations: None,
        }
    }
}

impl FaultConfig {
    /// Checks rates are probabilities.
    pub fn validate(&self) -> Result<(), String> {
        for (n, r) in [
            ("rate429", self.rate_429),
            ("rate5xx", self.rate_5xx),
            ("dropResponseRate", self.drop_response_rate),
            ("resetRate", self.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{n} must be within 0..=1"));
            }
        }
        Ok(())
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Handle normally.
    None,
    /// 429 without applying.
    Throttle,
    /// 5xx without applying.
    ServerError,
    /// Reset the connection without applying.
    Reset,
    /// Apply, then lose the response.
    Drop(DropMode, u64),
}

/// The fault dice.
#[derive(Debug)]
pub struct Faults {
    cfg: FaultConfig,
    rng: StdRng,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultConfig::default())
    }
}

impl Faults {
    /// Faults with a configuration (reseeds the dice).
    pub fn new(cfg: FaultConfig) -> Faults {
        let rng = StdRng::seed_from_u64(cfg.seed);
        Faults { cfg, rng }
    }

    /// Current configuration.
    pub fn config(&self) -> &FaultConfig {
        &self.cfg
    }

    /// Rolls the dice for one API request; returns the latency and the action.
    pub fn decide(&mut self, operation: &str) -> (u64, FaultAction) {
        if let Some(ops) = &self.cfg.operations {
            if !ops.iter().any(|o| o == operation) {
                return (0, FaultAction::None);
            }
        }
        match self.cfg.remaining {
            Some(0) => return (0, FaultAction::None),
            Some(n) => self.cfg.remaining = Some(n - 1),
            None => {}
        }
        let c = &self.cfg;
        let (r429, r5xx, rreset, rdrop) =
            (c.rate_429, c.rate_5xx, c.reset_rate, c.drop_response_rate);
        let roll = |rng: &mut StdRng, p: f64| p > 0.0 && rng.random::<f64>() < p;
        let action = if roll(&mut self.rng, rreset) {
            FaultAction::Reset
        } else if roll(&mut self.rng, r429) {
            FaultAction::Throttle
        } else if roll(&mut self.rng, r5xx) {
            FaultAction::ServerError
        } else if roll(&mut self.rng, rdrop) {
            FaultAction::Drop(self.cfg.drop_mode, self.cfg.hang_ms)
        } else {
            FaultAction::None
        };
        (self.cfg.latency_ms, action)
    }
}

/// Which quota table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BucketKey {
    env: Environment,
    op: &'static str,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets per environment and operation (SPEC §9).
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: HashMap<BucketKey, Bucket>,
}

/// (burst, restore per second) for an operation in an environment.
pub fn quota(env: Environment, op: &str) -> Option<(f64, f64)> {
    let (live, sandbox) = match op {
        "CreateCharge" => ((10.0, 4.0), (2.0, 1.0)),
        "GetCharge" => ((20.0, 4.0), (5.0, 1.0)),
        "CaptureCharge" => ((20.0, 4.0), (2.0, 1.0)),
        "CancelCharge" => ((10.0, 2.0), (2.0, 1.0)),
        "GetChargePermission" => ((20.0, 4.0), (10.0, 1.0)),
        "UpdateChargePermission" => ((10.0, 2.0), (5.0, 1.0)),
        "CloseChargePermission" => ((10.0, 2.0), (2.0, 1.0)),
        "CreateCheckoutSession" => ((40.0, 16.0), (5.0, 1.0)),
        "GetCheckoutSession" => ((40.0, 8.0), (10.0, 1.0)),
        "UpdateCheckoutSession" => ((20.0, 8.0), (5.0, 1.0)),
        "CompleteCheckoutSession" => ((20.0, 4.0), (2.0, 1.0)),
        "CreateRefund" => ((10.0, 4.0), (2.0, 1.0)),
        "GetRefund" => ((20.0, 4.0), (5.0, 1.0)),
        _ => return None,
    };
    Some(match env {
        Environment::Live => live,
        Environment::Sandbox => sandbox,
    })
}

impl Throttle {
    /// Takes one token; false = throttled (429).
    pub fn allow(&mut self, env: Environment, op: &'static str, now: Instant) -> bool {
        let Some((burst, rate)) = quota(env, op) else {
            return true;
        };
        let b = self.buckets.entry(BucketKey { env, op }).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets all buckets (full quotas again).
    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sandbox_create_charge_bursts_two_then_restores_one_per_second() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert!(t.allow(Environment::Sandbox, "CreateCharge", t0));
        assert!(t.allow(Environment::Sandbox, "CreateCharge", t0));
        assert!(!t.allow(Environment::Sandbox, "CreateCharge", t0));
        assert!(!t.allow(
            Environment::Sandbox,
            "CreateCharge",
            t0 + Duration::from_millis(500)
        ));
        assert!(t.allow(
            Environment::Sandbox,
            "CreateCharge",
            t0 + Duration::from_millis(1600)
        ));
        // Live has its own, larger bucket.
        for _ in 0..10 {
            assert!(t.allow(Environment::Live, "CreateCharge", t0));
        }
        assert!(!t.allow(Environment::Live, "CreateCharge", t0));
    }

    #[test]
    fn seeded_faults_are_deterministic_and_remaining_is_honoured() {
        let cfg = FaultConfig {
            rate_5xx: 0.5,
            seed: 42,
            ..Default::default()
        };
        let a: Vec<_> = {
            let mut f = Faults::new(cfg.clone());
            (0..50).map(|_| f.decide("CreateCharge").1).collect()
        };
        let b: Vec<_> = {
            let mut f = Faults::new(cfg.clone());
            (0..50).map(|_| f.decide("CreateCharge").1).collect()
        };
        assert_eq!(a, b);
        assert!(a.contains(&FaultAction::ServerError) && a.contains(&FaultAction::None));
        let mut f = Faults::new(FaultConfig {
            rate_429: 1.0,
            remaining: Some(1),
            ..Default::default()
        });
        assert_eq!(f.decide("GetCharge").1, FaultAction::Throttle);
        assert_eq!(f.decide("GetCharge").1, FaultAction::None);
    }
}
