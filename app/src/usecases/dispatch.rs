//! The billing scheduler (due periods → the queue, spread over time so the fleet stays
//! under Amazon's Create Charge quota) and the merchant-event dispatcher (the outbox → the
//! event sink, at least once, with backoff).

use chrono::{DateTime, TimeDelta, Utc};

use super::Service;
use crate::error::ServiceResult;
use crate::ports::{BillingJob, BillingQueue, DeliveryError, EventSink};
use crate::store::*;

/// What one scheduler run found and queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scheduled {
    /// Due periods found.
    pub found: u32,
    /// Jobs the queue accepted.
    pub enqueued: u32,
}

/// What one dispatcher run delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    /// Events delivered (and acknowledged).
    pub delivered: u32,
    /// Events that failed and were rescheduled.
    pub rescheduled: u32,
}

/// SQS holds a message back at most 15 minutes.
const MAX_DELAY_SECS: u32 = 900;

/// The delay before an event's next delivery after `deliveries` failed ones: 5 s doubling,
/// at most an hour (events are kept 30 days).
pub fn redelivery_delay(deliveries: u32) -> TimeDelta {
    let secs = 5i64.saturating_mul(1i64 << deliveries.min(20));
    TimeDelta::seconds(secs.min(3600))
}

/// The order one run visits the `shards` of an index: from `start`, wrapping around, each
/// shard once.
pub(crate) fn shard_order(start: u32, shards: u32) -> impl Iterator<Item = u32> {
    (0..shards).map(move |i| ((start % shards) + i) % shards)
}

/// The shard a run at `now` starts at: the minute of the epoch modulo `shards`. Runs a
/// minute apart start one shard further on, so a backlog larger than a run's budget never
/// starves the last shards; runs within one minute (and a frozen test clock) start at the
/// same shard.
pub(crate) fn first_shard(now: DateTime<Utc>, shards: u32) -> u32 {
    if shards == 0 {
        return 0;
    }
    now.timestamp()
        .div_euclid(60)
        .rem_euclid(i64::from(shards))
        .try_into()
        .unwrap_or(0)
}

/// The shards a run at `now` visits, in order ([`first_shard`], then [`shard_order`]).
pub(crate) fn shards_from(now: DateTime<Utc>, shards: u32) -> impl Iterator<Item = u32> {
    shard_order(first_shard(now, shards), shards)
}

impl Service {
    /// Reads the due index shard by shard (at most `budget` periods; the first shard turns
    /// with the minute, [`shards_from`]) and queues one job per due period, the `i`-th held
    /// back `i / per_second` seconds, so a fleet of workers charges at most `per_second` a
    /// second (Amazon's Create Charge restore rate). A repeated or concurrent run queues a
    /// period again, harmlessly: only one claim wins.
    pub async fn schedule_billing(
        &self,
        queue: &dyn BillingQueue,
        per_second: f64,
        budget: u32,
    ) -> ServiceResult<Scheduled> {
        let now = self.clock.now();
        let mut jobs = Vec::new();
        'shards: for shard in shards_from(now, DUE_SHARDS) {
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .due_subscriptions(shard, now, super::charge::MAX_LIST, cursor.as_ref())
                    .await?;
                for s in page.subscriptions {
                    if jobs.len() as u32 >= budget {
                        break 'shards;
                    }
                    let i = jobs.len() as f64;
                    let delay = if per_second > 0.0 {
                        (i / per_second) as u32
                    } else {
                        0
                    };
                    jobs.push(BillingJob {
                        subscription_id: s.subscription_id,
                        period: s.period,
                        delay_secs: delay.min(MAX_DELAY_SECS),
                    });
                }
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        let found = jobs.len() as u32;
        let mut enqueued = 0;
        for chunk in jobs.chunks(10) {
            match queue.enqueue(chunk).await {
                Ok(n) => enqueued += n,
                Err(e) => {
                    // The rest stays due: the next run queues it.
                    tracing::warn!(error = %e, "queueing billing jobs failed");
                    break;
                }
            }
        }
        Ok(Scheduled { found, enqueued })
    }

