//! Request validation shared by the operations, typed simulation codes (SPEC §10.2), and
//! Amazon-like texts.

use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Environment;

use super::Ctx;
use crate::error::ApiError;
use crate::model::PendingOutcome;

const MAX_URL_LEN: usize = 1024;
const MAX_SOFT_DESCRIPTOR: usize = 16;

/// `chargeInitiator` values (seed), spelled exactly.
const INITIATORS: [&str; 4] = ["CITU", "MITU", "CITR", "MITR"];

/// `channel` values: the seed's list (`Firetv` as the page spells it) plus the .NET SDK's
/// `FireTv`, which production SDK users send (SPEC §0). Spelled exactly.
const CHANNELS: [&str; 8] = [
    "Web",
    "Phone",
    "App",
    "Alexa",
    "PointOfSale",
    "Firetv",
    "FireTv",
    "Offline",
];

pub(super) fn check_soft_descriptor(sd: &Option<String>) -> Result<(), ApiError> {
    match sd {
        Some(s) if s.is_empty() || s.chars().count() > MAX_SOFT_DESCRIPTOR => Err(
            ApiError::invalid("softDescriptor must be 1 to 16 characters"),
        ),
        _ => Ok(()),
    }
}

/// True for hosts an `http` URL may name in Sandbox: `localhost`, 127.0.0.0/8, `::1`.
fn is_loopback(host: url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A merchant URL Amazon redirects the buyer to (seed, SPEC §16): at most 1024 bytes;
/// `https` in Live; in Sandbox `http` only for localhost / loopback hosts.
pub(super) fn check_return_url(
    env: Environment,
    field: &str,
    url: Option<&str>,
) -> Result<(), ApiError> {
    let Some(u) = url else {
        return Ok(());
    };
    if u.len() > MAX_URL_LEN {
        return Err(ApiError::invalid(format!(
            "{field} must be at most 1024 bytes"
        )));
    }
    let parsed =
        url::Url::parse(u).map_err(|_| ApiError::invalid(format!("{field} is not a valid URL")))?;
    let host = parsed
        .host()
        .ok_or_else(|| ApiError::invalid(format!("{field} has no host")))?;
    match (parsed.scheme(), env) {
        ("https", _) => Ok(()),
        ("http", Environment::Sandbox) if is_loopback(host) => Ok(()),
        ("http", Environment::Sandbox) => Err(ApiError::invalid(format!(
            "{field} must use HTTPS; HTTP is only allowed for localhost in Sandbox"
        ))),
        _ => Err(ApiError::invalid(format!("{field} must use HTTPS"))),
    }
}

/// Every merchant URL of a checkout session's `webCheckoutDetails`.
pub(super) fn check_session_urls(env: Environment, w: &WebCheckoutDetails) -> Result<(), ApiError> {
    check_return_url(
        env,
        "checkoutResultReturnUrl",
        w.checkout_result_return_url.as_deref(),
    )?;
    check_return_url(
        env,
        "checkoutReviewReturnUrl",
        w.checkout_review_return_url.as_deref(),
    )?;
    check_return_url(env, "checkoutCancelUrl", w.checkout_cancel_url.as_deref())
}

/// `chargeInitiator` and `channel` of a Create Charge body must be values Amazon lists,
/// spelled exactly (400 `InvalidParameterValue`). Checked on the raw JSON, so no leniency of
/// the shared enums' parsers (aliases, unknown values) makes the simulator laxer than Live.
pub(crate) fn check_listed_values(body: &serde_json::Value) -> Result<(), ApiError> {
    for (field, allowed) in [
        ("chargeInitiator", &INITIATORS[..]),
        ("channel", &CHANNELS[..]),
    ] {
        match body.get(field) {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(v)) if allowed.contains(&v.as_str()) => {}
            Some(v) => {
                return Err(ApiError::invalid(format!(
                    "{field} {} is not one of {}",
                    v.to_string().chars().take(40).collect::<String>(),
                    allowed.join(", ")
                )))
            }
        }
    }
    Ok(())
}

