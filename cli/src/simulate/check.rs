//! The invariant check after a run: the sandbox's ledger (what Amazon charged) against the
//! store (what the service recorded), period by period.
//!
//! - **Double charge**: two charges that took money for one payment (charges carry the
//!   payment id as `merchantReferenceId`; one payment per subscription period).
//! - **Lost period**: money taken that the store does not show as that payment's charge, a
//!   payment recorded as paid with no charge behind it, a due period left behind (due more
//!   than a day before the end and not billed), or — for buyers whose every charge succeeds —
//!   fewer paid periods than periods begun.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use savedwallet_app::ids::PaymentId;
use savedwallet_app::store::{Payment, PaymentStatus, Store, StoreError, SubscriptionStatus};

use super::population::{Kind, Member};

/// What the ledger and the store say, summed up.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Findings {
    /// Subscription period payments the service made.
    pub period_payments: u64,
    /// Of which paid.
    pub periods_paid: u64,
    /// Payments with more than one attempt (retried by dunning or replays).
    pub retried_payments: u64,
    /// Attempts beyond each payment's first.
    pub retries: u64,
    /// Payments paid after a declined attempt.
    pub recoveries: u64,
    /// Payments by final status.
    pub payments_by_status: BTreeMap<String, u64>,
    /// Amazon's charges by state (the ledger).
    pub charges_by_state: BTreeMap<String, u64>,
    /// Declined charges by reason code (the ledger).
    pub declines_by_reason: BTreeMap<String, u64>,
    /// Subscriptions by status at the end.
    pub subscriptions_by_status: BTreeMap<String, u64>,
    /// Double charges (must be 0).
    pub double_charges: u64,
    /// Lost periods (must be 0).
    pub lost_periods: u64,
    /// What each violation was (the first few).
    pub violations: Vec<String>,
}

const MONEY: [&str; 4] = [
    "Authorized",
    "AuthorizationInitiated",
    "CaptureInitiated",
    "Captured",
];

impl Findings {
    fn violation(&mut self, what: String) {
        if self.violations.len() < 20 {
            self.violations.push(what);
        }
    }
}

