//! What one Amazon Pay answer means: resend, decline or give up — the one rule the client's
//! retry loop and the decline table share (docs/client.md "Answers", SPEC §6, §7, §0).
//!
//! | HTTP status | body | operation | disposition |
//! |---|---|---|---|
//! | 2xx | any | any | `Success` |
//! | no answer (timeout, connection failed or lost) | — | any | `Resend` |
//! | 408, 425, 429, 502, 503, 504 | any | any | `Resend` |
//! | 500 | no reasonCode, or a transient / unknown one | any | `Resend` |
//! | 500 | `ProcessingFailure` | payment operation | `Decline` |
//! | 500 | `ProcessingFailure` | any other | `Resend` |
//! | 500, other 4xx | any other JSON reasonCode | payment operation | `Decline` |
//! | 500, other 4xx | any other JSON reasonCode | any other | `GiveUp` |
//! | other 4xx | no JSON reasonCode | any | `GiveUp` |
//! | 1xx, 3xx, 501, 505–599, anything else | any | any | `GiveUp` |
//!
//! Payment operations are Create Charge, Capture Charge, Create Refund and Complete Checkout
//! Session: their errors are Amazon's decisions about the payment (Get Charge Permission, then
//! decide), so they are answered once and never resent.

use super::enums::ReasonCode;
use super::operation::Operation;

/// What came back from one attempt, as far as classification needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// An HTTP answer: its status and the `reasonCode` of its JSON body (`None` when the
    /// body is not JSON or carries none).
    Status {
        /// HTTP status.
        status: u16,
        /// The error body's `reasonCode`.
        reason_code: Option<&'a ReasonCode>,
    },
    /// No HTTP answer: the attempt timed out, or the connection failed or was lost.
    NoAnswer,
}

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// 2xx: done.
    Success,
    /// Transient: resend the same request — same idempotency key, same body bytes. Amazon
    /// replays the stored first answer if the first attempt did get through.
    Resend,
    /// Amazon's answer to a payment request: hand the reason code to the decline table
    /// (which also gives up on our own request bugs); never resent.
    Decline,
    /// Neither: an unexpected status, or an error of an operation without declines.
    GiveUp,
}

impl Disposition {
    /// A stable snake_case name for logs and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Success => "success",
            Disposition::Resend => "resend",
            Disposition::Decline => "decline",
            Disposition::GiveUp => "give_up",
        }
    }
}

/// True for the operations whose error answers are payment decisions (see the module table).
pub fn answers_with_declines(op: Operation) -> bool {
    matches!(
        op,
        Operation::CreateCharge
            | Operation::CaptureCharge
            | Operation::CreateRefund
            | Operation::CompleteCheckoutSession
    )
}

/// Reason codes that only ever mean "try the same request again".
fn is_transient_code(code: &ReasonCode) -> bool {
    matches!(
        code,
        ReasonCode::InternalServerError
            | ReasonCode::ServiceUnavailable
            | ReasonCode::TooManyRequests
            | ReasonCode::RequestThrottled
            | ReasonCode::RequestTimeout
    )
}

/// Classifies one answer of `op` (the table in the module docs).
pub fn classify(op: Operation, answer: Answer<'_>) -> Disposition {
    let (status, code) = match answer {
        Answer::NoAnswer => return Disposition::Resend,
        Answer::Status {
            status,
            reason_code,
        } => (status, reason_code.filter(|c| !c.as_str().is_empty())),
    };
    let declines = answers_with_declines(op);
    match (status, code) {
        (200..=299, _) => Disposition::Success,
        (408 | 425 | 429 | 502 | 503 | 504, _) => Disposition::Resend,
        (500, None) => Disposition::Resend,
        (500, Some(c)) if is_transient_code(c) || c.is_unknown() => Disposition::Resend,
        (500, Some(ReasonCode::ProcessingFailure)) if !declines => Disposition::Resend,
        (400..=500, Some(_)) if declines => Disposition::Decline,
        _ => Disposition::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_reason_code_counts_as_none() {
        let empty = ReasonCode::Unknown(String::new());
        let answer = Answer::Status {
            status: 400,
            reason_code: Some(&empty),
        };
        assert_eq!(
            classify(Operation::CreateCharge, answer),
            Disposition::GiveUp
        );
        assert_eq!(Disposition::GiveUp.as_str(), "give_up");
    }
}
