//! Token-bucket pacing on tokio's paused clock (virtual time, no wall-clock waits).

use savedwallet_amazon_pay::{Operation, Pacer, Pacing, RateLimit};
use savedwallet_shared::region::Environment;
use std::time::Duration;
use tokio::time::Instant;

/// Acquires `n` tokens in sequence; returns the virtual time of each grant since start.
async fn grant_times(pacer: &Pacer, op: Operation, n: usize) -> Vec<Duration> {
    let start = Instant::now();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        pacer.acquire(op).await;
        out.push(start.elapsed());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn burst_then_restore_rate() {
    let pacer = Pacer::new(
        Pacing::Uniform(RateLimit {
            burst: 3,
            per_second: 2.0,
        }),
        Environment::Live,
    );
    let times = grant_times(&pacer, Operation::CreateCharge, 7).await;
    let immediate = times.iter().filter(|t| t.is_zero()).count();
    assert_eq!(immediate, 3, "burst passes before any refill: {times:?}");
    // After the burst, one token every 500 ms (±1 ms rounding of the wait).
    for w in times[3..].windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(499) && gap <= Duration::from_millis(502),
            "{times:?}"
        );
    }
    assert!(times[3] >= Duration::from_millis(499) && times[3] <= Duration::from_millis(502));
}

#[tokio::test(start_paused = true)]
async fn amazon_sandbox_limits_per_operation() {
    let pacer = Pacer::new(Pacing::AmazonLimits, Environment::Sandbox);
    // Sandbox Create Charge: burst 2, 1/s.
    let times = grant_times(&pacer, Operation::CreateCharge, 4).await;
    assert_eq!(times.iter().filter(|t| t.is_zero()).count(), 2, "{times:?}");
    assert!(times[2] >= Duration::from_millis(999));
    // Buckets are per operation: Get Charge Permission (burst 10) is untouched.
    let other = grant_times(&pacer, Operation::GetChargePermission, 10).await;
    assert!(other.iter().all(|t| t.is_zero()), "{other:?}");
    assert!(pacer.try_acquire(Operation::GetChargePermission).is_err());
}

#[tokio::test(start_paused = true)]
async fn tokens_refill_while_idle_up_to_burst() {
    let pacer = Pacer::new(Pacing::AmazonLimits, Environment::Live);
    // Live Create Charge: burst 10, 4/s.
    let first = grant_times(&pacer, Operation::CreateCharge, 10).await;
    assert!(first.iter().all(|t| t.is_zero()));
    assert!(pacer.try_acquire(Operation::CreateCharge).is_err());
    tokio::time::advance(Duration::from_secs(60)).await;
    // Refilled, but never beyond the burst.
    let again = grant_times(&pacer, Operation::CreateCharge, 11).await;
    assert_eq!(
        again.iter().filter(|t| t.is_zero()).count(),
        10,
        "{again:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn off_never_waits() {
    let pacer = Pacer::new(Pacing::Off, Environment::Sandbox);
    let times = grant_times(&pacer, Operation::CreateCharge, 100).await;
    assert!(times.iter().all(|t| t.is_zero()));
}
