//! The charging engine every flow shares (CITU orders, CITR first periods, MITU merchant
//! charges, MITR billing, retries): record the attempt before sending, send it with its
//! deterministic key and exact stored body within the deadline, decide with the decline
//! table (Get Charge Permission after a soft decline, as Amazon's page says), and record the
//! outcome with the payment, the subscription period, the wallet and the events in one
//! transaction.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use savedwallet_shared::api::{
    Channel, ChargeInitiator, CreateChargeRequest, MerchantMetadata, WebCheckoutDetails,
};
use savedwallet_shared::decline::PermissionCheck;
use savedwallet_shared::dunning::Jitter;
use savedwallet_shared::limits::{MonthlyLimit, UsageMonth};
use savedwallet_shared::money::Price;
use savedwallet_shared::region::Region;

use super::events::{self, kind};
use super::interpret::{self, buyer_message, Context, Look, Step};
use super::periods::{after_period, PeriodOutcome};
use super::{store_retry, Service};
use crate::error::{ServiceError, ServiceResult, UsageReport};
use crate::ids::*;
use crate::ports::{Answer, GatewayError};
use crate::store::*;

/// How long one charging call may take and how many new attempts it may make itself.
#[derive(Debug, Clone, Copy)]
pub struct ChargeOptions {
    /// No send starts after this.
    pub deadline: Instant,
    /// New attempts after a soft decline inside this call (customer-initiated only).
    pub immediate_retries: u32,
}

/// One charging run: the payment as it will be when its next attempt begins.
#[derive(Debug, Clone)]
pub(crate) struct ChargeRun {
    /// The payment (status pending, `open_attempt = attempt_count = n`).
    pub payment: Payment,
    /// The payment is new (its first attempt).
    pub create: bool,
    /// The wallet as read (owner and chargeability checked by the caller).
    pub wallet: Wallet,
    /// A subscription to create, or a billing lease to hold.
    pub billing: BillingLink,
    /// An order whose first payment this is.
    pub order: Option<OrderId>,
    /// The period's subscription (as read, or as created) and the lease owner.
    pub subscription: Option<(Subscription, Option<String>)>,
    /// Events of the begin transaction.
    pub begin_events: Vec<MerchantEvent>,
    /// Who records (a request id, a lease owner).
    pub writer: String,
    /// Time and retry budget.
    pub options: ChargeOptions,
}

/// A wallet's monthly Saved Wallet limit: what Amazon reports for the permission
/// (`limits.amountLimit`), else Amazon's table for the region (the EU table where Amazon
/// lists none for the pair, as the simulator does).
pub(crate) fn monthly_cap(wallet: &Wallet) -> Price {
    let currency = wallet.currency;
    let table = MonthlyLimit::for_region(wallet.region, currency)
        .or_else(|_| MonthlyLimit::for_region(Region::Eu, currency))
        .map(MonthlyLimit::amount)
        .unwrap_or_else(|_| Price::per_charge_maximum(currency));
    match wallet.monthly_limit {
        Some(l) if l.currency() == currency && l.minor_units() < table.minor_units() => l,
        _ => table,
    }
}

/// When the reconciler looks at a subscription's first payment that has nothing else to
/// wait for and has not paid: 24 h after it was made (with its subscription), when the
/// subscription is canceled if it is still `incomplete`. `None` for any other payment.
pub(crate) fn first_payment_deadline(
    kind: &PaymentKind,
    created_at: DateTime<Utc>,
    status: PaymentStatus,
) -> Option<DateTime<Utc>> {
    let first = matches!(kind, PaymentKind::Period { period: 1, .. });
    let paid = matches!(status, PaymentStatus::Succeeded | PaymentStatus::Authorized);
    (first && !paid).then(|| created_at + super::reconcile::INCOMPLETE_FOR_AT_MOST)
}

/// The payment after its attempt `n + 1` begins.
/// The payment with a new attempt open; `wake_at` is when the reconciler looks if the
/// worker dies between recording the attempt and recording its answer.
pub(crate) fn next_attempt(
    p: &Payment,
    wallet: &WalletId,
    now: DateTime<Utc>,
    wake_at: DateTime<Utc>,
) -> Payment {
    let n = p.attempt_count.saturating_add(1);
    Payment {
        wallet_id: wallet.clone(),
        status: PaymentStatus::Pending,
        attempt_count: n,
        open_attempt: Some(n),
        decline_code: None,
        buyer_action: None,
        message: None,
        redirect_url: None,
        expires_at: None,
        next_attempt_at: None,
        wake_at: Some(wake_at),
        updated_at: now,
        ..p.clone()
    }
}

