//! Token-bucket pacing on tokio's paused clock (virtual time, no wall-clock waits).

use savedwallet_amazon_pay::{Operation, Pacer, Pacing, Quotas, RateLimit};
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
    // Empty now: the next token is one restore interval (1 s) away.
    assert_eq!(
        pacer.try_acquire(Operation::GetChargePermission),
        Err(Duration::from_secs(1))
    );
}

#[tokio::test(start_paused = true)]
async fn tokens_refill_while_idle_up_to_burst() {
    let pacer = Pacer::new(Pacing::AmazonLimits, Environment::Live);
    // Live Create Charge: burst 10, 4/s.
    let first = grant_times(&pacer, Operation::CreateCharge, 10).await;
    assert!(first.iter().all(|t| t.is_zero()));
    assert_eq!(
        pacer.try_acquire(Operation::CreateCharge),
        Err(Duration::from_millis(250))
    );
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

/// The benchmark knob: Amazon's shape × 10 paces live Create Charge at burst 100, 40/s.
#[tokio::test(start_paused = true)]
async fn scaled_quotas_for_a_benchmark() {
    let quotas = Quotas::scaled(10.0).expect("scale");
    let pacer = Pacer::new(Pacing::Quotas(quotas), Environment::Live);
    let times = grant_times(&pacer, Operation::CreateCharge, 104).await;
    assert_eq!(times.iter().filter(|t| t.is_zero()).count(), 100);
    // Then one token every 25 ms (±1 ms rounding of the wait).
    for w in times[100..].windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(24) && gap <= Duration::from_millis(27),
            "{:?}",
            &times[99..]
        );
    }
    // Explicit numbers for one operation; the others keep Amazon's shape × scale.
    let quotas = Quotas::amazon()
        .with_limit(
            Operation::CreateCharge,
            RateLimit {
                burst: 100,
                per_second: 40.0,
            },
        )
        .expect("limit");
    let pacer = Pacer::new(Pacing::Quotas(quotas), Environment::Sandbox);
    let charges = grant_times(&pacer, Operation::CreateCharge, 100).await;
    assert!(charges.iter().all(|t| t.is_zero()));
    // Sandbox Get Charge is still burst 5.
    let gets = grant_times(&pacer, Operation::GetCharge, 6).await;
    assert_eq!(gets.iter().filter(|t| t.is_zero()).count(), 5);
}

/// A caller with a deadline never waits for a token past it.
#[tokio::test(start_paused = true)]
async fn acquire_by_gives_up_instead_of_waiting_past_the_latest_start() {
    let pacer = Pacer::new(
        Pacing::Uniform(RateLimit {
            burst: 1,
            per_second: 1.0,
        }),
        Environment::Live,
    );
    let start = Instant::now();
    assert!(pacer.acquire_by(Operation::CreateCharge, None).await);
    // The next token is 1 s away: not by 500 ms, and no time passes deciding that.
    let soon = start + Duration::from_millis(500);
    assert!(!pacer.acquire_by(Operation::CreateCharge, Some(soon)).await);
    assert_eq!(start.elapsed(), Duration::ZERO);
    // By 2 s it waits for it (and takes it).
    let later = start + Duration::from_secs(2);
    assert!(pacer.acquire_by(Operation::CreateCharge, Some(later)).await);
    assert!(
        start.elapsed() >= Duration::from_millis(999),
        "{:?}",
        start.elapsed()
    );
    assert!(pacer
        .try_acquire(Operation::CreateCharge)
        .is_err_and(|wait| wait > Duration::from_millis(900)));
}
