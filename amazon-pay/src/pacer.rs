//! Token buckets per operation (SPEC §9). Uses tokio's clock so tests can pause time.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

use savedwallet_shared::region::Environment;

use crate::config::Pacing;
use savedwallet_shared::api::operation::{Operation, RateLimit};

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst));
        self.last = now;
    }
}

/// Waits for a token before each request of an operation.
#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    environment: Environment,
    buckets: Mutex<HashMap<Operation, Bucket>>,
}

impl Pacer {
    /// A pacer for the given policy and environment (buckets start full).
    pub fn new(pacing: Pacing, environment: Environment) -> Self {
        Pacer {
            pacing,
            environment,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn limit_for(&self, op: Operation) -> Option<RateLimit> {
        let limit = match &self.pacing {
            Pacing::Off => return None,
            Pacing::AmazonLimits => op.rate_limit(self.environment),
            Pacing::Quotas(q) => q.limit(op, self.environment),
            Pacing::Uniform(l) => *l,
        };
        // A bucket that can never refill or hold a token would block forever: treat as off.
        (limit.burst >= 1 && limit.per_second > 0.0 && limit.per_second.is_finite())
            .then_some(limit)
    }

    /// Takes a token now if one is available; otherwise how long until one will be.
    pub fn try_acquire(&self, op: Operation) -> Result<(), Duration> {
        let Some(limit) = self.limit_for(op) else {
            return Ok(());
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        let bucket = buckets.entry(op).or_insert_with(|| Bucket {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
        });
        bucket.refill(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            // Round up to a whole millisecond so the next check surely finds a token.
            let wait = Duration::from_secs_f64(missing / limit.per_second);
            Err(wait.max(Duration::from_millis(1)))
        }
    }

    /// Waits (async) until a token for `op` is available and takes it.
    pub async fn acquire(&self, op: Operation) {
        while let Err(wait) = self.try_acquire(op) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Like [`Pacer::acquire`], but gives up (returns `false`, no token taken) instead of
    /// waiting past `latest`: a caller with a deadline never sleeps into it.
    pub async fn acquire_by(&self, op: Operation, latest: Option<Instant>) -> bool {
        loop {
            match self.try_acquire(op) {
                Ok(()) => return true,
                Err(wait) => {
                    if latest.is_some_and(|l| Instant::now() + wait > l) {
                        return false;
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
