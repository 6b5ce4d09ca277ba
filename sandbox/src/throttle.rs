//! Amazon's throttling (SPEC §9): a token bucket per environment and operation, sized by
//! `shared::api::Operation::rate_limit` (the one quota table), scaled or replaced per
//! operation, and refilled by the simulated or the wall clock.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use savedwallet_shared::api::{Operation, RateLimit};
use savedwallet_shared::region::Environment;
use serde::{Deserialize, Serialize};

use crate::ops::{parse_operation, pascal_name};

/// Which clock refills the buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum QuotaClock {
    /// The simulated clock (default): deterministic with a frozen clock; a clock advance
    /// refills the buckets as that much time would.
    #[default]
    Simulated,
    /// The wall clock: for real-time benchmarks; clock advances refill nothing.
    Wall,
}

impl std::str::FromStr for QuotaClock {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "simulated" => Ok(QuotaClock::Simulated),
            "wall" => Ok(QuotaClock::Wall),
            other => Err(format!("unknown quota clock {other:?} (simulated or wall)")),
        }
    }
}

/// Largest scale factor (keeps bursts within u32).
const MAX_SCALE: f64 = 1_000_000.0;

/// The throttling settings (`GET`/`PUT /_sandbox/throttling`).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaConfig {
    /// Quotas apply at all (default on).
    pub enabled: bool,
    /// Multiplies Amazon's burst and restore rate (default 1).
    pub scale: f64,
    /// Explicit burst / restore rate per operation; they win over the scaled table.
    pub overrides: BTreeMap<Operation, RateLimit>,
    /// Which clock refills the buckets.
    pub clock: QuotaClock,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            enabled: true,
            scale: 1.0,
            overrides: BTreeMap::new(),
            clock: QuotaClock::Simulated,
        }
    }
}

/// The JSON form of [`QuotaConfig`]: operations by name (`CreateCharge` or `create-charge`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct QuotaJson {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    clock: Option<QuotaClock>,
    #[serde(default)]
    operations: Option<BTreeMap<String, LimitJson>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LimitJson {
    burst: u32,
    per_second: f64,
}

impl QuotaConfig {
    /// Checks the numbers: a positive finite scale, bursts ≥ 1, positive finite rates.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= MAX_SCALE) {
            return Err(format!("scale must be > 0 and at most {MAX_SCALE}"));
        }
        for (op, l) in &self.overrides {
            if l.burst == 0 || !(l.per_second.is_finite() && l.per_second > 0.0) {
                return Err(format!(
                    "{}: burst must be at least 1 and perSecond positive",
                    pascal_name(*op)
                ));
            }
        }
        Ok(())
    }

    /// The bucket of an operation: an explicit override, else Amazon's quota × `scale`.
    pub fn limit(&self, env: Environment, op: Operation) -> RateLimit {
        if let Some(l) = self.overrides.get(&op) {
            return *l;
        }
        let base = op.rate_limit(env);
        RateLimit {
            burst: ((f64::from(base.burst) * self.scale).round() as u32).max(1),
            per_second: base.per_second * self.scale,
        }
    }

    /// These settings with a JSON body laid over them (fields absent keep their value;
    /// `operations` replaces the overrides).
    pub(crate) fn merged(&self, patch: QuotaJson) -> Result<QuotaConfig, String> {
        let mut next = self.clone();
        if let Some(e) = patch.enabled {
            next.enabled = e;
        }
        if let Some(s) = patch.scale {
            next.scale = s;
        }
        if let Some(c) = patch.clock {
            next.clock = c;
        }
        if let Some(ops) = patch.operations {
            next.overrides = ops
                .into_iter()
                .map(|(name, l)| {
                    parse_operation(&name)
                        .map(|op| {
                            (
                                op,
                                RateLimit {
                                    burst: l.burst,
                                    per_second: l.per_second,
                                },
                            )
                        })
                        .ok_or_else(|| format!("unknown operation {name:?}"))
                })
                .collect::<Result<_, _>>()?;
        }
        next.validate()?;
        Ok(next)
    }

    /// The JSON form, with every operation's effective sandbox and live bucket.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let effective: serde_json::Map<String, serde_json::Value> = Operation::ALL
            .into_iter()
            .map(|op| {
                let limit = |env| {
                    let l = self.limit(env, op);
                    serde_json::json!({"burst": l.burst, "perSecond": l.per_second})
                };
                (
                    pascal_name(op),
                    serde_json::json!({
                        "sandbox": limit(Environment::Sandbox),
                        "live": limit(Environment::Live),
                    }),
                )
            })
            .collect();
        let overrides: serde_json::Map<String, serde_json::Value> = self
            .overrides
            .iter()
            .map(|(op, l)| {
                (
                    pascal_name(*op),
                    serde_json::json!({"burst": l.burst, "perSecond": l.per_second}),
                )
            })
            .collect();
        serde_json::json!({
            "enabled": self.enabled,
            "scale": self.scale,
            "clock": self.clock,
            "operations": overrides,
            "effective": effective,
        })
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_ms: i64,
}

