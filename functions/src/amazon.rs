//! The Amazon Pay gateway adapter: `savedwallet_app::ports::AmazonPay` over the signing
//! client, with the client's errors mapped once into the port's (not sent / outcome
//! unknown / declined / failed). Every charging call gets the caller's deadline and a
//! per-attempt timeout, so a request never outlives API Gateway's 30 s.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use savedwallet_amazon_pay::{AmazonPayClient, CallOptions, Error, Outcome};
use savedwallet_app::ids::{ChargeId, CheckoutSessionId, WalletId};
use savedwallet_app::ports::{AmazonPay, Answer, GatewayError, GatewayResult};
use savedwallet_shared::api::{
    CancelChargeRequest, Charge, ChargePermission, CheckoutSession, CloseChargePermissionRequest,
    CreateChargeRequest, CreateCheckoutSessionRequest, Refund,
};
use savedwallet_shared::idempotency::IdempotencyKey;
use savedwallet_shared::region::{Environment, Region};

/// Per-attempt timeouts (Amazon answers a synchronous authorization within 15 s, 30 s in
/// JP; everything else is quick).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Create Charge, Capture, Complete Checkout Session.
    pub charge: Duration,
    /// Everything else.
    pub other: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            charge: Duration::from_secs(17),
            other: Duration::from_secs(8),
        }
    }
}

/// The adapter.
#[derive(Debug, Clone)]
pub struct AmazonPayGateway {
    client: AmazonPayClient,
    region: Region,
    timeouts: Timeouts,
}

impl AmazonPayGateway {
    /// The gateway over a configured client.
    pub fn new(client: AmazonPayClient, region: Region, timeouts: Timeouts) -> Self {
        AmazonPayGateway {
            client,
            region,
            timeouts,
        }
    }

    /// The client.
    pub fn client(&self) -> &AmazonPayClient {
        &self.client
    }

    fn charging(&self, deadline: Option<Instant>) -> AmazonPayClient {
        self.client.with_call_options(CallOptions {
            deadline: deadline.map(tokio::time::Instant::from_std),
            attempt_timeout: Some(self.timeouts.charge),
        })
    }

    fn quick(&self) -> AmazonPayClient {
        self.client.with_call_options(CallOptions {
            deadline: Some(tokio::time::Instant::now() + self.timeouts.other * 3),
            attempt_timeout: Some(self.timeouts.other),
        })
    }
}

/// The client's error, as the port knows it. Amazon's message text is dropped: it never
/// reaches a response, and the reason code says what matters.
pub fn gateway_error(e: Error) -> GatewayError {
    let outcome = e.outcome();
    match (outcome, e) {
        (
            Outcome::Declined,
            Error::Declined {
                status,
                reason_code,
                ..
            },
        ) => GatewayError::Declined {
            status,
            reason_code,
        },
        (
            Outcome::Failed,
            Error::Api {
                status,
                reason_code,
                ..
            },
        ) => GatewayError::Failed {
            status,
            reason_code,
        },
        (Outcome::Unknown, _) => GatewayError::Unknown,
        (_, e) => GatewayError::NotSent(e.to_string()),
    }
}

fn ok<T>(r: Result<savedwallet_amazon_pay::ApiResponse<T>, Error>) -> GatewayResult<T> {
    r.map(|a| a.body).map_err(gateway_error)
}

#[async_trait]
impl AmazonPay for AmazonPayGateway {
    fn region(&self) -> Region {
        self.region
    }

    fn environment(&self) -> Environment {
        self.client.environment()
    }

    fn public_key_id(&self) -> &str {
        self.client.signer().public_key_id()
    }

    fn sign_button_payload(&self, payload_json: &str) -> Result<String, GatewayError> {
        self.client
            .signer()
            .sign_button_payload(payload_json)
            .map_err(|e| GatewayError::NotSent(e.to_string()))
    }

    fn payment_method_update_url(&self, wallet: &WalletId) -> String {
        self.client
            .payment_method_update_url(wallet.as_str())
            .unwrap_or_else(|_| self.region.payment_method_update_url(wallet.as_str()))
    }

    fn body_bytes(&self, body: &CreateChargeRequest) -> GatewayResult<Vec<u8>> {
        self.client
            .body_bytes(body)
            .map_err(|e| GatewayError::NotSent(e.to_string()))
    }

    async fn create_checkout_session(
        &self,
        body: &CreateCheckoutSessionRequest,
        key: &IdempotencyKey,
    ) -> GatewayResult<CheckoutSession> {
        ok(self
            .quick()
            .create_checkout_session(body, key.as_str())
            .await)
    }

    async fn get_checkout_session(&self, id: &CheckoutSessionId) -> GatewayResult<CheckoutSession> {
        ok(self.quick().get_checkout_session(id.as_str()).await)
    }

    async fn complete_checkout_session(
        &self,
        id: &CheckoutSessionId,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Answer<CheckoutSession>> {
        self.charging(deadline)
            .complete_checkout_session_from_bytes(id.as_str(), body, key.as_str())
            .await
            .map(|a| Answer {
                status: a.status,
                body: a.body,
            })
            .map_err(gateway_error)
    }

    async fn get_charge_permission(&self, id: &WalletId) -> GatewayResult<ChargePermission> {
        ok(self.quick().get_charge_permission(id.as_str()).await)
    }

    async fn close_charge_permission(
        &self,
        id: &WalletId,
        body: &CloseChargePermissionRequest,
    ) -> GatewayResult<ChargePermission> {
        ok(self
            .quick()
            .close_charge_permission(id.as_str(), body)
            .await)
    }

    async fn create_charge(
        &self,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Answer<Charge>> {
        self.charging(deadline)
            .create_charge_from_bytes(body, key.as_str())
            .await
            .map(|a| Answer {
                status: a.status,
                body: a.body,
            })
            .map_err(gateway_error)
    }

    async fn get_charge(&self, id: &ChargeId) -> GatewayResult<Charge> {
        ok(self.quick().get_charge(id.as_str()).await)
    }

    async fn capture_charge(
        &self,
        id: &ChargeId,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Charge> {
        ok(self
            .charging(deadline)
            .capture_charge_from_bytes(id.as_str(), body, key.as_str())
            .await)
    }

    async fn cancel_charge(
        &self,
        id: &ChargeId,
        body: &CancelChargeRequest,
    ) -> GatewayResult<Charge> {
        ok(self.quick().cancel_charge(id.as_str(), body).await)
    }

    async fn create_refund(&self, body: &[u8], key: &IdempotencyKey) -> GatewayResult<Refund> {
        ok(self
            .quick()
            .create_refund_from_bytes(body, key.as_str())
            .await)
    }

    async fn get_refund(&self, id: &str) -> GatewayResult<Refund> {
        ok(self.quick().get_refund(id).await)
    }
}
