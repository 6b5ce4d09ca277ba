//! The answer classification as a table (docs/client.md "Answers"): HTTP status × body
//! (JSON reasonCode or none) × operation → resend with the same key, decline, or give up.

use savedwallet_shared::api::{
    answers_with_declines, classify, Answer, Disposition, Operation, ReasonCode,
};

use Disposition::{Decline as D, GiveUp as G, Resend as R, Success as S};

/// The operations whose errors are payment decisions, and three that have none.
const PAYMENT: [Operation; 4] = [
    Operation::CompleteCheckoutSession,
    Operation::CreateCharge,
    Operation::CaptureCharge,
    Operation::CreateRefund,
];
const OTHER: [Operation; 3] = [
    Operation::GetChargePermission,
    Operation::CloseChargePermission,
    Operation::UpdateCheckoutSession,
];

/// (status, reasonCode in the body or None, disposition for a payment operation, for any other).
#[rustfmt::skip]
const TABLE: &[(u16, Option<&str>, Disposition, Disposition)] = &[
    // Success, whatever the body says.
    (200, None, S, S),
    (201, None, S, S),
    (202, Some("BuyerActionRequired"), S, S),
    // Resend with the same key: 408, 425, 429, 502, 503, 504 with any body.
    (408, None, R, R),
    (408, Some("RequestTimeout"), R, R),
    (425, None, R, R),
    (429, Some("TooManyRequests"), R, R),
    (429, Some("RequestThrottled"), R, R),
    (429, None, R, R),
    (502, None, R, R),
    (502, Some("SoftDeclined"), R, R),
    (503, Some("ServiceUnavailable"), R, R),
    (503, None, R, R),
    (504, None, R, R),
    // A 500 without a reasonCode, with InternalServerError, or with a code we do not know.
    (500, None, R, R),
    (500, Some(""), R, R),
    (500, Some("InternalServerError"), R, R),
    (500, Some("ServiceUnavailable"), R, R),
    (500, Some("BrandNewCode"), R, R),
    // ProcessingFailure is Amazon's answer to a payment: a decline, sent once.
    (500, Some("ProcessingFailure"), D, R),
    // The 4xx reason codes of a payment operation are declines, for all four alike.
    (422, Some("SoftDeclined"), D, G),
    (422, Some("HardDeclined"), D, G),
    (422, Some("AmazonRejected"), D, G),
    (422, Some("TransactionTimedOut"), D, G),
    (422, Some("InvalidChargeStatus"), D, G),
    (422, Some("CheckoutSessionCanceled"), D, G),
    (409, Some("AmountMismatch"), D, G),
    (400, Some("PeriodicAmountExceeded"), D, G),
    (400, Some("InvalidParameterValue"), D, G),
    (400, Some("DuplicateIdempotencyKey"), D, G),
    (403, Some("InvalidRequestSignature"), D, G),
    (404, Some("ResourceNotFound"), D, G),
    (422, Some("BrandNewCode"), D, G),
    // A known non-transient code on a 500 is still Amazon's decision for a payment.
    (500, Some("HardDeclined"), D, G),
    // No JSON reasonCode on a 4xx, or a status nobody expects: give up.
    (400, None, G, G),
    (404, None, G, G),
    (422, None, G, G),
    (301, None, G, G),
    (302, None, G, G),
    (304, None, G, G),
    (100, None, G, G),
    (501, None, G, G),
    (501, Some("InternalServerError"), G, G),
    (505, None, G, G),
    (520, None, G, G),
    (599, Some("ServiceUnavailable"), G, G),
];

#[test]
fn the_table() {
    assert!(PAYMENT.iter().all(|op| answers_with_declines(*op)));
    assert!(OTHER.iter().all(|op| !answers_with_declines(*op)));
    for (status, code, payment, other) in TABLE {
        let parsed = code.map(ReasonCode::parse);
        let answer = Answer::Status {
            status: *status,
            reason_code: parsed.as_ref(),
        };
        for op in PAYMENT {
            assert_eq!(classify(op, answer), *payment, "{op} {status} {code:?}");
        }
        for op in OTHER {
            assert_eq!(classify(op, answer), *other, "{op} {status} {code:?}");
        }
    }
}

#[test]
fn no_answer_is_resent_for_every_operation() {
    for op in Operation::ALL {
        assert_eq!(classify(op, Answer::NoAnswer), Disposition::Resend, "{op}");
    }
}

#[test]
fn only_the_four_payment_operations_have_declines() {
    let with: Vec<Operation> = Operation::ALL
        .into_iter()
        .filter(|op| answers_with_declines(*op))
        .collect();
    assert_eq!(with, PAYMENT);
}

/// Exhaustive over statuses: only 2xx succeed, and resends are exactly the brief's list.
#[test]
fn resend_statuses_are_exactly_the_documented_list() {
    for status in 100u16..=599 {
        let none = Answer::Status {
            status,
            reason_code: None,
        };
        let got = classify(Operation::CreateCharge, none);
        let want = match status {
            200..=299 => S,
            408 | 425 | 429 | 500 | 502 | 503 | 504 => R,
            _ => G,
        };
        assert_eq!(got, want, "{status} without a reasonCode");
    }
}
