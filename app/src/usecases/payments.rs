//! Paying: an order (CITU), a merchant's unscheduled charge (MITU), a buyer's retry;
//! capture and cancel; reading payments (an expired MFA payment is voided on read).

use chrono::{DateTime, TimeDelta, Utc};

use savedwallet_shared::api::{CancelChargeRequest, CaptureChargeRequest, ChargeInitiator};
use savedwallet_shared::decline::PermissionCheck;
use savedwallet_shared::idempotency::KeyPurpose;
use savedwallet_shared::money::Price;
use savedwallet_shared::region::Region;

use super::charge::{next_attempt, ChargeOptions, ChargeRun};
use super::interpret::{self, charge_step, Context};
use super::wallets::upstream;
use super::{store_retry, Caller, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::ports::GatewayError;
use crate::store::*;
use crate::validate::{self, MoneyInput};

/// `POST /v1/orders/{orderId}/pay`.
#[derive(Debug, Clone)]
pub struct PayOrder {
    /// The order.
    pub order_id: OrderId,
    /// The buyer's wallet.
    pub wallet_id: WalletId,
    /// Where Amazon sends the buyer back after an MFA challenge (EU/UK).
    pub return_url: Option<String>,
}

/// `POST /admin/v1/payments`: a merchant-initiated unscheduled charge.
#[derive(Debug, Clone)]
pub struct MerchantCharge {
    /// The wallet.
    pub wallet_id: WalletId,
    /// The amount.
    pub amount: MoneyInput,
    /// Why (shown in the merchant's records).
    pub reason: String,
    /// The caller's idempotency scope (its `Idempotency-Key`): names the payment, so a
    /// retried request can never become a second charge.
    pub scope: Vec<u8>,
}

/// `POST /v1/payments/{paymentId}/retry`.
#[derive(Debug, Clone)]
pub struct RetryPayment {
    /// The payment.
    pub payment_id: PaymentId,
    /// Another owned wallet to charge instead.
    pub wallet_id: Option<WalletId>,
    /// The MFA return URL.
    pub return_url: Option<String>,
}

/// A payment with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDetail {
    /// The payment.
    pub payment: Payment,
    /// Its attempts, oldest first.
    pub attempts: Vec<ChargeAttempt>,
}

/// A charging route's answer: the payment, and whether this call made an attempt (201) or
/// returns an earlier one (200).
pub type Charged = (Payment, bool);

