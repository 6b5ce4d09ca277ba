//! The simulator's stored state: Amazon's objects plus the hidden facts Amazon knows and the
//! merchant does not (the buyer's payment method behaviour, timers, idempotency records).
//! Everything here is plain data so the whole state can be snapshotted to JSON.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use savedwallet_shared::api::{
    Buyer, Charge, ChargePermission, CheckoutSession, IpnMessage, ReasonCode, Refund,
};
use savedwallet_shared::limits::{MonthlyLimit, UsageMonth};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::{Environment, Region};
use serde::{Deserialize, Serialize};

use crate::knobs::WalletKnobs;

/// How a buyer's saved payment method behaves when charged (control API presets and the
/// SPEC §10.1 test cards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Every charge is approved.
    #[default]
    AlwaysApprove,
    /// The next N charges are SoftDeclined, then charges are approved.
    SoftDecline,
    /// Every charge is HardDeclined until the buyer updates the payment method.
    HardDeclineUntilUpdated,
    /// Customer-initiated charges need the buyer's MFA challenge (EU/UK behaviour).
    MfaRequired,
    /// Authorizations are asynchronous and approved after the delay (card …0701).
    AsyncApprove,
    /// Authorizations are asynchronous and HardDeclined after the delay (card …4354).
    AsyncDecline,
    /// Approves, but with a low monthly Saved Wallet limit.
    LowLimit,
    /// Setup: the buyer cancels on the Amazon page (card …3064).
    SetupBuyerCanceled,
    /// Setup: the payment is declined during checkout (card …3434).
    SetupDeclined,
}

impl Preset {
    /// Every preset, for the buyer page and `--help`.
    pub const ALL: [Preset; 9] = [
        Preset::AlwaysApprove,
        Preset::SoftDecline,
        Preset::HardDeclineUntilUpdated,
        Preset::MfaRequired,
        Preset::AsyncApprove,
        Preset::AsyncDecline,
        Preset::LowLimit,
        Preset::SetupBuyerCanceled,
        Preset::SetupDeclined,
    ];

    /// The kebab-case name used in the control API.
    pub fn name(self) -> &'static str {
        match self {
            Preset::AlwaysApprove => "always-approve",
            Preset::SoftDecline => "soft-decline",
            Preset::HardDeclineUntilUpdated => "hard-decline-until-updated",
            Preset::MfaRequired => "mfa-required",
            Preset::AsyncApprove => "async-approve",
            Preset::AsyncDecline => "async-decline",
            Preset::LowLimit => "low-limit",
            Preset::SetupBuyerCanceled => "setup-buyer-canceled",
            Preset::SetupDeclined => "setup-declined",
        }
    }

    /// Parses the kebab-case name.
    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The sandbox test card that stands for this preset (`paymentDescriptor`).
    pub fn descriptor(self) -> &'static str {
        match self {
            Preset::AlwaysApprove => "Visa ****1111",
            Preset::SoftDecline => "Visa ****0002",
            Preset::HardDeclineUntilUpdated => "Visa ****0003",
            Preset::MfaRequired => "Visa ****3155",
            Preset::AsyncApprove => "Visa ****0701",
            Preset::AsyncDecline => "Visa ****4354",
            Preset::LowLimit => "Visa ****0004",
            Preset::SetupBuyerCanceled => "Visa ****3064",
            Preset::SetupDeclined => "Visa ****3434",
        }
    }

    /// Human label for the buyer page.
    pub fn label(self) -> &'static str {
        match self {
            Preset::AlwaysApprove => "Always approves",
            Preset::SoftDecline => "Soft-declines the next charges, then approves",
            Preset::HardDeclineUntilUpdated => "Hard-declines until the payment method is updated",
            Preset::MfaRequired => "Requires MFA for customer-initiated charges",
            Preset::AsyncApprove => "Pending authorization, approved later",
            Preset::AsyncDecline => "Pending authorization, hard-declined later",
            Preset::LowLimit => "Approves, with a low monthly limit",
            Preset::SetupBuyerCanceled => "Buyer cancels the checkout",
            Preset::SetupDeclined => "Payment declined during checkout",
        }
    }
}

/// A buyer's payment method and its scripted behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SimWallet {
    /// The behaviour preset.
    pub(crate) preset: Preset,
    /// SoftDecline: declines still to give.
    pub(crate) soft_declines_remaining: u32,
    /// Async presets: seconds until the authorization resolves.
    pub(crate) async_delay_secs: i64,
    /// Monthly limit override in minor units (LowLimit), else Amazon's table.
    pub(crate) monthly_limit_minor: Option<i64>,
    /// HardDeclineUntilUpdated: true once the buyer fixed the payment method.
    pub(crate) updated: bool,
    /// AsyncDecline: how the pending authorization ends (default HardDeclined).
    #[serde(default = "PendingOutcome::hard_decline")]
    pub(crate) async_decline: PendingOutcome,
    /// How this wallet's asynchronous captures (`CaptureInitiated`) end (default Captured).
    #[serde(default)]
    pub(crate) capture_outcome: PendingOutcome,
    /// Overrides of the sandbox-wide knobs; they survive a payment-method update.
    #[serde(default)]
    pub(crate) knobs: WalletKnobs,
}

