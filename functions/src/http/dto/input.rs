//! Request bodies (unknown fields refused) and their validation at the edge: ids, amounts,
//! lengths and return URLs are checked here with the use cases' own rules before anything is
//! read or written, so bad input is refused with its field named and nothing stored.

use std::str::FromStr;

use serde::Deserialize;
use utoipa::ToSchema;

use savedwallet_app::ids::*;
use savedwallet_app::store::IntervalUnit;
use savedwallet_app::validate;
use savedwallet_shared::money::Price;

use super::Money;
use crate::http::error::AppError;
use crate::http::AppState;

/// A well-formed id from a body (400 naming the field otherwise; a well-formed id of
/// something the caller does not own is the use case's 404).
pub fn body_id<T: FromStr>(param: &str, raw: &str) -> Result<T, AppError>
where
    T::Err: std::fmt::Display,
{
    T::from_str(raw).map_err(|e| AppError::invalid(param, e.to_string()))
}

/// A valid amount.
pub fn amount(param: &str, m: &Money) -> Result<Price, AppError> {
    Ok(validate::amount(param, &m.input())?)
}

/// A `paymentId` as long as the service's, so the length check with it appended is exact.
const PAYMENT_ID_PLACEHOLDER: &str = "pay_aaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A return URL the use case will accept (`with_payment_id`: the service appends one).
pub fn return_url(
    st: &AppState,
    param: &str,
    value: &str,
    with_payment_id: bool,
) -> Result<(), AppError> {
    let cfg = st.service().config();
    let extra: &[(&str, &str)] = if with_payment_id {
        &[("paymentId", PAYMENT_ID_PLACEHOLDER)]
    } else {
        &[]
    };
    validate::return_url(
        param,
        value,
        &cfg.return_origins,
        cfg.allow_loopback_http,
        extra,
    )?;
    Ok(())
}

fn opt_return_url(st: &AppState, param: &str, v: Option<&str>) -> Result<(), AppError> {
    match v {
        Some(v) => return_url(st, param, v, true),
        None => Ok(()),
    }
}

/// A body with no fields (`{}` or empty).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// `POST /v1/wallets/setup`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupBody {
    /// Where Amazon sends the buyer back (an allowed origin).
    pub return_url: String,
}

impl SetupBody {
    /// Checks the URL.
    pub fn check(&self, st: &AppState) -> Result<(), AppError> {
        return_url(st, "returnUrl", &self.return_url, false)
    }
}

/// `POST /v1/wallets` and `POST /v1/payments/{paymentId}/complete`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutSessionBody {
    /// The `amazonCheckoutSessionId` Amazon appended to the return URL.
    pub amazon_checkout_session_id: String,
}

impl CheckoutSessionBody {
    /// The session id.
    pub fn check(&self) -> Result<CheckoutSessionId, AppError> {
        body_id("amazonCheckoutSessionId", &self.amazon_checkout_session_id)
    }
}

/// `POST /v1/subscriptions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeBody {
    /// An owned wallet.
    pub wallet_id: String,
    /// An active plan.
    pub plan_id: String,
    /// Where Amazon returns the buyer after an MFA challenge (required for EU/UK wallets).
    pub checkout_result_return_url: Option<String>,
}

impl SubscribeBody {
    /// The wallet and plan ids, the URL checked.
    pub fn check(&self, st: &AppState) -> Result<(WalletId, PlanId), AppError> {
        let w = body_id("walletId", &self.wallet_id)?;
        let p = body_id("planId", &self.plan_id)?;
        opt_return_url(
            st,
            "checkoutResultReturnUrl",
            self.checkout_result_return_url.as_deref(),
        )?;
        Ok((w, p))
    }
}

/// `PATCH /v1/subscriptions/{subscriptionId}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeWalletBody {
    /// Another owned wallet.
    pub wallet_id: String,
}

/// `POST /v1/orders/{orderId}/pay`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PayOrderBody {
    /// An owned wallet.
    pub wallet_id: String,
    /// Where Amazon returns the buyer after an MFA challenge (required for EU/UK wallets).
    pub checkout_result_return_url: Option<String>,
}

impl PayOrderBody {
    /// The wallet id, the URL checked.
    pub fn check(&self, st: &AppState) -> Result<WalletId, AppError> {
        let w = body_id("walletId", &self.wallet_id)?;
        opt_return_url(
            st,
            "checkoutResultReturnUrl",
            self.checkout_result_return_url.as_deref(),
        )?;
        Ok(w)
    }
}

