//! Wallets, their setup, the button config, and subscriptions.

use serde::Serialize;
use utoipa::ToSchema;

use savedwallet_app::store::{CancelReason, Payment, Subscription, SubscriptionStatus};
use savedwallet_app::usecases::periods::period_in_force;
use savedwallet_app::usecases::{ButtonConfig, SetupStarted, WalletView};
use savedwallet_app::UsageReport;

use super::{time, Money, PaymentResult, Timestamp};

/// A wallet's counted charges this UTC month and its Saved Wallet limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MonthlyUsageDto {
    /// `YYYY-MM` (UTC).
    #[schema(example = "2026-12")]
    pub month: String,
    /// Counted so far.
    pub used: Money,
    /// The limit.
    pub limit: Money,
}

impl From<&UsageReport> for MonthlyUsageDto {
    fn from(u: &UsageReport) -> Self {
        MonthlyUsageDto {
            month: u.month.clone(),
            used: u.used.into(),
            limit: u.limit.into(),
        }
    }
}

/// A Saved Wallet (Amazon charge permission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletDto {
    /// Amazon's `chargePermissionId`.
    pub wallet_id: String,
    /// Amazon's state: `Chargeable`, `NonChargeable` or `Closed`.
    pub state: String,
    /// Amazon's reason codes.
    pub reasons: Vec<String>,
    /// Amazon's payment-method update link.
    pub payment_method_update_url: String,
    /// This month's usage.
    pub monthly_usage: MonthlyUsageDto,
    /// E.g. `Visa ****1111`.
    pub payment_descriptor: Option<String>,
    /// Charges are held until the buyer updates the payment method (after a hard decline).
    pub update_required: bool,
    /// The currency every charge uses.
    pub currency_code: String,
    /// Created.
    pub created_at: Timestamp,
}

impl From<&WalletView> for WalletDto {
    fn from(v: &WalletView) -> Self {
        let w = &v.wallet;
        WalletDto {
            wallet_id: w.wallet_id.to_string(),
            state: w.state.as_str().to_string(),
            reasons: w.reasons.iter().map(|r| r.as_str().to_string()).collect(),
            payment_method_update_url: v.update_url.clone(),
            monthly_usage: (&v.usage).into(),
            payment_descriptor: w.payment_descriptor.clone(),
            update_required: w.update_required,
            currency_code: w.currency.code().to_string(),
            created_at: w.created_at.into(),
        }
    }
}

/// `GET /v1/wallets`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletList {
    /// Newest first.
    pub wallets: Vec<WalletDto>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}

/// `POST /v1/wallets/setup`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupStartedDto {
    /// Amazon's checkout session id (bound to the caller).
    pub checkout_session_id: String,
    /// Where to send the buyer.
    pub redirect_url: String,
}

impl From<&SetupStarted> for SetupStartedDto {
    fn from(s: &SetupStarted) -> Self {
        SetupStartedDto {
            checkout_session_id: s.checkout_session_id.to_string(),
            redirect_url: s.redirect_url.clone(),
        }
    }
}

/// Amazon Pay button config (signed as the official SDKs' `generateButtonSignature`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ButtonConfigDto {
    /// The signed Create Checkout Session payload, as the page must pass it.
    #[serde(rename = "payloadJSON")]
    pub payload_json: String,
    /// Its signature.
    pub signature: String,
    /// The public key id.
    pub public_key_id: String,
    /// Merchant id.
    pub merchant_id: String,
    /// Ledger currency.
    pub ledger_currency: String,
    /// Checkout language.
    pub checkout_language: String,
    /// `PayOnly`.
    pub product_type: String,
    /// `Other`.
    pub placement: String,
    /// Sandbox button.
    pub sandbox: bool,
}

impl From<&ButtonConfig> for ButtonConfigDto {
    fn from(b: &ButtonConfig) -> Self {
        ButtonConfigDto {
            payload_json: b.payload_json.clone(),
            signature: b.signature.clone(),
            public_key_id: b.public_key_id.clone(),
            merchant_id: b.merchant_id.clone(),
            ledger_currency: b.ledger_currency.code().to_string(),
            checkout_language: b.checkout_language.clone(),
            product_type: b.product_type.clone(),
            placement: b.placement.clone(),
            sandbox: b.sandbox,
        }
    }
}

