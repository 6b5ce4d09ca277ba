//! Refunds (SPEC §4.7, §5.4): always asynchronous, settled by the refund timer.

use savedwallet_shared::api::*;
use savedwallet_shared::money::Price;

use super::rules::{check_sim, check_soft_descriptor, positive, refund_overage_cap};
use super::{status, to_json, ts, Core, Ctx, OpResult};
use crate::error::ApiError;
use crate::model::{RefundRec, TimerKind};

/// Create Refund simulation codes: the refund is later Declined with that reason.
fn parse_refund_sim(code: &str) -> Option<String> {
    matches!(code, "AmazonRejected" | "ProcessingFailure").then(|| code.to_string())
}

impl Core {
    /// Create Refund.
    pub(crate) fn create_refund(&mut self, ctx: &Ctx, req: CreateRefundRequest) -> OpResult {
        let decline_reason = check_sim(ctx, parse_refund_sim)?;
        let c = self.charge_in_state(
            &req.charge_id,
            ctx.env,
            &[ChargeState::Captured],
            "refunded",
        )?;
        let amount = req.refund_amount;
        positive(amount, "refundAmount")?;
        let captured = c
            .object
            .capture_amount
            .unwrap_or(Price::zero(amount.currency()));
        if amount.currency() != captured.currency() {
            return Err(ApiError::bad_request(
                ReasonCode::CurrencyMismatch,
                "refundAmount currency differs from the charge's",
            ));
        }
        check_soft_descriptor(&req.soft_descriptor)?;
        if c.refund_count >= self.cfg.max_refunds_per_charge {
            return Err(ApiError::unprocessable(
                ReasonCode::TransactionCountExceeded,
                "the maximum number of refunds for this charge was reached",
            ));
        }
        let already: i64 = self
            .state
            .refunds
            .values()
            .filter(|r| {
                r.object.charge_id == req.charge_id
                    && r.object.status_details.state != RefundState::Declined
            })
            .map(|r| r.object.refund_amount.minor_units())
            .sum();
        let allowed = captured.minor_units() + refund_overage_cap(captured);
        if already + amount.minor_units() > allowed
            || amount.minor_units() > Price::per_charge_maximum(amount.currency()).minor_units()
        {
            return Err(ApiError::bad_request(
                ReasonCode::TransactionAmountExceeded,
                "total refunds would exceed the captured amount plus the allowed overage",
            ));
        }
        let cp = c.object.charge_permission_id.clone();
        let id = self.new_refund_id(&cp);
        let object = Refund {
            refund_id: id.clone(),
            charge_id: req.charge_id.clone(),
            refund_amount: amount,
            soft_descriptor: req.soft_descriptor.clone(),
            creation_timestamp: Some(ts(ctx.now_ms)),
            status_details: status(RefundState::RefundInitiated, None, ctx.now_ms),
            release_environment: Some(ctx.env.release_environment().into()),
        };
        if let Some(c) = self.state.charges.get_mut(&req.charge_id) {
            c.refund_count += 1;
        }
        self.state.refunds.insert(
            id.clone(),
            RefundRec {
                object: object.clone(),
                env: ctx.env,
                charge_permission_id: cp.clone(),
                decline_reason,
            },
        );
        self.state_ipn(IpnObjectType::Refund, &id, &cp);
        self.add_timer(
            ctx.now_ms
                .saturating_add(self.cfg.refund_delay_secs.saturating_mul(1000)),
            TimerKind::RefundSettlement(id),
        );
        to_json(201, &object)
    }

    /// Get Refund.
    pub(crate) fn get_refund(&mut self, ctx: &Ctx, id: &str) -> OpResult {
        let r = self
            .state
            .refunds
            .get(id)
            .filter(|r| r.env == ctx.env)
            .ok_or_else(|| ApiError::not_found("Refund", id))?;
        to_json(200, &r.object)
    }
}