/// `POST /v1/payments/{paymentId}/retry`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBody {
    /// Another owned wallet to charge instead.
    pub wallet_id: Option<String>,
    /// Where Amazon returns the buyer after an MFA challenge.
    pub checkout_result_return_url: Option<String>,
}

impl RetryBody {
    /// The wallet id, the URL checked.
    pub fn check(&self, st: &AppState) -> Result<Option<WalletId>, AppError> {
        let w = self
            .wallet_id
            .as_deref()
            .map(|w| body_id("walletId", w))
            .transpose()?;
        opt_return_url(
            st,
            "checkoutResultReturnUrl",
            self.checkout_result_return_url.as_deref(),
        )?;
        Ok(w)
    }
}

/// `PUT /admin/v1/plans/{planId}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanBody {
    /// Display name (1 to 100 characters).
    pub name: String,
    /// Price per interval.
    pub price: Money,
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    /// Units per interval (1 to 365).
    pub interval_count: u32,
    /// Takes new subscriptions (default true).
    pub active: Option<bool>,
}

impl PlanBody {
    /// Checks every field.
    pub fn check(&self, st: &AppState) -> Result<(), AppError> {
        validate::text("name", &self.name, 100)?;
        amount("price", &self.price)?;
        let minutes_ok = st.service().config().allow_minute_plans;
        IntervalUnit::parse(&self.interval)
            .filter(|u| *u != IntervalUnit::Minute || minutes_ok)
            .ok_or_else(|| {
                AppError::invalid("interval", "interval must be month, week, day or year")
            })?;
        if !(1..=365).contains(&self.interval_count) {
            return Err(AppError::invalid(
                "intervalCount",
                "intervalCount must be 1 to 365",
            ));
        }
        Ok(())
    }
}

/// `POST /admin/v1/orders`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderBody {
    /// The customer (the buyer's JWT `sub`).
    pub customer_id: String,
    /// Amount.
    pub amount: Money,
    /// Description (1 to 255 characters).
    pub description: String,
    /// Capture at once (default true) or only authorize.
    pub capture_now: Option<bool>,
    /// Statement descriptor (1 to 16 characters, only with `captureNow: true`).
    pub soft_descriptor: Option<String>,
}

impl OrderBody {
    /// Checks every field.
    pub fn check(&self) -> Result<(), AppError> {
        body_id::<CustomerId>("customerId", &self.customer_id)?;
        amount("amount", &self.amount)?;
        validate::text("description", &self.description, 255)?;
        validate::soft_descriptor(
            self.soft_descriptor.as_deref(),
            self.capture_now.unwrap_or(true),
        )?;
        Ok(())
    }
}

/// `POST /admin/v1/payments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MerchantChargeBody {
    /// The wallet.
    pub wallet_id: String,
    /// Amount.
    pub amount: Money,
    /// Why (1 to 255 characters).
    pub reason: String,
}

impl MerchantChargeBody {
    /// The wallet id, every field checked.
    pub fn check(&self) -> Result<WalletId, AppError> {
        let w = body_id("walletId", &self.wallet_id)?;
        amount("amount", &self.amount)?;
        validate::text("reason", &self.reason, 255)?;
        Ok(w)
    }
}

/// `POST /admin/v1/payments/{paymentId}/capture`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureBody {
    /// At most the authorized amount (default: all of it).
    pub amount: Option<Money>,
}

impl CaptureBody {
    /// Checks the amount.
    pub fn check(&self) -> Result<(), AppError> {
        if let Some(m) = &self.amount {
            amount("amount", m)?;
        }
        Ok(())
    }
}

/// `POST /admin/v1/payments/{paymentId}/refunds`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundBody {
    /// Amount (the total refunded stays within the captured amount).
    pub amount: Money,
    /// Why (1 to 255 characters).
    pub reason: Option<String>,
}

impl RefundBody {
    /// Checks every field.
    pub fn check(&self) -> Result<(), AppError> {
        amount("amount", &self.amount)?;
        validate::opt_text("reason", self.reason.as_deref(), 255)?;
        Ok(())
    }
}

/// `POST /dev/token`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevTokenBody {
    /// The customer the token is for (its `sub`).
    pub customer_id: String,
}

/// `POST /dev/clock/advance`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvanceBody {
    /// Seconds to move the simulator's clock and the service's forward (1 to 400 days).
    pub seconds: u64,
}
