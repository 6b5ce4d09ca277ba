//! The ports besides the store: Amazon Pay (the gateway), a clock and a source of fresh
//! ids. Small traits, so the same use cases run over the real client in Lambda, over the
//! sandbox simulator locally, and over the simulator's clock in tests.

use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use savedwallet_shared::api::{
    CancelChargeRequest, Charge, ChargePermission, CheckoutSession, CloseChargePermissionRequest,
    CreateCheckoutSessionRequest, ReasonCode, Refund,
};
use savedwallet_shared::idempotency::IdempotencyKey;
use savedwallet_shared::region::{Environment, Region};

use crate::ids::{ChargeId, CheckoutSessionId, WalletId};

/// What a failed Amazon Pay call means (the client's classification, docs/client.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Nothing reached Amazon (a refused request, connect failures, no time left).
    #[error("not sent to Amazon Pay: {0}")]
    NotSent(String),
    /// Amazon may have acted and no readable answer came back: only a replay of the same
    /// key and body may follow.
    #[error("no answer from Amazon Pay (outcome unknown)")]
    Unknown,
    /// Amazon declined: 422 codes, 400 limit codes, 500 ProcessingFailure.
    #[error("declined by Amazon Pay: {status} {reason_code}")]
    Declined {
        /// HTTP status.
        status: u16,
        /// Amazon's reason code.
        reason_code: ReasonCode,
    },
    /// Amazon answered an error that is no decline (our request, credentials, an unknown
    /// resource): give up and alert.
    #[error("Amazon Pay refused the request: {status} {reason_code}")]
    Failed {
        /// HTTP status.
        status: u16,
        /// Amazon's reason code (derived from the status for non-JSON bodies).
        reason_code: ReasonCode,
    },
}

/// Gateway result.
pub type GatewayResult<T> = Result<T, GatewayError>;

/// A successful answer with its HTTP status (201 vs 202 matters for Create Charge).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    /// HTTP status.
    pub status: u16,
    /// The object.
    pub body: T,
}

/// The Amazon Pay API v2 operations the use cases call. Bodies that must be resent
/// byte-identical (Create Charge, Capture, Create Refund, Complete Checkout Session) are
/// passed as the exact bytes stored before the first send.
#[async_trait]
pub trait AmazonPay: Send + Sync {
    /// The merchant's region.
    fn region(&self) -> Region;
    /// Sandbox or live.
    fn environment(&self) -> Environment;
    /// The public key id (for the button config).
    fn public_key_id(&self) -> &str;
    /// Signs a button payload as the official SDKs' `generateButtonSignature`.
    fn sign_button_payload(&self, payload_json: &str) -> Result<String, GatewayError>;
    /// The buyer-facing payment-method update link for a wallet (the sandbox's own host
    /// when pointed at the simulator).
    fn payment_method_update_url(&self, wallet: &WalletId) -> String;
    /// Validates and serialises a request body exactly as it will be sent.
    fn body_bytes(
        &self,
        body: &savedwallet_shared::api::CreateChargeRequest,
    ) -> GatewayResult<Vec<u8>>;

    /// Create Checkout Session.
    async fn create_checkout_session(
        &self,
        body: &CreateCheckoutSessionRequest,
        key: &IdempotencyKey,
    ) -> GatewayResult<CheckoutSession>;
    /// Get Checkout Session.
    async fn get_checkout_session(&self, id: &CheckoutSessionId) -> GatewayResult<CheckoutSession>;
    /// Complete Checkout Session (200, or 202 while an authorization is pending).
    async fn complete_checkout_session(
        &self,
        id: &CheckoutSessionId,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Answer<CheckoutSession>>;
    /// Get Charge Permission.
    async fn get_charge_permission(&self, id: &WalletId) -> GatewayResult<ChargePermission>;
    /// Close Charge Permission.
    async fn close_charge_permission(
        &self,
        id: &WalletId,
        body: &CloseChargePermissionRequest,
    ) -> GatewayResult<ChargePermission>;
    /// Create Charge from the stored body bytes, within `deadline`.
    async fn create_charge(
        &self,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Answer<Charge>>;
    /// Get Charge.
    async fn get_charge(&self, id: &ChargeId) -> GatewayResult<Charge>;
    /// Capture Charge from the stored body bytes.
    async fn capture_charge(
        &self,
        id: &ChargeId,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Charge>;
    /// Cancel Charge.
    async fn cancel_charge(
        &self,
        id: &ChargeId,
        body: &CancelChargeRequest,
    ) -> GatewayResult<Charge>;
    /// Create Refund from the stored body bytes.
    async fn create_refund(&self, body: &[u8], key: &IdempotencyKey) -> GatewayResult<Refund>;
    /// Get Refund.
    async fn get_refund(&self, id: &str) -> GatewayResult<Refund>;
}

/// The current time. In local mode and in `simulate` it is the simulator's clock, so "24 h
/// later" and "next UTC month" are testable.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Fresh unpredictable bytes for new ids and holder tokens (random in production,
/// seeded in tests).
pub trait Entropy: Send + Sync {
    /// 16 fresh bytes.
    fn bytes(&self) -> [u8; 16];
}

/// Why an event was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (a 5xx, a timeout, throttling).
    #[error("delivery failed, retry: {0}")]
    Retry(String),
}

/// Where merchant events go: EventBridge in AWS, a signed webhook locally.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Delivers one event (at least once: the receiver deduplicates by its id).
    async fn deliver(&self, event: &crate::store::MerchantEvent) -> Result<(), DeliveryError>;
}

/// One period for a billing worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingJob {
    /// The subscription.
    pub subscription_id: crate::ids::SubscriptionId,
    /// Its due period.
    pub period: u32,
    /// Seconds to hold it back, so the fleet's sends stay under Amazon's quota.
    pub delay_secs: u32,
}

/// Why jobs were not queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("billing queue: {0}")]
pub struct QueueError(pub String);

/// The queue between the billing scheduler and its workers: SQS in AWS, an in-process
/// channel locally.
#[async_trait]
pub trait BillingQueue: Send + Sync {
    /// Queues jobs; returns how many were accepted (the rest are due again next run).
    async fn enqueue(&self, jobs: &[BillingJob]) -> Result<u32, QueueError>;
}

/// A business measurement the use cases report: CloudWatch metrics (EMF) in Lambda,
/// nothing elsewhere unless asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure<'a> {
    /// A payment reached a new status (`succeeded`, `declined`, …, the API's spelling).
    Payment {
        /// The new status.
        outcome: &'a str,
    },
    /// A charge declined, by Amazon's reason code.
    Decline {
        /// Amazon's reason code.
        reason_code: &'a str,
    },
    /// A subscription period was paid, this long after it was due.
    BillingLag {
        /// Seconds from the period's billing time to its payment.
        seconds: f64,
    },
    /// A verified IPN was processed, by Amazon's object type.
    Ipn {
        /// `CHARGE`, `CHARGE_PERMISSION`, `REFUND`, `CHARGEBACK` as Amazon spells it.
        object_type: &'a str,
    },
    /// An IPN refused before anything in it was believed (forged, another topic, …).
    IpnRefused {
        /// The refusal's stable code (`bad_signature`, `topic_not_allowed`, …).
        reason: &'a str,
    },
}

/// Where measurements go.
pub trait Metrics: Send + Sync {
    /// Records one measurement (cheap, never fails: metrics never stop a payment).
    fn record(&self, m: Measure<'_>);
}

/// Measurements dropped (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn record(&self, _: Measure<'_>) {}
}