/// A subscription's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatusDto {
    /// The first payment has not succeeded yet (canceled if not within 24 h).
    Incomplete,
    /// Paid up.
    Active,
    /// A period's payment has not succeeded.
    PastDue,
    /// Ended: nothing more is billed.
    Canceled,
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReasonDto {
    /// The buyer.
    Buyer,
    /// The merchant.
    Merchant,
    /// Its wallet was closed.
    WalletClosed,
    /// Dunning ended without a successful payment.
    DunningExhausted,
    /// The first payment did not succeed within 24 h.
    FirstPaymentNotCompleted,
}

/// The period being billed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeriodDto {
    /// Period number (1 = the first).
    pub number: u32,
    /// When it began.
    pub starts_at: Option<Timestamp>,
    /// When it ends (the next period begins).
    pub ends_at: Timestamp,
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDto {
    /// Subscription id.
    pub subscription_id: String,
    /// The wallet billed.
    pub wallet_id: String,
    /// The plan.
    pub plan_id: String,
    /// Status.
    pub status: SubscriptionStatusDto,
    /// The period in force: the one being billed, else the last one paid.
    pub current_period: PeriodDto,
    /// When the next period is billed (null once canceled).
    pub next_billing_at: Option<Timestamp>,
    /// The current period's payment.
    pub latest_payment: Option<PaymentResult>,
    /// When it was canceled.
    pub canceled_at: Option<Timestamp>,
    /// Why it was canceled.
    pub cancel_reason: Option<CancelReasonDto>,
    /// Price of the current period.
    pub price: Money,
    /// `day`, `week`, `month`, `year`.
    pub interval: String,
    /// Units per interval.
    pub interval_count: u32,
    /// Created.
    pub created_at: Timestamp,
}

impl SubscriptionDto {
    /// From a subscription and its latest payment.
    pub fn new(s: &Subscription, latest: Option<&Payment>) -> Self {
        let canceled = s.status == SubscriptionStatus::Canceled;
        SubscriptionDto {
            subscription_id: s.subscription_id.to_string(),
            wallet_id: s.wallet_id.to_string(),
            plan_id: s.plan_id.to_string(),
            status: match s.status {
                SubscriptionStatus::Incomplete => SubscriptionStatusDto::Incomplete,
                SubscriptionStatus::Active => SubscriptionStatusDto::Active,
                SubscriptionStatus::PastDue => SubscriptionStatusDto::PastDue,
                SubscriptionStatus::Canceled => SubscriptionStatusDto::Canceled,
            },
            current_period: {
                let (number, starts, ends) = period_in_force(s);
                PeriodDto {
                    number,
                    starts_at: time(starts),
                    // None only past chrono's range; the stored next start stands in.
                    ends_at: ends.unwrap_or(s.next_billing_at).into(),
                }
            },
            next_billing_at: (!canceled).then_some(s.next_billing_at.into()),
            latest_payment: latest.map(PaymentResult::from),
            canceled_at: time(s.canceled_at),
            cancel_reason: s.cancel_reason.map(|r| match r {
                CancelReason::Buyer => CancelReasonDto::Buyer,
                CancelReason::Merchant => CancelReasonDto::Merchant,
                CancelReason::WalletClosed => CancelReasonDto::WalletClosed,
                CancelReason::DunningExhausted => CancelReasonDto::DunningExhausted,
                CancelReason::FirstPaymentNotCompleted => CancelReasonDto::FirstPaymentNotCompleted,
            }),
            price: s.price.into(),
            interval: s.interval.unit.as_str().to_string(),
            interval_count: s.interval.count,
            created_at: s.created_at.into(),
        }
    }
}

/// `GET /v1/subscriptions`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionList {
    /// Newest first.
    pub subscriptions: Vec<SubscriptionDto>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}

/// `POST /v1/subscriptions`: the subscription and its first period's payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionCreated {
    /// The subscription.
    pub subscription: SubscriptionDto,
    /// The first period's payment (CITR).
    pub payment: PaymentResult,
}