pub(super) fn positive(p: Price, field: &str) -> Result<(), ApiError> {
    if p.is_positive() {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{field} must be greater than zero"
        )))
    }
}

/// Refunds may exceed the captured amount by min(15 %, 75 major units / 8,400 JPY).
pub(super) fn refund_overage_cap(captured: Price) -> i64 {
    let pct = captured.minor_units() * 15 / 100;
    let abs = match captured.currency() {
        Currency::JPY => 8_400,
        c => 75 * c.minor_per_major(),
    };
    pct.min(abs)
}

pub(super) fn check_metadata(m: &MerchantMetadata) -> Result<(), ApiError> {
    let checks = [
        (&m.merchant_reference_id, 256, "merchantReferenceId"),
        (&m.merchant_store_name, 50, "merchantStoreName"),
        (&m.note_to_buyer, 255, "noteToBuyer"),
        (&m.custom_information, 4096, "customInformation"),
    ];
    for (v, max, name) in checks {
        if v.as_ref().is_some_and(|s| s.chars().count() > max) {
            return Err(ApiError::invalid(format!(
                "merchantMetadata.{name} must be at most {max} characters"
            )));
        }
    }
    Ok(())
}

pub(super) fn check_reason_len(field: &str, value: &str) -> Result<(), ApiError> {
    if value.chars().count() > 255 {
        return Err(ApiError::invalid(format!(
            "{field} must be at most 255 characters"
        )));
    }
    Ok(())
}

/// Parses the request's simulation code with `parse`; a code it does not know →
/// 400 `InvalidSandboxSimulationSpecified`.
pub(super) fn check_sim<T>(
    ctx: &Ctx,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    match &ctx.sim {
        None => Ok(None),
        Some(code) => parse(code).map(Some).ok_or_else(|| invalid_sim(code)),
    }
}

/// For operations that take no simulation code.
pub(crate) fn check_sim_none(ctx: &Ctx) -> Result<(), ApiError> {
    check_sim(ctx, |_| None::<()>).map(|_| ())
}

pub(super) fn invalid_sim(code: &str) -> ApiError {
    ApiError::bad_request(
        ReasonCode::InvalidSandboxSimulationSpecified,
        format!(
            "simulation code {:?} is not valid for this operation",
            code.chars().take(64).collect::<String>()
        ),
    )
}

/// HTTP status of a synchronous decline (SPEC §16): 500 ProcessingFailure, else 422.
pub(super) fn decline_status(reason: &ReasonCode) -> u16 {
    if *reason == ReasonCode::ProcessingFailure {
        500
    } else {
        422
    }
}

/// A Create Charge simulation code.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ChargeSim {
    /// Synchronous decline with this reason.
    Decline(ReasonCode),
    /// `AuthorizationInitiated` / `PendingAuthorization<Reason>`.
    Pending(PendingOutcome),
    /// `CaptureInitiated` / `CaptureInitiated<Reason>`.
    CaptureInitiated(PendingOutcome),
    /// `BuyerActionRequired`: the MFA answer.
    BuyerActionRequired,
}

/// The suffix after `prefix` names an async outcome: nothing = approve, else a reason.
fn async_suffix(code: &str, prefix: &str) -> Option<PendingOutcome> {
    match code.strip_prefix(prefix)? {
        "" => Some(PendingOutcome::Approve),
        reason => PendingOutcome::from_decline_reason(reason),
    }
}

pub(super) fn parse_charge_sim(code: &str) -> Option<ChargeSim> {
    let sync = [
        "HardDeclined",
        "SoftDeclined",
        "AmazonRejected",
        "TransactionTimedOut",
        "ProcessingFailure",
        "PaymentMethodNotAllowed",
    ];
    if sync.contains(&code) {
        return Some(ChargeSim::Decline(ReasonCode::parse(code)));
    }
    match code {
        "AuthorizationInitiated" => Some(ChargeSim::Pending(PendingOutcome::Approve)),
        "BuyerActionRequired" => Some(ChargeSim::BuyerActionRequired),
        // "PendingAuthorization" alone names no outcome.
        _ => async_suffix(code, "PendingAuthorization")
            .filter(|o| *o != PendingOutcome::Approve)
            .map(ChargeSim::Pending)
            .or_else(|| async_suffix(code, "CaptureInitiated").map(ChargeSim::CaptureInitiated)),
    }
}

