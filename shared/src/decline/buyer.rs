//! What the buyer is told about a payment that did not succeed: API.md "Payment result",
//! `buyerAction.kind`.
//!
//! | Decline action | `buyerAction.kind` | `url` |
//! |---|---|---|
//! | `AskBuyerToUpdatePaymentMethod` (HardDeclined, a NonChargeable wallet) | `update_payment_method` | Amazon's update link |
//! | `RetryAt` a new key (SoftDeclined / ProcessingFailure, if the caller stops here), `RetriesExhausted` | `retry_later` | — |
//! | `GiveUp` for a reason on our side (our request, credentials, configuration, no answer) | `retry_later` | — |
//! | `RequireBuyerPresent`, `StopPermissionClosed`, `StopPermissionRejected`, `WaitUntilNextMonth`, `GiveUp` for any other reason | `use_another_method` | — |
//! | `Done`, `AwaitNotification`, `RedirectBuyerForMfa`, `CheckPermissionThenRetry`, a same-key `RetryAt`, `GiveUp(canceled_by_merchant)` | none (nothing to tell yet, or not a decline) | — |

use super::action::{DeclineAction, GiveUpReason};

/// What to show a buyer whose MFA challenge failed (Amazon's page, SPEC §0).
pub const FAILED_MFA_MESSAGE: &str =
    "Your payment was not successful. Please try another payment method.";

/// `buyerAction.kind` of a payment result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuyerActionKind {
    /// Fix the wallet's payment method at Amazon's link (HardDeclined, NonChargeable wallet).
    UpdatePaymentMethod,
    /// Nothing to change on the buyer's side; try again later.
    RetryLater,
    /// Pay with another payment method (every other reason).
    UseAnotherMethod,
}

impl BuyerActionKind {
    /// The API's spelling, e.g. `"update_payment_method"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BuyerActionKind::UpdatePaymentMethod => "update_payment_method",
            BuyerActionKind::RetryLater => "retry_later",
            BuyerActionKind::UseAnotherMethod => "use_another_method",
        }
    }
}

/// `buyerAction` of a payment result: the kind and, for `update_payment_method`, the link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuyerAction {
    /// What the buyer should do.
    pub kind: BuyerActionKind,
    /// Amazon's update link (only for `update_payment_method`; the service swaps in the
    /// sandbox's base URL in local mode).
    pub url: Option<String>,
}

impl BuyerAction {
    fn kind(kind: BuyerActionKind) -> Option<BuyerAction> {
        Some(BuyerAction { kind, url: None })
    }
}

/// What to tell the buyer after `action` (the table in the module docs), or `None` when
/// there is nothing to tell: the charge succeeded, is pending, needs an MFA redirect or a
/// permission check, or the merchant canceled it.
pub fn buyer_action(action: &DeclineAction) -> Option<BuyerAction> {
    use BuyerActionKind as K;
    match action {
        DeclineAction::AskBuyerToUpdatePaymentMethod { update_url } => Some(BuyerAction {
            kind: K::UpdatePaymentMethod,
            url: Some(update_url.clone()),
        }),
        DeclineAction::RetryAt {
            same_idempotency_key: false,
            ..
        }
        | DeclineAction::RetriesExhausted { .. } => BuyerAction::kind(K::RetryLater),
        DeclineAction::RequireBuyerPresent
        | DeclineAction::StopPermissionClosed
        | DeclineAction::StopPermissionRejected
        | DeclineAction::WaitUntilNextMonth { .. } => BuyerAction::kind(K::UseAnotherMethod),
        DeclineAction::GiveUp {
            reason: GiveUpReason::CanceledByMerchant,
        } => None,
        DeclineAction::GiveUp { reason } if reason.is_our_side() => {
            BuyerAction::kind(K::RetryLater)
        }
        DeclineAction::GiveUp { .. } => BuyerAction::kind(K::UseAnotherMethod),
        DeclineAction::Done { .. }
        | DeclineAction::AwaitNotification
        | DeclineAction::RedirectBuyerForMfa { .. }
        | DeclineAction::CheckPermissionThenRetry
        | DeclineAction::RetryAt { .. } => None,
    }
}
