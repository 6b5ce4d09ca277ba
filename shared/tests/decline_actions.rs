//! The decline table's actions end to end: agreement with the answer classification, the
//! Closed-reason spelling, buyer actions (API.md), AmazonRejected, and safety properties.

mod decline_support;

use chrono::Duration;
use decline_support::*;
use savedwallet_shared::api::{
    classify, Answer, ChargeInitiator, ChargePermissionState as P, ChargeState, Disposition,
    Operation, ReasonCode,
};
use savedwallet_shared::decline::{
    buyer_action, decide, row_for, BuyerAction, BuyerActionKind, ChargeOutcome, DecisionContext,
    DeclineAction, GiveUpReason, MerchantEvent, PermissionCheck, Rule, FAILED_MFA_MESSAGE,
};
use savedwallet_shared::dunning::{Jitter, RetryPolicy};
use savedwallet_shared::region::Region;

/// The decline table and the client's retry loop share one classification: an error answer
/// is a same-key replay here exactly when the client would resend it.
#[test]
fn replays_agree_with_the_answer_classification() {
    let policy = RetryPolicy::default();
    let c = ctx(ChargeInitiator::Mitu);
    let mut codes: Vec<ReasonCode> = ReasonCode::KNOWN.to_vec();
    codes.push(ReasonCode::Unknown(String::new()));
    codes.push(ReasonCode::Unknown("BrandNewCode".into()));
    for status in (300u16..=310)
        .chain(400..=431)
        .chain(500..=511)
        .chain([599])
    {
        for code in &codes {
            let outcome = ChargeOutcome::ApiError {
                status,
                reason_code: code.clone(),
            };
            let replayed = kind(&decide(&outcome, None, &c, &policy)) == "RetrySameKey";
            let answer = Answer::Status {
                status,
                reason_code: Some(code),
            };
            let class = classify(Operation::CreateCharge, answer);
            // A row whose rule is Replay also replays when it arrives with a decline status.
            let replay_row = row_for(code).is_some_and(|r| r.rule == Rule::Replay);
            assert_eq!(
                replayed,
                class == Disposition::Resend || (class == Disposition::Decline && replay_row),
                "{status} {code:?}: table and classification disagree"
            );
        }
    }
}

#[test]
fn closed_reasons_buyer_canceled_reads_as_buyer_closed() {
    let check = PermissionCheck::new(P::Closed, vec![ReasonCode::BuyerCanceled]);
    assert_eq!(check.reasons, [ReasonCode::BuyerClosed]);
    let check = PermissionCheck::new(P::NonChargeable, vec![ReasonCode::BuyerCanceled]);
    assert_eq!(check.reasons, [ReasonCode::BuyerCanceled]);
    let cp: savedwallet_shared::api::ChargePermission = serde_json::from_str(&format!(
        r#"{{"chargePermissionId":"{CP}","statusDetails":{{"state":"Closed","reasons":[{{"reasonCode":"BuyerCanceled","reasonDescription":"x"}}]}}}}"#
    ))
    .unwrap();
    let check = PermissionCheck::from_permission(&cp);
    assert_eq!(check.reasons, [ReasonCode::BuyerClosed]);
    let got = decide(
        &err(422, "InvalidChargePermissionStatus"),
        Some(&check),
        &ctx(ChargeInitiator::Mitr),
        &RetryPolicy::default(),
    );
    assert_eq!(got, DeclineAction::StopPermissionClosed);
}

