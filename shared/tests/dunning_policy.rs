//! Table-driven tests of the retry / dunning policy.

use chrono::{DateTime, Duration, TimeZone, Utc};
use savedwallet_shared::dunning::{
    Backoff, Jitter, NextAttempt, RetryKind, RetryPolicy, RetrySchedule, ScheduleError,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
}

#[test]
fn default_schedule_is_immediate_then_1_3_5_7_days() {
    let s = RetrySchedule::default();
    assert_eq!(
        s.offsets(),
        &[
            Duration::zero(),
            Duration::days(1),
            Duration::days(3),
            Duration::days(5),
            Duration::days(7)
        ]
    );
    assert_eq!(s.max_attempts(), 6);
    // (failed attempts so far, now offset from t0, expected next)
    let cases: &[(u32, Duration, Option<Duration>)] = &[
        (0, Duration::zero(), Some(Duration::zero())),
        (1, Duration::zero(), Some(Duration::zero())),
        (1, Duration::seconds(5), Some(Duration::seconds(5))), // immediate slot already passed → now
        (2, Duration::minutes(1), Some(Duration::days(1))),
        (3, Duration::days(1), Some(Duration::days(3))),
        (4, Duration::days(3), Some(Duration::days(5))),
        (5, Duration::days(5), Some(Duration::days(7))),
        (5, Duration::days(9), Some(Duration::days(9))), // worker ran late
        (6, Duration::days(7), None),
        (100, Duration::days(7), None),
        (u32::MAX, Duration::days(7), None),
    ];
    for (failed, now_off, want) in cases {
        let got = s.next_attempt(t0(), *failed, t0() + *now_off);
        let want = match want {
            Some(off) => NextAttempt::At(t0() + *off),
            None => NextAttempt::Exhausted,
        };
        assert_eq!(got, want, "failed={failed} now=+{now_off}");
    }
}

#[test]
fn schedule_validation() {
    let d = Duration::days;
    let h = Duration::hours;
    let cases: Vec<(Vec<Duration>, Result<(), ScheduleError>)> = vec![
        (vec![], Err(ScheduleError::Empty)),
        (vec![d(0)], Ok(())),
        (vec![h(1), h(2), d(1)], Ok(())),
        (vec![d(1), d(1)], Err(ScheduleError::NotIncreasing(1))),
        (vec![d(3), d(2)], Err(ScheduleError::NotIncreasing(1))),
        (vec![h(-1)], Err(ScheduleError::Negative(0))),
        (vec![d(0), d(31)], Ok(())),
        (
            vec![d(0), d(31) + Duration::seconds(1)],
            Err(ScheduleError::WindowTooLong),
        ),
        (
            (0..33).map(h).collect(),
            Err(ScheduleError::TooManySteps(33)),
        ),
        ((0..32).map(h).collect(), Ok(())),
    ];
    for (offsets, want) in cases {
        let got = RetrySchedule::new(offsets.clone()).map(|_| ());
        assert_eq!(got, want, "{offsets:?}");
    }
}

#[test]
fn backoff_ceiling_doubles_up_to_the_cap() {
    let b = Backoff::new(Duration::seconds(1), Duration::seconds(20), 8).unwrap();
    let cases = [
        (0, 1_000),
        (1, 2_000),
        (2, 4_000),
        (3, 8_000),
        (4, 16_000),
        (5, 20_000),
        (7, 20_000),
        (200, 20_000),
    ];
    for (replay, ms) in cases {
        assert_eq!(
            b.ceiling(replay),
            Duration::milliseconds(ms),
            "replay {replay}"
        );
    }
}

#[test]
fn full_jitter_scales_the_ceiling_without_floats() {
    let b = Backoff::new(Duration::seconds(1), Duration::seconds(20), 4).unwrap();
    // (replay, jitter, expected delay ms)
    let half = Jitter::new(1 << 31);
    let quarter = Jitter::from_ratio(1, 4).unwrap();
    let cases = [
        (0, Jitter::ZERO, Some(0)),
        (0, half, Some(500)),
        (1, half, Some(1_000)),
        (2, quarter, Some(1_000)),
        (3, half, Some(4_000)),
        (3, Jitter::MAX, Some(7_999)), // just below the ceiling, never equal
        (4, half, None),               // budget of 4 replays used up
    ];
    for (replay, jitter, want) in cases {
        assert_eq!(
            b.delay(replay, jitter),
            want.map(Duration::milliseconds),
            "replay {replay} jitter {jitter:?}"
        );
    }
}

