//! What a subscription becomes after its period's payment ends one way or another: pure
//! rules, so billing, the API and IPN handling all move subscriptions the same way.

use chrono::{DateTime, TimeDelta, Utc};
use savedwallet_shared::decline::DeclineAction;

use crate::ids::PaymentId;
use crate::store::*;

/// How a period's payment ended (as far as the subscription cares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodOutcome {
    /// Authorized or captured.
    Paid,
    /// Still open: pending authorization, MFA, or no answer yet (an IPN or the reconciler
    /// resolves it).
    Open,
    /// Declined or failed, with the decline table's decision.
    Failed(DeclineAction),
}

/// What to do when dunning gives up for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FinalDunning {
    /// Cancel the subscription (default: a merchant who wants otherwise says so).
    #[default]
    Cancel,
    /// Leave it past due (the merchant reaches out).
    LeavePastDue,
}

/// The merchant's dunning settings a period's outcome is applied with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodPolicy {
    /// When retries are exhausted.
    pub final_dunning: FinalDunning,
    /// A period waiting for a payment-method update is looked at again after this (billing
    /// re-reads the wallet then: the safety net for a lost IPN).
    pub wallet_recheck_after: TimeDelta,
}

impl Default for PeriodPolicy {
    fn default() -> Self {
        PeriodPolicy {
            final_dunning: FinalDunning::Cancel,
            wallet_recheck_after: TimeDelta::days(1),
        }
    }
}

/// The start of period `n` (1-based): `anchor + (n - 1)` intervals.
pub fn period_start(sub: &Subscription, n: u32) -> Option<DateTime<Utc>> {
    sub.interval.nth_after(sub.anchor, n.saturating_sub(1))
}

/// The period in force, as the API shows it: the one being billed (its payment started, or
/// it is the first), else the last one paid — after a renewal succeeds the counter already
/// names the next period, which has not begun. Returns its number, start and end.
pub fn period_in_force(sub: &Subscription) -> (u32, Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let being_billed = sub.period <= 1
        || sub.latest_payment_id.as_ref()
            == Some(&PaymentId::for_period(&sub.subscription_id, sub.period));
    let n = if being_billed {
        sub.period
    } else {
        sub.period - 1
    };
    (n, period_start(sub, n), period_start(sub, n + 1))
}

