//! Money as Amazon Pay writes it: decimal strings, exact minor units, no floats anywhere.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::region::Region;

/// ISO 4217 currencies Amazon Pay accepts (SPEC §11.3, §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Currency {
    /// Australian dollar.
    AUD,
    /// Swiss franc.
    CHF,
    /// Danish krone.
    DKK,
    /// Euro.
    EUR,
    /// Pound sterling.
    GBP,
    /// Hong Kong dollar.
    HKD,
    /// Japanese yen (no minor unit).
    JPY,
    /// Norwegian krone.
    NOK,
    /// New Zealand dollar.
    NZD,
    /// Swedish krona.
    SEK,
    /// US dollar.
    USD,
    /// South African rand.
    ZAR,
}

impl Currency {
    /// Every supported currency, in code order.
    pub const ALL: [Currency; 12] = [
        Currency::AUD,
        Currency::CHF,
        Currency::DKK,
        Currency::EUR,
        Currency::GBP,
        Currency::HKD,
        Currency::JPY,
        Currency::NOK,
        Currency::NZD,
        Currency::SEK,
        Currency::USD,
        Currency::ZAR,
    ];

    /// The ISO 4217 code, e.g. `"EUR"`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::AUD => "AUD",
            Currency::CHF => "CHF",
            Currency::DKK => "DKK",
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::HKD => "HKD",
            Currency::JPY => "JPY",
            Currency::NOK => "NOK",
            Currency::NZD => "NZD",
            Currency::SEK => "SEK",
            Currency::USD => "USD",
            Currency::ZAR => "ZAR",
        }
    }

    /// Digits after the decimal point (ISO 4217 minor units): 0 for JPY, 2 otherwise.
    pub fn minor_digits(self) -> u32 {
        match self {
            Currency::JPY => 0,
            _ => 2,
        }
    }

    /// Minor units in one major unit (1 for JPY, 100 otherwise).
    pub fn minor_per_major(self) -> i64 {
        10_i64.pow(self.minor_digits())
    }

    /// The ledger (disbursement) currency of a region (SPEC §13). UK merchants use the EU
    /// region key, so their GBP ledger is chosen by configuration, not by the region.
    pub fn ledger_for(region: Region) -> Currency {
        match region {
            Region::Na => Currency::USD,
            Region::Eu => Currency::EUR,
            Region::Jp => Currency::JPY,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == s)
            .ok_or_else(|| MoneyError::UnsupportedCurrency(s.chars().take(16).collect()))
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why an amount or currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not one Amazon Pay supports.
    #[error("unsupported currency {0:?}")]
    UnsupportedCurrency(String),
    /// The amount is not a plain decimal number.
    #[error("amount {0:?} is not a decimal number like \"14.00\"")]
    Malformed(String),
    /// More decimals than the currency has minor units.
    #[error("amount {amount:?} has more than {max} decimal places for {currency}")]
    TooManyDecimals {
        /// The amount as given.
        amount: String,
        /// The currency's minor digits.
        max: u32,
        /// The currency.
        currency: Currency,
    },
    /// Negative amounts are never valid.
    #[error("amount must not be negative")]
    Negative,
    /// A charge of zero is meaningless.
    #[error("amount must be greater than zero")]
    Zero,
    /// Above Amazon's per-charge maximum (SPEC §11.4).
    #[error("amount {amount} exceeds the per-charge maximum of {max}")]
    AboveChargeMaximum {
        /// The amount asked for.
        amount: Price,
        /// The maximum for that currency.
        max: Price,
    },
    /// Two prices in different currencies were combined.
    #[error("currency mismatch: {0} vs {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The sum does not fit in 64 bits of minor units.
    #[error("amount overflow")]
    Overflow,
}

/// An exact amount of money: an integer count of minor units in one currency.
///
/// Serialises as Amazon's Price object `{"amount": "14.00", "currencyCode": "USD"}`,
/// always with exactly the currency's minor digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Price {
    minor: i64,
    currency: Currency,
}

