//! The API's JSON shapes (camelCase, `utoipa` schemas), mapped from the use cases' records
//! with exhaustive matches: money as Amazon's price object, times as RFC 3339 UTC, statuses
//! in the API's words. Request bodies live in [`input`].

pub mod input;
mod merchant;
mod payment;
mod view;
mod wallet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;

use savedwallet_shared::money::Price;

pub use merchant::*;
pub use payment::*;
pub use view::*;
pub use wallet::*;

/// Money: `{"amount": "14.00", "currencyCode": "EUR"}` with exactly the currency's minor
/// digits (JPY `"1000"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"amount": "14.00", "currencyCode": "EUR"}))]
pub struct Money {
    /// Decimal string with exactly the currency's minor digits.
    pub amount: String,
    /// ISO 4217 code.
    pub currency_code: String,
}

impl From<Price> for Money {
    fn from(p: Price) -> Money {
        Money {
            amount: p.amount_string(),
            currency_code: p.currency().code().to_string(),
        }
    }
}

impl Money {
    /// As the use cases take it.
    pub fn input(&self) -> savedwallet_app::validate::MoneyInput {
        savedwallet_app::validate::MoneyInput {
            amount: self.amount.clone(),
            currency_code: self.currency_code.clone(),
        }
    }
}

/// An RFC 3339 UTC time with whole seconds: `2026-12-01T08:15:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[schema(value_type = String, format = DateTime, example = "2026-12-01T08:15:00Z")]
pub struct Timestamp(pub DateTime<Utc>);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Timestamp {
        Timestamp(t)
    }
}

/// An optional time.
pub(crate) fn time(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(Timestamp)
}

/// Every non-2xx answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// The `error` object.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorObject {
    /// `invalid_request`, `not_found`, `idempotency_key_reused`, … (API.md "Errors").
    #[schema(example = "invalid_request")]
    pub code: String,
    /// Human text.
    pub message: String,
    /// The field at fault (`invalid_request`, `return_url_not_allowed`).
    pub param: Option<String>,
    /// The request's id (also the `x-request-id` header).
    pub request_id: String,
    /// `order_has_payment`: the order's payment.
    pub payment_id: Option<String>,
    /// `wallet_not_chargeable`: what the buyer can do.
    pub buyer_action: Option<BuyerActionDto>,
    /// `monthly_limit_exceeded`: the month's usage.
    pub monthly_usage: Option<MonthlyUsageDto>,
}