#[test]
fn jitter_ratio_validation() {
    assert_eq!(Jitter::from_ratio(0, 1), Some(Jitter::ZERO));
    assert_eq!(Jitter::from_ratio(1, 2), Some(Jitter::new(1 << 31)));
    assert_eq!(Jitter::from_ratio(1, 1), None);
    assert_eq!(Jitter::from_ratio(2, 1), None);
    assert_eq!(Jitter::from_ratio(0, 0), None);
    assert!(Jitter::from_ratio(u64::MAX - 1, u64::MAX).is_some());
}

#[test]
fn backoff_validation() {
    let s = Duration::seconds;
    assert!(Backoff::new(s(1), s(20), 4).is_ok());
    assert_eq!(
        Backoff::new(s(0), s(20), 4),
        Err(ScheduleError::InvalidBackoff)
    );
    assert_eq!(
        Backoff::new(s(-1), s(20), 4),
        Err(ScheduleError::InvalidBackoff)
    );
    assert_eq!(
        Backoff::new(s(30), s(20), 4),
        Err(ScheduleError::InvalidBackoff)
    );
    assert_eq!(
        Backoff::new(s(1), s(3601), 4),
        Err(ScheduleError::InvalidBackoff)
    );
    assert_eq!(
        Backoff::new(s(1), s(20), 17),
        Err(ScheduleError::TooManyReplays(17))
    );
    assert!(Backoff::new(s(1), s(3600), 16).is_ok());
}

#[test]
fn policy_dispatches_on_retry_kind() {
    let p = RetryPolicy::default();
    let now = t0() + Duration::hours(2);
    assert_eq!(
        p.next(
            RetryKind::Replay { replays: 0 },
            t0(),
            1,
            now,
            Jitter::new(1 << 31)
        ),
        NextAttempt::At(now + Duration::milliseconds(500))
    );
    assert_eq!(
        p.next(RetryKind::Replay { replays: 4 }, t0(), 1, now, Jitter::ZERO),
        NextAttempt::Exhausted
    );
    assert_eq!(
        p.next(RetryKind::NewAttempt, t0(), 2, now, Jitter::MAX),
        NextAttempt::At(t0() + Duration::days(1))
    );
    assert_eq!(
        p.next(RetryKind::NewAttempt, t0(), 6, now, Jitter::MAX),
        NextAttempt::Exhausted
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Never in the past, never later than the ceiling, never negative.
        #[test]
        fn replay_delay_is_within_bounds(replay in 0u32..20, j in any::<u32>()) {
            let b = Backoff::default();
            match b.delay(replay, Jitter::new(j)) {
                Some(d) => {
                    prop_assert!(replay < b.max_replays());
                    prop_assert!(d >= Duration::zero() && d < b.ceiling(replay));
                }
                None => prop_assert!(replay >= b.max_replays()),
            }
        }

        /// Later failures never schedule earlier, and never before now.
        #[test]
        fn dunning_is_monotonic(failed in 1u32..8, late_secs in 0i64..(10 * 86_400)) {
            let s = RetrySchedule::default();
            let now = t0() + Duration::seconds(late_secs);
            let a = s.next_attempt(t0(), failed, now);
            let b = s.next_attempt(t0(), failed + 1, now);
            match (a, b) {
                (NextAttempt::At(x), NextAttempt::At(y)) => {
                    prop_assert!(x >= now && y >= x);
                }
                (NextAttempt::Exhausted, b) => prop_assert_eq!(b, NextAttempt::Exhausted),
                (NextAttempt::At(x), NextAttempt::Exhausted) => prop_assert!(x >= now),
            }
        }
    }
}