/// A Capture Charge simulation code.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum CaptureSim {
    /// `CaptureInitiated` / `CaptureInitiated<Reason>`.
    Async(PendingOutcome),
    /// `AmazonRejected` / `ProcessingFailure`: synchronous failure.
    Fail(ReasonCode),
}

pub(super) fn parse_capture_sim(code: &str) -> Option<CaptureSim> {
    match code {
        "AmazonRejected" | "ProcessingFailure" => Some(CaptureSim::Fail(ReasonCode::parse(code))),
        _ => async_suffix(code, "CaptureInitiated").map(CaptureSim::Async),
    }
}

/// Complete Checkout Session codes.
pub(super) fn parse_complete_sim(code: &str) -> Option<&'static str> {
    [
        "BuyerCanceled",
        "AmazonCanceled",
        "Declined",
        "AuthorizationInitiated",
    ]
    .into_iter()
    .find(|c| *c == code)
}

/// Where the buyer goes back to: `checkoutResultReturnUrl?amazonCheckoutSessionId=…`.
pub(crate) fn return_target(s: &CheckoutSession) -> String {
    let base = s
        .web_checkout_details
        .as_ref()
        .and_then(|w| {
            w.checkout_result_return_url
                .clone()
                .or_else(|| w.checkout_review_return_url.clone())
        })
        .unwrap_or_else(|| "/".to_string());
    match url::Url::parse(&base) {
        Ok(mut u) => {
            u.query_pairs_mut()
                .append_pair("amazonCheckoutSessionId", &s.checkout_session_id);
            u.to_string()
        }
        Err(_) => format!("{base}?amazonCheckoutSessionId={}", s.checkout_session_id),
    }
}

