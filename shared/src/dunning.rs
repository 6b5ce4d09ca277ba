//! Retry and dunning policy: when to try a failed charge again.
//!
//! Two different kinds of "again" exist and must never be confused:
//! - **Replay** (429, 5xx, 408, lost responses): resend the *same* request with the *same*
//!   idempotency key after a short full-jitter exponential backoff. Amazon returns the stored
//!   first response if the charge was already made, so a replay can never charge twice.
//! - **New attempt** (a soft decline, after Get Charge Permission shows `Chargeable`): a new
//!   Create Charge with a *new* idempotency key, on the dunning schedule counted from the
//!   first failure.
//!
//! Everything is pure: the clock and the random jitter are parameters.

use chrono::{DateTime, Duration, Utc};

/// A random factor in `[0, 1)`, as a fraction `n / 2^32`, so no floats are needed.
///
/// Pass e.g. `Jitter::new(rand::random())` in production and a fixed value in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Jitter(u32);

impl Jitter {
    /// No randomness: full jitter then always picks zero delay.
    pub const ZERO: Jitter = Jitter(0);
    /// The largest factor, just below 1.
    pub const MAX: Jitter = Jitter(u32::MAX);

    /// The factor `numerator / 2^32`.
    pub const fn new(numerator: u32) -> Jitter {
        Jitter(numerator)
    }

    /// The factor `numerator / denominator`; `None` unless `numerator < denominator`.
    pub fn from_ratio(numerator: u64, denominator: u64) -> Option<Jitter> {
        if denominator == 0 || numerator >= denominator {
            return None;
        }
        let scaled = (u128::from(numerator) << 32) / u128::from(denominator);
        u32::try_from(scaled).ok().map(Jitter)
    }

    /// Scales a non-negative millisecond count by this factor (rounds down).
    fn scale_millis(self, millis: i64) -> i64 {
        let m = u128::from(millis.max(0).unsigned_abs());
        // (millis * n) >> 32 < millis, so it always fits back into i64.
        i64::try_from((m * u128::from(self.0)) >> 32).unwrap_or(i64::MAX)
    }
}

/// Why a retry schedule or backoff configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A schedule needs at least one step.
    #[error("retry schedule is empty")]
    Empty,
    /// More steps than [`RetrySchedule::MAX_STEPS`].
    #[error("retry schedule has {0} steps, at most {max} allowed", max = RetrySchedule::MAX_STEPS)]
    TooManySteps(usize),
    /// An offset is negative.
    #[error("retry schedule step {0} is negative")]
    Negative(usize),
    /// Offsets must strictly increase.
    #[error("retry schedule step {0} is not after the previous step")]
    NotIncreasing(usize),
    /// The last step lies beyond [`RetrySchedule::MAX_WINDOW_DAYS`].
    #[error("retry schedule window exceeds {max} days", max = RetrySchedule::MAX_WINDOW_DAYS)]
    WindowTooLong,
    /// Backoff base must be positive and at most the cap; the cap is bounded.
    #[error("backoff base must be > 0 and <= cap, and cap <= {max_secs} s", max_secs = Backoff::MAX_CAP_SECS)]
    InvalidBackoff,
    /// Too many replays allowed.
    #[error("backoff allows {0} replays, at most {max} allowed", max = Backoff::MAX_REPLAYS)]
    TooManyReplays(u32),
}

/// The dunning schedule for new attempts after soft declines: offsets from the first
/// failure. Step `i` is the time of new attempt number `i + 2` (attempt 1 is the original).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    offsets: Vec<Duration>,
}

/// The outcome of asking a policy for the next try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Try again at this instant (never before `now`).
    At(DateTime<Utc>),
    /// The window or budget is used up: the charge reaches its final failed state.
    Exhausted,
}

impl RetrySchedule {
    /// Upper bound on the number of steps.
    pub const MAX_STEPS: usize = 32;
    /// Upper bound on the dunning window (a monthly subscription must settle within a cycle).
    pub const MAX_WINDOW_DAYS: i64 = 31;

    /// A validated schedule: non-empty, non-negative, strictly increasing, bounded.
    pub fn new(offsets: Vec<Duration>) -> Result<RetrySchedule, ScheduleError> {
        if offsets.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if offsets.len() > Self::MAX_STEPS {
            return Err(ScheduleError::TooManySteps(offsets.len()));
        }
        for (i, d) in offsets.iter().enumerate() {
            if *d < Duration::zero() {
                return Err(ScheduleError::Negative(i));
            }
            if i > 0 && *d <= offsets[i - 1] {
                return Err(ScheduleError::NotIncreasing(i));
            }
        }
        if offsets.last().copied().unwrap_or_else(Duration::zero)
            > Duration::days(Self::MAX_WINDOW_DAYS)
        {
            return Err(ScheduleError::WindowTooLong);
        }
        Ok(RetrySchedule { offsets })
    }