impl SimWallet {
    /// A wallet for a preset with the defaults of the sandbox configuration.
    pub(crate) fn new(preset: Preset, async_delay_secs: i64) -> SimWallet {
        SimWallet {
            preset,
            soft_declines_remaining: if preset == Preset::SoftDecline { 2 } else { 0 },
            async_delay_secs,
            monthly_limit_minor: None,
            updated: false,
            async_decline: PendingOutcome::HardDecline,
            capture_outcome: PendingOutcome::Approve,
            knobs: WalletKnobs::default(),
        }
    }
}

/// A checkout session with the sandbox-only facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionRec {
    /// Amazon's object.
    pub(crate) object: CheckoutSession,
    /// Sandbox or Live.
    pub(crate) env: Environment,
    /// Region of the session (from `x-amz-pay-region`).
    pub(crate) region: Region,
    /// Per-session token the buyer pages' forms must echo (no state change on GET).
    pub(crate) form_token: String,
    /// Wallet the buyer picked on the consent page.
    pub(crate) chosen_wallet: Option<SimWallet>,
    /// MFA session: the charge waiting for the buyer.
    pub(crate) mfa_charge_id: Option<String>,
    /// MFA outcome chosen on the challenge page.
    pub(crate) mfa_outcome: Option<MfaOutcome>,
    /// Creation time, Unix ms (simulated clock).
    pub(crate) created_ms: i64,
}

/// What the buyer did on the MFA challenge page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MfaOutcome {
    /// Challenge passed.
    Approved,
    /// Challenge failed.
    Failed,
    /// Buyer gave up.
    Abandoned,
}

/// A charge permission with its wallet and counters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PermissionRec {
    /// Amazon's object.
    pub(crate) object: ChargePermission,
    /// Sandbox or Live.
    pub(crate) env: Environment,
    /// Region (decides MFA and limits).
    pub(crate) region: Region,
    /// Presentment currency.
    pub(crate) currency: Currency,
    /// The buyer's payment method.
    pub(crate) wallet: SimWallet,
    /// Form token of the buyer's account pages for this permission.
    pub(crate) form_token: String,
    /// Sum of counted charges per UTC month `YYYY-MM`, in minor units (SPEC §11.3).
    pub(crate) monthly_minor: BTreeMap<String, i64>,
    /// Next charge / refund id counters.
    pub(crate) next_charge_seq: u32,
    /// Ids of this permission's charges, oldest first.
    pub(crate) charge_ids: Vec<String>,
}

/// A charge with the sandbox-only facts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChargeRec {
    /// Amazon's object.
    pub(crate) object: Charge,
    /// Sandbox or Live.
    pub(crate) env: Environment,
    /// Month key the amount counts toward (None once it stopped counting).
    pub(crate) counted_month: Option<String>,
    /// When it became Authorized (capture async after 7 days), Unix ms.
    pub(crate) authorized_ms: Option<i64>,
    /// What a pending authorization resolves to.
    pub(crate) pending_outcome: Option<PendingOutcome>,
    /// Refunds created for this charge (TransactionCountExceeded guard).
    pub(crate) refund_count: u32,
    /// MFA session of an ActionRequired charge.
    pub(crate) mfa_session_id: Option<String>,
    /// What an asynchronous capture (`CaptureInitiated`) resolves to.
    #[serde(default)]
    pub(crate) capture_outcome: Option<PendingOutcome>,
}

/// Final result of an asynchronous authorization (`AuthorizationInitiated`) or capture
/// (`CaptureInitiated`): approved, or `Declined` with one of the reasons SPEC §16 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PendingOutcome {
    /// Becomes Authorized (or Captured with captureNow); a capture becomes Captured.
    #[default]
    Approve,
    /// Becomes Declined / SoftDeclined.
    SoftDecline,
    /// Becomes Declined / HardDeclined.
    HardDecline,
    /// Becomes Declined / AmazonRejected (and the permission is canceled).
    AmazonRejected,
    /// Becomes Declined / ProcessingFailure.
    ProcessingFailure,
    /// Becomes Declined / TransactionTimedOut.
    TransactionTimedOut,
}

impl PendingOutcome {
    /// Every declining outcome, in the order the docs list them.
    pub const DECLINES: [PendingOutcome; 5] = [
        PendingOutcome::SoftDecline,
        PendingOutcome::HardDecline,
        PendingOutcome::AmazonRejected,
        PendingOutcome::ProcessingFailure,
        PendingOutcome::TransactionTimedOut,
    ];

