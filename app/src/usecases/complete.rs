//! The MFA return: `POST /v1/payments/{id}/complete` calls Complete Checkout Session once,
//! however often it is called (a second call, a reload, another tab gets the stored result),
//! after checking that the session belongs to this payment's attempt.

use chrono::TimeDelta;

use savedwallet_shared::api::{CompleteCheckoutSessionRequest, ReasonCode};
use savedwallet_shared::idempotency::KeyPurpose;

use super::wallets::upstream;
use super::{store_retry, Caller, Service};
use crate::error::{ServiceError, ServiceResult};
use crate::ids::*;
use crate::ports::GatewayError;
use crate::store::*;

impl Service {
    /// Completes the caller's MFA payment with the buyer's returned checkout session.
    pub async fn complete_payment(
        &self,
        owner: &CustomerId,
        id: &PaymentId,
        session: &CheckoutSessionId,
    ) -> ServiceResult<Payment> {
        let caller = Caller::Customer(owner.clone());
        let detail = self.get_payment(&caller, id).await?;
        let payment = detail.payment;
        let open = payment
            .open_attempt
            .and_then(|n| detail.attempts.iter().find(|a| a.attempt == n))
            .filter(|a| a.state == AttemptState::ActionRequired)
            .cloned();
        let Some(attempt) = open else {
            // Completed (or voided) before: the stored result, once more.
            return Ok(payment);
        };
        let now = self.clock.now();
        // One completion at a time, and only one ever reaches Amazon.
        let lock = format!("complete:{}:{}", payment.payment_id, attempt.attempt);
        let token = self.new_token();
        match store_retry!(
            self.store
                .begin_notification(&lock, &token, now, now + TimeDelta::seconds(60))
                .await
        )? {
            NotificationBegin::Started => {}
            NotificationBegin::InProgress { .. } => {
                return Err(ServiceError::PaymentInProgress(
                    "the payment is being completed".into(),
                ))
            }
            NotificationBegin::Done => return Ok(self.store.get_payment(id).await?),
        }
        let result = self.complete_locked(&payment, &attempt, session).await;
        match &result {
            Ok(_) => {
                let keep = now + TimeDelta::days(2);
                let _ = store_retry!(self.store.complete_notification(&lock, &token, keep).await);
            }
            Err(_) => {
                let _ = store_retry!(self.store.release_notification(&lock, &token).await);
            }
        }
        result
    }

    async fn complete_locked(
        &self,
        payment: &Payment,
        attempt: &ChargeAttempt,
        session_id: &CheckoutSessionId,
    ) -> ServiceResult<Payment> {
        let now = self.clock.now();
        let session = match self.amazon.get_checkout_session(session_id).await {
            Ok(s) => s,
            Err(GatewayError::Failed { status: 404, .. }) => {
                return Err(ServiceError::NotFound {
                    kind: "checkout session",
                })
            }
            Err(e) => return Err(upstream(e)),
        };
        let ours = session.charge_id.is_some()
            && session.charge_id.as_deref() == attempt.charge_id.as_ref().map(|c| c.as_str());
        if !ours {
            // Another payment's session of the same buyer: 409; anyone else's: 404.
            let same_owner = match session.charge_permission_id.as_deref().map(WalletId::parse) {
                Some(Ok(w)) => self
                    .store
                    .get_wallet(&w)
                    .await
                    .is_ok_and(|w| w.owner == payment.owner),
                _ => false,
            };
            return Err(if same_owner {
                ServiceError::CheckoutSessionMismatch
            } else {
                ServiceError::NotFound {
                    kind: "checkout session",
                }
            });
        }
        let charge_id = attempt
            .charge_id
            .clone()
            .ok_or_else(|| ServiceError::Internal("an MFA attempt without a charge id".into()))?;
        let body = serde_json::to_vec(&CompleteCheckoutSessionRequest {
            charge_amount: Some(payment.amount),
            total_order_amount: None,
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let key = self.config.key_scope.derive_for(
            KeyPurpose::CompleteCheckout,
            payment.payment_id.as_str().as_bytes(),
            attempt.attempt,
        );
        let failed = match self
            .amazon
            .complete_checkout_session(session_id, &body, &key, Some(self.charge_deadline()))
            .await
        {
            Ok(_) => false,
            Err(GatewayError::Declined {
                reason_code: ReasonCode::MFANotCompleted,
                ..
            }) => {
                return Err(ServiceError::PaymentInProgress(
                    "the buyer has not completed the challenge yet".into(),
                ))
            }
            Err(GatewayError::Declined { .. }) => true,
            Err(e) => return Err(upstream(e)),
        };
        // Amazon's charge now says what happened (Authorized/Captured, or Declined/Canceled).
        let charge = self.amazon.get_charge(&charge_id).await.map_err(upstream)?;
        use savedwallet_shared::api::ChargeState as C;
        let end = match (&charge.status_details.state, failed) {
            (C::Declined, _) => Some((AttemptState::Declined, PaymentStatus::Declined)),
            (C::Canceled, _) => Some((AttemptState::Canceled, PaymentStatus::Canceled)),
            (_, true) => Some((AttemptState::Declined, PaymentStatus::Declined)),
            _ => None,
        };
        let Some((state, status)) = end else {
            return self.apply_charge(payment, attempt, &charge, now).await;
        };
        // A failed or abandoned challenge: the seed's words, and back to the start of
        // checkout with another payment method. The wallet is not flagged by us: Amazon
        // says (Get Charge Permission) whether the failure left it NonChargeable.
        let reason = charge
            .status_details
            .reason_code
            .clone()
            .or(Some(ReasonCode::MFAFailed));
        let after = self
            .finish_locally(
                payment,
                attempt,
                state,
                status,
                reason,
                Some(BuyerAction {
                    kind: BuyerActionKind::UseAnotherMethod,
                    url: None,
                }),
            )
            .await?;
        if let Ok(p) = self.amazon.get_charge_permission(&attempt.wallet_id).await {
            if let Ok(w) = self.store.get_wallet(&attempt.wallet_id).await {
                self.refresh_wallet(w, &p, now, super::wallets::Refresh::Poll)
                    .await?;
            }
        }
        Ok(after)
    }
}