/// Checks the run: `ledger` is the sandbox's ledger JSON, `end` the simulated time at the end.
pub async fn check(
    store: &dyn Store,
    members: &[Member],
    ledger: &Value,
    end: DateTime<Utc>,
) -> Result<Findings, String> {
    let mut f = Findings::default();
    // Amazon's side: money-taking charges per payment id.
    let mut taken: HashMap<String, Vec<String>> = HashMap::new();
    for c in ledger["charges"].as_array().into_iter().flatten() {
        let state = c["statusDetails"]["state"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        *f.charges_by_state.entry(state.clone()).or_default() += 1;
        if state == "Declined" {
            let reason = c["statusDetails"]["reasonCode"].as_str().unwrap_or("?");
            *f.declines_by_reason.entry(reason.to_string()).or_default() += 1;
        }
        if MONEY.contains(&state.as_str()) {
            let reference = c["merchantMetadata"]["merchantReferenceId"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let id = c["chargeId"].as_str().unwrap_or("").to_string();
            taken.entry(reference).or_default().push(id);
        }
    }
    for (reference, ids) in &taken {
        if ids.len() > 1 {
            f.double_charges += ids.len() as u64 - 1;
            f.violation(format!(
                "double charge: payment {reference} charged {ids:?}"
            ));
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    for m in members {
        let sub = store
            .get_subscription(&m.subscription)
            .await
            .map_err(|e| format!("read {}: {e}", m.subscription))?;
        *f.subscriptions_by_status
            .entry(sub.status.as_str().to_string())
            .or_default() += 1;
        let mut paid = 0u32;
        for n in 2..=sub.period {
            let pid = PaymentId::for_period(&sub.subscription_id, n);
            let p = match store.get_payment(&pid).await {
                Ok(p) => p,
                Err(StoreError::NotFound { .. }) => continue,
                Err(e) => return Err(format!("read {pid}: {e}")),
            };
            seen.insert(pid.to_string());
            if p.status == PaymentStatus::Succeeded {
                paid += 1;
            }
            tally(&mut f, &p);
            reconcile_payment(&mut f, &p, taken.get(pid.as_str()));
        }
        // A due period left behind.
        if sub.status != SubscriptionStatus::Canceled
            && sub.lease.is_none()
            && sub.due_at.is_some_and(|t| t < end - TimeDelta::days(1))
        {
            f.lost_periods += 1;
            f.violation(format!(
                "{} period {} due at {:?}, not billed by {end}",
                sub.subscription_id, sub.period, sub.due_at
            ));
        }
        // Buyers whose every charge succeeds: every period begun by the end is paid.
        if m.kind.always_pays() {
            let mut begun = 0u32;
            let mut n = 2;
            while let Some(start) = savedwallet_app::usecases::periods::period_start(&sub, n) {
                if start > end {
                    break;
                }
                begun += 1;
                n += 1;
            }
            if paid < begun {
                f.lost_periods += u64::from(begun - paid);
                f.violation(format!(
                    "{} ({}): {paid} periods paid of {begun} begun",
                    sub.subscription_id,
                    Kind::name(m.kind)
                ));
            }
        }
    }
    // Money taken for a payment the store does not know.
    for (reference, ids) in &taken {
        if !seen.contains(reference) {
            f.lost_periods += 1;
            f.violation(format!("charge {ids:?} for unknown payment {reference}"));
        }
    }
    Ok(f)
}

fn tally(f: &mut Findings, p: &Payment) {
    f.period_payments += 1;
    if p.status == PaymentStatus::Succeeded {
        f.periods_paid += 1;
    }
    if p.attempt_count > 1 {
        f.retried_payments += 1;
        f.retries += u64::from(p.attempt_count - 1);
        if p.status == PaymentStatus::Succeeded {
            f.recoveries += 1;
        }
    }
    *f.payments_by_status
        .entry(p.status.as_str().to_string())
        .or_default() += 1;
}

/// One payment against Amazon's charges for it.
fn reconcile_payment(f: &mut Findings, p: &Payment, charges: Option<&Vec<String>>) {
    let charged = charges.is_some_and(|c| !c.is_empty());
    match p.status {
        PaymentStatus::Succeeded | PaymentStatus::Authorized => {
            let recorded = p.charge_id.as_ref().map(|c| c.as_str().to_string());
            let matches = charges.is_some_and(|c| recorded.as_ref().is_some_and(|r| c.contains(r)));
            if !matches {
                f.lost_periods += 1;
                f.violation(format!(
                    "{} recorded {:?} as charge {recorded:?}; Amazon took {charges:?}",
                    p.payment_id, p.status
                ));
            }
        }
        // Still open: Amazon may hold the answer; nothing to compare yet.
        PaymentStatus::Pending | PaymentStatus::ActionRequired => {}
        _ if charged => {
            f.lost_periods += 1;
            f.violation(format!(
                "{} recorded {:?} but Amazon took {charges:?}",
                p.payment_id, p.status
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use savedwallet_functions::store::EmbeddedStore;
    use serde_json::json;

    fn charge(id: &str, reference: &str, state: &str) -> Value {
        json!({
            "chargeId": id,
            "merchantMetadata": {"merchantReferenceId": reference},
            "statusDetails": {"state": state},
        })
    }

    #[tokio::test]
    async fn a_payment_charged_twice_or_unknown_to_the_store_is_reported() {
        let store = EmbeddedStore::in_memory().expect("store");
        let ledger = json!({"charges": [
            charge("C1", "pay_twice", "Captured"),
            charge("C2", "pay_twice", "Authorized"),
            charge("C3", "pay_declined", "Declined"),
        ]});
        let f = check(&store, &[], &ledger, Utc::now())
            .await
            .expect("check");
        assert_eq!(f.double_charges, 1, "{f:?}");
        // The store knows no payment pay_twice: money taken, nothing recorded.
        assert_eq!(f.lost_periods, 1, "{f:?}");
        assert_eq!(f.charges_by_state.get("Declined"), Some(&1));

        let clean = json!({"charges": [charge("C3", "pay_declined", "Declined")]});
        let f = check(&store, &[], &clean, Utc::now()).await.expect("check");
        assert_eq!((f.double_charges, f.lost_periods), (0, 0), "{f:?}");
    }
}