    /// Delivers due merchant events (at most `budget`; the first shard turns with the
    /// minute, [`shards_from`]) and acknowledges each; a failed delivery is rescheduled with
    /// backoff. At least once, with a stable id per event.
    pub async fn dispatch_events(
        &self,
        sink: &dyn EventSink,
        budget: u32,
    ) -> ServiceResult<Dispatched> {
        let now = self.clock.now();
        let mut out = Dispatched::default();
        'shards: for shard in shards_from(now, DELIVERY_SHARDS) {
            // Page after page: a delivered event leaves the due index, so the next page
            // starts where this one ended; a short page means the shard is done. (A lagging
            // index may hand an event out again: delivery is at least once, the budget bounds it.)
            loop {
                let left = budget.saturating_sub(out.delivered + out.rescheduled);
                if left == 0 {
                    break 'shards;
                }
                let want = left.min(super::charge::MAX_LIST);
                let page = self.store.due_deliveries(shard, now, want).await?;
                let short = page.len() < want as usize;
                for e in page {
                    match sink.deliver(&e).await {
                        Ok(()) => {
                            self.store.set_delivery(&e, None).await?;
                            out.delivered += 1;
                        }
                        Err(DeliveryError::Retry(why)) => {
                            tracing::warn!(event_id = %e.event_id, deliveries = e.deliveries, %why, "event delivery failed; retrying later");
                            self.store
                                .set_delivery(&e, Some(now + redelivery_delay(e.deliveries)))
                                .await?;
                            out.rescheduled += 1;
                        }
                    }
                }
                if short {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// A billing worker's job: bills the period (claims it; replays an open attempt).
    pub async fn run_billing_job(&self, job: &BillingJob) -> ServiceResult<super::Billed> {
        self.bill_subscription(&job.subscription_id, job.period)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_visits_every_shard_once_from_its_first() {
        for (start, shards, want) in [
            (0, 4, vec![0, 1, 2, 3]),
            (1, 4, vec![1, 2, 3, 0]),
            (3, 4, vec![3, 0, 1, 2]),
            (5, 4, vec![1, 2, 3, 0]),
            (
                15,
                16,
                vec![15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
            ),
            (0, 1, vec![0]),
            (7, 0, vec![]),
        ] {
            assert_eq!(
                shard_order(start, shards).collect::<Vec<_>>(),
                want,
                "start {start} of {shards}"
            );
        }
    }

    #[test]
    fn the_first_shard_turns_with_the_minute() {
        use chrono::TimeZone;
        let t = |secs: i64| Utc.timestamp_opt(secs, 0).unwrap();
        for (secs, shards, want) in [
            (0, 4, 0),
            (59, 4, 0),
            (60, 4, 1),
            (3 * 60 + 59, 4, 3),
            (4 * 60, 4, 0),
            (17 * 60, 16, 1),
            (-60, 4, 3), // before the epoch: still in range
            (12345, 1, 0),
            (12345, 0, 0),
        ] {
            assert_eq!(
                first_shard(t(secs), shards),
                want,
                "{secs} s, {shards} shards"
            );
        }
        // Runs a minute apart: over `shards` minutes each shard is first exactly once.
        for shards in [4, 16] {
            let mut firsts: Vec<u32> = (0..i64::from(shards))
                .map(|m| {
                    shards_from(t(1_780_000_000 + m * 60), shards)
                        .next()
                        .unwrap()
                })
                .collect();
            firsts.sort_unstable();
            assert_eq!(firsts, (0..shards).collect::<Vec<_>>());
        }
        // A frozen clock: the same order every run.
        let now = t(1_780_000_123);
        assert_eq!(
            shards_from(now, 16).collect::<Vec<_>>(),
            shards_from(now, 16).collect::<Vec<_>>()
        );
    }

    #[test]
    fn redelivery_backs_off_to_an_hour() {
        assert_eq!(redelivery_delay(0), TimeDelta::seconds(5));
        assert_eq!(redelivery_delay(1), TimeDelta::seconds(10));
        assert_eq!(redelivery_delay(10), TimeDelta::seconds(3600));
        assert_eq!(redelivery_delay(u32::MAX), TimeDelta::seconds(3600));
    }
}