/// API.md "Payment result": `buyerAction.kind` for each final decision.
#[test]
fn buyer_actions_follow_the_api_contract() {
    use BuyerActionKind as K;
    let policy = RetryPolicy::default();
    let chargeable = PermissionCheck::new(P::Chargeable, vec![]);
    let non_chargeable =
        PermissionCheck::new(P::NonChargeable, vec![ReasonCode::PaymentMethodExpired]);
    let closed = PermissionCheck::new(P::Closed, vec![ReasonCode::BuyerClosed]);
    let exhausted = {
        let mut c = ctx(ChargeInitiator::Mitr);
        c.attempt = 6;
        c.first_failure_at = Some(now() - Duration::days(8));
        c
    };
    let mit = ctx(ChargeInitiator::Mitr);
    let cit = ctx(ChargeInitiator::Citu);
    #[rustfmt::skip]
    let cases: Vec<(ChargeOutcome, Option<&PermissionCheck>, &DecisionContext, Option<K>)> = vec![
        // HardDeclined or a NonChargeable wallet → update_payment_method.
        (err(422, "HardDeclined"), None, &mit, Some(K::UpdatePaymentMethod)),
        (err(422, "SoftDeclined"), Some(&non_chargeable), &mit, Some(K::UpdatePaymentMethod)),
        (err(500, "ProcessingFailure"), Some(&non_chargeable), &cit, Some(K::UpdatePaymentMethod)),
        // SoftDeclined / ProcessingFailure → retry_later (a retry is scheduled, or they ran out).
        (err(422, "SoftDeclined"), Some(&chargeable), &cit, Some(K::RetryLater)),
        (err(500, "ProcessingFailure"), Some(&chargeable), &exhausted, Some(K::RetryLater)),
        // Every other reason → use_another_method.
        (err(422, "TransactionTimedOut"), None, &cit, Some(K::UseAnotherMethod)),
        (err(422, "TransactionTimedOut"), None, &mit, Some(K::UseAnotherMethod)),
        (err(422, "AmazonRejected"), None, &mit, Some(K::UseAnotherMethod)),
        (err(422, "PaymentMethodNotAllowed"), None, &cit, Some(K::UseAnotherMethod)),
        (err(422, "TransactionCountExceeded"), None, &mit, Some(K::UseAnotherMethod)),
        (err(400, "PeriodicAmountExceeded"), None, &mit, Some(K::UseAnotherMethod)),
        (err(422, "CheckoutSessionCanceled"), None, &cit, Some(K::UseAnotherMethod)),
        (err(422, "SoftDeclined"), Some(&closed), &mit, Some(K::UseAnotherMethod)),
        (err(400, "CurrencyMismatch"), None, &mit, Some(K::UseAnotherMethod)),
        (err(422, "BrandNewCode"), None, &mit, Some(K::UseAnotherMethod)),
        // Our own bugs and lost answers are no declines: the buyer is told to retry later.
        (err(400, "InvalidParameterValue"), None, &cit, Some(K::RetryLater)),
        (err(403, "InvalidRequestSignature"), None, &cit, Some(K::RetryLater)),
        (err(422, "MFANotCompleted"), None, &cit, Some(K::RetryLater)),
        (err(422, "MFANotCompleted"), None, &mit, Some(K::UseAnotherMethod)),
        (err(501, ""), None, &cit, Some(K::RetryLater)),
        (err(400, ""), None, &cit, Some(K::RetryLater)),
        // Nothing to tell yet: a same-key replay, a permission check, pending, paid.
        (ChargeOutcome::Transport, None, &cit, None),
        (err(422, "SoftDeclined"), None, &cit, None),
        (err(422, "ChargeInProgress"), None, &mit, None),
    ];
    for (outcome, check, c, want) in cases {
        let action = decide(&outcome, check, c, &policy);
        let got = buyer_action(&action).map(|b| b.kind);
        assert_eq!(got, want, "{outcome:?} with {check:?}: {action:?}");
    }
    // The update link rides along; the other kinds have none.
    let update = buyer_action(&decide(&err(422, "HardDeclined"), None, &mit, &policy));
    assert_eq!(
        update,
        Some(BuyerAction {
            kind: K::UpdatePaymentMethod,
            url: Some(US_UPDATE.to_string())
        })
    );
    let mut jp = ctx(ChargeInitiator::Citu);
    jp.region = Region::Jp;
    let update = buyer_action(&decide(&err(422, "HardDeclined"), None, &jp, &policy));
    assert_eq!(update.and_then(|b| b.url).as_deref(), Some(JP_UPDATE));
    let other = buyer_action(&DeclineAction::StopPermissionRejected);
    assert_eq!(other.and_then(|b| b.url), None);
    // Paid, MFA redirect and a merchant's own cancel tell the buyer nothing.
    for action in [
        DeclineAction::Done {
            state: ChargeState::Captured,
        },
        DeclineAction::RedirectBuyerForMfa {
            amazon_pay_redirect_url: MFA_URL.into(),
        },
        DeclineAction::GiveUp {
            reason: GiveUpReason::CanceledByMerchant,
        },
    ] {
        assert_eq!(buyer_action(&action), None, "{action:?}");
    }
    assert_eq!(
        [K::UpdatePaymentMethod, K::RetryLater, K::UseAnotherMethod].map(K::as_str),
        ["update_payment_method", "retry_later", "use_another_method"]
    );
    assert_eq!(
        FAILED_MFA_MESSAGE,
        "Your payment was not successful. Please try another payment method."
    );
}