/// The subscription after its current period's payment ended (`payment` is the payment).
pub fn after_period(
    sub: &Subscription,
    payment: &PaymentId,
    outcome: &PeriodOutcome,
    policy: &PeriodPolicy,
    now: DateTime<Utc>,
) -> Subscription {
    let mut s = sub.clone();
    s.lease = None;
    s.latest_payment_id = Some(payment.clone());
    s.updated_at = now;
    if s.status == SubscriptionStatus::Canceled {
        // Canceled meanwhile: nothing more is billed, whatever the payment did.
        s.due_at = None;
        return s;
    }
    match outcome {
        PeriodOutcome::Paid => {
            let next = sub.period.saturating_add(1);
            let start = period_start(sub, next).unwrap_or(now);
            s.period = next;
            s.status = SubscriptionStatus::Active;
            s.dunning = Dunning::Current;
            s.due_at = Some(start);
            s.next_billing_at = start;
        }
        PeriodOutcome::Open => {
            // Billing does not look at it again until the payment resolves.
            s.due_at = None;
        }
        PeriodOutcome::Failed(action) => {
            let past_due = |mut s: Subscription| {
                if s.status != SubscriptionStatus::Incomplete {
                    s.status = SubscriptionStatus::PastDue;
                }
                s
            };
            s = match action {
                DeclineAction::RetryAt { at, .. } => {
                    let (first, failed) = match sub.dunning {
                        Dunning::Retrying {
                            first_failure_at,
                            failed_attempts,
                        } => (first_failure_at, failed_attempts + 1),
                        _ => (now, 1),
                    };
                    s.dunning = Dunning::Retrying {
                        first_failure_at: first,
                        failed_attempts: failed,
                    };
                    s.due_at = Some(*at);
                    past_due(s)
                }
                DeclineAction::WaitUntilNextMonth { at } => {
                    s.dunning = Dunning::AwaitingNextMonth { until: *at };
                    s.due_at = Some(*at);
                    past_due(s)
                }
                DeclineAction::StopPermissionClosed | DeclineAction::StopPermissionRejected => {
                    s.status = SubscriptionStatus::Canceled;
                    s.canceled_at = Some(now);
                    s.cancel_reason = Some(CancelReason::WalletClosed);
                    s.due_at = None;
                    s
                }
                DeclineAction::RetriesExhausted { .. } | DeclineAction::GiveUp { .. } => {
                    s.dunning = Dunning::Exhausted;
                    s.due_at = None;
                    match policy.final_dunning {
                        FinalDunning::Cancel if s.status != SubscriptionStatus::Incomplete => {
                            s.status = SubscriptionStatus::Canceled;
                            s.canceled_at = Some(now);
                            s.cancel_reason = Some(CancelReason::DunningExhausted);
                            s
                        }
                        _ => past_due(s),
                    }
                }
                // The buyer must act (update the method, use another one): the period waits
                // and bills as soon as the wallet is Chargeable again (the IPN wakes it). A
                // wallet to update is also looked at again now and then, in case the IPN
                // never comes.
                other => {
                    let since = match sub.dunning {
                        Dunning::AwaitingPaymentMethod { since } => since,
                        _ => now,
                    };
                    s.dunning = Dunning::AwaitingPaymentMethod { since };
                    let recheck =
                        matches!(other, DeclineAction::AskBuyerToUpdatePaymentMethod { .. })
                            && s.status != SubscriptionStatus::Incomplete;
                    s.due_at = recheck.then(|| now + policy.wallet_recheck_after);
                    past_due(s)
                }
            };
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use savedwallet_shared::money::{Currency, Price};

    fn sub(status: SubscriptionStatus) -> Subscription {
        let anchor = Utc.with_ymd_and_hms(2026, 1, 31, 10, 0, 0).unwrap();
        Subscription {
            subscription_id: SubscriptionId::parse("sub_1").unwrap(),
            owner: CustomerId::parse("c").unwrap(),
            wallet_id: WalletId::parse("S01-1").unwrap(),
            plan_id: PlanId::parse("p").unwrap(),
            price: Price::from_minor(100, Currency::EUR),
            interval: BillingInterval {
                unit: IntervalUnit::Month,
                count: 1,
            },
            status,
            period: 1,
            anchor,
            next_billing_at: anchor,
            due_at: Some(anchor),
            dunning: Dunning::Current,
            latest_payment_id: None,
            lease: Some(Lease {
                owner: "w".into(),
                until: anchor,
            }),
            canceled_at: None,
            cancel_reason: None,
            created_at: anchor,
            updated_at: anchor,
            version: 3,
        }
    }

    use crate::ids::{CustomerId, PlanId, SubscriptionId, WalletId};

    #[test]
    fn the_period_in_force_is_the_one_billed_or_the_last_paid() {
        let at = |m| Utc.with_ymd_and_hms(2026, m, 28, 10, 0, 0).unwrap();
        let mut s = sub(SubscriptionStatus::Active);
        s.anchor = at(1);
        let id = s.subscription_id.clone();
        // (period counter, latest payment's period) → period in force.
        for (period, latest, want) in [
            (1, None, 1),
            (1, Some(1), 1),
            (2, Some(1), 1), // period 1 paid; period 2 not begun
            (2, Some(2), 2), // period 2 being billed (or dunning)
            (3, Some(2), 2),
        ] {
            s.period = period;
            s.latest_payment_id = latest.map(|n| PaymentId::for_period(&id, n));
            let (n, start, end) = period_in_force(&s);
            assert_eq!(n, want, "period {period}, latest {latest:?}");
            assert_eq!(start, Some(at(want)));
            assert_eq!(end, Some(at(want + 1)));
        }
    }

    #[test]
    fn paid_periods_advance_from_the_anchor() {
        let p = PaymentId::parse("pay_1").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 31, 10, 0, 1).unwrap();
        let s1 = after_period(
            &sub(SubscriptionStatus::Incomplete),
            &p,
            &PeriodOutcome::Paid,
            &PeriodPolicy::default(),
            now,
        );
        assert_eq!(s1.status, SubscriptionStatus::Active);
        assert_eq!(s1.period, 2);
        assert_eq!(s1.lease, None);
        // Jan 31 + 1 month clamps to Feb 28; + 2 months is Mar 31 again (no drift).
        assert_eq!(
            s1.due_at,
            Some(Utc.with_ymd_and_hms(2026, 2, 28, 10, 0, 0).unwrap())
        );
        let s2 = after_period(&s1, &p, &PeriodOutcome::Paid, &PeriodPolicy::default(), now);
        assert_eq!(
            s2.due_at,
            Some(Utc.with_ymd_and_hms(2026, 3, 31, 10, 0, 0).unwrap())
        );
    }

    #[test]
    fn declines_follow_the_decision() {
        let p = PaymentId::parse("pay_1").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 31, 10, 0, 1).unwrap();
        let active = sub(SubscriptionStatus::Active);
        let later = now + chrono::TimeDelta::days(1);
        let retry = after_period(
            &active,
            &p,
            &PeriodOutcome::Failed(DeclineAction::RetryAt {
                at: later,
                same_idempotency_key: false,
            }),
            &PeriodPolicy::default(),
            now,
        );
        assert_eq!(
            (retry.status, retry.due_at),
            (SubscriptionStatus::PastDue, Some(later))
        );
        assert_eq!(
            retry.dunning,
            Dunning::Retrying {
                first_failure_at: now,
                failed_attempts: 1
            }
        );
        let hard = after_period(
            &active,
            &p,
            &PeriodOutcome::Failed(DeclineAction::AskBuyerToUpdatePaymentMethod {
                update_url: "u".into(),
            }),
            &PeriodPolicy::default(),
            now,
        );
        // Waiting for the update; looked at again after a day in case the IPN is lost.
        assert_eq!(
            (hard.status, hard.due_at),
            (SubscriptionStatus::PastDue, Some(now + TimeDelta::days(1)))
        );
        let again = after_period(
            &hard,
            &p,
            &PeriodOutcome::Failed(DeclineAction::AskBuyerToUpdatePaymentMethod {
                update_url: "u".into(),
            }),
            &PeriodPolicy::default(),
            now + TimeDelta::days(1),
        );
        assert_eq!(again.dunning, hard.dunning, "the wait keeps its start");
        assert_eq!(again.due_at, Some(now + TimeDelta::days(2)));
        let closed = after_period(
            &active,
            &p,
            &PeriodOutcome::Failed(DeclineAction::StopPermissionClosed),
            &PeriodPolicy::default(),
            now,
        );
        assert_eq!(closed.status, SubscriptionStatus::Canceled);
        assert_eq!(closed.cancel_reason, Some(CancelReason::WalletClosed));
        let exhausted = |f| {
            after_period(
                &active,
                &p,
                &PeriodOutcome::Failed(DeclineAction::RetriesExhausted {
                    update_url: "u".into(),
                }),
                &PeriodPolicy {
                    final_dunning: f,
                    ..PeriodPolicy::default()
                },
                now,
            )
        };
        assert_eq!(
            exhausted(FinalDunning::Cancel).status,
            SubscriptionStatus::Canceled
        );
        assert_eq!(
            exhausted(FinalDunning::LeavePastDue).status,
            SubscriptionStatus::PastDue
        );
        // An incomplete subscription stays incomplete until its first payment succeeds.
        let first = after_period(
            &sub(SubscriptionStatus::Incomplete),
            &p,
            &PeriodOutcome::Failed(DeclineAction::RequireBuyerPresent),
            &PeriodPolicy::default(),
            now,
        );
        assert_eq!(first.status, SubscriptionStatus::Incomplete);
        // A canceled subscription is never revived by a late result.
        let canceled = after_period(
            &sub(SubscriptionStatus::Canceled),
            &p,
            &PeriodOutcome::Paid,
            &PeriodPolicy::default(),
            now,
        );
        assert_eq!(
            (canceled.status, canceled.due_at, canceled.period),
            (SubscriptionStatus::Canceled, None, 1)
        );
    }
}
