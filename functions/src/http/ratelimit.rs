//! Per-buyer rate limit on the routes that call Amazon Pay (429 `rate_limited`), so no
//! buyer can spend the merchant's Amazon quota: a token bucket per `sub`, in memory.
//!
//! It is **per process**: in AWS, per Lambda instance (a buyer spread over N warm instances
//! gets up to N buckets). The fleet-wide limit is API Gateway's route throttling; this one
//! only stops one client from hammering one instance (and the local stack).

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

/// A token bucket's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests a buyer may make at once.
    pub burst: u32,
    /// Tokens restored per second.
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 10,
            per_second: 1.0,
        }
    }
}

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one process.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// Empty buckets of this shape.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        b.at = now;
    }

    /// Takes a token for `key`, or says in how many seconds one is back.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            let full: Vec<String> = buckets
                .iter_mut()
                .filter_map(|(k, b)| {
                    self.refill(b, now);
                    (b.tokens >= burst).then(|| k.clone())
                })
                .collect();
            for k in full {
                buckets.remove(&k);
            }
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = if self.limit.per_second > 0.0 {
            ((1.0 - b.tokens) / self.limit.per_second).ceil()
        } else {
            3600.0
        };
        // Bounded, and at least a second (Retry-After is whole seconds).
        Err((wait as u64).clamp(1, 3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_refill_per_key() {
        let rl = RateLimiter::new(RateLimit {
            burst: 2,
            per_second: 0.5,
        });
        let t0 = Instant::now();
        assert!(rl.check_at("a", t0).is_ok());
        assert!(rl.check_at("a", t0).is_ok());
        assert_eq!(rl.check_at("a", t0), Err(2));
        assert!(
            rl.check_at("b", t0).is_ok(),
            "another buyer has its own bucket"
        );
        assert!(rl.check_at("a", t0 + Duration::from_secs(2)).is_ok());
        assert!(rl.check_at("a", t0 + Duration::from_secs(2)).is_err());
    }
}
