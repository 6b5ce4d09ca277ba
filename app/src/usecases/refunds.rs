//! Refunds: the amount is reserved on the payment before Create Refund is sent (the total
//! never passes the captured amount, also for concurrent refunds), and settled by the IPN.

use savedwallet_shared::api::{CreateRefundRequest, RefundState as AmazonRefundState};
use savedwallet_shared::idempotency::KeyPurpose;

use super::events::{self, kind};
use super::wallets::upstream;
use super::{store_retry, Caller, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::ports::GatewayError;
use crate::store::*;
use crate::validate::{self, MoneyInput};

/// `POST /admin/v1/payments/{id}/refunds`.
#[derive(Debug, Clone)]
pub struct NewRefund {
    /// The payment.
    pub payment_id: PaymentId,
    /// Amount.
    pub amount: MoneyInput,
    /// Reason.
    pub reason: Option<String>,
    /// The caller's idempotency scope: names the refund, so a retried request never
    /// refunds twice.
    pub scope: Vec<u8>,
}

fn refund_event(k: &str, r: &Refund, at: chrono::DateTime<chrono::Utc>) -> MerchantEvent {
    let data = serde_json::json!({
        "refundId": r.refund_id,
        "paymentId": r.payment_id,
        "state": r.state.as_str(),
        "amount": r.amount,
        "reasonCode": r.reason_code.as_ref().map(|c| c.as_str()),
    });
    events::event(
        k,
        Some(&r.owner),
        data,
        at,
        &[r.refund_id.as_str().as_bytes()],
    )
}

impl Service {
    /// Creates a refund of a captured payment.
    pub async fn refund_payment(&self, req: NewRefund) -> ServiceResult<Refund> {
        let now = self.clock.now();
        let payment = self
            .owned_payment(&Caller::Merchant, &req.payment_id)
            .await?;
        let amount = validate::amount("amount", &req.amount)?;
        let reason = validate::opt_text("reason", req.reason.as_deref(), 255)?;
        let id = RefundId::parse(&derived_id(
            "rf",
            &[payment.payment_id.as_str().as_bytes(), &req.scope],
        ))
        .map_err(|_| ServiceError::Internal("refund id".into()))?;
        if let Ok(existing) = self.store.get_refund(&id).await {
            // A retried request: a refund whose answer was lost is resent with its own key
            // and body (Amazon answers the first refund again), never refunded twice.
            if existing.state == RefundState::Pending && existing.amazon_refund_id.is_none() {
                return self.resend_refund(&id).await;
            }
            return Ok(existing);
        }
        let (Some(captured), Some(charge_id)) = (payment.captured, payment.charge_id.clone())
        else {
            return Err(ServiceError::PaymentNotCapturable(
                "the payment is not captured".into(),
            ));
        };
        if payment.status != PaymentStatus::Succeeded {
            return Err(ServiceError::PaymentNotCapturable(
                "the payment is not captured".into(),
            ));
        }
        if amount.currency() != captured.currency() {
            return Err(ServiceError::CurrencyMismatch(
                "the refund's currency differs from the payment's".into(),
            ));
        }
        let body = serde_json::to_vec(&CreateRefundRequest {
            charge_id: charge_id.to_string(),
            refund_amount: amount,
            soft_descriptor: None,
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let body =
            String::from_utf8(body).map_err(|_| ServiceError::Internal("refund body".into()))?;
        let refund = Refund {
            refund_id: id.clone(),
            payment_id: payment.payment_id.clone(),
            owner: payment.owner.clone(),
            charge_id,
            amazon_refund_id: None,
            amount,
            reason,
            state: RefundState::Pending,
            reason_code: None,
            idempotency_key: self.config.key_scope.derive_for(
                KeyPurpose::Refund,
                id.as_str().as_bytes(),
                1,
            ),
            request_body: body,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let refund = match store_retry!(self.store.begin_refund(&refund, captured, &[]).await) {
            Ok(r) => r,
            Err(StoreError::Refused {
                refusal: Refusal::RefundExceedsCaptured,
                ..
            }) => return Err(ServiceError::RefundExceedsCaptured),
            Err(StoreError::Refused {
                refusal: Refusal::NotCaptured,
                ..
            }) => {
                return Err(ServiceError::PaymentNotCapturable(
                    "the payment is not captured".into(),
                ))
            }
            Err(StoreError::AlreadyExists {
                current: Some(c), ..
            }) => match *c {
                Record::Refund(r) => return Ok(r),
                _ => return Err(ServiceError::Conflict("the refund exists".into())),
            },
            Err(e) => return Err(e.into()),
        };
        self.send_refund(refund).await
    }

    /// Sends (or resends, same key and body) a pending refund and records Amazon's answer.
    pub(crate) async fn send_refund(&self, refund: Refund) -> ServiceResult<Refund> {
        let now = self.clock.now();
        match self
            .amazon
            .create_refund(refund.request_body.as_bytes(), &refund.idempotency_key)
            .await
        {
            Ok(amazon) => self.apply_amazon_refund(refund, &amazon).await,
            Err(GatewayError::Declined { reason_code, .. })
            | Err(GatewayError::Failed { reason_code, .. }) => {
                let failed = Refund {
                    state: RefundState::Failed,
                    reason_code: Some(reason_code),
                    updated_at: now,
                    ..refund
                };
                let ev = refund_event(kind::REFUND_FAILED, &failed, now);
                Ok(store_retry!(
                    self.store
                        .finish_refund(&failed, std::slice::from_ref(&ev))
                        .await
                )?)
            }
            // No answer: it stays pending; a resend with the same key learns the outcome.
            // A resend is recorded (`updated_at`), so the next one waits its turn.
            Err(GatewayError::Unknown) | Err(GatewayError::NotSent(_)) => {
                self.note_resend(refund, now).await
            }
        }
    }

    /// Records that a pending refund was (re)sent at `now` without an answer: `updated_at`
    /// moves, so a read within `unknown_replay_after` does not send it again. A refund just
    /// created already says `now`; a concurrent change wins (its record is returned).
    async fn note_resend(
        &self,
        refund: Refund,
        now: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<Refund> {
        if refund.updated_at >= now {
            return Ok(refund);
        }
        let sent = Refund {
            updated_at: now,
            ..refund
        };
        match store_retry!(self.store.finish_refund(&sent, &[]).await) {
            Ok(r) => Ok(r),
            Err(StoreError::VersionConflict { .. }) => {
                Ok(self.store.get_refund(&sent.refund_id).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies Amazon's refund object (answer or Get Refund after an IPN).
    pub(crate) async fn apply_amazon_refund(
        &self,
        refund: Refund,
        amazon: &savedwallet_shared::api::Refund,
    ) -> ServiceResult<Refund> {
        let now = self.clock.now();
        if refund.state != RefundState::Pending {
            return Ok(refund);
        }
        let (state, kind) = match amazon.status_details.state {
            AmazonRefundState::Refunded => (RefundState::Succeeded, Some(kind::REFUND_SUCCEEDED)),
            AmazonRefundState::Declined => (RefundState::Failed, Some(kind::REFUND_FAILED)),
            _ => (RefundState::Pending, None),
        };
        let next = Refund {
            state,
            amazon_refund_id: Some(amazon.refund_id.clone()),
            reason_code: amazon.status_details.reason_code.clone(),
            updated_at: now,
            ..refund.clone()
        };
        if next == refund {
            return Ok(refund);
        }
        let evs: Vec<_> = kind
            .map(|k| refund_event(k, &next, now))
            .into_iter()
            .collect();
        match store_retry!(self.store.finish_refund(&next, &evs).await) {
            Ok(r) => Ok(r),
            Err(StoreError::VersionConflict { .. }) => {
                Ok(self.store.get_refund(&refund.refund_id).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /admin/v1/refunds/{id}`: a refund whose answer was lost a while ago is resent
    /// on read (its own key and body), so it does not stay pending forever. Nothing else
    /// resends it (the store has no index of pending refunds for the reconciler to walk).
    /// A resend without an answer moves `updated_at`: reads within `unknown_replay_after`
    /// of it answer the stored refund, pending, without calling Amazon.
    pub async fn get_refund(&self, id: &RefundId) -> ServiceResult<Refund> {
        let r = self.stored_refund(id).await?;
        let stale = self.clock.now() - r.updated_at
            >= chrono::TimeDelta::from_std(self.config.unknown_replay_after)
                .unwrap_or(chrono::TimeDelta::minutes(1));
        if r.state == RefundState::Pending && r.amazon_refund_id.is_none() && stale {
            // Amazon's answer recorded, or (no answer again) the refund still pending with
            // the resend's time: a lost answer is not an error.
            return self.send_refund(r).await;
        }
        Ok(r)
    }

    async fn stored_refund(&self, id: &RefundId) -> ServiceResult<Refund> {
        match self.store.get_refund(id).await {
            Ok(r) => Ok(r),
            Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound { kind: "refund" }),
            Err(e) => Err(e.into()),
        }
    }

    /// Resends a refund whose answer was lost, when the merchant requests it again
    /// (`refund_payment` with the same scope); `get_refund` resends a stale one on read. No
    /// background job does: the store cannot list pending refunds. A refund Amazon knows is
    /// re-read with Get Refund instead.
    pub async fn resend_refund(&self, id: &RefundId) -> ServiceResult<Refund> {
        let r = self.stored_refund(id).await?;
        if r.state != RefundState::Pending || r.amazon_refund_id.is_some() {
            if let Some(a) = &r.amazon_refund_id {
                let amazon = self.amazon.get_refund(a).await.map_err(upstream)?;
                return self.apply_amazon_refund(r, &amazon).await;
            }
            return Ok(r);
        }
        self.send_refund(r).await
    }
}
