//! The reason-code table: every known code once, with the HTTP status Amazon sends it with,
//! its abstract [`Rule`] and why. `docs/domain.md` §1.2 renders it row for row (a test holds
//! them equal through [`ReasonRow::doc_line`]).

use super::action::GiveUpReason;
use crate::api::ReasonCode;

/// The abstract rule of a table row, resolved by [`super::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Permanent: give up (and usually alert).
    GiveUp(GiveUpReason),
    /// Transient: replay the same request with the same key after a backoff.
    Replay,
    /// SoftDeclined / ProcessingFailure: Get Charge Permission; if `Chargeable`, a new
    /// attempt on the dunning schedule; otherwise follow the permission's state.
    SoftDecline,
    /// HardDeclined (and payment-method reasons): the buyer updates the method (unless the
    /// permission is closed).
    HardDecline,
    /// The permission is not `Chargeable`: check it and follow its state.
    FollowPermission,
    /// The permission is closed.
    PermissionClosed,
    /// AmazonRejected: Amazon cancels the permission with the charge (SPEC §16).
    PermissionRejected,
    /// Monthly limit: next UTC month.
    NextMonth,
    /// MFA required but impossible now: MIT → buyer must come back; CIT → missing return URL.
    MfaNotCompleted,
    /// MFA challenge: CIT with a redirect URL → redirect; MIT → buyer must come back.
    BuyerAction,
    /// Every other reason (Amazon's rule, SPEC §16): the buyer pays with another payment
    /// method — now if present (CIT), else the subscription needs them back (MIT).
    AnotherMethod,
    /// Another charge is in progress: wait for the IPN.
    Await,
}

impl Rule {
    /// The action column of docs/domain.md §1.2.
    pub fn action_text(&self) -> String {
        match self {
            Rule::GiveUp(reason) => format!("GiveUp({})", reason.as_str()),
            Rule::Replay => "RetryAt, same key (backoff)".into(),
            Rule::SoftDecline | Rule::FollowPermission => {
                "CheckPermissionThenRetry → see permission table".into()
            }
            Rule::HardDecline => {
                "AskBuyerToUpdatePaymentMethod (Closed → StopPermissionClosed)".into()
            }
            Rule::PermissionClosed => "StopPermissionClosed".into(),
            Rule::PermissionRejected => "StopPermissionRejected".into(),
            Rule::NextMonth => "WaitUntilNextMonth (next UTC month start)".into(),
            Rule::MfaNotCompleted => {
                "MIT: RequireBuyerPresent · CIT: GiveUp(missing_checkout_result_return_url)".into()
            }
            Rule::BuyerAction => "CIT + URL: RedirectBuyerForMfa · MIT: RequireBuyerPresent".into(),
            Rule::AnotherMethod => "RequireBuyerPresent (Closed → StopPermissionClosed)".into(),
            Rule::Await => "AwaitNotification".into(),
        }
    }

    /// The "buyer is told" column (`buyerAction.kind`, see [`super::buyer_action`]).
    pub fn buyer_text(&self) -> &'static str {
        match self {
            Rule::GiveUp(GiveUpReason::CanceledByMerchant) => "— (not a decline)",
            Rule::GiveUp(reason) if reason.is_our_side() => "retry_later (our side; alert)",
            Rule::GiveUp(_) => "use_another_method",
            Rule::Replay => "— (pending); retry_later once the replays are used up",
            Rule::SoftDecline | Rule::FollowPermission => {
                "retry_later (Chargeable, after the bounded retries) · update_payment_method (NonChargeable) · use_another_method (Closed)"
            }
            Rule::HardDecline => "update_payment_method (Closed: use_another_method)",
            Rule::PermissionClosed
            | Rule::PermissionRejected
            | Rule::NextMonth
            | Rule::AnotherMethod => "use_another_method",
            Rule::MfaNotCompleted => {
                "use_another_method (MIT) · retry_later (CIT: our missing return URL)"
            }
            Rule::BuyerAction => "— (CIT: MFA redirect) · use_another_method (MIT)",
            Rule::Await => "— (pending)",
        }
    }
}

/// One row of the decision table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonRow {
    /// The reason code.
    pub code: ReasonCode,
    /// HTTP status Amazon sends it with (SPEC §6); `None` for `statusDetails`-only codes.
    pub status: Option<u16>,
    /// What to do.
    pub rule: Rule,
    /// Why, in one line (rendered in docs/domain.md).
    pub why: &'static str,
}

