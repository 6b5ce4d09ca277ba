//! Fault injection on the Amazon API (`PUT /_sandbox/faults`): seeded dice decide per
//! request whether it is delayed, refused, reset, or applied with its answer lost.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use savedwallet_shared::api::Operation;
use serde::{Deserialize, Serialize};

use crate::ops::parse_operation;

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
    /// Only these operations (`CreateCharge` or `create-charge`) are subject to faults
    /// (None = all).
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
    /// Checks rates are probabilities and operation names are known.
    pub fn validate(&self) -> Result<(), String> {
        for name in self.operations.iter().flatten() {
            if parse_operation(name).is_none() {
                return Err(format!("unknown operation {name:?}"));
            }
        }
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
pub(crate) enum FaultAction {
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
pub(crate) struct Faults {
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
    pub(crate) fn new(cfg: FaultConfig) -> Faults {
        let rng = StdRng::seed_from_u64(cfg.seed);
        Faults { cfg, rng }
    }

    /// Current configuration.
    pub(crate) fn config(&self) -> &FaultConfig {
        &self.cfg
    }

    /// Rolls the dice for one API request (`None`: a path that is no operation); returns
    /// the latency and the action.
    pub(crate) fn decide(&mut self, operation: Option<Operation>) -> (u64, FaultAction) {
        if let Some(ops) = &self.cfg.operations {
            let listed = |name: &String| operation.is_some() && parse_operation(name) == operation;
            if !ops.iter().any(listed) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_faults_are_deterministic_and_remaining_is_honoured() {
        let cfg = FaultConfig {
            rate_5xx: 0.5,
            seed: 42,
            ..Default::default()
        };
        let a: Vec<_> = {
            let mut f = Faults::new(cfg.clone());
            (0..50)
                .map(|_| f.decide(Some(Operation::CreateCharge)).1)
                .collect()
        };
        let b: Vec<_> = {
            let mut f = Faults::new(cfg.clone());
            (0..50)
                .map(|_| f.decide(Some(Operation::CreateCharge)).1)
                .collect()
        };
        assert_eq!(a, b);
        assert!(a.contains(&FaultAction::ServerError) && a.contains(&FaultAction::None));
        let mut f = Faults::new(FaultConfig {
            rate_429: 1.0,
            remaining: Some(1),
            ..Default::default()
        });
        assert_eq!(
            f.decide(Some(Operation::GetCharge)).1,
            FaultAction::Throttle
        );
        assert_eq!(f.decide(Some(Operation::GetCharge)).1, FaultAction::None);
    }

    #[test]
    fn operation_filters_take_either_spelling() {
        let mut f = Faults::new(FaultConfig {
            rate_5xx: 1.0,
            operations: Some(vec!["CreateCharge".into(), "get-charge".into()]),
            ..Default::default()
        });
        assert_eq!(
            f.decide(Some(Operation::CreateCharge)).1,
            FaultAction::ServerError
        );
        assert_eq!(
            f.decide(Some(Operation::GetCharge)).1,
            FaultAction::ServerError
        );
        assert_eq!(f.decide(Some(Operation::GetRefund)).1, FaultAction::None);
        assert_eq!(
            f.decide(None).1,
            FaultAction::None,
            "no operation, no fault"
        );
        let bad = FaultConfig {
            operations: Some(vec!["Charges".into()]),
            ..Default::default()
        };
        assert_eq!(bad.validate(), Err("unknown operation \"Charges\"".into()));
    }
}
