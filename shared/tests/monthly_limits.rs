//! Saved Wallet monthly limits (SPEC §11.3): table, month keys, arithmetic.

use chrono::{TimeZone, Utc};
use savedwallet_shared::limits::{
    can_charge, month_start, next_month_start, LimitError, MonthlyLimit, UsageMonth,
    UsageMonthError,
};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

fn p(amount: &str, c: Currency) -> Price {
    Price::parse(amount, c).unwrap()
}

#[test]
fn limit_table_matches_the_spec() {
    use Currency::*;
    let cases: &[(Region, Currency, Option<&str>)] = &[
        (Region::Na, USD, Some("15000.00")),
        (Region::Na, EUR, None),
        (Region::Na, JPY, None),
        (Region::Eu, AUD, Some("15000.00")),
        (Region::Eu, CHF, Some("15000.00")),
        (Region::Eu, DKK, Some("150000.00")),
        (Region::Eu, EUR, Some("15000.00")),
        (Region::Eu, GBP, Some("15000.00")),
        (Region::Eu, HKD, Some("150000.00")),
        (Region::Eu, JPY, Some("2000000")),
        (Region::Eu, NOK, Some("150000.00")),
        (Region::Eu, NZD, Some("15000.00")),
        (Region::Eu, SEK, Some("150000.00")),
        (Region::Eu, USD, Some("15000.00")),
        (Region::Eu, ZAR, Some("150000.00")),
        (Region::Jp, JPY, Some("2000000")),
        (Region::Jp, USD, None),
    ];
    for (region, currency, want) in cases {
        let got = MonthlyLimit::for_region(*region, *currency);
        match want {
            Some(a) => assert_eq!(
                got.map(MonthlyLimit::amount),
                Ok(p(a, *currency)),
                "{region} {currency}"
            ),
            None => assert_eq!(
                got,
                Err(LimitError::UnsupportedCurrency {
                    region: *region,
                    currency: *currency
                })
            ),
        }
    }
    // Every EU currency in Currency::ALL has a row (the EU table lists all twelve).
    for c in Currency::ALL {
        assert!(MonthlyLimit::for_region(Region::Eu, c).is_ok(), "{c}");
    }
}

#[test]
fn can_charge_arithmetic() {
    use Currency::*;
    let usd = MonthlyLimit::for_region(Region::Na, USD).unwrap();
    let jpy = MonthlyLimit::for_region(Region::Jp, JPY).unwrap();
    // (limit, used, amount, expected Ok(remaining) or Err(remaining))
    #[rustfmt::skip]
    let cases: &[(MonthlyLimit, &str, &str, Result<&str, &str>)] = &[
        (usd, "0.00", "14.00", Ok("14986.00")),
        (usd, "14000.00", "1000.00", Ok("0.00")),         // exactly at the limit
        (usd, "14000.00", "1000.01", Err("1000.00")),     // one cent over
        (usd, "0.00", "15000.00", Ok("0.00")),
        (usd, "0.00", "15000.01", Err("15000.00")),
        (usd, "15000.00", "0.01", Err("0.00")),
        (usd, "16000.00", "0.01", Err("0.00")),           // already over: remaining clamps to 0
        (jpy, "1999999", "1", Ok("0")),
        (jpy, "1999999", "2", Err("1")),
        (jpy, "0", "2000000", Ok("0")),
    ];
    for (limit, used, amount, want) in cases {
        let c = limit.amount().currency();
        let got = limit.can_charge(p(used, c), p(amount, c));
        let want = match want {
            Ok(r) => Ok(p(r, c)),
            Err(r) => Err(LimitError::LimitExceeded { remaining: p(r, c) }),
        };
        assert_eq!(got, want, "used {used} + {amount} {c}");
    }
}

#[test]
fn can_charge_rejects_bad_inputs() {
    use Currency::*;
    let limit = p("15000.00", EUR);
    assert_eq!(
        can_charge(p("0.00", EUR), p("1.00", USD), limit),
        Err(LimitError::CurrencyMismatch(EUR, USD))
    );
    assert_eq!(
        can_charge(p("0.00", GBP), p("1.00", EUR), limit),
        Err(LimitError::CurrencyMismatch(EUR, GBP))
    );
    assert_eq!(
        can_charge(p("0.00", EUR), p("0.00", EUR), limit),
        Err(LimitError::NonPositiveAmount)
    );
    assert_eq!(
        can_charge(p("0.00", EUR), Price::from_minor(-1, EUR), limit),
        Err(LimitError::NonPositiveAmount)
    );
    assert_eq!(
        can_charge(Price::from_minor(-5, EUR), p("1.00", EUR), limit),
        Err(LimitError::NegativeUsage)
    );
    // Overflow is an error, never a wrap-around that would let a charge through.
    assert_eq!(
        can_charge(
            Price::from_minor(0, EUR),
            Price::from_minor(i64::MAX, EUR),
            Price::from_minor(i64::MIN + 1, EUR)
        ),
        Err(LimitError::Overflow)
    );
    assert_eq!(
        MonthlyLimit::custom(p("0.00", EUR)),
        Err(LimitError::NonPositiveAmount)
    );
    let own = MonthlyLimit::custom(p("100.00", EUR)).unwrap();
    assert_eq!(
        own.can_charge(p("99.99", EUR), p("0.01", EUR)),
        Ok(p("0.00", EUR))
    );
}