impl Service {
    /// A new payment of `kind` with attempt 1 about to begin.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_payment(
        &self,
        id: PaymentId,
        owner: &CustomerId,
        kind: PaymentKind,
        wallet: &WalletId,
        amount: Price,
        initiator: ChargeInitiator,
        capture_now: bool,
        soft_descriptor: Option<String>,
        return_url: Option<String>,
        now: DateTime<Utc>,
    ) -> Payment {
        let cit = initiator.is_customer_initiated();
        Payment {
            payment_id: id,
            owner: owner.clone(),
            kind,
            wallet_id: wallet.clone(),
            amount,
            initiator,
            capture_now,
            soft_descriptor,
            can_handle_pending: !cit || self.config.cit_can_handle_pending,
            return_url,
            status: PaymentStatus::Pending,
            attempt_count: 1,
            open_attempt: Some(1),
            charge_id: None,
            decline_code: None,
            buyer_action: None,
            message: None,
            redirect_url: None,
            expires_at: None,
            next_attempt_at: None,
            captured: None,
            refunded: Price::zero(amount.currency()),
            // A crash between recording and answering leaves it for the reconciler.
            wake_at: Some(self.crash_wake(now)),
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// The MFA return URL of a customer-initiated charge: required for EU/UK wallets,
    /// validated, with `paymentId` appended.
    pub(crate) fn mfa_return_url(
        &self,
        wallet: &Wallet,
        value: Option<&str>,
        payment: &PaymentId,
    ) -> ServiceResult<Option<String>> {
        match value {
            Some(v) => validate::return_url(
                "checkoutResultReturnUrl",
                v,
                &self.config.return_origins,
                self.config.allow_loopback_http,
                &[("paymentId", payment.as_str())],
            )
            .map(Some),
            None if wallet.region == Region::Eu => Err(ServiceError::invalid(
                "checkoutResultReturnUrl",
                "checkoutResultReturnUrl is required for EU/UK customer-initiated charges (the buyer may have to pass an MFA challenge)",
            )),
            None => Ok(None),
        }
    }

    pub(crate) fn cit_options(&self) -> ChargeOptions {
        ChargeOptions {
            deadline: self.charge_deadline(),
            immediate_retries: self.config.cit_immediate_retries,
        }
    }

    /// `POST /v1/orders/{orderId}/pay`: a CITU charge of the order's amount, once per order.
    pub async fn pay_order(&self, owner: &CustomerId, req: PayOrder) -> ServiceResult<Charged> {
        let now = self.clock.now();
        let caller = Caller::Customer(owner.clone());
        let order = match self.store.get_order(&req.order_id).await {
            Ok(o) if &o.owner == owner => o,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { kind: "order" })
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(p) = order.payment_id {
            return Err(ServiceError::OrderHasPayment {
                payment_id: Some(p),
            });
        }
        let wallet = self.owned_wallet(&caller, &req.wallet_id).await?;
        let pid = PaymentId::for_order(&order.order_id);
        let return_url = self.mfa_return_url(&wallet, req.return_url.as_deref(), &pid)?;
        self.precheck(&wallet, order.amount, now).await?;
        let payment = self.new_payment(
            pid,
            owner,
            PaymentKind::Order {
                order_id: order.order_id.clone(),
            },
            &wallet.wallet_id,
            order.amount,
            ChargeInitiator::Citu,
            order.capture_now,
            order.soft_descriptor.clone(),
            return_url,
            now,
        );
        let run = ChargeRun {
            payment,
            create: true,
            wallet,
            billing: BillingLink::None,
            order: Some(order.order_id),
            subscription: None,
            begin_events: vec![],
            writer: self.new_id("req"),
            options: self.cit_options(),
        };
        Ok((self.charge(run).await?, true))
    }

    /// `POST /admin/v1/payments`: an MITU charge, its own logical charge.
    pub async fn merchant_charge(&self, req: MerchantCharge) -> ServiceResult<Charged> {
        let now = self.clock.now();
        let reason = validate::text("reason", &req.reason, 255)?;
        let amount = validate::amount("amount", &req.amount)?;
        let wallet = self.owned_wallet(&Caller::Merchant, &req.wallet_id).await?;
        let pid = PaymentId::for_unscheduled(&req.scope);
        if let Ok(existing) = self.store.get_payment(&pid).await {
            return Ok((existing, false));
        }
        self.precheck(&wallet, amount, now).await?;
        let payment = self.new_payment(
            pid,
            &wallet.owner,
            PaymentKind::Unscheduled { reason },
            &wallet.wallet_id,
            amount,
            ChargeInitiator::Mitu,
            true,
            None,
            None,
            now,
        );
        let run = ChargeRun {
            payment,
            create: true,
            wallet,
            billing: BillingLink::None,
            order: None,
            subscription: None,
            begin_events: vec![],
            writer: self.new_id("req"),
            options: ChargeOptions {
                deadline: self.charge_deadline(),
                immediate_retries: 0,
            },
        };
        Ok((self.charge(run).await?, true))
    }

    /// `POST /v1/payments/{id}/retry`: a new attempt from declined, failed or canceled
    /// (optionally on another owned wallet). An attempt whose outcome is unknown is
    /// replayed with its own key and body instead — never a new key beside it.
    pub async fn retry_payment(
        &self,
        caller: &Caller,
        req: RetryPayment,
    ) -> ServiceResult<Charged> {
        let now = self.clock.now();
        let payment = self.owned_payment(caller, &req.payment_id).await?;
        if let Some(n) = payment.open_attempt {
            let attempt = self.store.get_attempt(&payment.payment_id, n).await?;
            if attempt.state == AttemptState::Unknown {
                return Ok((self.replay_attempt(&payment, &attempt, None).await?, true));
            }
            return Err(ServiceError::PaymentInProgress(
                "an attempt of this payment is in progress".into(),
            ));
        }
        if !payment.status.accepts_new_attempt() {
            return Err(ServiceError::PaymentInProgress(format!(
                "the payment is {}, it takes no new attempt",
                payment.status.as_str()
            )));
        }
        let owner_caller = Caller::Customer(payment.owner.clone());
        let wallet_id = req
            .wallet_id
            .clone()
            .unwrap_or_else(|| payment.wallet_id.clone());
        let wallet = self.owned_wallet(&owner_caller, &wallet_id).await?;
        let subscription = match &payment.kind {
            PaymentKind::Period {
                subscription_id, ..
            } => Some((self.store.get_subscription(subscription_id).await?, None)),
            _ => None,
        };
        if let Some((s, _)) = &subscription {
            if s.status == SubscriptionStatus::Canceled {
                return Err(ServiceError::Conflict(
                    "the subscription is canceled: its payments take no new attempt".into(),
                ));
            }
        }
        self.precheck(&wallet, payment.amount, now).await?;
        let mut next = next_attempt(&payment, &wallet.wallet_id, now, self.crash_wake(now));
        // The buyer is present: a customer-initiated charge (a period's first stays CITR).
        if !next.initiator.is_customer_initiated() {
            next.initiator = ChargeInitiator::Citu;
        }
        next.can_handle_pending = self.config.cit_can_handle_pending;
        // A retry may name a new return URL; otherwise the payment's own is used again.
        match (req.return_url.as_deref(), &payment.return_url) {
            (None, Some(_)) => {}
            (given, _) => {
                next.return_url = self.mfa_return_url(&wallet, given, &payment.payment_id)?;
            }
        }
        let run = ChargeRun {
            payment: next,
            create: false,
            wallet,
            billing: BillingLink::None,
            order: None,
            subscription,
            begin_events: vec![],
            writer: self.new_id("req"),
            options: self.cit_options(),
        };
        Ok((self.charge(run).await?, true))
    }

    /// Resends an open attempt with its stored key and body (an unknown outcome, a
    /// reconciler pass, a recovered lease) and records what Amazon answers now.
    pub(crate) async fn replay_attempt(
        &self,
        payment: &Payment,
        attempt: &ChargeAttempt,
        lease: Option<(Subscription, String)>,
    ) -> ServiceResult<Payment> {
        let now = self.clock.now();
        let wallet = self.store.get_wallet(&attempt.wallet_id).await?;
        let subscription = match (&payment.kind, lease) {
            (_, Some((s, owner))) => Some((s, Some(owner))),
            (
                PaymentKind::Period {
                    subscription_id, ..
                },
                None,
            ) => Some((self.store.get_subscription(subscription_id).await?, None)),
            _ => None,
        };
        let mut run = ChargeRun {
            payment: payment.clone(),
            create: false,
            wallet,
            billing: BillingLink::None,
            order: None,
            subscription,
            begin_events: vec![],
            writer: attempt.writer.clone(),
            options: ChargeOptions {
                deadline: self.charge_deadline(),
                immediate_retries: 0,
            },
        };
        let answer = self
            .amazon
            .create_charge(
                attempt.request_body.as_bytes(),
                &attempt.idempotency_key,
                Some(run.options.deadline),
            )
            .await;
        let step = self.decide_step(&run, attempt, &answer, false, now).await;
        let mut a = attempt.clone();
        a.sends = a.sends.saturating_add(1);
        self.record(&mut run, payment.clone(), a, &step, now).await
    }

    /// `GET /v1/payments/{id}` and the admin's: the payment with its attempts. An MFA
    /// payment not completed in 24 h is voided here if nothing else did yet.
    pub async fn get_payment(
        &self,
        caller: &Caller,
        id: &PaymentId,
    ) -> ServiceResult<PaymentDetail> {
        let (payment, attempts) = match self.store.payment_with_attempts(id).await {
            Ok((p, a)) if caller.may_see(&p.owner) => (p, a),
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { kind: "payment" })
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.clock.now();
        if payment.status == PaymentStatus::ActionRequired
            && payment.expires_at.is_some_and(|e| e <= now)
        {
            self.void_expired(&payment, &attempts).await?;
            let (payment, attempts) = self.store.payment_with_attempts(id).await?;
            return Ok(PaymentDetail { payment, attempts });
        }
        Ok(PaymentDetail { payment, attempts })
    }

    /// Voids an MFA payment whose 24 h passed (Amazon cancels the authorization).
    pub(crate) async fn void_expired(
        &self,
        payment: &Payment,
        attempts: &[ChargeAttempt],
    ) -> ServiceResult<()> {
        let Some(a) = attempts.iter().find(|a| {
            Some(a.attempt) == payment.open_attempt && a.state == AttemptState::ActionRequired
        }) else {
            return Ok(());
        };
        let action = BuyerAction {
            kind: BuyerActionKind::UseAnotherMethod,
            url: None,
        };
        self.finish_locally(
            payment,
            a,
            AttemptState::Canceled,
            PaymentStatus::Canceled,
            Some(savedwallet_shared::api::ReasonCode::Expired),
            Some(action),
        )
        .await
        .map(|_| ())
    }

    /// Records a final state that needs no Amazon call (a void, an expired challenge).
    pub(crate) async fn finish_locally(
        &self,
        payment: &Payment,
        attempt: &ChargeAttempt,
        state: AttemptState,
        status: PaymentStatus,
        reason: Option<savedwallet_shared::api::ReasonCode>,
        buyer_action: Option<BuyerAction>,
    ) -> ServiceResult<Payment> {
        let now = self.clock.now();
        let wallet = self.store.get_wallet(&attempt.wallet_id).await?;
        let subscription = match &payment.kind {
            PaymentKind::Period {
                subscription_id, ..
            } => Some((self.store.get_subscription(subscription_id).await?, None)),
            _ => None,
        };
        let mut run = ChargeRun {
            payment: payment.clone(),
            create: false,
            wallet: wallet.clone(),
            billing: BillingLink::None,
            order: None,
            subscription,
            begin_events: vec![],
            writer: attempt.writer.clone(),
            options: ChargeOptions {
                deadline: self.charge_deadline(),
                immediate_retries: 0,
            },
        };
        let mut step = super::interpret::Step {
            state,
            charge_id: attempt.charge_id.clone(),
            reason_code: reason,
            http_status: None,
            status,
            action: None,
            buyer_action,
            redirect_url: None,
            captured: false,
            captured_amount: None,
            period: super::periods::PeriodOutcome::Open,
            wallet: Default::default(),
            retry_now: false,
            next_attempt_at: None,
            wake_at: None,
        };
        if state.is_final() {
            step.period = super::periods::PeriodOutcome::Failed(
                savedwallet_shared::decline::DeclineAction::RequireBuyerPresent,
            );
        }
        self.record(&mut run, payment.clone(), attempt.clone(), &step, now)
            .await
    }

    /// `GET /v1/payments`: a customer's payments, newest first.
    pub async fn list_payments(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> ServiceResult<Page<Payment>> {
        Ok(self.store.payments_of(owner, limit, cursor).await?)
    }

    /// The merchant view: every customer's payments, newest first.
    pub async fn recent_payments(
        &self,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> ServiceResult<Page<Payment>> {
        Ok(self.store.recent_payments(limit, cursor).await?)
    }

    /// The open attempt of a payment, if it is in `state`.
    async fn open_attempt_in(
        &self,
        p: &Payment,
        states: &[AttemptState],
    ) -> ServiceResult<Option<ChargeAttempt>> {
        let Some(n) = p.open_attempt else {
            return Ok(None);
        };
        let a = self.store.get_attempt(&p.payment_id, n).await?;
        Ok(states.contains(&a.state).then_some(a))
    }

    /// `POST /admin/v1/payments/{id}/capture`: captures an authorized payment (once).
    pub async fn capture_payment(
        &self,
        id: &PaymentId,
        amount: Option<&MoneyInput>,
    ) -> ServiceResult<Payment> {
        let payment = self.owned_payment(&Caller::Merchant, id).await?;
        if payment.status == PaymentStatus::Succeeded {
            return Ok(payment);
        }
        let Some(attempt) = self
            .open_attempt_in(&payment, &[AttemptState::Authorized])
            .await?
        else {
            return Err(ServiceError::PaymentNotCapturable(format!(
                "the payment is {}, only authorized payments can be captured",
                payment.status.as_str()
            )));
        };
        let charge_id = attempt.charge_id.clone().ok_or_else(|| {
            ServiceError::Internal("an authorized attempt without a charge id".into())
        })?;
        let amount = match amount {
            Some(m) => validate::amount("amount", m)?,
            None => payment.amount,
        };
        if amount.currency() != payment.amount.currency()
            || amount.minor_units() > payment.amount.minor_units()
        {
            return Err(ServiceError::invalid(
                "amount",
                "amount must be at most the authorized amount, in its currency",
            ));
        }
        let body = serde_json::to_vec(&CaptureChargeRequest {
            capture_amount: amount,
            soft_descriptor: payment.soft_descriptor.clone(),
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let key = self.config.key_scope.derive_for(
            KeyPurpose::Capture,
            payment.payment_id.as_str().as_bytes(),
            attempt.attempt,
        );
        let now = self.clock.now();
        let charge = match self
            .amazon
            .capture_charge(&charge_id, &body, &key, Some(self.charge_deadline()))
            .await
        {
            Ok(c) => c,
            Err(GatewayError::Declined {
                reason_code: savedwallet_shared::api::ReasonCode::InvalidChargeStatus,
                ..
            }) => self.amazon.get_charge(&charge_id).await.map_err(upstream)?,
            Err(e @ GatewayError::Declined { .. }) => {
                let charge = self
                    .amazon
                    .get_charge(&charge_id)
                    .await
                    .map_err(|_| upstream(e))?;
                return self.apply_charge(&payment, &attempt, &charge, now).await;
            }
            Err(e) => return Err(upstream(e)),
        };
        let mut applied = self.apply_charge(&payment, &attempt, &charge, now).await?;
        if applied.status == PaymentStatus::Succeeded && applied.captured != Some(amount) {
            applied.captured = Some(amount);
            applied = store_retry!(self.store.update_payment(&applied, &[]).await)?;
        }
        Ok(applied)
    }

    /// Applies a Charge object Amazon reports (capture, cancel, Get Charge after an IPN) to
    /// the attempt it belongs to.
    pub(crate) async fn apply_charge(
        &self,
        payment: &Payment,
        attempt: &ChargeAttempt,
        charge: &savedwallet_shared::api::Charge,
        now: DateTime<Utc>,
    ) -> ServiceResult<Payment> {
        let wallet = self.store.get_wallet(&attempt.wallet_id).await?;
        let subscription = match &payment.kind {
            PaymentKind::Period {
                subscription_id, ..
            } => Some((self.store.get_subscription(subscription_id).await?, None)),
            _ => None,
        };
        let mut run = ChargeRun {
            payment: payment.clone(),
            create: false,
            wallet: wallet.clone(),
            billing: BillingLink::None,
            order: None,
            subscription,
            begin_events: vec![],
            writer: attempt.writer.clone(),
            options: ChargeOptions {
                deadline: self.charge_deadline(),
                immediate_retries: 0,
            },
        };
        let first_failure_at = run
            .subscription
            .as_ref()
            .and_then(|(s, _)| match s.dunning {
                Dunning::Retrying {
                    first_failure_at, ..
                } => Some(first_failure_at),
                _ => None,
            });
        let ctx = Context {
            region: wallet.region,
            initiator: payment.initiator.clone(),
            wallet: &wallet,
            attempt: attempt.attempt,
            first_failure_at,
            now,
            jitter: savedwallet_shared::dunning::Jitter::ZERO,
            policy: &self.config.retry,
            may_retry_now: false,
            update_url: self.amazon.payment_method_update_url(&wallet.wallet_id),
            fresh: false,
            pending_check_after: TimeDelta::from_std(self.config.pending_check_after)
                .unwrap_or(TimeDelta::minutes(15)),
            unknown_replay_after: TimeDelta::from_std(self.config.unknown_replay_after)
                .unwrap_or(TimeDelta::minutes(1)),
        };
        let plain = charge_step(200, charge, &ctx);
        if plain.state == attempt.state && plain.status == payment.status {
            return Ok(payment.clone());
        }
        if !savedwallet_app_rules_allow(attempt.state, plain.state) {
            return Ok(payment.clone());
        }
        let mut step = match interpret::charge_needs_permission_check(charge, &ctx) {
            // An asynchronous soft decline: as the page says, Get Charge Permission, then
            // retry if Chargeable (on the dunning schedule for MIT; the buyer for CIT).
            Some(outcome) => {
                let check = match self.amazon.get_charge_permission(&attempt.wallet_id).await {
                    Ok(p) => Some(PermissionCheck::from_permission(&p)),
                    Err(_) => None,
                };
                let mut s = interpret::with_permission(&outcome, check.as_ref(), &ctx);
                s.charge_id = plain.charge_id.clone();
                s.http_status = Some(200);
                s.reason_code = plain.reason_code.clone();
                s
            }
            None => plain,
        };
        if step.state == AttemptState::Canceled && payment.status == PaymentStatus::ActionRequired {
            step.buyer_action = Some(BuyerAction {
                kind: BuyerActionKind::UseAnotherMethod,
                url: None,
            });
        }
        self.record(&mut run, payment.clone(), attempt.clone(), &step, now)
            .await
    }

    /// `POST /admin/v1/payments/{id}/cancel`: Cancel Charge for an authorized or pending
    /// payment; an MFA payment is voided. A repeat answers the canceled payment.
    pub async fn cancel_payment(&self, caller: &Caller, id: &PaymentId) -> ServiceResult<Payment> {
        let payment = self.owned_payment(caller, id).await?;
        if payment.status == PaymentStatus::Canceled {
            return Ok(payment);
        }
        let states = [
            AttemptState::Authorized,
            AttemptState::Pending,
            AttemptState::ActionRequired,
        ];
        let Some(attempt) = self.open_attempt_in(&payment, &states).await? else {
            return Err(ServiceError::Conflict(format!(
                "the payment is {}, only authorized or pending payments can be canceled",
                payment.status.as_str()
            )));
        };
        let now = self.clock.now();
        if attempt.state == AttemptState::ActionRequired {
            return self
                .finish_locally(
                    &payment,
                    &attempt,
                    AttemptState::Canceled,
                    PaymentStatus::Canceled,
                    Some(savedwallet_shared::api::ReasonCode::MerchantCanceled),
                    None,
                )
                .await;
        }
        let charge_id = attempt
            .charge_id
            .clone()
            .ok_or_else(|| ServiceError::Internal("an open attempt without a charge id".into()))?;
        let body = CancelChargeRequest {
            cancellation_reason: "Canceled by the merchant".into(),
        };
        let charge = match self.amazon.cancel_charge(&charge_id, &body).await {
            Ok(c) => c,
            Err(GatewayError::Declined { .. }) => {
                self.amazon.get_charge(&charge_id).await.map_err(upstream)?
            }
            Err(e) => return Err(upstream(e)),
        };
        self.apply_charge(&payment, &attempt, &charge, now).await
    }
}

/// The store's transition rule, checked before asking it (a late report never moves an
/// attempt backwards).
fn savedwallet_app_rules_allow(from: AttemptState, to: AttemptState) -> bool {
    crate::store::rules::attempt_transition(from, to)
}
