//! Timers on the simulated clock (SPEC §5.5): session expiry, async authorization and
//! capture results, authorization expiry, refund settlement.

use savedwallet_shared::api::*;
use savedwallet_shared::money::Price;

use super::{status, Core};
use crate::model::{PendingOutcome, TimerKind};

impl Core {
    /// Fires every timer due at or before `now_ms` (simulated clock); true if any fired.
    pub(crate) fn tick(&mut self, now_ms: i64) -> bool {
        let mut fired = false;
        while let Some(first) = self.state.timers.first() {
            if first.due_ms > now_ms {
                break;
            }
            let Some(t) = self.state.timers.pop_first() else {
                break;
            };
            // A timer runs "at" its due time so timestamps look like Amazon's.
            self.fire(t.kind, t.due_ms);
            fired = true;
        }
        fired
    }

    fn fire(&mut self, kind: TimerKind, at: i64) {
        match kind {
            TimerKind::SessionExpiry(id) => self.expire_session(&id, at),
            TimerKind::AsyncAuthorization(id) => self.resolve_pending(&id, at),
            TimerKind::AuthorizationExpiry(id) => {
                if self.charge_state(&id) == Some(ChargeState::Authorized) {
                    self.set_charge_state(
                        &id,
                        ChargeState::Canceled,
                        Some(ReasonCode::ExpiredUnused),
                        at,
                    );
                }
            }
            TimerKind::AsyncCapture(id) => self.resolve_capture(&id, at),
            TimerKind::RefundSettlement(id) => self.settle_refund(&id, at),
        }
    }

    fn expire_session(&mut self, id: &str, at: i64) {
        let Some(s) = self.state.sessions.get_mut(id) else {
            return;
        };
        if s.object.status_details.state != CheckoutSessionState::Open {
            return;
        }
        s.object.status_details = status(
            CheckoutSessionState::Canceled,
            Some(ReasonCode::Expired),
            at,
        );
        if let Some(cid) = s.mfa_charge_id.clone() {
            if self.charge_state(&cid) == Some(ChargeState::ActionRequired) {
                self.set_charge_state(&cid, ChargeState::Canceled, Some(ReasonCode::Expired), at);
            }
        }
    }

    fn resolve_pending(&mut self, id: &str, at: i64) {
        if self.charge_state(id) != Some(ChargeState::AuthorizationInitiated) {
            return;
        }
        let Some(rec) = self.state.charges.get(id) else {
            return;
        };
        let outcome = rec.pending_outcome.unwrap_or(PendingOutcome::Approve);
        let capture_now = rec.object.capture_now.unwrap_or(false);
        let cp = rec.object.charge_permission_id.clone();
        match outcome.decline_reason() {
            None => self.approve_charge(id, capture_now, at),
            Some(reason) => {
                self.set_charge_state(id, ChargeState::Declined, Some(reason.clone()), at);
                self.after_decline(&cp, &reason, at);
            }
        }
    }

    fn resolve_capture(&mut self, id: &str, at: i64) {
        if self.charge_state(id) != Some(ChargeState::CaptureInitiated) {
            return;
        }
        let Some(rec) = self.state.charges.get_mut(id) else {
            return;
        };
        let cp = rec.object.charge_permission_id.clone();
        match rec.capture_outcome.and_then(PendingOutcome::decline_reason) {
            None => self.set_charge_state(id, ChargeState::Captured, None, at),
            Some(reason) => {
                // Nothing was captured after all.
                rec.object.capture_amount = Some(Price::zero(rec.object.charge_amount.currency()));
                self.set_charge_state(id, ChargeState::Declined, Some(reason.clone()), at);
                self.after_decline(&cp, &reason, at);
            }
        }
    }

    fn settle_refund(&mut self, id: &str, at: i64) {
        let Some(r) = self.state.refunds.get_mut(id) else {
            return;
        };
        if r.object.status_details.state != RefundState::RefundInitiated {
            return;
        }
        let cp = r.charge_permission_id.clone();
        let charge_id = r.object.charge_id.clone();
        let amount = r.object.refund_amount;
        match r.decline_reason.clone() {
            Some(reason) => {
                r.object.status_details =
                    status(RefundState::Declined, Some(ReasonCode::parse(&reason)), at);
            }
            None => {
                r.object.status_details = status(RefundState::Refunded, None, at);
                if let Some(c) = self.state.charges.get_mut(&charge_id) {
                    let prev = c
                        .object
                        .refunded_amount
                        .unwrap_or(Price::zero(amount.currency()));
                    c.object.refunded_amount = Some(prev.checked_add(amount).unwrap_or(prev));
                }
            }
        }
        self.state_ipn(IpnObjectType::Refund, id, &cp);
    }
}