#[test]
fn usage_month_boundaries() {
    let at = |y, m, d, h, mi, s| Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap();
    // (instant, month key, month start, next month start)
    #[rustfmt::skip]
    let cases = [
        (at(2026, 11, 28, 15, 30, 0), "2026-11", at(2026, 11, 1, 0, 0, 0), at(2026, 12, 1, 0, 0, 0)),
        (at(2026, 12, 31, 23, 59, 59), "2026-12", at(2026, 12, 1, 0, 0, 0), at(2027, 1, 1, 0, 0, 0)),
        (at(2027, 1, 1, 0, 0, 0), "2027-01", at(2027, 1, 1, 0, 0, 0), at(2027, 2, 1, 0, 0, 0)),
        (at(2028, 2, 29, 23, 59, 59), "2028-02", at(2028, 2, 1, 0, 0, 0), at(2028, 3, 1, 0, 0, 0)),
        (at(2027, 2, 28, 12, 0, 0), "2027-02", at(2027, 2, 1, 0, 0, 0), at(2027, 3, 1, 0, 0, 0)),
        (at(2026, 3, 31, 23, 59, 59), "2026-03", at(2026, 3, 1, 0, 0, 0), at(2026, 4, 1, 0, 0, 0)),
    ];
    for (t, key, start, next) in cases {
        let m = UsageMonth::of(t);
        assert_eq!(m.to_string(), key);
        assert_eq!(key.parse::<UsageMonth>(), Ok(m));
        assert_eq!(month_start(t), start, "{t}");
        assert_eq!(next_month_start(t), next, "{t}");
        assert_eq!(m.start(), start);
        assert_eq!(m.end(), next);
        assert_eq!(UsageMonth::of(next), m.next());
        // The last instant of the month still belongs to it; the next one does not.
        assert_eq!(UsageMonth::of(next - chrono::Duration::nanoseconds(1)), m);
    }
    // A non-UTC offset is converted: 2026-12-01 01:00 +02:00 is still November in UTC.
    let plus2 = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
    let t = plus2
        .with_ymd_and_hms(2026, 12, 1, 1, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(UsageMonth::of(t).to_string(), "2026-11");
}

#[test]
fn usage_month_parsing() {
    for bad in [
        "",
        "2026-1",
        "2026-13",
        "2026-00",
        "26-11",
        "2026/11",
        "2026-11-01",
        "+026-11",
        "２０２６-11",
        "0000-01",
    ] {
        let cut: String = bad.chars().take(16).collect();
        assert_eq!(
            bad.parse::<UsageMonth>(),
            Err(UsageMonthError(cut)),
            "{bad:?}"
        );
    }
    assert_eq!(
        "0001-01".parse::<UsageMonth>(),
        Ok(UsageMonth::new(1, 1).unwrap())
    );
    assert_eq!(
        "9999-12"
            .parse::<UsageMonth>()
            .map(|m| m.next().to_string()),
        Ok("10000-01".into())
    );
    assert!(UsageMonth::new(2026, 0).is_none());
    assert!(UsageMonth::new(2026, 13).is_none());
    // Keys sort chronologically as values and as strings.
    let a: UsageMonth = "2026-12".parse().unwrap();
    let b: UsageMonth = "2027-01".parse().unwrap();
    assert!(a < b && a.to_string() < b.to_string());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Ok(remaining) means used + amount + remaining = limit exactly; an error means the
        /// amount does not fit in what is left.
        #[test]
        fn can_charge_is_exact(
            limit in 1i64..10_000_000_000,
            used in 0i64..10_000_000_000,
            amount in 1i64..10_000_000_000,
        ) {
            let c = Currency::EUR;
            let got = can_charge(
                Price::from_minor(used, c),
                Price::from_minor(amount, c),
                Price::from_minor(limit, c),
            );
            match got {
                Ok(r) => {
                    prop_assert!(r.minor_units() >= 0);
                    prop_assert_eq!(used + amount + r.minor_units(), limit);
                }
                Err(LimitError::LimitExceeded { remaining }) => {
                    prop_assert!(used + amount > limit);
                    prop_assert_eq!(remaining.minor_units(), (limit - used).max(0));
                }
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }

        /// Every instant lies in [month start, next month start) and the key round-trips.
        #[test]
        fn month_contains_its_instants(secs in 0i64..253_402_300_799) {
            let t = Utc.timestamp_opt(secs, 0).unwrap();
            prop_assert!(month_start(t) <= t && t < next_month_start(t));
            let m = UsageMonth::of(t);
            prop_assert_eq!(m.to_string().parse::<UsageMonth>(), Ok(m));
            prop_assert_eq!(UsageMonth::of(next_month_start(t)), m.next());
        }
    }
}