/// Largest accepted count of major units in a string (keeps minor units far from i64 overflow).
const MAX_MAJOR_DIGITS: usize = 13;

impl Price {
    /// A price from minor units (cents; yen for JPY). Negative values are representable
    /// (for differences) but never serialised to Amazon by this crate's validated paths.
    pub const fn from_minor(minor: i64, currency: Currency) -> Self {
        Price { minor, currency }
    }

    /// Zero in the given currency.
    pub const fn zero(currency: Currency) -> Self {
        Price { minor: 0, currency }
    }

    /// Parses Amazon's decimal string, e.g. `"14.00"`, `"14.5"`, `"1000"` (JPY).
    ///
    /// Accepts at most the currency's minor digits, an optional leading `-` is refused,
    /// as are exponents, spaces, `+`, and empty parts.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::Malformed(amount.chars().take(32).collect());
        if let Some(rest) = amount.strip_prefix('-') {
            // Distinguish "negative" from garbage for a clearer error. Only one level of
            // recursion: a run of dashes from outside must not grow the stack.
            if !rest.starts_with('-') && Price::parse(rest, currency).is_ok() {
                return Err(MoneyError::Negative);
            }
            return Err(malformed());
        }
        let (int_part, frac_part) = match amount.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (amount, None),
        };
        if int_part.is_empty()
            || int_part.len() > MAX_MAJOR_DIGITS
            || !int_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(malformed());
        }
        let digits = currency.minor_digits();
        let frac = match frac_part {
            None => "",
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(malformed())
            }
            Some(f) => f,
        };
        if frac.len() as u32 > digits {
            return Err(MoneyError::TooManyDecimals {
                amount: amount.chars().take(32).collect(),
                max: digits,
                currency,
            });
        }
        let major: i64 = int_part.parse().map_err(|_| malformed())?;
        let mut minor_frac: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            minor_frac += i64::from(b - b'0') * 10_i64.pow(digits - 1 - i as u32);
        }
        let minor = major
            .checked_mul(currency.minor_per_major())
            .and_then(|m| m.checked_add(minor_frac))
            .ok_or(MoneyError::Overflow)?;
        Ok(Price { minor, currency })
    }

    /// Parses an amount and currency code, both as strings.
    pub fn parse_with_code(amount: &str, currency_code: &str) -> Result<Self, MoneyError> {
        Price::parse(amount, currency_code.parse()?)
    }

    /// Minor units (cents, or yen for JPY).
    pub const fn minor_units(self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(self) -> Currency {
        self.currency
    }

    /// The amount as Amazon's decimal string with exactly the minor digits: `"14.00"`, `"1000"`.
    pub fn amount_string(self) -> String {
        let digits = self.currency.minor_digits();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if digits == 0 {
            return format!("{sign}{abs}");
        }
        let per = 10_u64.pow(digits);
        format!(
            "{sign}{}.{:0width$}",
            abs / per,
            abs % per,
            width = digits as usize
        )
    }

    /// True when the amount is greater than zero.
    pub const fn is_positive(self) -> bool {
        self.minor > 0
    }

    /// Sum of two prices in the same currency.
    pub fn checked_add(self, other: Price) -> Result<Price, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Price { minor, ..self })
    }

    /// Difference of two prices in the same currency (may be negative).
    pub fn checked_sub(self, other: Price) -> Result<Price, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Price { minor, ..self })
    }

    fn same_currency(self, other: Price) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// Amazon's per-charge maximum for a currency (SPEC §11.4: 150,000 in USD/GBP/EUR,
    /// 10,000,000 JPY). For the other EU multi-currency presentment currencies Amazon
    /// documents no figure; we apply 150,000 major units there too (UNCONFIRMED upstream,
    /// conservative for strong currencies, and the sandbox uses the same table).
    pub fn per_charge_maximum(currency: Currency) -> Price {
        let major = match currency {
            Currency::JPY => 10_000_000,
            _ => 150_000,
        };
        Price::from_minor(major * currency.minor_per_major(), currency)
    }

    /// Validates an amount the merchant wants to charge: positive and at most the
    /// per-charge maximum.
    pub fn validate_charge_amount(self) -> Result<Price, MoneyError> {
        if self.minor < 0 {
            return Err(MoneyError::Negative);
        }
        if self.minor == 0 {
            return Err(MoneyError::Zero);
        }
        let max = Price::per_charge_maximum(self.currency);
        if self.minor > max.minor {
            return Err(MoneyError::AboveChargeMaximum { amount: self, max });
        }
        Ok(self)
    }

    /// Parses and validates a charge amount in one step (edge validation helper).
    pub fn parse_charge_amount(amount: &str, currency_code: &str) -> Result<Price, MoneyError> {
        Price::parse_with_code(amount, currency_code)?.validate_charge_amount()
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PriceWire {
    amount: String,
    currency_code: String,
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PriceWire {
            amount: self.amount_string(),
            currency_code: self.currency.code().to_string(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = PriceWire::deserialize(d)?;
        Price::parse_with_code(&wire.amount, &wire.currency_code).map_err(serde::de::Error::custom)
    }
}

/// A Price or a bare decimal string: Amazon's Saved Wallet examples send
/// `convertedAmount: "14.00"` where the reference documents a Price object (SPEC §0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PriceOrAmount {
    /// A full Price object.
    Price(Price),
    /// A decimal string without currency.
    Amount(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_table() {
        let cases: &[(&str, Currency, Result<i64, &str>)] = &[
            ("14.00", Currency::USD, Ok(1400)),
            ("14.5", Currency::USD, Ok(1450)),
            ("14", Currency::USD, Ok(1400)),
            ("0.01", Currency::EUR, Ok(1)),
            ("0.00", Currency::EUR, Ok(0)),
            ("1000", Currency::JPY, Ok(1000)),
            ("1000.0", Currency::JPY, Err("decimals")),
            ("14.001", Currency::USD, Err("decimals")),
            ("-1.00", Currency::USD, Err("negative")),
            ("--1.00", Currency::USD, Err("malformed")),
            ("1e3", Currency::USD, Err("malformed")),
            (" 1.00", Currency::USD, Err("malformed")),
            ("+1.00", Currency::USD, Err("malformed")),
            ("1.", Currency::USD, Err("malformed")),
            (".5", Currency::USD, Err("malformed")),
            ("", Currency::USD, Err("malformed")),
            ("1,00", Currency::EUR, Err("malformed")),
            ("NaN", Currency::USD, Err("malformed")),
            ("99999999999999", Currency::USD, Err("malformed")),
        ];
        for (input, cur, want) in cases {
            let got = Price::parse(input, *cur);
            match (want, got) {
                (Ok(m), Ok(p)) => assert_eq!(p.minor_units(), *m, "{input}"),
                (Err("decimals"), Err(MoneyError::TooManyDecimals { .. })) => {}
                (Err("negative"), Err(MoneyError::Negative)) => {}
                (Err("malformed"), Err(MoneyError::Malformed(_))) => {}
                (w, g) => panic!("{input:?} {cur}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn long_dash_runs_do_not_recurse() {
        let dashes = format!("{}1", "-".repeat(1_000_000));
        assert!(matches!(
            Price::parse(&dashes, Currency::USD),
            Err(MoneyError::Malformed(_))
        ));
    }

    #[test]
    fn format_has_exact_minor_digits() {
        assert_eq!(
            Price::from_minor(1400, Currency::USD).amount_string(),
            "14.00"
        );
        assert_eq!(Price::from_minor(5, Currency::GBP).amount_string(), "0.05");
        assert_eq!(
            Price::from_minor(1000, Currency::JPY).amount_string(),
            "1000"
        );
        assert_eq!(
            Price::from_minor(-5, Currency::EUR).amount_string(),
            "-0.05"
        );
    }

    #[test]
    fn serde_uses_amazon_shape() {
        let p: Price = serde_json::from_str(r#"{"amount":"14.5","currencyCode":"EUR"}"#).unwrap();
        assert_eq!(p, Price::from_minor(1450, Currency::EUR));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"amount":"14.50","currencyCode":"EUR"}"#
        );
        let e =
            serde_json::from_str::<Price>(r#"{"amount":"1","currencyCode":"XXX"}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("unsupported currency \"XXX\""),
            "{e}"
        );
        let e = serde_json::from_str::<Price>(r#"{"amount":1,"currencyCode":"USD"}"#).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid type: integer `1`"),
            "{e}"
        );
    }

    #[test]
    fn charge_amount_validation() {
        use MoneyError::*;
        assert!(matches!(
            Price::parse_charge_amount("0.00", "USD"),
            Err(Zero)
        ));
        assert!(matches!(
            Price::parse_charge_amount("-3", "USD"),
            Err(Negative)
        ));
        assert_eq!(
            Price::parse_charge_amount("150000.00", "USD"),
            Ok(Price::from_minor(15_000_000, Currency::USD))
        );
        assert!(matches!(
            Price::parse_charge_amount("150000.01", "USD"),
            Err(AboveChargeMaximum { .. })
        ));
        assert_eq!(
            Price::parse_charge_amount("10000000", "JPY"),
            Ok(Price::from_minor(10_000_000, Currency::JPY))
        );
        assert!(matches!(
            Price::parse_charge_amount("10000001", "JPY"),
            Err(AboveChargeMaximum { .. })
        ));
        assert!(matches!(
            Price::parse_charge_amount("1.00", "usd"),
            Err(UnsupportedCurrency(_))
        ));
    }

    #[test]
    fn arithmetic_is_exact_and_currency_checked() {
        let a = Price::parse("0.10", Currency::USD).unwrap();
        let b = Price::parse("0.20", Currency::USD).unwrap();
        assert_eq!(a.checked_add(b).unwrap().amount_string(), "0.30");
        assert!(matches!(
            a.checked_add(Price::zero(Currency::EUR)),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert!(matches!(
            Price::from_minor(i64::MAX, Currency::USD).checked_add(a),
            Err(MoneyError::Overflow)
        ));
    }

    #[test]
    fn price_or_amount_accepts_both_forms() {
        let s: PriceOrAmount = serde_json::from_str(r#""14.00""#).unwrap();
        assert_eq!(s, PriceOrAmount::Amount("14.00".into()));
        let p: PriceOrAmount =
            serde_json::from_str(r#"{"amount":"14.00","currencyCode":"USD"}"#).unwrap();
        assert_eq!(
            p,
            PriceOrAmount::Price(Price::from_minor(1400, Currency::USD))
        );
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        proptest::sample::select(Currency::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(minor in 0i64..1_000_000_000_000, cur in any_currency()) {
            let p = Price::from_minor(minor, cur);
            let s = p.amount_string();
            prop_assert_eq!(Price::parse(&s, cur).unwrap(), p);
            // Exactly the minor digits, never a float artefact.
            let decimals = s.split_once('.').map(|(_, f)| f.len() as u32).unwrap_or(0);
            prop_assert_eq!(decimals, cur.minor_digits());
        }

        #[test]
        fn json_round_trip(minor in 0i64..1_000_000_000_000, cur in any_currency()) {
            let p = Price::from_minor(minor, cur);
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(serde_json::from_str::<Price>(&json).unwrap(), p);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}", cur in any_currency()) {
            let _ = Price::parse(&s, cur);
        }

        #[test]
        fn decimal_strings_parse_to_exact_minor(major in 0i64..10_000_000, frac in 0i64..100) {
            let s = format!("{major}.{frac:02}");
            prop_assert_eq!(Price::parse(&s, Currency::EUR).unwrap().minor_units(), major * 100 + frac);
        }
    }
}
