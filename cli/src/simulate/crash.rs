//! Worker crashes between "sent" and "recorded": a decorator of the service's Amazon Pay
//! port lets a Create Charge reach Amazon (the sandbox applies it and answers), then, for a
//! share of billing jobs, never returns — and the job's runner drops the job at that point,
//! as a Lambda worker killed mid-invocation would stop. Nothing after the send runs: the
//! attempt stays "sent" in the store, the period stays claimed, and only the lease's lapse
//! (the next claim replays the stored key and body) or the reconciler can finish it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Notify;

use savedwallet_app::ids::{ChargeId, CheckoutSessionId, WalletId};
use savedwallet_app::ports::{AmazonPay, Answer, GatewayError, GatewayResult};
use savedwallet_shared::api::{
    CancelChargeRequest, Charge, ChargePermission, CheckoutSession, CloseChargePermissionRequest,
    CreateChargeRequest, CreateCheckoutSessionRequest, Refund,
};
use savedwallet_shared::idempotency::IdempotencyKey;
use savedwallet_shared::region::{Environment, Region};

tokio::task_local! {
    /// Set by the job runner around one billing job: the decorator signals a crash on it.
    static CRASH: Arc<Notify>;
}

/// Runs `job`; `None` when it "crashed" (dropped right after its Create Charge was sent).
pub async fn run_crashable<F: std::future::Future>(job: F) -> Option<F::Output> {
    let crash = Arc::new(Notify::new());
    let scoped = CRASH.scope(crash.clone(), job);
    tokio::select! {
        out = scoped => Some(out),
        () = crash.notified() => None,
    }
}

/// The Amazon Pay port with crashes after a share of billing jobs' Create Charge calls.
pub struct CrashingAmazon {
    inner: Arc<dyn AmazonPay>,
    rate: f64,
    dice: Mutex<StdRng>,
    crashes: Arc<AtomicU64>,
}

impl CrashingAmazon {
    /// Crashes with probability `rate` per Create Charge of a job run by
    /// [`run_crashable`]; `crashes` counts them.
    pub fn new(
        inner: Arc<dyn AmazonPay>,
        rate: f64,
        seed: u64,
        crashes: Arc<AtomicU64>,
    ) -> CrashingAmazon {
        CrashingAmazon {
            inner,
            rate,
            dice: Mutex::new(StdRng::seed_from_u64(seed)),
            crashes,
        }
    }
}

#[async_trait]
impl AmazonPay for CrashingAmazon {
    fn region(&self) -> Region {
        self.inner.region()
    }
    fn environment(&self) -> Environment {
        self.inner.environment()
    }
    fn public_key_id(&self) -> &str {
        self.inner.public_key_id()
    }
    fn sign_button_payload(&self, payload_json: &str) -> Result<String, GatewayError> {
        self.inner.sign_button_payload(payload_json)
    }
    fn payment_method_update_url(&self, wallet: &WalletId) -> String {
        self.inner.payment_method_update_url(wallet)
    }
    fn body_bytes(&self, body: &CreateChargeRequest) -> GatewayResult<Vec<u8>> {
        self.inner.body_bytes(body)
    }
    async fn create_checkout_session(
        &self,
        body: &CreateCheckoutSessionRequest,
        key: &IdempotencyKey,
    ) -> GatewayResult<CheckoutSession> {
        self.inner.create_checkout_session(body, key).await
    }
    async fn get_checkout_session(&self, id: &CheckoutSessionId) -> GatewayResult<CheckoutSession> {
        self.inner.get_checkout_session(id).await
    }
    async fn complete_checkout_session(
        &self,
        id: &CheckoutSessionId,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Answer<CheckoutSession>> {
        self.inner
            .complete_checkout_session(id, body, key, deadline)
            .await
    }
    async fn get_charge_permission(&self, id: &WalletId) -> GatewayResult<ChargePermission> {
        self.inner.get_charge_permission(id).await
    }
    async fn close_charge_permission(
        &self,
        id: &WalletId,
        body: &CloseChargePermissionRequest,
    ) -> GatewayResult<ChargePermission> {
        self.inner.close_charge_permission(id, body).await
    }
    async fn create_charge(
        &self,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Answer<Charge>> {
        let answer = self.inner.create_charge(body, key, deadline).await;
        if let Ok(crash) = CRASH.try_with(|c| c.clone()) {
            if self.dice.lock().random_bool(self.rate) {
                self.crashes.fetch_add(1, Ordering::Relaxed);
                crash.notify_one();
                // The runner drops this future; nothing of the job runs after the send.
                std::future::pending::<()>().await;
            }
        }
        answer
    }
    async fn get_charge(&self, id: &ChargeId) -> GatewayResult<Charge> {
        self.inner.get_charge(id).await
    }
    async fn capture_charge(
        &self,
        id: &ChargeId,
        body: &[u8],
        key: &IdempotencyKey,
        deadline: Option<Instant>,
    ) -> GatewayResult<Charge> {
        self.inner.capture_charge(id, body, key, deadline).await
    }
    async fn cancel_charge(
        &self,
        id: &ChargeId,
        body: &CancelChargeRequest,
    ) -> GatewayResult<Charge> {
        self.inner.cancel_charge(id, body).await
    }
    async fn create_refund(&self, body: &[u8], key: &IdempotencyKey) -> GatewayResult<Refund> {
        self.inner.create_refund(body, key).await
    }
    async fn get_refund(&self, id: &str) -> GatewayResult<Refund> {
        self.inner.get_refund(id).await
    }
}
