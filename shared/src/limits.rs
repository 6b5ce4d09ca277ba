//! Saved Wallet monthly charge limits (SPEC §11.3): per charge permission, per calendar
//! month, in the permission's currency. All arithmetic is on exact minor units.
//!
//! Which time zone defines "month" is UNCONFIRMED upstream; we use the UTC calendar month,
//! as the sandbox simulator does, so the two always agree.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use std::fmt;
use std::str::FromStr;

use crate::money::{Currency, MoneyError, Price};
use crate::region::Region;

/// The documented monthly limit table: (region, currency, limit in major units).
///
/// EU and UK merchants share the `eu` region key, so they share one row set.
pub const MONTHLY_LIMIT_TABLE: &[(Region, Currency, i64)] = &[
    (Region::Na, Currency::USD, 15_000),
    (Region::Eu, Currency::AUD, 15_000),
    (Region::Eu, Currency::CHF, 15_000),
    (Region::Eu, Currency::DKK, 150_000),
    (Region::Eu, Currency::EUR, 15_000),
    (Region::Eu, Currency::GBP, 15_000),
    (Region::Eu, Currency::HKD, 150_000),
    (Region::Eu, Currency::JPY, 2_000_000),
    (Region::Eu, Currency::NOK, 150_000),
    (Region::Eu, Currency::NZD, 15_000),
    (Region::Eu, Currency::SEK, 150_000),
    (Region::Eu, Currency::USD, 15_000),
    (Region::Eu, Currency::ZAR, 150_000),
    (Region::Jp, Currency::JPY, 2_000_000),
];

/// Why a monthly-limit check refused or could not be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The charge would take the month's total above the limit.
    #[error("monthly Saved Wallet limit exceeded: {remaining} remaining this month")]
    LimitExceeded {
        /// What can still be charged this month (never negative).
        remaining: Price,
    },
    /// `used`, `amount` and `limit` are not all in the same currency.
    #[error("currency mismatch: {0} vs {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The amount to charge is zero or negative.
    #[error("charge amount must be greater than zero")]
    NonPositiveAmount,
    /// The month's usage is negative (corrupt counter).
    #[error("used amount must not be negative")]
    NegativeUsage,
    /// The sum does not fit in 64 bits of minor units.
    #[error("amount overflow")]
    Overflow,
    /// Amazon documents no Saved Wallet limit for this currency in this region.
    #[error("no monthly limit is documented for {currency} in region {region}")]
    UnsupportedCurrency {
        /// The region.
        region: Region,
        /// The currency.
        currency: Currency,
    },
}

impl From<MoneyError> for LimitError {
    fn from(e: MoneyError) -> Self {
        match e {
            MoneyError::CurrencyMismatch(a, b) => LimitError::CurrencyMismatch(a, b),
            _ => LimitError::Overflow,
        }
    }
}

/// The monthly Saved Wallet limit for one (region, currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthlyLimit {
    limit: Price,
}

impl MonthlyLimit {
    /// Looks the limit up in [`MONTHLY_LIMIT_TABLE`].
    pub fn for_region(region: Region, currency: Currency) -> Result<MonthlyLimit, LimitError> {
        MONTHLY_LIMIT_TABLE
            .iter()
            .find(|(r, c, _)| *r == region && *c == currency)
            .map(|(_, c, major)| MonthlyLimit {
                limit: Price::from_minor(major * c.minor_per_major(), *c),
            })
            .ok_or(LimitError::UnsupportedCurrency { region, currency })
    }

    /// A custom limit (e.g. a merchant's own, lower cap). Must be positive.
    pub fn custom(limit: Price) -> Result<MonthlyLimit, LimitError> {
        if limit.is_positive() {
            Ok(MonthlyLimit { limit })
        } else {
            Err(LimitError::NonPositiveAmount)
        }
    }

    /// The limit as a price.
    pub fn amount(self) -> Price {
        self.limit
    }

    /// Checks a charge against this limit; see [`can_charge`].
    pub fn can_charge(self, used: Price, amount: Price) -> Result<Price, LimitError> {
        can_charge(used, amount, self.limit)
    }
}

/// Decides whether `amount` may be charged when `used` was already charged this month.
///
/// `Ok(remaining_after)` is what stays available after the charge; exactly reaching the
/// limit is allowed. Over the limit → [`LimitError::LimitExceeded`] with what is left.
pub fn can_charge(used: Price, amount: Price, limit: Price) -> Result<Price, LimitError> {
    for other in [used, amount] {
        if other.currency() != limit.currency() {
            return Err(LimitError::CurrencyMismatch(
                limit.currency(),
                other.currency(),
            ));
        }
    }
    if !amount.is_positive() {
        return Err(LimitError::NonPositiveAmount);
    }
    if used.minor_units() < 0 {
        return Err(LimitError::NegativeUsage);
    }
    let remaining = limit.checked_sub(used)?;
    let remaining_after = remaining.checked_sub(amount)?;
    if remaining_after.minor_units() < 0 {
        let clamped = Price::from_minor(remaining.minor_units().max(0), limit.currency());
        return Err(LimitError::LimitExceeded { remaining: clamped });
    }
    Ok(remaining_after)
}

/// A UTC calendar month, the key a monthly usage counter is stored under (`"2026-11"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageMonth {
    year: i32,
    month: u32,
}

/// A malformed `YYYY-MM` month key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid usage month {0:?} (expected YYYY-MM)")]
pub struct UsageMonthError(pub String);

impl UsageMonth {
    /// The month containing `at` (UTC).
    pub fn of(at: DateTime<Utc>) -> UsageMonth {
        UsageMonth {
            year: at.year(),
            month: at.month(),
        }
    }

    /// A month from its parts; `None` unless 1 ≤ month ≤ 12 and the year is 1..=9999.
    pub fn new(year: i32, month: u32) -> Option<UsageMonth> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(UsageMonth { year, month })
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The following month (December → January of the next year).
    pub fn next(self) -> UsageMonth {
        if self.month == 12 {
            UsageMonth {
                year: self.year + 1,
                month: 1,
            }
        } else {
            UsageMonth {
                month: self.month + 1,
                ..self
            }
        }
    }

    /// 00:00:00 UTC on the first day of this month.
    pub fn start(self) -> DateTime<Utc> {
        first_instant(self.year, self.month)
    }

    /// 00:00:00 UTC on the first day of the next month (exclusive end of this one).
    pub fn end(self) -> DateTime<Utc> {
        self.next().start()
    }
}

fn first_instant(year: i32, month: u32) -> DateTime<Utc> {
    // Day 1 of a validated month always exists; the fallback is unreachable but keeps
    // this total without a panic path.
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl fmt::Display for UsageMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for UsageMonth {
    type Err = UsageMonthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UsageMonthError(s.chars().take(16).collect());
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' {
            return Err(err());
        }
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        if !digits(&b[..4]) || !digits(&b[5..]) {
            return Err(err());
        }
        let year: i32 = s[..4].parse().map_err(|_| err())?;
        let month: u32 = s[5..].parse().map_err(|_| err())?;
        UsageMonth::new(year, month).ok_or_else(err)
    }
}

/// 00:00:00 UTC on the first day of the month containing `at`.
pub fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    UsageMonth::of(at).start()
}

/// 00:00:00 UTC on the first day of the month after the one containing `at`: when a
/// `PeriodicAmountExceeded` permission can be charged again.
pub fn next_month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    UsageMonth::of(at).end()
}