    /// The default: immediately (after a `Chargeable` check), then +1, +3, +5 and +7 days
    /// after the first failure.
    pub fn default_dunning() -> RetrySchedule {
        RetrySchedule {
            offsets: vec![
                Duration::zero(),
                Duration::days(1),
                Duration::days(3),
                Duration::days(5),
                Duration::days(7),
            ],
        }
    }

    /// The offsets from the first failure.
    pub fn offsets(&self) -> &[Duration] {
        &self.offsets
    }

    /// Total attempts this schedule allows, counting the original one.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.offsets.len() + 1).unwrap_or(u32::MAX)
    }

    /// When to make the next new attempt, given when the first attempt failed and how many
    /// attempts (including the original) have failed so far. A slot already in the past
    /// (the worker ran late) is moved to `now`.
    pub fn next_attempt(
        &self,
        first_failure_at: DateTime<Utc>,
        failed_attempts: u32,
        now: DateTime<Utc>,
    ) -> NextAttempt {
        let index = usize::try_from(failed_attempts.max(1) - 1).unwrap_or(usize::MAX);
        match self.offsets.get(index) {
            None => NextAttempt::Exhausted,
            Some(offset) => {
                let at = first_failure_at
                    .checked_add_signed(*offset)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                NextAttempt::At(at.max(now))
            }
        }
    }
}

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule::default_dunning()
    }
}

/// Full-jitter exponential backoff for replays of the same request:
/// `delay(n) = jitter × min(cap, base × 2^n)` for replay `n` = 0, 1, 2, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    max_replays: u32,
}

impl Backoff {
    /// Upper bound on the cap (a replay later than this is a new scheduling problem).
    pub const MAX_CAP_SECS: i64 = 3600;
    /// Upper bound on replays per attempt.
    pub const MAX_REPLAYS: u32 = 16;

    /// A validated backoff: `0 < base <= cap <= 1 h`, at most 16 replays.
    pub fn new(base: Duration, cap: Duration, max_replays: u32) -> Result<Backoff, ScheduleError> {
        if base <= Duration::zero() || cap < base || cap > Duration::seconds(Self::MAX_CAP_SECS) {
            return Err(ScheduleError::InvalidBackoff);
        }
        if max_replays > Self::MAX_REPLAYS {
            return Err(ScheduleError::TooManyReplays(max_replays));
        }
        Ok(Backoff {
            base,
            cap,
            max_replays,
        })
    }

    /// How many replays are allowed per attempt.
    pub fn max_replays(&self) -> u32 {
        self.max_replays
    }

    /// The upper bound of the delay before replay `replay` (0-based), before jitter.
    pub fn ceiling(&self, replay: u32) -> Duration {
        let base_ms = self.base.num_milliseconds();
        let cap_ms = self.cap.num_milliseconds();
        // 2^replay saturates long before i64 overflow matters: cap_ms bounds the result.
        let factor = 1_i64.checked_shl(replay.min(62)).unwrap_or(i64::MAX);
        Duration::milliseconds(base_ms.saturating_mul(factor).min(cap_ms))
    }

    /// The delay before replay `replay` (0-based), or `None` when the budget is used up.
    pub fn delay(&self, replay: u32, jitter: Jitter) -> Option<Duration> {
        if replay >= self.max_replays {
            return None;
        }
        let ceiling = self.ceiling(replay).num_milliseconds();
        Some(Duration::milliseconds(jitter.scale_millis(ceiling)))
    }
}

impl Default for Backoff {
    /// 1 s base, 20 s cap, 4 replays: close to the official SDKs (SPEC §7) plus jitter.
    fn default() -> Self {
        Backoff {
            base: Duration::seconds(1),
            cap: Duration::seconds(20),
            max_replays: 4,
        }
    }
}

/// What kind of "again" a decline calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    /// Resend with the same idempotency key; `replays` = resends already made.
    Replay {
        /// Resends of this attempt already made (0 after the first send failed).
        replays: u32,
    },
    /// A new attempt with a new idempotency key, on the dunning schedule.
    NewAttempt,
}

/// The whole retry policy: replay backoff plus the dunning schedule.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    /// Dunning schedule for new attempts.
    pub schedule: RetrySchedule,
    /// Backoff for replays.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// When to try next for a given kind of retry.
    ///
    /// `failed_attempts` counts attempts (keys) that ended in a decline, including the
    /// original; it only matters for [`RetryKind::NewAttempt`].
    pub fn next(
        &self,
        kind: RetryKind,
        first_failure_at: DateTime<Utc>,
        failed_attempts: u32,
        now: DateTime<Utc>,
        jitter: Jitter,
    ) -> NextAttempt {
        match kind {
            RetryKind::Replay { replays } => match self.backoff.delay(replays, jitter) {
                Some(d) => NextAttempt::At(now.checked_add_signed(d).unwrap_or(now)),
                None => NextAttempt::Exhausted,
            },
            RetryKind::NewAttempt => {
                self.schedule
                    .next_attempt(first_failure_at, failed_attempts, now)
            }
        }
    }
}