/// Token buckets per environment and operation.
#[derive(Debug)]
pub(crate) struct Throttle {
    cfg: QuotaConfig,
    buckets: HashMap<(Environment, Operation), Bucket>,
    wall_start: Instant,
}

impl Throttle {
    /// Full buckets under a configuration.
    pub(crate) fn new(cfg: QuotaConfig) -> Throttle {
        Throttle {
            cfg,
            buckets: HashMap::new(),
            wall_start: Instant::now(),
        }
    }

    /// The settings in use.
    pub(crate) fn config(&self) -> &QuotaConfig {
        &self.cfg
    }

    /// New settings; the buckets start full again.
    pub(crate) fn set_config(&mut self, cfg: QuotaConfig) {
        self.cfg = cfg;
        self.buckets.clear();
    }

    /// Takes one token; false = throttled (429). `sim_now_ms` is the simulated clock.
    pub(crate) fn allow(&mut self, env: Environment, op: Operation, sim_now_ms: i64) -> bool {
        if !self.cfg.enabled {
            return true;
        }
        let now_ms = match self.cfg.clock {
            QuotaClock::Simulated => sim_now_ms,
            QuotaClock::Wall => {
                i64::try_from(self.wall_start.elapsed().as_millis()).unwrap_or(i64::MAX)
            }
        };
        let limit = self.cfg.limit(env, op);
        let burst = f64::from(limit.burst);
        let b = self.buckets.entry((env, op)).or_insert(Bucket {
            tokens: burst,
            last_ms: now_ms,
        });
        let elapsed_s = (now_ms.saturating_sub(b.last_ms)).max(0) as f64 / 1000.0;
        b.tokens = (b.tokens + elapsed_s * limit.per_second).min(burst);
        b.last_ms = b.last_ms.max(now_ms);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(cfg: QuotaConfig) -> Throttle {
        Throttle::new(cfg)
    }

    #[test]
    fn sandbox_create_charge_bursts_two_then_restores_one_per_second() {
        let mut t = throttle(QuotaConfig::default());
        let (sb, live, cc) = (
            Environment::Sandbox,
            Environment::Live,
            Operation::CreateCharge,
        );
        assert!(t.allow(sb, cc, 0));
        assert!(t.allow(sb, cc, 0));
        assert!(!t.allow(sb, cc, 0));
        assert!(!t.allow(sb, cc, 500));
        assert!(t.allow(sb, cc, 1600));
        // Live has its own, larger bucket.
        for _ in 0..10 {
            assert!(t.allow(live, cc, 0));
        }
        assert!(!t.allow(live, cc, 0));
    }

    #[test]
    fn scale_and_explicit_numbers() {
        let mut cfg = QuotaConfig {
            scale: 10.0,
            ..Default::default()
        };
        assert_eq!(
            cfg.limit(Environment::Live, Operation::CreateCharge),
            RateLimit {
                burst: 100,
                per_second: 40.0
            }
        );
        cfg.overrides.insert(
            Operation::GetCharge,
            RateLimit {
                burst: 3,
                per_second: 0.5,
            },
        );
        let mut t = throttle(cfg);
        for _ in 0..3 {
            assert!(t.allow(Environment::Sandbox, Operation::GetCharge, 0));
        }
        assert!(!t.allow(Environment::Sandbox, Operation::GetCharge, 1000));
        assert!(t.allow(Environment::Sandbox, Operation::GetCharge, 2000));
    }

    #[test]
    fn the_wall_clock_ignores_simulated_jumps() {
        let mut t = throttle(QuotaConfig {
            clock: QuotaClock::Wall,
            ..Default::default()
        });
        let (sb, cc) = (Environment::Sandbox, Operation::CreateCharge);
        assert!(t.allow(sb, cc, 0));
        assert!(t.allow(sb, cc, 0));
        // An hour of simulated time refills nothing on the wall clock.
        assert!(!t.allow(sb, cc, 3_600_000));
        let mut s = throttle(QuotaConfig::default());
        assert!(s.allow(sb, cc, 0) && s.allow(sb, cc, 0));
        assert!(s.allow(sb, cc, 3_600_000), "the simulated clock refills");
    }

    #[test]
    fn json_merge_validates() {
        let base = QuotaConfig::default();
        let j: QuotaJson = serde_json::from_value(serde_json::json!({
            "operations": {"CreateCharge": {"burst": 100, "perSecond": 40.0}},
            "clock": "wall"
        }))
        .unwrap();
        let next = base.merged(j).unwrap();
        assert_eq!(next.clock, QuotaClock::Wall);
        assert_eq!(
            next.limit(Environment::Sandbox, Operation::CreateCharge)
                .burst,
            100
        );
        for bad in [
            serde_json::json!({"scale": 0.0}),
            serde_json::json!({"operations": {"Nope": {"burst": 1, "perSecond": 1.0}}}),
            serde_json::json!({"operations": {"GetCharge": {"burst": 0, "perSecond": 1.0}}}),
        ] {
            let j: QuotaJson = serde_json::from_value(bad.clone()).unwrap();
            assert!(base.merged(j).is_err(), "{bad}");
        }
    }
}