fn since(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Service {
    /// When the reconciler looks at an attempt whose answer was never recorded.
    pub(crate) fn crash_wake(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + since(self.config.unknown_replay_after)
    }

    /// Refuses a charge before anything is written or sent: the wallet must be Chargeable
    /// as stored, in the charge's currency, with room in its monthly limit.
    pub(crate) async fn precheck(
        &self,
        wallet: &Wallet,
        amount: Price,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        if !wallet.is_chargeable() {
            return Err(ServiceError::WalletNotChargeable {
                buyer_action: self.update_action(wallet),
            });
        }
        if amount.currency() != wallet.currency {
            return Err(ServiceError::CurrencyMismatch(format!(
                "the wallet charges {}, not {}",
                wallet.currency,
                amount.currency()
            )));
        }
        let cap = monthly_cap(wallet);
        let month = UsageMonth::of(now);
        let used = self
            .store
            .monthly_usage(&wallet.wallet_id, month)
            .await?
            .map(|u| u.total)
            .unwrap_or(Price::zero(wallet.currency));
        if used.minor_units().saturating_add(amount.minor_units()) > cap.minor_units() {
            return Err(ServiceError::MonthlyLimitExceeded(UsageReport {
                month: month.to_string(),
                used,
                limit: cap,
            }));
        }
        Ok(())
    }

    /// The update-payment-method action of a wallet that needs one.
    pub(crate) fn update_action(&self, wallet: &Wallet) -> Option<BuyerAction> {
        let needs = wallet.update_required
            || wallet.state == savedwallet_shared::api::ChargePermissionState::NonChargeable;
        needs.then(|| BuyerAction {
            kind: BuyerActionKind::UpdatePaymentMethod,
            url: Some(self.amazon.payment_method_update_url(&wallet.wallet_id)),
        })
    }

    /// Runs the payment's next attempt (and, for a customer within budget, one more after a
    /// soft decline). Returns the payment as stored at the end.
    pub(crate) async fn charge(&self, mut run: ChargeRun) -> ServiceResult<Payment> {
        loop {
            let now = self.clock.now();
            let (payment, attempt) = self.begin(&run, now).await?;
            if let BillingLink::NewSubscription(s) = &run.billing {
                run.subscription = Some((
                    Subscription {
                        version: 1,
                        ..(**s).clone()
                    },
                    None,
                ));
            }
            if !matches!(run.billing, BillingLink::Lease { .. }) {
                run.billing = BillingLink::None;
            }
            run.create = false;
            run.order = None;
            run.begin_events.clear();
            let answer = self
                .amazon
                .create_charge(
                    attempt.request_body.as_bytes(),
                    &attempt.idempotency_key,
                    Some(run.options.deadline),
                )
                .await;
            let step = self.decide_step(&run, &attempt, &answer, true, now).await;
            let payment = self.record(&mut run, payment, attempt, &step, now).await?;
            let room = run
                .options
                .deadline
                .saturating_duration_since(Instant::now());
            if step.retry_now
                && run.options.immediate_retries > 0
                && room > self.config.charge_attempt_timeout
            {
                run.options.immediate_retries -= 1;
                run.wallet = self.store.get_wallet(&run.wallet.wallet_id).await?;
                if !run.wallet.is_chargeable() {
                    return Ok(payment);
                }
                let now = self.clock.now();
                run.payment =
                    next_attempt(&payment, &run.wallet.wallet_id, now, self.crash_wake(now));
                continue;
            }
            return Ok(payment);
        }
    }

    /// The Create Charge body of a payment's attempt.
    fn charge_request(&self, p: &Payment) -> CreateChargeRequest {
        let mut r = CreateChargeRequest::new(p.wallet_id.to_string(), p.amount);
        r.capture_now = Some(p.capture_now);
        r.soft_descriptor = p.soft_descriptor.clone().filter(|_| p.capture_now);
        r.can_handle_pending_authorization = Some(p.can_handle_pending);
        r.charge_initiator = Some(p.initiator.clone());
        r.channel = Some(if p.initiator.is_customer_initiated() {
            Channel::Web
        } else {
            Channel::Offline
        });
        // The payment id comes back in Get Charge: an IPN for a charge whose answer was
        // lost still finds its payment.
        r.merchant_metadata = Some(MerchantMetadata {
            merchant_reference_id: Some(p.payment_id.to_string()),
            ..Default::default()
        });
        r.web_checkout_details = p
            .return_url
            .clone()
            .filter(|_| p.initiator.is_customer_initiated())
            .map(|u| WebCheckoutDetails {
                checkout_result_return_url: Some(u),
                ..Default::default()
            });
        r
    }

    /// Records the attempt before it is sent.
    async fn begin(
        &self,
        run: &ChargeRun,
        now: DateTime<Utc>,
    ) -> ServiceResult<(Payment, ChargeAttempt)> {
        let p = &run.payment;
        let n = p.attempt_count;
        let body = self
            .amazon
            .body_bytes(&self.charge_request(p))
            .map_err(|e| ServiceError::Internal(format!("charge body: {e}")))?;
        let body = String::from_utf8(body)
            .map_err(|_| ServiceError::Internal("charge body is not UTF-8".into()))?;
        let attempt = ChargeAttempt {
            payment_id: p.payment_id.clone(),
            attempt: n,
            wallet_id: p.wallet_id.clone(),
            amount: p.amount,
            idempotency_key: self.config.key_scope.derive(&p.logical_charge(), n),
            request_body: body,
            writer: run.writer.clone(),
            usage_month: UsageMonth::of(now),
            state: AttemptState::Sending,
            charge_id: None,
            reason_code: None,
            http_status: None,
            sends: 1,
            usage_released: false,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let begin = BeginAttempt {
            payment: if run.create {
                PaymentWrite::Create(p.clone())
            } else {
                PaymentWrite::Update(p.clone())
            },
            attempt,
            monthly_cap: monthly_cap(&run.wallet),
            billing: run.billing.clone(),
            order: run.order.clone(),
            events: run.begin_events.clone(),
        };
        match store_retry!(self.store.begin_attempt(&begin).await) {
            Ok(Begun::Recorded { payment, attempt }) => Ok((*payment, *attempt)),
            Ok(Begun::AlreadyRecorded(attempt)) => {
                let payment = self.store.get_payment(&attempt.payment_id).await?;
                Ok((payment, *attempt))
            }
            Err(e) => Err(self.begin_refusal(e, run)),
        }
    }

    fn begin_refusal(&self, e: StoreError, run: &ChargeRun) -> ServiceError {
        match e {
            StoreError::Refused { refusal, .. } => match refusal {
                Refusal::WalletNotChargeable => ServiceError::WalletNotChargeable {
                    buyer_action: self.update_action(&run.wallet),
                },
                Refusal::WalletMismatch => ServiceError::CurrencyMismatch(
                    "the wallet's currency differs from the amount's".into(),
                ),
                Refusal::AttemptOpen { .. } => ServiceError::PaymentInProgress(
                    "an attempt of this payment is in progress".into(),
                ),
                Refusal::PaymentNotRetryable { status } => {
                    ServiceError::PaymentInProgress(format!(
                        "the payment is {}, it takes no new attempt",
                        status.as_str()
                    ))
                }
                Refusal::OrderHasPayment { payment_id } => {
                    ServiceError::OrderHasPayment { payment_id }
                }
                Refusal::LeaseLost => ServiceError::Conflict("the billing lease was lost".into()),
                other => ServiceError::Internal(format!("unexpected refusal {other:?}")),
            },
            StoreError::LimitExceeded { used, cap, .. } => {
                ServiceError::MonthlyLimitExceeded(UsageReport {
                    month: UsageMonth::of(self.clock.now()).to_string(),
                    used: used.unwrap_or(Price::zero(cap.currency())),
                    limit: cap,
                })
            }
            StoreError::AlreadyExists {
                kind: "payment",
                current,
                ..
            } => match (&run.payment.kind, current.as_deref()) {
                (PaymentKind::Order { .. }, _) => ServiceError::OrderHasPayment {
                    payment_id: Some(run.payment.payment_id.clone()),
                },
                (_, Some(Record::Payment(p))) if p.open_attempt.is_some() => {
                    ServiceError::PaymentInProgress("the payment is in progress".into())
                }
                _ => ServiceError::Conflict("the payment exists already".into()),
            },
            StoreError::AlreadyExists { kind, .. } => {
                ServiceError::Conflict(format!("the {kind} exists already"))
            }
            other => other.into(),
        }
    }

    /// The decision for an answer (with a Get Charge Permission when the table asks).
    pub(crate) async fn decide_step(
        &self,
        run: &ChargeRun,
        attempt: &ChargeAttempt,
        answer: &Result<Answer<savedwallet_shared::api::Charge>, GatewayError>,
        fresh: bool,
        now: DateTime<Utc>,
    ) -> Step {
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
            region: run.wallet.region,
            initiator: run.payment.initiator.clone(),
            wallet: &run.wallet,
            attempt: attempt.attempt,
            first_failure_at,
            now,
            jitter: Jitter::new(u32::from_be_bytes(
                self.entropy.bytes()[..4].try_into().unwrap_or([0; 4]),
            )),
            policy: &self.config.retry,
            may_retry_now: run.options.immediate_retries > 0,
            update_url: self.amazon.payment_method_update_url(&run.wallet.wallet_id),
            fresh,
            pending_check_after: since(self.config.pending_check_after),
            unknown_replay_after: since(self.config.unknown_replay_after),
        };
        match interpret::look(answer, &ctx) {
            Look::Final(step) => *step,
            Look::CheckPermission(outcome) => {
                let check = match self
                    .amazon
                    .get_charge_permission(&run.wallet.wallet_id)
                    .await
                {
                    Ok(p) => Some(PermissionCheck::from_permission(&p)),
                    Err(_) => None,
                };
                interpret::with_permission(&outcome, check.as_ref(), &ctx)
            }
        }
    }

    /// The payment after a step.
    pub(crate) fn payment_after(
        &self,
        p: &Payment,
        a: &ChargeAttempt,
        step: &Step,
        now: DateTime<Utc>,
    ) -> Payment {
        let mut n = p.clone();
        n.status = step.status;
        n.open_attempt = (!step.state.is_final()).then_some(a.attempt);
        if step.charge_id.is_some() {
            n.charge_id = step.charge_id.clone();
        }
        let declined = matches!(step.status, PaymentStatus::Declined | PaymentStatus::Failed)
            || (step.status == PaymentStatus::Canceled && step.buyer_action.is_some());
        n.decline_code = if declined {
            step.reason_code.clone()
        } else {
            None
        };
        n.buyer_action = if declined {
            step.buyer_action.clone()
        } else {
            None
        };
        n.message = if declined {
            buyer_message(step.buyer_action.as_ref())
        } else {
            None
        };
        n.redirect_url = step.redirect_url.clone();
        n.expires_at = step
            .redirect_url
            .as_ref()
            .map(|_| now + TimeDelta::hours(24));
        n.next_attempt_at = step.next_attempt_at;
        if step.captured {
            n.captured = Some(step.captured_amount.unwrap_or(p.amount));
        }
        n.wake_at = step
            .wake_at
            .or_else(|| first_payment_deadline(&p.kind, p.created_at, step.status));
        n.updated_at = now;
        n
    }

    /// The attempt after a step.
    pub(crate) fn attempt_after(
        a: &ChargeAttempt,
        step: &Step,
        now: DateTime<Utc>,
    ) -> ChargeAttempt {
        ChargeAttempt {
            state: step.state,
            charge_id: step.charge_id.clone().or_else(|| a.charge_id.clone()),
            reason_code: step.reason_code.clone().or_else(|| a.reason_code.clone()),
            http_status: step.http_status.or(a.http_status),
            updated_at: now,
            ..a.clone()
        }
    }

    /// The events a payment's change reports.
    pub(crate) fn payment_events(
        before: &Payment,
        after: &Payment,
        now: DateTime<Utc>,
    ) -> Vec<MerchantEvent> {
        if before.status == after.status
            && before.attempt_count == after.attempt_count
            && after.status != PaymentStatus::Declined
        {
            return vec![];
        }
        let k = match after.status {
            PaymentStatus::Succeeded | PaymentStatus::Authorized => kind::PAYMENT_SUCCEEDED,
            PaymentStatus::Declined => kind::PAYMENT_DECLINED,
            PaymentStatus::Failed if after.open_attempt.is_none() => kind::PAYMENT_FAILED,
            PaymentStatus::ActionRequired => kind::PAYMENT_ACTION_REQUIRED,
            PaymentStatus::Canceled => kind::PAYMENT_CANCELED,
            _ => return vec![],
        };
        vec![events::payment_event(k, after, now)]
    }

    /// Records a step: the attempt with its payment, the subscription's period, the wallet
    /// and the events, in one transaction; re-reads and retries a record that changed.
    pub(crate) async fn record(
        &self,
        run: &mut ChargeRun,
        payment: Payment,
        attempt: ChargeAttempt,
        step: &Step,
        now: DateTime<Utc>,
    ) -> ServiceResult<Payment> {
        if let Some(interpret_action) = &step.action {
            if matches!(
                interpret_action,
                savedwallet_shared::decline::DeclineAction::GiveUp { .. }
            ) {
                tracing::error!(
                    payment_id = %payment.payment_id,
                    attempt = attempt.attempt,
                    reason_code = step.reason_code.as_ref().map(|c| c.as_str()),
                    http_status = step.http_status,
                    "charge given up: Amazon refused the request (alert)"
                );
            }
        }
        let mut payment = payment;
        let mut keep_subscription = true;
        for _ in 0..6 {
            let new_payment = self.payment_after(&payment, &attempt, step, now);
            let new_wallet = step.wallet.apply(&run.wallet, now);
            let mut events = Self::payment_events(&payment, &new_payment, now);
            if let Some(w) = &new_wallet {
                if w.update_required && !run.wallet.update_required {
                    events.push(events::wallet_event(
                        kind::WALLET_UPDATE_REQUIRED,
                        w,
                        now,
                        attempt.idempotency_key.as_str().as_bytes(),
                    ));
                }
                if w.state == savedwallet_shared::api::ChargePermissionState::Closed
                    && run.wallet.state != savedwallet_shared::api::ChargePermissionState::Closed
                {
                    events.push(events::wallet_event(kind::WALLET_CLOSED, w, now, b"closed"));
                }
            }
            let subscription = match (&run.subscription, keep_subscription) {
                (Some((s, lease)), true) => {
                    let after = after_period(
                        s,
                        &payment.payment_id,
                        &step.period,
                        &self.config.period_policy(),
                        now,
                    );
                    events.extend(events::subscription_changes(s, &after, now));
                    Some(SubscriptionWrite {
                        record: after,
                        lease_owner: lease.clone(),
                    })
                }
                _ => None,
            };
            let finish = FinishAttempt {
                attempt: Self::attempt_after(&attempt, step, now),
                from: attempt.state,
                payment: new_payment,
                subscription,
                wallet: new_wallet,
                events,
            };
            match store_retry!(self.store.finish_attempt(&finish).await) {
                Ok(done) => {
                    self.measure(&payment, &finish, run, step, now);
                    if let Some(w) = &finish.wallet {
                        run.wallet = Wallet {
                            version: w.version + 1,
                            ..w.clone()
                        };
                        if step.wallet.closed {
                            self.end_wallet_subscriptions(&run.wallet, now).await?;
                        }
                    }
                    return Ok(done.payment);
                }
                Err(StoreError::Refused {
                    refusal: Refusal::LeaseLost,
                    ..
                }) => {
                    // Another worker holds the period now; it advances it from what it reads.
                    keep_subscription = false;
                }
                Err(StoreError::VersionConflict { kind: "wallet", .. }) => {
                    run.wallet = self.store.get_wallet(&run.wallet.wallet_id).await?;
                }
                Err(StoreError::VersionConflict {
                    kind: "subscription",
                    ..
                }) => {
                    if let Some((s, lease)) = &run.subscription {
                        let fresh = self.store.get_subscription(&s.subscription_id).await?;
                        run.subscription = Some((fresh, lease.clone()));
                    }
                }
                Err(StoreError::VersionConflict {
                    kind: "payment", ..
                }) => {
                    let fresh = self.store.get_payment(&payment.payment_id).await?;
                    if fresh.open_attempt != Some(attempt.attempt) {
                        return Ok(fresh);
                    }
                    payment = fresh;
                }
                Err(StoreError::VersionConflict {
                    kind: "charge attempt",
                    ..
                })
                | Err(StoreError::Refused {
                    refusal: Refusal::IllegalTransition { .. },
                    ..
                }) => {
                    // Recorded meanwhile (an IPN, the reconciler): theirs stands.
                    return Ok(self.store.get_payment(&payment.payment_id).await?);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the payment kept changing while it was recorded".into(),
        ))
    }

    /// Reports what a recorded step changed: the payment's new status, a decline's reason,
    /// and how late a paid period was.
    fn measure(
        &self,
        before: &Payment,
        finish: &FinishAttempt,
        run: &ChargeRun,
        step: &Step,
        now: DateTime<Utc>,
    ) {
        use crate::ports::Measure;
        let after = &finish.payment;
        if before.status == after.status && before.attempt_count == after.attempt_count {
            return;
        }
        self.metrics.record(Measure::Payment {
            outcome: after.status.as_str(),
        });
        if finish.attempt.state == AttemptState::Declined {
            if let Some(code) = &step.reason_code {
                self.metrics.record(Measure::Decline {
                    reason_code: code.as_str(),
                });
            }
        }
        // Scheduled (MITR) periods only: a signup's first period is paid on the spot.
        if let (Some(_), Some((s, _)), PeriodOutcome::Paid, ChargeInitiator::Mitr) = (
            &finish.subscription,
            &run.subscription,
            &step.period,
            &after.initiator,
        ) {
            let lag = (now - s.next_billing_at).num_milliseconds().max(0) as f64 / 1000.0;
            self.metrics.record(Measure::BillingLag { seconds: lag });
        }
    }

    /// Every subscription billed from `wallet`: all of its owner's, page by page (the
    /// owner index has no wallet key), filtered.
    pub(crate) async fn wallet_subscriptions(
        &self,
        wallet: &Wallet,
    ) -> ServiceResult<Vec<Subscription>> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .subscriptions_of(&wallet.owner, MAX_LIST, cursor.as_ref())
                .await?;
            out.extend(
                page.items
                    .into_iter()
                    .filter(|s| s.wallet_id == wallet.wallet_id),
            );
            match page.next {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Ends every subscription billed from a closed wallet.
    pub(crate) async fn end_wallet_subscriptions(
        &self,
        wallet: &Wallet,
        now: DateTime<Utc>,
    ) -> ServiceResult<()> {
        for s in self
            .wallet_subscriptions(wallet)
            .await?
            .iter()
            .filter(|s| s.status != SubscriptionStatus::Canceled)
        {
            self.cancel_subscription_record(s, CancelReason::WalletClosed, now)
                .await?;
        }
        Ok(())
    }

    /// Cancels a subscription (retrying through concurrent changes), with its event.
    pub(crate) async fn cancel_subscription_record(
        &self,
        s: &Subscription,
        reason: CancelReason,
        now: DateTime<Utc>,
    ) -> ServiceResult<Subscription> {
        let mut current = s.clone();
        for _ in 0..5 {
            if current.status == SubscriptionStatus::Canceled {
                return Ok(current);
            }
            let edit = SubscriptionEdit::Cancel { at: now, reason };
            let after = Subscription {
                status: SubscriptionStatus::Canceled,
                canceled_at: Some(now),
                cancel_reason: Some(reason),
                ..current.clone()
            };
            let events = vec![events::subscription_event(
                kind::SUBSCRIPTION_CANCELED,
                &after,
                now,
            )];
            match store_retry!(self.store.edit_subscription(&current, &edit, &events).await) {
                Ok(s) => return Ok(s),
                Err(StoreError::VersionConflict { .. }) | Err(StoreError::Refused { .. }) => {
                    current = self.store.get_subscription(&s.subscription_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict(
            "the subscription kept changing".into(),
        ))
    }
}

/// Page size of the internal list walks.
pub(crate) const MAX_LIST: u32 = 100;