/// Amazon-like human text for a reason code.
pub(crate) fn reason_text(r: &ReasonCode) -> String {
    let text = match r {
        ReasonCode::SoftDeclined => "The charge was soft declined. Retry after confirming the charge permission is Chargeable.",
        ReasonCode::HardDeclined => "The charge was declined. The buyer must update the payment method.",
        ReasonCode::AmazonRejected => "Amazon rejected the transaction.",
        ReasonCode::ProcessingFailure => "Amazon could not process the transaction because of an internal processing error.",
        ReasonCode::TransactionTimedOut => "The authorization was not processed in time.",
        ReasonCode::PaymentMethodNotAllowed => "The payment method is not allowed for this transaction.",
        ReasonCode::BuyerActionRequired => "Charge requires buyer action to proceed.",
        ReasonCode::MFAFailed => "The buyer did not verify the transaction.",
        ReasonCode::PaymentMethodInvalid => "The previous charge was declined. The buyer must update the payment method.",
        ReasonCode::PaymentMethodDeleted => "The buyer deleted the payment method.",
        ReasonCode::BillingAddressDeleted => "The buyer deleted the billing address.",
        ReasonCode::PaymentMethodExpired => "The payment method expired.",
        ReasonCode::PaymentMethodNotSet => "No payment method is set.",
        ReasonCode::ChargeInProgress => "A charge is already in progress.",
        ReasonCode::MerchantClosed => "The merchant closed the charge permission.",
        ReasonCode::BuyerClosed => "The buyer closed the charge permission.",
        ReasonCode::AmazonClosed => "Amazon closed the charge permission.",
        ReasonCode::MerchantCanceled => "The merchant canceled the charge.",
        ReasonCode::ExpiredUnused => "The authorization expired unused after 30 days.",
        ReasonCode::ChargePermissionCanceled => "The charge permission was closed with cancelPendingCharges.",
        ReasonCode::Expired => "Not completed within 24 hours.",
        ReasonCode::BuyerCanceled => "The buyer canceled.",
        ReasonCode::AmazonCanceled => "Amazon canceled.",
        ReasonCode::Declined => "The payment was declined.",
        other => return other.as_str().to_string(),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_follow_the_seed() {
        let sandbox = Environment::Sandbox;
        let ok = [
            "https://merchant.example/r",
            "http://localhost:8080/r",
            "http://LOCALHOST/r",
            "http://127.0.0.1:3000/r",
            "http://127.5.6.7/r",
            "http://[::1]:9/r",
        ];
        for u in ok {
            assert_eq!(check_return_url(sandbox, "u", Some(u)), Ok(()), "{u}");
        }
        let bad = [
            "http://merchant.example/r",
            "http://10.0.0.1/r",
            "http://localhost.evil.example/r",
            "http://[::2]/r",
            "ftp://localhost/r",
            "not a url",
            "data:text/plain,hi",
        ];
        for u in bad {
            let e = check_return_url(sandbox, "u", Some(u)).unwrap_err();
            assert_eq!(
                (e.status, e.reason),
                (400, ReasonCode::InvalidParameterValue),
                "{u}"
            );
        }
        let live = Environment::Live;
        assert!(check_return_url(live, "u", Some("http://localhost/r")).is_err());
        assert!(check_return_url(live, "u", Some("https://m.example/r")).is_ok());
        let long = format!("https://m.example/{}", "a".repeat(1024 - 18));
        assert_eq!(long.len(), 1024);
        assert!(check_return_url(sandbox, "u", Some(&long)).is_ok());
        let longer = format!("{long}b");
        assert!(check_return_url(sandbox, "u", Some(&longer)).is_err());
        // Bytes, not characters: 1024 bytes of multi-byte text is too long at fewer chars.
        let wide = format!("https://m.example/{}", "é".repeat(504));
        assert!(wide.chars().count() < 1024 && wide.len() > 1024);
        assert!(check_return_url(sandbox, "u", Some(&wide)).is_err());
    }

    #[test]
    fn simulation_codes_parse_into_outcomes() {
        assert_eq!(
            parse_charge_sim("PendingAuthorizationAmazonRejected"),
            Some(ChargeSim::Pending(PendingOutcome::AmazonRejected))
        );
        assert_eq!(
            parse_charge_sim("CaptureInitiatedProcessingFailure"),
            Some(ChargeSim::CaptureInitiated(
                PendingOutcome::ProcessingFailure
            ))
        );
        assert_eq!(
            parse_charge_sim("CaptureInitiated"),
            Some(ChargeSim::CaptureInitiated(PendingOutcome::Approve))
        );
        for bad in [
            "PendingAuthorization",
            "PendingAuthorizationMFAFailed",
            "Nope",
        ] {
            assert_eq!(parse_charge_sim(bad), None, "{bad}");
        }
        assert_eq!(
            parse_capture_sim("CaptureInitiatedTransactionTimedOut"),
            Some(CaptureSim::Async(PendingOutcome::TransactionTimedOut))
        );
        assert_eq!(parse_capture_sim("HardDeclined"), None);
    }

    #[test]
    fn channels_and_initiators_are_amazons() {
        let ok = |v: serde_json::Value| check_listed_values(&v).is_ok();
        for c in ["Web", "Firetv", "FireTv", "Offline", "PointOfSale"] {
            assert!(
                ok(serde_json::json!({"channel": c, "chargeInitiator": "MITR"})),
                "{c}"
            );
        }
        assert!(ok(serde_json::json!({"chargeInitiator": null})));
        for bad in [
            serde_json::json!({"channel": "Amazon"}),
            serde_json::json!({"channel": "web"}),
            serde_json::json!({"channel": "FIRETV"}),
            serde_json::json!({"channel": 1}),
            serde_json::json!({"chargeInitiator": "CIT"}),
            serde_json::json!({"chargeInitiator": "citu"}),
        ] {
            let e = check_listed_values(&bad).unwrap_err();
            assert_eq!(
                (e.status, e.reason),
                (400, ReasonCode::InvalidParameterValue),
                "{bad}"
            );
        }
    }
}