impl ReasonRow {
    /// The row as docs/domain.md §1.2 writes it.
    pub fn doc_line(&self) -> String {
        let status = self.status.map_or("—".to_string(), |s| s.to_string());
        format!(
            "| {status} | `{}` | {} | {} | {} |",
            self.code,
            self.rule.action_text(),
            self.rule.buyer_text(),
            self.why
        )
    }
}

macro_rules! rows {
    ($( $status:expr, $code:ident => $rule:expr, $why:literal; )+) => {
        &[ $( ReasonRow { code: ReasonCode::$code, status: $status, rule: $rule, why: $why }, )+ ]
    };
}

use GiveUpReason as G;
use Rule as R;

/// The decision table: every known reason code, once, in SPEC §6 order, then the
/// `statusDetails` reason codes (which arrive on `Declined`/`Canceled` charges).
pub static REASON_TABLE: &[ReasonRow] = rows! {
    Some(400), InvalidHeaderValue => R::GiveUp(G::InvalidRequest), "our request is malformed: fix the client";
    Some(400), InvalidRequest => R::GiveUp(G::InvalidRequest), "our request is malformed: fix the client";
    Some(400), InvalidParameterValue => R::GiveUp(G::InvalidRequest), "a field value is invalid (e.g. softDescriptor > 16)";
    Some(400), InvalidRequestFormat => R::GiveUp(G::InvalidRequest), "the body is not valid JSON";
    Some(400), MissingHeader => R::GiveUp(G::InvalidRequest), "a required header is absent";
    Some(400), MissingHeaderValue => R::GiveUp(G::InvalidRequest), "a required header is empty (e.g. idempotency key)";
    Some(400), MissingParameterValue => R::GiveUp(G::InvalidRequest), "a required field is missing";
    Some(400), UnrecognizedField => R::GiveUp(G::InvalidRequest), "we sent a field Amazon does not know";
    Some(400), InvalidSandboxSimulationSpecified => R::GiveUp(G::InvalidRequest), "a sandbox simulation code does not fit this call";
    Some(400), DuplicateIdempotencyKey => R::GiveUp(G::IdempotencyKeyConflict), "same key, different body: a new key could charge twice, so stop and alert";
    Some(400), InvalidParameterCombination => R::GiveUp(G::InvalidRequest), "e.g. softDescriptor without captureNow";
    Some(400), CurrencyMismatch => R::GiveUp(G::CurrencyMismatch), "charge currency differs from the permission's presentment currency";
    Some(400), InvalidAPIVersion => R::GiveUp(G::InvalidRequest), "unsupported API version";
    Some(400), TransactionAmountExceeded => R::GiveUp(G::AmountRejected), "amount above the per-charge maximum";
    Some(400), PeriodicAmountExceeded => R::NextMonth, "monthly Saved Wallet limit reached: only next month";
    Some(401), UnauthorizedAccess => R::GiveUp(G::CredentialsRejected), "merchant not authorized (delegation)";
    Some(403), InvalidAccountStatus => R::GiveUp(G::AccountNotInGoodStanding), "merchant account not in good standing";
    Some(403), InvalidRequestSignature => R::GiveUp(G::SignatureRejected), "signature refused: fix the signer or key";
    Some(403), InvalidAuthentication => R::GiveUp(G::CredentialsRejected), "credentials refused";
    Some(403), InvalidAuthorizationToken => R::GiveUp(G::CredentialsRejected), "token refused";
    Some(404), ResourceNotFound => R::GiveUp(G::ResourceNotFound), "unknown permission id (or sandbox id against live)";
    Some(405), UnsupportedOperation => R::GiveUp(G::InvalidRequest), "method not supported: client bug";
    Some(405), RequestNotSupported => R::GiveUp(G::InvalidRequest), "method not supported: client bug";
    Some(408), RequestTimeout => R::Replay, "timed out: replay with the same key (a lost success is replayed, not repeated)";
    Some(409), AmountMismatch => R::GiveUp(G::NotACreateChargeOutcome), "Complete Checkout Session code, never Create Charge";
    Some(422), InvalidCheckoutSessionStatus => R::GiveUp(G::NotACreateChargeOutcome), "checkout session code, never Create Charge";
    Some(422), CheckoutSessionCanceled => R::AnotherMethod, "buyer canceled or payment declined in checkout (a failed MFA too): another method";
    Some(422), ChargePermissionNotModifiable => R::GiveUp(G::NotACreateChargeOutcome), "Update Charge Permission code, never Create Charge";
    Some(422), InvalidChargePermissionStatus => R::FollowPermission, "permission not Chargeable: check it and follow its state";
    Some(422), InvalidChargeStatus => R::GiveUp(G::NotACreateChargeOutcome), "capture/cancel/refund code, never Create Charge";
    Some(422), SoftDeclined => R::SoftDecline, "temporary decline: confirm Chargeable, then a new attempt on the dunning schedule";
    Some(422), HardDeclined => R::HardDecline, "permanent decline: the buyer must update the payment method";
    Some(422), PaymentMethodNotAllowed => R::AnotherMethod, "method not allowed for this permission: the buyer pays with another one (SPEC §16 rule)";
    Some(422), AmazonRejected => R::PermissionRejected, "Amazon rejected it and cancels the permission (SPEC §16): the wallet is gone";
    Some(422), TransactionCountExceeded => R::AnotherMethod, "too many charges on this permission: the buyer pays with another method (SPEC §16 rule)";
    Some(422), TransactionTimedOut => R::AnotherMethod, "not a soft decline (SPEC §16): Amazon could not authorize in time; the buyer uses another method";
    Some(422), MFANotCompleted => R::MfaNotCompleted, "MFA needed: MIT cannot do it (buyer must come back); CIT lacked a return URL";
    Some(426), TLSVersionNotSupported => R::GiveUp(G::TlsVersionNotSupported), "our TLS is too old: configuration";
    Some(429), TooManyRequests => R::Replay, "throttled: back off, replay with the same key";
    Some(429), RequestThrottled => R::Replay, "throttled: back off, replay with the same key";
    Some(500), InternalServerError => R::Replay, "Amazon error: replay with the same key";
    Some(500), ProcessingFailure => R::SoftDecline, "processing failure: confirm Chargeable, then a new attempt";
    Some(503), ServiceUnavailable => R::Replay, "temporarily unavailable: replay with the same key";
    None, BuyerActionRequired => R::BuyerAction, "MFA challenge: redirect the present buyer; MIT cannot";
    None, Expired => R::AnotherMethod, "MFA/checkout not completed within 24 h: buyer checks out again";
    None, BuyerCanceled => R::AnotherMethod, "on a charge or checkout: the buyer left Amazon's page (on a Closed permission it is BuyerClosed)";
    None, AmazonCanceled => R::AnotherMethod, "Amazon canceled it: re-engage the buyer";
    None, Declined => R::AnotherMethod, "declined during checkout (a failed MFA too): buyer tries another payment method";
    None, ExpiredUnused => R::GiveUp(G::ChargeExpiredUnused), "authorized but never captured in 30 days: capture flow bug";
    None, MerchantCanceled => R::GiveUp(G::CanceledByMerchant), "we canceled it ourselves: nothing to retry";
    None, ChargePermissionCanceled => R::PermissionClosed, "canceled because the permission was closed";
    None, MerchantClosed => R::PermissionClosed, "we closed the permission";
    None, BuyerClosed => R::PermissionClosed, "the buyer closed the permission on Amazon's site";
    None, AmazonClosed => R::PermissionClosed, "Amazon closed the permission";
    None, PaymentMethodInvalid => R::HardDecline, "payment method invalid: buyer updates it";
    None, PaymentMethodDeleted => R::HardDecline, "payment method deleted: buyer updates it";
    None, BillingAddressDeleted => R::HardDecline, "billing address deleted: buyer updates it";
    None, PaymentMethodExpired => R::HardDecline, "payment method expired: buyer updates it";
    None, PaymentMethodNotSet => R::HardDecline, "no payment method: buyer sets one";
    None, MFAFailed => R::HardDecline, "buyer failed MFA: buyer updates the method (hosted Update page)";
    None, ChargeInProgress => R::Await, "another charge is processing: wait for its IPN, never start a parallel one";
};

/// The table row for a reason code, if it is known.
pub fn row_for(code: &ReasonCode) -> Option<&'static ReasonRow> {
    REASON_TABLE.iter().find(|row| &row.code == code)
}
