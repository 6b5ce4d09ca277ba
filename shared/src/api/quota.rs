//! Throttling quotas as a knob: Amazon's per-operation shape (burst and restore rate, SPEC §9)
//! times a scale factor, with explicit numbers for single operations — so a benchmark can
//! pace, or a simulator throttle, Create Charge at e.g. burst 100 / 40 per second.

use std::collections::BTreeMap;

use super::operation::{Operation, RateLimit};
use crate::region::Environment;

/// Why a quota setting was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuotaError {
    /// The scale factor must be a finite number in `(0, MAX_SCALE]`.
    #[error("quota scale must be > 0 and <= {max}, got {0}", max = Quotas::MAX_SCALE)]
    InvalidScale(f64),
    /// An explicit limit needs a burst of at least 1 and a finite restore rate > 0.
    #[error("quota for {0} needs burst >= 1 and a finite restore rate > 0")]
    InvalidLimit(Operation),
}

/// Per-operation token-bucket sizes: Amazon's documented quotas scaled by `scale`, except
/// where an explicit limit is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Quotas {
    scale: f64,
    overrides: BTreeMap<Operation, RateLimit>,
}

impl Default for Quotas {
    /// Amazon's numbers unchanged.
    fn default() -> Self {
        Quotas::amazon()
    }
}

impl Quotas {
    /// Largest accepted scale factor (keeps the arithmetic far from overflow).
    pub const MAX_SCALE: f64 = 1_000_000.0;

    /// Amazon's documented quotas (scale 1, no overrides).
    pub fn amazon() -> Quotas {
        Quotas {
            scale: 1.0,
            overrides: BTreeMap::new(),
        }
    }

    /// Amazon's quotas with burst and restore rate multiplied by `factor` (burst rounded,
    /// at least 1): `scaled(10.0)` gives live Create Charge burst 100, 40 per second.
    pub fn scaled(factor: f64) -> Result<Quotas, QuotaError> {
        if !(factor.is_finite() && factor > 0.0 && factor <= Self::MAX_SCALE) {
            return Err(QuotaError::InvalidScale(factor));
        }
        Ok(Quotas {
            scale: factor,
            overrides: BTreeMap::new(),
        })
    }

    /// The same quotas with an explicit limit for `op` (replaces the scaled one).
    pub fn with_limit(mut self, op: Operation, limit: RateLimit) -> Result<Quotas, QuotaError> {
        if limit.burst == 0 || !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return Err(QuotaError::InvalidLimit(op));
        }
        self.overrides.insert(op, limit);
        Ok(self)
    }

    /// The scale factor.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The bucket size for `op` in `env`.
    pub fn limit(&self, op: Operation, env: Environment) -> RateLimit {
        if let Some(limit) = self.overrides.get(&op) {
            return *limit;
        }
        let amazon = op.rate_limit(env);
        let burst = (f64::from(amazon.burst) * self.scale).round();
        RateLimit {
            // In range: burst <= 40 × MAX_SCALE, far below u32::MAX.
            burst: (burst as u32).max(1),
            per_second: amazon.per_second * self.scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_overrides() {
        let q = Quotas::scaled(10.0).unwrap();
        let l = q.limit(Operation::CreateCharge, Environment::Live);
        assert_eq!((l.burst, l.per_second), (100, 40.0));
        let small = Quotas::scaled(0.01).unwrap();
        let l = small.limit(Operation::CreateCharge, Environment::Sandbox);
        assert_eq!((l.burst, l.per_second), (1, 0.01), "burst never below 1");
        let q = Quotas::amazon()
            .with_limit(
                Operation::GetCharge,
                RateLimit {
                    burst: 7,
                    per_second: 3.0,
                },
            )
            .unwrap();
        let l = q.limit(Operation::GetCharge, Environment::Sandbox);
        assert_eq!((l.burst, l.per_second), (7, 3.0));
        assert_eq!(
            q.limit(Operation::CreateCharge, Environment::Live),
            Operation::CreateCharge.rate_limit(Environment::Live)
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert!(
                matches!(Quotas::scaled(bad), Err(QuotaError::InvalidScale(_))),
                "{bad}"
            );
        }
        for limit in [
            RateLimit {
                burst: 0,
                per_second: 1.0,
            },
            RateLimit {
                burst: 1,
                per_second: 0.0,
            },
            RateLimit {
                burst: 1,
                per_second: f64::NAN,
            },
        ] {
            assert_eq!(
                Quotas::amazon().with_limit(Operation::CreateCharge, limit),
                Err(QuotaError::InvalidLimit(Operation::CreateCharge))
            );
        }
    }
}