    fn hard_decline() -> Self {
        PendingOutcome::HardDecline
    }

    /// The `Declined` reason code, `None` for [`PendingOutcome::Approve`].
    pub fn decline_reason(self) -> Option<ReasonCode> {
        match self {
            PendingOutcome::Approve => None,
            PendingOutcome::SoftDecline => Some(ReasonCode::SoftDeclined),
            PendingOutcome::HardDecline => Some(ReasonCode::HardDeclined),
            PendingOutcome::AmazonRejected => Some(ReasonCode::AmazonRejected),
            PendingOutcome::ProcessingFailure => Some(ReasonCode::ProcessingFailure),
            PendingOutcome::TransactionTimedOut => Some(ReasonCode::TransactionTimedOut),
        }
    }

    /// The declining outcome whose reason code is spelled `reason` (e.g. `AmazonRejected`).
    pub fn from_decline_reason(reason: &str) -> Option<PendingOutcome> {
        PendingOutcome::DECLINES
            .into_iter()
            .find(|o| o.decline_reason().is_some_and(|r| r.as_str() == reason))
    }
}

/// A refund with its eventual outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefundRec {
    /// Amazon's object.
    pub(crate) object: Refund,
    /// Sandbox or Live.
    pub(crate) env: Environment,
    /// Permission of the refunded charge.
    pub(crate) charge_permission_id: String,
    /// Declined reason if the refund is going to fail, else it settles as Refunded.
    pub(crate) decline_reason: Option<String>,
}

/// A stored first response for an idempotency key (SPEC §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdempotencyRecord {
    /// Hex SHA-256 over method, operation path and body bytes.
    pub(crate) fingerprint: String,
    /// HTTP status of the first response.
    pub(crate) status: u16,
    /// Body of the first response.
    pub(crate) body: String,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "id")]
pub(crate) enum TimerKind {
    /// Open checkout session → Canceled/Expired after 24 h (voids an MFA charge).
    SessionExpiry(String),
    /// AuthorizationInitiated → final state.
    AsyncAuthorization(String),
    /// Authorized → Canceled/ExpiredUnused after 30 days.
    AuthorizationExpiry(String),
    /// CaptureInitiated → Captured.
    AsyncCapture(String),
    /// RefundInitiated → Refunded/Declined.
    RefundSettlement(String),
}

/// A timer due at `due_ms` (simulated clock, Unix ms); `seq` keeps equal times ordered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Timer {
    /// Due time.
    pub(crate) due_ms: i64,
    /// Creation order.
    pub(crate) seq: u64,
    /// Action.
    pub(crate) kind: TimerKind,
}

/// The whole simulator state (what `--state FILE` persists).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct State {
    /// Merchant id put in IPN messages.
    pub(crate) merchant_id: String,
    /// Simulated clock = wall clock + this offset (ms).
    pub(crate) clock_offset_ms: i64,
    /// Registered public keys: id → SubjectPublicKeyInfo PEM.
    pub(crate) public_keys: BTreeMap<String, String>,
    /// Checkout sessions by id.
    pub(crate) sessions: HashMap<String, SessionRec>,
    /// Charge permissions by id.
    pub(crate) permissions: HashMap<String, PermissionRec>,
    /// Charges by id.
    pub(crate) charges: HashMap<String, ChargeRec>,
    /// Refunds by id.
    pub(crate) refunds: HashMap<String, RefundRec>,
    /// Idempotency records by `<env>:<key>`.
    pub(crate) idempotency: HashMap<String, IdempotencyRecord>,
    /// Pending timers, earliest first.
    pub(crate) timers: BTreeSet<Timer>,
    /// Buyers created through the control API, by buyer id.
    pub(crate) buyers: BTreeMap<String, Buyer>,
    /// Every IPN message published, oldest first.
    pub(crate) ipn_published: Vec<IpnMessage>,
    /// Sequence for timers and ids.
    pub(crate) seq: u64,
}

/// The UTC calendar month key (`YYYY-MM`, `shared::limits::UsageMonth`) of a Unix-ms instant.
pub(crate) fn month_key(ms: i64) -> String {
    use chrono::{TimeZone, Utc};
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => UsageMonth::of(t).to_string(),
        None => "0000-00".to_string(),
    }
}

/// Amazon's monthly Saved Wallet limit for a region and currency (SPEC §11.3), from the
/// table in `shared::limits`. Amazon documents no limit for some pairs (e.g. EUR in NA);
/// the sandbox still lets such wallets exist and applies the EU figure for the currency,
/// which the EU table lists for every supported currency.
pub(crate) fn monthly_limit(region: Region, currency: Currency) -> Price {
    MonthlyLimit::for_region(region, currency)
        .or_else(|_| MonthlyLimit::for_region(Region::Eu, currency))
        .map(MonthlyLimit::amount)
        .unwrap_or_else(|_| Price::per_charge_maximum(currency))
}