#[test]
fn amazon_rejected_ends_the_wallet_with_its_own_event() {
    let got = decide(
        &err(422, "AmazonRejected"),
        None,
        &ctx(ChargeInitiator::Mitr),
        &RetryPolicy::default(),
    );
    assert_eq!(got, DeclineAction::StopPermissionRejected);
    assert_eq!(
        got.merchant_event().map(MerchantEvent::as_str),
        Some("charge_permission_rejected")
    );
    assert!(!got.needs_alert());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_code() -> impl Strategy<Value = ReasonCode> {
        prop_oneof![
            proptest::sample::select(ReasonCode::KNOWN.to_vec()),
            "[A-Za-z]{0,12}".prop_map(|s| ReasonCode::parse(&s)),
        ]
    }

    fn arb_outcome() -> impl Strategy<Value = ChargeOutcome> {
        prop_oneof![
            Just(ChargeOutcome::Transport),
            (100u16..600, arb_code()).prop_map(|(status, reason_code)| {
                ChargeOutcome::ApiError {
                    status,
                    reason_code,
                }
            }),
            (
                200u16..203,
                prop_oneof![
                    proptest::sample::select(ChargeState::KNOWN.to_vec()),
                    "[A-Za-z]{0,8}".prop_map(|s| ChargeState::parse(&s)),
                ],
                proptest::option::of(arb_code()),
                proptest::option::of(Just(MFA_URL.to_string())),
            )
                .prop_map(|(status, state, reason_code, url)| ChargeOutcome::Success {
                    status,
                    state,
                    reason_code,
                    amazon_pay_redirect_url: url,
                }),
        ]
    }

    fn arb_check() -> impl Strategy<Value = Option<PermissionCheck>> {
        proptest::option::of(
            (
                prop_oneof![
                    Just(P::Chargeable),
                    Just(P::NonChargeable),
                    Just(P::Closed),
                    Just(P::Unknown("X".into())),
                ],
                proptest::collection::vec(arb_code(), 0..3),
            )
                .prop_map(|(state, reasons)| PermissionCheck::new(state, reasons)),
        )
    }

    fn arb_ctx() -> impl Strategy<Value = DecisionContext> {
        (
            proptest::sample::select(ChargeInitiator::KNOWN.to_vec()),
            1u32..10,
            0u32..8,
            proptest::option::of(0i64..(10 * 86_400)),
            any::<u32>(),
        )
            .prop_map(|(initiator, attempt, replays, since_first, jitter)| {
                let mut c = ctx(initiator);
                c.attempt = attempt;
                c.replays = replays;
                c.first_failure_at = since_first.map(|s| now() - Duration::seconds(s));
                c.jitter = Jitter::new(jitter);
                c
            })
    }

    proptest! {
        /// Safety: a new idempotency key (a new attempt, which could charge again) is only
        /// ever chosen after a permission check showed Chargeable, and never for a lost
        /// response or a transient error.
        #[test]
        fn new_keys_only_after_a_chargeable_check(
            outcome in arb_outcome(), check in arb_check(), c in arb_ctx()
        ) {
            let action = decide(&outcome, check.as_ref(), &c, &RetryPolicy::default());
            if let DeclineAction::RetryAt { at, same_idempotency_key } = &action {
                prop_assert!(*at >= c.now, "retry in the past: {action:?}");
                if !same_idempotency_key {
                    prop_assert_eq!(check.as_ref().map(|k| k.state.clone()), Some(P::Chargeable));
                    prop_assert!(!matches!(outcome, ChargeOutcome::Transport));
                }
            }
            if matches!(outcome, ChargeOutcome::Transport) {
                let replayed = matches!(
                    action,
                    DeclineAction::RetryAt { same_idempotency_key: true, .. }
                        | DeclineAction::GiveUp { reason: GiveUpReason::ReplaysExhausted }
                );
                prop_assert!(replayed, "lost response not replayed: {:?}", action);
            }
        }

        /// Only a present buyer is ever redirected, and Done only comes from a paid state.
        #[test]
        fn redirects_only_for_cit_and_done_only_when_paid(
            outcome in arb_outcome(), check in arb_check(), c in arb_ctx()
        ) {
            let action = decide(&outcome, check.as_ref(), &c, &RetryPolicy::default());
            if let DeclineAction::RedirectBuyerForMfa { amazon_pay_redirect_url } = &action {
                prop_assert!(c.charge_initiator.is_customer_initiated());
                prop_assert_eq!(amazon_pay_redirect_url.as_str(), MFA_URL);
            }
            if let DeclineAction::Done { state } = &action {
                prop_assert!(matches!(state, ChargeState::Authorized | ChargeState::Captured));
                let paid = matches!(
                    &outcome,
                    ChargeOutcome::Success { state: ChargeState::Authorized | ChargeState::Captured, .. }
                );
                prop_assert!(paid);
            }
        }
    }
}
