//! State machines, reason codes, simulation codes, idempotency, limits, MFA, the buyer
//! pages and IPNs — all over real HTTP with the project's own client.

mod common;

use common::*;
use savedwallet_amazon_pay::Operation;
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use serde_json::{json, Value};

fn eur(minor: i64) -> Price {
    Price::from_minor(minor, Currency::EUR)
}

fn charge_req(cp: &str, minor: i64) -> CreateChargeRequest {
    let mut r = CreateChargeRequest::new(cp, eur(minor));
    r.charge_initiator = Some(ChargeInitiator::Mitu);
    r.channel = Some(Channel::Web);
    r
}

fn capture(minor: i64) -> CaptureChargeRequest {
    CaptureChargeRequest {
        capture_amount: eur(minor),
        soft_descriptor: None,
    }
}

fn refund(charge_id: &str, minor: i64) -> CreateRefundRequest {
    CreateRefundRequest {
        charge_id: charge_id.to_string(),
        refund_amount: eur(minor),
        soft_descriptor: None,
    }
}

fn complete(minor: i64) -> CompleteCheckoutSessionRequest {
    CompleteCheckoutSessionRequest {
        charge_amount: Some(eur(minor)),
        total_order_amount: None,
    }
}

fn close_req(reason: &str, cancel_pending_charges: Option<bool>) -> CloseChargePermissionRequest {
    CloseChargePermissionRequest {
        closure_reason: reason.into(),
        cancel_pending_charges,
    }
}

/// The permission is `Closed` with exactly this reason.
fn assert_closed(p: &ChargePermission, reason: ReasonCode) {
    assert_eq!(p.status_details.state, ChargePermissionState::Closed);
    assert_eq!(p.status_details.reasons[0].reason_code, reason);
}

fn cancel(reason: &str) -> CancelChargeRequest {
    CancelChargeRequest {
        cancellation_reason: reason.into(),
    }
}

/// The MFA challenge URL of a 202 `ActionRequired` charge.
fn redirect_of(ch: &Charge) -> String {
    ch.web_checkout_details
        .as_ref()
        .and_then(|w| w.amazon_pay_redirect_url.clone())
        .expect("amazonPayRedirectUrl")
}

/// Create Charge (MIT, EUR) that must answer 201 → the Charge.
async fn charge(c: &savedwallet_amazon_pay::AmazonPayClient, cp: &str, minor: i64) -> Charge {
    let r = c
        .create_charge(&charge_req(cp, minor), &key())
        .await
        .expect("create charge");
    assert_eq!(r.status, 201);
    r.body
}

/// The client sending `x-amz-pay-simulation-code: code` with every call.
fn simulating(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    code: &str,
) -> savedwallet_amazon_pay::AmazonPayClient {
    c.with_simulation_code(code).expect("simulation code")
}

/// Create Charge (MIT, EUR) that must fail → (status, reasonCode).
async fn charge_err(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    cp: &str,
    minor: i64,
) -> (u16, String) {
    api_err(c.create_charge(&charge_req(cp, minor), &key()).await)
}

/// Get Charge Permission → its state.
async fn permission_state(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    cp: &str,
) -> ChargePermissionState {
    c.get_charge_permission(cp)
        .await
        .expect("get charge permission")
        .body
        .status_details
        .state
}

/// Advances the clock by `seconds`, then Get Charge → its state and reason code.
async fn charge_status_after(
    sb: &savedwallet_sandbox::SandboxHandle,
    c: &savedwallet_amazon_pay::AmazonPayClient,
    id: &str,
    seconds: i64,
) -> (ChargeState, Option<ReasonCode>) {
    advance(sb, seconds).await;
    charge_status(c, id).await
}

/// Get Charge → its state and reason code.
async fn charge_status(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    id: &str,
) -> (ChargeState, Option<ReasonCode>) {
    let d = c
        .get_charge(id)
        .await
        .expect("get charge")
        .body
        .status_details;
    (d.state, d.reason_code)
}

fn pending_req(cp: &str, minor: i64) -> CreateChargeRequest {
    let mut r = charge_req(cp, minor);
    r.can_handle_pending_authorization = Some(true);
    r
}

fn captured_req(cp: &str, minor: i64) -> CreateChargeRequest {
    let mut r = charge_req(cp, minor);
    r.capture_now = Some(true);
    r
}

/// A fresh sandbox, the client pointed at it, and one EUR Saved Wallet with `preset`.
async fn with_wallet(
    preset: &str,
) -> (
    savedwallet_sandbox::SandboxHandle,
    savedwallet_amazon_pay::AmazonPayClient,
    String,
) {
    let sb = start().await;
    let c = client(&sb);
    let cp = wallet(&sb, preset).await;
    (sb, c, cp)
}

/// A Saved Wallet from the control API → its charge permission id.
async fn wallet_with(sb: &savedwallet_sandbox::SandboxHandle, body: Value) -> String {
    let cp = control_wallet(sb, body).await;
    cp["chargePermissionId"].as_str().expect("id").to_string()
}

async fn wallet(sb: &savedwallet_sandbox::SandboxHandle, preset: &str) -> String {
    wallet_with(
        sb,
        json!({"preset": preset, "region": "eu", "currency": "EUR"}),
    )
    .await
}

/// Extracts the hidden form token from a buyer page.
fn form_token(html: &str) -> String {
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker).expect("token field") + marker.len();
    let end = html[start..].find('"').expect("end quote") + start;
    html[start..end].to_string()
}

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET a buyer page, POST its form with `fields`, return the Location header.
async fn submit_page(url: &str, fields: &[(&str, &str)]) -> String {
    let http = no_redirect_client();
    let page = http.get(url).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200, "GET {url}");
    let html = page.text().await.expect("html");
    assert!(html.contains("<html lang=\"en\">") && html.contains("<h1>"));
    let token = form_token(&html);
    let mut form: Vec<(&str, &str)> = vec![("token", token.as_str())];
    form.extend_from_slice(fields);
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let resp = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encoded)
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 303, "POST {url}");
    resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_string()
}

fn session_id_from(location: &str) -> String {
    let u = url::Url::parse(location).expect("redirect url");
    u.query_pairs()
        .find(|(k, _)| k == "amazonCheckoutSessionId")
        .map(|(_, v)| v.to_string())
        .expect("amazonCheckoutSessionId")
}

#[tokio::test]
async fn authorize_capture_refund_lifecycle() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let got = c.get_charge_permission(&cp).await.expect("get cp");
    assert_eq!(got.status, 200);
    assert!(got.request_id.is_some(), "x-amz-pay-request-id is sent");
    assert_eq!(
        got.body.status_details.state,
        ChargePermissionState::Chargeable
    );
    assert_eq!(
        got.body.charge_permission_type,
        Some(ChargePermissionType::PaymentMethodOnFile)
    );
    assert_eq!(got.body.release_environment.as_deref(), Some("Sandbox"));
    assert!(got.body.expiration_timestamp.is_none());

    let r = c
        .create_charge(&charge_req(&cp, 1499), &key())
        .await
        .expect("charge");
    assert_eq!(r.status, 201);
    let ch = r.body;
    assert_eq!(ch.status_details.state, ChargeState::Authorized);
    let suffix = ch
        .charge_id
        .strip_prefix(&format!("{cp}-C"))
        .expect("id shape");
    assert!(suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_digit()));

    let cap = c
        .capture_charge(&ch.charge_id, &capture(1499), &key())
        .await
        .expect("capture");
    assert_eq!(cap.status, 200);
    assert_eq!(cap.body.status_details.state, ChargeState::Captured);
    assert_eq!(cap.body.capture_amount, Some(eur(1499)));

    let rf = c
        .create_refund(&refund(&ch.charge_id, 500), &key())
        .await
        .expect("refund");
    assert_eq!(rf.status, 201);
    assert_eq!(rf.body.status_details.state, RefundState::RefundInitiated);
    assert!(rf.body.refund_id.starts_with(&format!("{cp}-R")));
    advance(&sb, 31).await;
    let rf2 = c.get_refund(&rf.body.refund_id).await.expect("get refund");
    assert_eq!(rf2.body.status_details.state, RefundState::Refunded);
    let ch2 = c.get_charge(&ch.charge_id).await.expect("get charge");
    assert_eq!(ch2.body.refunded_amount, Some(eur(500)));
    // Refund above captured + min(15 %, 75) → TransactionAmountExceeded.
    let over = c.create_refund(&refund(&ch.charge_id, 1300), &key()).await;
    assert_eq!(api_err(over), (400, "TransactionAmountExceeded".into()));
    // Raw JSON shape: Amazon's timestamp format and field names.
    let raw = c
        .call_raw(Operation::GetCharge, Some(&ch.charge_id), None, None)
        .await
        .expect("raw");
    let ts = raw.body["creationTimestamp"].as_str().expect("ts");
    assert_eq!(ts.len(), 16, "yyyyMMddTHHmmssZ: {ts}");
    assert!(ts.ends_with('Z') && &ts[8..9] == "T");
    assert_eq!(
        raw.body["chargeAmount"],
        json!({"amount": "14.99", "currencyCode": "EUR"})
    );
    assert_eq!(raw.body["releaseEnvironment"], "Sandbox");
}

#[tokio::test]
async fn cancel_expiry_and_capture_rules() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let a = charge(&c, &cp, 1000).await;
    let canceled = c
        .cancel_charge(&a.charge_id, &cancel("order canceled"))
        .await
        .expect("cancel");
    assert_eq!(canceled.body.status_details.state, ChargeState::Canceled);
    assert_eq!(
        canceled.body.status_details.reason_code,
        Some(ReasonCode::MerchantCanceled)
    );
    let cap = c.capture_charge(&a.charge_id, &capture(1000), &key()).await;
    assert_eq!(api_err(cap), (422, "InvalidChargeStatus".into()));
    let again = c.cancel_charge(&a.charge_id, &cancel("x")).await;
    assert_eq!(api_err(again), (422, "InvalidChargeStatus".into()));

    let b = charge(&c, &cp, 1000).await;
    let refund = c.create_refund(&refund(&b.charge_id, 100), &key()).await;
    assert_eq!(api_err(refund), (422, "InvalidChargeStatus".into()));
    let over = c.capture_charge(&b.charge_id, &capture(1001), &key()).await;
    assert_eq!(api_err(over), (400, "TransactionAmountExceeded".into()));

    // Capture more than 7 days after authorization runs asynchronously.
    advance(&sb, 8 * 24 * 3600).await;
    let late = c
        .capture_charge(&b.charge_id, &capture(1000), &key())
        .await
        .expect("late capture");
    assert_eq!(
        late.body.status_details.state,
        ChargeState::CaptureInitiated
    );
    advance(&sb, 31).await;
    let done = c.get_charge(&b.charge_id).await.expect("get").body;
    assert_eq!(done.status_details.state, ChargeState::Captured);

    // Authorized for 30 days without capture → Canceled / ExpiredUnused.
    let d = charge(&c, &cp, 1000).await;
    assert_eq!(
        charge_status_after(&sb, &c, &d.charge_id, 30 * 24 * 3600 - 60)
            .await
            .0,
        ChargeState::Authorized,
        "still capturable just before 30 days"
    );
    advance(&sb, 61).await;
    let expired = c.get_charge(&d.charge_id).await.expect("get").body;
    assert_eq!(expired.status_details.state, ChargeState::Canceled);
    assert_eq!(
        expired.status_details.reason_code,
        Some(ReasonCode::ExpiredUnused)
    );
}

#[tokio::test]
async fn create_charge_validation_errors() {
    let (sb, c, cp) = with_wallet("always-approve").await;

    // The typed client refuses these before sending; raw bytes reach the simulator.
    let raw = |r: &CreateChargeRequest| {
        let (body, k, c) = (serde_json::to_vec(r).expect("serialise"), key(), &c);
        async move {
            c.call_raw(Operation::CreateCharge, None, Some(body), Some(&k))
                .await
        }
    };
    let mut r = charge_req(&cp, 1000);
    r.soft_descriptor = Some("ACME".into());
    assert_eq!(
        api_err(raw(&r).await),
        (400, "InvalidParameterCombination".into())
    );
    r.capture_now = Some(true);
    r.soft_descriptor = Some("x".repeat(17));
    assert_eq!(
        api_err(raw(&r).await),
        (400, "InvalidParameterValue".into())
    );
    r.soft_descriptor = Some("ACME Monthly".into());
    let ok = c
        .create_charge(&r, &key())
        .await
        .expect("captureNow + softDescriptor");
    assert_eq!(ok.body.status_details.state, ChargeState::Captured);
    assert_eq!(ok.body.soft_descriptor.as_deref(), Some("ACME Monthly"));

    let usd = CreateChargeRequest::new(&cp, Price::from_minor(1000, Currency::USD));
    assert_eq!(
        api_err(c.create_charge(&usd, &key()).await),
        (400, "CurrencyMismatch".into())
    );
    let huge = charge_req(&cp, 15_000_001);
    assert_eq!(
        api_err(c.create_charge(&huge, &key()).await),
        (400, "TransactionAmountExceeded".into())
    );
    let missing = charge_req("S01-0000000-0000000", 1000);
    assert_eq!(
        api_err(c.create_charge(&missing, &key()).await),
        (404, "ResourceNotFound".into())
    );

    // Raw bodies the typed client cannot produce → Amazon's 400 reason codes.
    let bodies = [
        (
            format!(
                r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"1.00","currencyCode":"EUR"}},"surprise":1}}"#
            ),
            "UnrecognizedField",
        ),
        ("{not json".to_string(), "InvalidRequestFormat"),
        ("[1, 2]".to_string(), "InvalidRequestFormat"),
        (
            format!(r#"{{"chargePermissionId":"{cp}"}}"#),
            "MissingParameterValue",
        ),
        (
            format!(
                r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"1.001","currencyCode":"EUR"}}}}"#
            ),
            "InvalidParameterValue",
        ),
    ];
    for (body, reason) in bodies {
        let e = c
            .call_raw(
                Operation::CreateCharge,
                None,
                Some(body.clone().into_bytes()),
                Some(&key()),
            )
            .await;
        assert_eq!(api_err(e), (400, reason.to_string()), "{body}");
    }

    // Create Charge without an idempotency key (hand-built, signed).
    let body = format!(
        r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"1.00","currencyCode":"EUR"}}}}"#
    );
    let mut raw = RawRequest::new(&sb, "POST", "/v2/charges", &body);
    raw.headers
        .retain(|(n, _)| n != "x-amz-pay-idempotency-key");
    raw.signed.retain(|n| n != "x-amz-pay-idempotency-key");
    assert_eq!(raw.outcome(&sb).await, (400, "MissingHeaderValue".into()));
    // Wrong method on a known resource.
    let raw = RawRequest::new(&sb, "GET", "/v2/charges", "");
    assert_eq!(raw.outcome(&sb).await, (405, "UnsupportedOperation".into()));
}

#[tokio::test]
async fn create_charge_simulation_codes() {
    let sb = start().await;
    let c = client(&sb);
    let cases: &[(&str, u16, &str)] = &[
        ("SoftDeclined", 422, "SoftDeclined"),
        ("AmazonRejected", 422, "AmazonRejected"),
        ("TransactionTimedOut", 422, "TransactionTimedOut"),
        ("ProcessingFailure", 500, "ProcessingFailure"),
        ("PaymentMethodNotAllowed", 422, "PaymentMethodNotAllowed"),
        ("HardDeclined", 422, "HardDeclined"),
    ];
    for (code, status, reason) in cases {
        let cp = wallet(&sb, "always-approve").await;
        let sim = simulating(&c, code);
        let e = sim.create_charge(&charge_req(&cp, 1000), &key()).await;
        assert_eq!(api_err(e), (*status, reason.to_string()), "code {code}");
        let state = c
            .get_charge_permission(&cp)
            .await
            .expect("cp")
            .body
            .status_details;
        if *code == "HardDeclined" {
            assert_eq!(state.state, ChargePermissionState::NonChargeable);
            assert_eq!(
                state.reasons[0].reason_code,
                ReasonCode::PaymentMethodInvalid
            );
        } else {
            assert_eq!(
                state.state,
                ChargePermissionState::Chargeable,
                "code {code}"
            );
        }
    }
    // Pending variants need canHandlePendingAuthorization and resolve on the clock.
    let pending: &[(&str, ChargeState, Option<ReasonCode>)] = &[
        ("AuthorizationInitiated", ChargeState::Authorized, None),
        (
            "PendingAuthorizationSoftDeclined",
            ChargeState::Declined,
            Some(ReasonCode::SoftDeclined),
        ),
        (
            "PendingAuthorizationHardDeclined",
            ChargeState::Declined,
            Some(ReasonCode::HardDeclined),
        ),
    ];
    for (code, end, reason) in pending {
        let cp = wallet(&sb, "always-approve").await;
        let sim = simulating(&c, code);
        let e = sim.create_charge(&charge_req(&cp, 1000), &key()).await;
        assert_eq!(
            api_err(e),
            (422, "TransactionTimedOut".into()),
            "{code} without pending"
        );
        let r = pending_req(&cp, 1000);
        let ch = sim.create_charge(&r, &key()).await.expect("pending").body;
        assert_eq!(ch.status_details.state, ChargeState::AuthorizationInitiated);
        advance(&sb, 31).await;
        let after = c.get_charge(&ch.charge_id).await.expect("get").body;
        assert_eq!(&after.status_details.state, end, "{code}");
        assert_eq!(&after.status_details.reason_code, reason, "{code}");
    }
    // CaptureInitiated → Captured later.
    let cp = wallet(&sb, "always-approve").await;
    let sim = simulating(&c, "CaptureInitiated");
    let r = captured_req(&cp, 1000);
    let ch = sim.create_charge(&r, &key()).await.expect("ci").body;
    assert_eq!(ch.status_details.state, ChargeState::CaptureInitiated);
    assert_eq!(
        charge_status_after(&sb, &c, &ch.charge_id, 31).await.0,
        ChargeState::Captured
    );
    // BuyerActionRequired forces the MFA answer for a CIT charge.
    let sim = simulating(&c, "BuyerActionRequired");
    let mut r = charge_req(&cp, 1000);
    r.charge_initiator = Some(ChargeInitiator::Citu);
    r.web_checkout_details = Some(WebCheckoutDetails {
        checkout_result_return_url: Some("http://localhost:9/return".into()),
        ..Default::default()
    });
    let mfa = sim.create_charge(&r, &key()).await.expect("mfa");
    assert_eq!(mfa.status, 202);
    assert_eq!(mfa.body.status_details.state, ChargeState::ActionRequired);
    // Unknown code, and a code on an operation that takes none.
    let bad = simulating(&c, "NoSuchCode");
    assert_eq!(
        api_err(bad.create_charge(&charge_req(&cp, 1000), &key()).await),
        (400, "InvalidSandboxSimulationSpecified".into())
    );
    let on_get = simulating(&c, "HardDeclined");
    assert_eq!(
        api_err(on_get.get_charge_permission(&cp).await),
        (400, "InvalidSandboxSimulationSpecified".into())
    );
}

#[tokio::test]
async fn other_operation_simulation_codes() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    // Capture: CaptureInitiated, AmazonRejected, ProcessingFailure.
    let a = charge(&c, &cp, 1000).await;
    let e = simulating(&c, "ProcessingFailure")
        .capture_charge(&a.charge_id, &capture(1000), &key())
        .await;
    assert_eq!(api_err(e), (500, "ProcessingFailure".into()));
    let ci = simulating(&c, "CaptureInitiated")
        .capture_charge(&a.charge_id, &capture(1000), &key())
        .await
        .expect("capture initiated");
    assert_eq!(ci.body.status_details.state, ChargeState::CaptureInitiated);
    let b = charge(&c, &cp, 1000).await;
    let e = simulating(&c, "AmazonRejected")
        .capture_charge(&b.charge_id, &capture(1000), &key())
        .await;
    assert_eq!(api_err(e), (422, "AmazonRejected".into()));
    let b2 = c.get_charge(&b.charge_id).await.expect("get").body;
    assert_eq!(b2.status_details.state, ChargeState::Declined);
    assert_eq!(
        b2.status_details.reason_code,
        Some(ReasonCode::AmazonRejected)
    );

    // Refund: AmazonRejected / ProcessingFailure → Declined after settlement.
    for code in ["AmazonRejected", "ProcessingFailure"] {
        let r = captured_req(&cp, 1000);
        let ch = c.create_charge(&r, &key()).await.expect("captured").body;
        let rf = simulating(&c, code)
            .create_refund(&refund(&ch.charge_id, 1000), &key())
            .await
            .expect("refund")
            .body;
        assert_eq!(rf.status_details.state, RefundState::RefundInitiated);
        advance(&sb, 31).await;
        let rf = c.get_refund(&rf.refund_id).await.expect("get").body;
        assert_eq!(rf.status_details.state, RefundState::Declined);
        assert_eq!(
            rf.status_details.reason_code.as_ref().map(|r| r.as_str()),
            Some(code)
        );
    }

    // Close: AmazonClosed.
    let closed = simulating(&c, "AmazonClosed")
        .close_charge_permission(&cp, &close_req("test", None))
        .await
        .expect("close")
        .body;
    assert_closed(&closed, ReasonCode::AmazonClosed);

    // AuthorizationInitiated does not fit a setup-only session (nothing to authorize).
    let sid = setup_session(&sb).await;
    let e = simulating(&c, "AuthorizationInitiated")
        .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
        .await;
    assert_eq!(
        api_err(e),
        (400, "InvalidSandboxSimulationSpecified".into())
    );
    assert_eq!(
        c.get_checkout_session(&sid)
            .await
            .expect("get")
            .body
            .status_details
            .state,
        CheckoutSessionState::Open
    );

    // Complete Checkout Session: BuyerCanceled / AmazonCanceled / Declined.
    for code in ["BuyerCanceled", "AmazonCanceled", "Declined"] {
        let sid = setup_session(&sb).await;
        let e = simulating(&c, code)
            .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
            .await;
        assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
        let s = c.get_checkout_session(&sid).await.expect("get").body;
        assert_eq!(s.status_details.state, CheckoutSessionState::Canceled);
        assert_eq!(
            s.status_details.reason_code.as_ref().map(|r| r.as_str()),
            Some(code)
        );
    }
}

fn setup_request() -> CreateCheckoutSessionRequest {
    CreateCheckoutSessionRequest {
        web_checkout_details: Some(WebCheckoutDetails {
            checkout_result_return_url: Some("http://localhost:9/setup-done".into()),
            ..Default::default()
        }),
        store_id: Some("amzn1.application-oa2-client.0123456789abcdef0123456789abcdef".into()),
        charge_permission_type: Some(ChargePermissionType::PaymentMethodOnFile),
        payment_method_on_file_metadata: Some(PaymentMethodOnFileMetadata {
            setup_only: Some(true),
        }),
        payment_details: Some(PaymentDetails {
            payment_intent: Some(PaymentIntent::Confirm),
            presentment_currency: Some("EUR".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Create Checkout Session that must succeed → its id.
async fn new_session(
    c: &savedwallet_amazon_pay::AmazonPayClient,
    req: &CreateCheckoutSessionRequest,
) -> String {
    c.create_checkout_session(req, &key())
        .await
        .expect("create session")
        .body
        .checkout_session_id
}

async fn setup_session(sb: &savedwallet_sandbox::SandboxHandle) -> String {
    new_session(&client(sb), &setup_request()).await
}

#[tokio::test]
async fn saved_wallet_setup_through_the_consent_page() {
    let sb = start().await;
    let c = client(&sb);
    let s = c
        .create_checkout_session(&setup_request(), &key())
        .await
        .expect("create");
    assert_eq!(s.status, 201);
    assert_eq!(s.body.status_details.state, CheckoutSessionState::Open);
    let redirect = s
        .body
        .web_checkout_details
        .as_ref()
        .and_then(|w| w.amazon_pay_redirect_url.clone())
        .expect("redirect url");
    assert!(redirect.starts_with(sb.base_url()));
    // Completing before the buyer acted is refused.
    let early = c
        .complete_checkout_session(
            &s.body.checkout_session_id,
            &CompleteCheckoutSessionRequest::default(),
            &key(),
        )
        .await;
    assert_eq!(api_err(early).0, 422);
    let location = submit_page(
        &redirect,
        &[("action", "consent"), ("preset", "mfa-required")],
    )
    .await;
    assert!(location.starts_with("http://localhost:9/setup-done?"));
    let sid = session_id_from(&location);
    assert_eq!(sid, s.body.checkout_session_id);
    let done = c
        .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
        .await
        .expect("complete");
    assert_eq!(done.status, 200);
    assert_eq!(
        done.body.status_details.state,
        CheckoutSessionState::Completed
    );
    assert_eq!(
        done.body.charge_permission_type,
        Some(ChargePermissionType::PaymentMethodOnFile)
    );
    let cp = done.body.charge_permission_id.expect("cp id");
    let perm = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_eq!(perm.status_details.state, ChargePermissionState::Chargeable);
    assert_eq!(perm.presentment_currency.as_deref(), Some("EUR"));
    let twice = c
        .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
        .await;
    assert_eq!(api_err(twice), (422, "InvalidCheckoutSessionStatus".into()));

    // Test card 3064: the buyer cancels; 3434: declined.
    for (preset, reason) in [
        ("setup-buyer-canceled", "BuyerCanceled"),
        ("setup-declined", "Declined"),
    ] {
        let sid = setup_session(&sb).await;
        let page = format!("{}/checkout/{sid}", sb.base_url());
        submit_page(&page, &[("action", "consent"), ("preset", preset)]).await;
        let e = c
            .complete_checkout_session(&sid, &CompleteCheckoutSessionRequest::default(), &key())
            .await;
        assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
        let s = c.get_checkout_session(&sid).await.expect("get").body;
        assert_eq!(
            s.status_details.reason_code.as_ref().map(|r| r.as_str()),
            Some(reason)
        );
    }
    // An open session expires after 24 h.
    let sid = setup_session(&sb).await;
    advance(&sb, 24 * 3600 - 60).await;
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.state, CheckoutSessionState::Open);
    advance(&sb, 61).await;
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.state, CheckoutSessionState::Canceled);
    assert_eq!(s.status_details.reason_code, Some(ReasonCode::Expired));
    // A GET never changes state: the consent page of a fresh session stays Open.
    let sid = setup_session(&sb).await;
    let html = reqwest::get(format!("{}/checkout/{sid}", sb.base_url()))
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(html.contains("<label for=\"pm0\">"));
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.state, CheckoutSessionState::Open);
    assert!(s.buyer.is_none());
}

#[tokio::test]
async fn idempotent_replay_and_duplicate_key() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    let k = key();
    let first = c
        .create_charge(&charge_req(&cp, 1000), &k)
        .await
        .expect("first");
    let second = c
        .create_charge(&charge_req(&cp, 1000), &k)
        .await
        .expect("replay");
    assert_eq!(first.status, second.status);
    assert_eq!(first.body, second.body, "the same response is replayed");
    let dup = c.create_charge(&charge_req(&cp, 1001), &k).await;
    assert_eq!(api_err(dup), (400, "DuplicateIdempotencyKey".into()));
    let ledger = sb.ledger();
    let n = ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter(|c| c["chargePermissionId"] == cp.as_str())
        .count();
    assert_eq!(n, 1, "only one charge exists");
    // A stored 4xx answer is replayed too.
    let k2 = key();
    let usd = CreateChargeRequest::new(&cp, Price::from_minor(5, Currency::USD));
    assert_eq!(
        api_err(c.create_charge(&usd, &k2).await),
        (400, "CurrencyMismatch".into())
    );
    assert_eq!(
        api_err(c.create_charge(&usd, &k2).await),
        (400, "CurrencyMismatch".into())
    );
    // 5xx answers are not stored: the retry with the same key is applied.
    let k3 = key();
    let e = simulating(&c, "ProcessingFailure")
        .create_charge(&charge_req(&cp, 700), &k3)
        .await;
    assert_eq!(api_err(e).0, 500);
    let ok = c
        .create_charge(&charge_req(&cp, 700), &k3)
        .await
        .expect("retry");
    assert_eq!(ok.body.status_details.state, ChargeState::Authorized);
    // Keys are per environment of the key id, not per operation: same key on a refund differs.
    let e = c.create_refund(&refund(&ok.body.charge_id, 1), &k3).await;
    assert_eq!(api_err(e), (400, "DuplicateIdempotencyKey".into()));
}

#[tokio::test]
async fn behaviour_presets_and_monthly_limit_across_month_boundary() {
    let sb = start().await;
    let c = client(&sb);
    // soft-decline twice, then approve.
    let cp = wallet_with(
        &sb,
        json!({"preset": "soft-decline", "region": "eu", "softDeclines": 2}),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            charge_err(&c, &cp, 1000).await,
            (422, "SoftDeclined".into())
        );
        assert_eq!(
            permission_state(&c, &cp).await,
            ChargePermissionState::Chargeable
        );
    }
    charge(&c, &cp, 1000).await;

    // low-limit wallet: 100.00 EUR a month.
    let cp = control_wallet(
        &sb,
        json!({"preset": "low-limit", "region": "eu", "currency": "EUR", "monthlyLimit": "100.00"}),
    )
    .await;
    assert_eq!(
        cp["limits"]["amountLimit"],
        json!({"amount": "100.00", "currencyCode": "EUR"})
    );
    let cp = cp["chargePermissionId"].as_str().expect("id").to_string();
    let a = charge(&c, &cp, 6000).await;
    assert_eq!(
        charge_err(&c, &cp, 5000).await,
        (400, "PeriodicAmountExceeded".into())
    );
    let perm = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_eq!(perm.limits.and_then(|l| l.amount_balance), Some(eur(4000)));
    // A canceled charge stops counting.
    c.cancel_charge(&a.charge_id, &cancel("x"))
        .await
        .expect("cancel");
    let b = charge(&c, &cp, 9000).await;
    assert_eq!(b.status_details.state, ChargeState::Authorized);
    assert_eq!(
        charge_err(&c, &cp, 2000).await,
        (400, "PeriodicAmountExceeded".into())
    );
    // Move the clock into the next UTC calendar month: the limit resets.
    use chrono::Datelike;
    let now = sb.now();
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let next = chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .expect("date")
        .and_hms_opt(0, 0, 5)
        .expect("time")
        .and_utc();
    advance(&sb, (next - now).num_seconds() + 1).await;
    let c2 = c
        .create_charge(&charge_req(&cp, 2000), &key())
        .await
        .expect("next month");
    assert_eq!(c2.status, 201);

    // async-approve: AuthorizationInitiated, then Authorized.
    let cp = wallet_with(
        &sb,
        json!({"preset": "async-approve", "region": "eu", "asyncDelaySeconds": 30}),
    )
    .await;
    let r = pending_req(&cp, 1000);
    let p = c.create_charge(&r, &key()).await.expect("pending").body;
    assert_eq!(p.status_details.state, ChargeState::AuthorizationInitiated);
    assert_eq!(
        charge_status_after(&sb, &c, &p.charge_id, 29).await.0,
        ChargeState::AuthorizationInitiated
    );
    assert_eq!(
        charge_status_after(&sb, &c, &p.charge_id, 2).await.0,
        ChargeState::Authorized
    );
    // async-decline: Declined / HardDeclined and the permission needs an update.
    let cp = wallet_with(&sb, json!({"preset": "async-decline", "region": "eu"})).await;
    let r = pending_req(&cp, 1000);
    let p = c.create_charge(&r, &key()).await.expect("pending").body;
    advance(&sb, 31).await;
    let d = c.get_charge(&p.charge_id).await.expect("g").body;
    assert_eq!(
        (d.status_details.state, d.status_details.reason_code),
        (ChargeState::Declined, Some(ReasonCode::HardDeclined))
    );
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::NonChargeable
    );
}

fn mfa_charge(cp: &str) -> CreateChargeRequest {
    let mut r = charge_req(cp, 2500);
    r.charge_initiator = Some(ChargeInitiator::Citu);
    r.web_checkout_details = Some(WebCheckoutDetails {
        checkout_result_return_url: Some("http://localhost:9/mfa-return?order=42".into()),
        ..Default::default()
    });
    r
}

#[tokio::test]
async fn mfa_challenge_approve_fail_abandon_expire() {
    let (sb, c, cp) = with_wallet("mfa-required").await;
    // MIT charges never get a challenge; CIT without a return URL cannot be challenged.
    charge(&c, &cp, 100).await;
    let mut no_url = mfa_charge(&cp);
    no_url.web_checkout_details = None;
    assert_eq!(
        api_err(c.create_charge(&no_url, &key()).await),
        (422, "MFANotCompleted".into())
    );

    for (outcome, ok) in [("approved", true), ("failed", false), ("abandoned", false)] {
        let r = c
            .create_charge(&mfa_charge(&cp), &key())
            .await
            .expect("mfa");
        assert_eq!(r.status, 202);
        let ch = r.body;
        assert_eq!(ch.status_details.state, ChargeState::ActionRequired);
        assert_eq!(
            ch.status_details.reason_code,
            Some(ReasonCode::BuyerActionRequired)
        );
        assert_eq!(
            ch.status_details.reason_description.as_deref(),
            Some("Charge requires buyer action to proceed.")
        );
        let wcd = ch.web_checkout_details.clone().expect("wcd");
        assert_eq!(
            wcd.checkout_result_return_url.as_deref(),
            Some("http://localhost:9/mfa-return?order=42")
        );
        let redirect = wcd.amazon_pay_redirect_url.expect("redirect");
        let location = submit_page(&redirect, &[("outcome", outcome)]).await;
        assert!(
            location.starts_with("http://localhost:9/mfa-return?order=42&amazonCheckoutSessionId="),
            "{location}"
        );
        let sid = session_id_from(&location);
        let done = c
            .complete_checkout_session(&sid, &complete(2500), &key())
            .await;
        let after = c.get_charge(&ch.charge_id).await.expect("get").body;
        if ok {
            let s = done.expect("complete").body;
            assert_eq!(s.status_details.state, CheckoutSessionState::Completed);
            assert_eq!(s.charge_id.as_deref(), Some(ch.charge_id.as_str()));
            assert_eq!(after.status_details.state, ChargeState::Authorized);
        } else {
            assert_eq!(api_err(done), (422, "CheckoutSessionCanceled".into()));
            let want = if outcome == "failed" {
                ChargeState::Declined
            } else {
                ChargeState::Canceled
            };
            assert_eq!(after.status_details.state, want, "{outcome}");
        }
    }
    // Amount mismatch on completion.
    let ch = c
        .create_charge(&mfa_charge(&cp), &key())
        .await
        .expect("mfa")
        .body;
    let redirect = redirect_of(&ch);
    let sid = session_id_from(&submit_page(&redirect, &[("outcome", "approved")]).await);
    let e = c
        .complete_checkout_session(&sid, &complete(2499), &key())
        .await;
    assert_eq!(api_err(e), (409, "AmountMismatch".into()));
    // Not completed within 24 h: the authorization is voided.
    let ch = c
        .create_charge(&mfa_charge(&cp), &key())
        .await
        .expect("mfa")
        .body;
    let redirect = redirect_of(&ch);
    let sid = session_id_from(&submit_page(&redirect, &[("outcome", "approved")]).await);
    assert_eq!(
        charge_status_after(&sb, &c, &ch.charge_id, 24 * 3600 + 1).await,
        (ChargeState::Canceled, Some(ReasonCode::Expired))
    );
    // Complete Checkout Session simulation codes end the waiting charge accordingly.
    for (code, want) in [
        (
            "Declined",
            (ChargeState::Declined, Some(ReasonCode::MFAFailed)),
        ),
        (
            "AmazonCanceled",
            (ChargeState::Canceled, Some(ReasonCode::AmazonCanceled)),
        ),
    ] {
        let ch = c
            .create_charge(&mfa_charge(&cp), &key())
            .await
            .expect("mfa")
            .body;
        let sid =
            session_id_from(&submit_page(&redirect_of(&ch), &[("outcome", "approved")]).await);
        let e = simulating(&c, code)
            .complete_checkout_session(&sid, &complete(2500), &key())
            .await;
        assert_eq!(
            api_err(e),
            (422, "CheckoutSessionCanceled".into()),
            "{code}"
        );
        assert_eq!(charge_status(&c, &ch.charge_id).await, want, "{code}");
    }
    let e = c
        .complete_checkout_session(&sid, &complete(2500), &key())
        .await;
    assert_eq!(api_err(e), (422, "InvalidCheckoutSessionStatus".into()));
}

#[tokio::test]
async fn hard_decline_update_page_ipn_then_chargeable() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    let cp = wallet(&sb, "hard-decline-until-updated").await;
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "HardDeclined".into())
    );
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::NonChargeable
    );
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "InvalidChargePermissionStatus".into())
    );
    let first = ipn
        .wait_for(|m| m["ObjectType"] == "CHARGE_PERMISSION" && m["ObjectId"] == cp.as_str())
        .await;
    assert_eq!(first["NotificationType"], "STATE_CHANGE");
    assert_eq!(first["ChargePermissionId"], cp.as_str());

    // The link the backend hands the buyer: the client maps Amazon's
    // payments.amazon.com link to the sandbox base when its endpoint is overridden.
    let url = c.payment_method_update_url(&cp).expect("update link");
    assert_eq!(url, sb.payment_method_update_url(&cp));
    let location = submit_page(&url, &[("action", "update"), ("preset", "always-approve")]).await;
    assert!(location.contains("done=updated"));
    let both = ipn.wait_count(|m| m["ObjectId"] == cp.as_str(), 2).await;
    assert!(both.iter().all(|m| m["ObjectType"] == "CHARGE_PERMISSION"));
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );
    charge(&c, &cp, 1000).await;
    let charge_ipn = ipn.wait_for(|m| m["ObjectType"] == "CHARGE").await;
    assert_eq!(charge_ipn["NotificationVersion"], "V2");
}

#[tokio::test]
async fn buyer_and_merchant_close() {
    let sb = start().await;
    let ipn = ipn_receiver(&sb).await;
    let c = client(&sb);
    // Buyer closes on the account page.
    let cp = wallet(&sb, "always-approve").await;
    let location = submit_page(&sb.payment_method_update_url(&cp), &[("action", "close")]).await;
    assert!(location.contains("done=closed"));
    let perm = c.get_charge_permission(&cp).await.expect("cp").body;
    assert_closed(&perm, ReasonCode::BuyerClosed);
    ipn.wait_for(|m| m["ObjectId"] == cp.as_str()).await;
    assert_eq!(
        charge_err(&c, &cp, 1000).await,
        (422, "InvalidChargePermissionStatus".into())
    );
    let e = c
        .update_charge_permission(&cp, &UpdateChargePermissionRequest::default())
        .await;
    assert_eq!(api_err(e), (422, "ChargePermissionNotModifiable".into()));

    // Merchant close with cancelPendingCharges.
    let cp = wallet(&sb, "always-approve").await;
    let upd = c
        .update_charge_permission(
            &cp,
            &UpdateChargePermissionRequest {
                merchant_metadata: Some(MerchantMetadata {
                    merchant_reference_id: Some("sub-1".into()),
                    ..Default::default()
                }),
                recurring_metadata: None,
            },
        )
        .await
        .expect("update");
    assert_eq!(
        upd.body
            .merchant_metadata
            .and_then(|m| m.merchant_reference_id)
            .as_deref(),
        Some("sub-1")
    );
    let a = charge(&c, &cp, 1000).await;
    let cap = captured_req(&cp, 500);
    let b = c.create_charge(&cap, &key()).await.expect("b").body;
    let closed = c
        .close_charge_permission(&cp, &close_req("subscription canceled", Some(true)))
        .await
        .expect("close")
        .body;
    assert_closed(&closed, ReasonCode::MerchantClosed);
    let a2 = c.get_charge(&a.charge_id).await.expect("a").body;
    assert_eq!(
        a2.status_details.reason_code,
        Some(ReasonCode::ChargePermissionCanceled)
    );
    assert_eq!(
        charge_status(&c, &b.charge_id).await.0,
        ChargeState::Captured
    );
    let again = c
        .close_charge_permission(&cp, &close_req("again", None))
        .await;
    assert_eq!(
        api_err(again),
        (422, "InvalidChargePermissionStatus".into())
    );
}

#[tokio::test]
async fn legacy_keys_prefixes_and_environments() {
    let sb = start().await;
    let legacy = client_for(&sb, LEGACY_KEY_ID, savedwallet_shared::region::Region::Eu);
    assert!(legacy
        .path_for(Operation::CreateCharge, None)
        .expect("path")
        .starts_with("/sandbox/v2/"));
    let cp = wallet(&sb, "always-approve").await;
    assert_eq!(
        legacy
            .create_charge(&charge_req(&cp, 100), &key())
            .await
            .expect("legacy")
            .status,
        201
    );
    // Legacy key without a prefix, and a SANDBOX key on /live.
    let mut raw = RawRequest::new(&sb, "GET", &format!("/v2/chargePermissions/{cp}"), "");
    raw.key_id = LEGACY_KEY_ID.into();
    assert_eq!(raw.send(&sb).await.0, 400);
    let raw = RawRequest::new(&sb, "GET", &format!("/live/v2/chargePermissions/{cp}"), "");
    assert_eq!(raw.send(&sb).await.0, 400);
    // Trailing slash (.NET style) is tolerated and signed as sent.
    let raw = RawRequest::new(&sb, "GET", &format!("/v2/chargePermissions/{cp}/"), "");
    let (status, v) = raw.send(&sb).await;
    assert_eq!(status, 200);
    assert_eq!(v["chargePermissionId"], cp.as_str());
    // Live objects are invisible to sandbox keys.
    let live = control_wallet(&sb, json!({"environment": "Live", "region": "eu"})).await;
    assert_eq!(live["releaseEnvironment"], "Live");
    let live_id = live["chargePermissionId"].as_str().expect("id");
    assert!(live_id.starts_with('P'));
    assert_eq!(
        api_err(client(&sb).get_charge_permission(live_id).await),
        (404, "ResourceNotFound".into())
    );
}

#[tokio::test]
async fn throttling_faults_and_lost_responses() {
    let sb = builder()
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    let c = client(&sb);
    let cp = wallet(&sb, "always-approve").await;
    // Default sandbox quotas are off in `builder()`; turn them on: Create Charge burst 2.
    let resp = reqwest::Client::new()
        .put(format!("{}/throttling", sb.control_url()))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .expect("throttling");
    assert_eq!(resp.status().as_u16(), 200);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(match c.create_charge(&charge_req(&cp, 100), &key()).await {
            Ok(r) => (r.status, String::new()),
            Err(e) => api_err::<()>(Err(e)),
        });
    }
    assert_eq!(statuses[0].0, 201);
    assert_eq!(statuses[1].0, 201);
    assert_eq!(statuses[2], (429, "TooManyRequests".into()));
    sb.set_throttling(false);

    // Apply-then-drop: the client sees a failure, the charge exists, and the retry with the
    // same idempotency key returns that very charge.
    let resp = reqwest::Client::new()
        .put(format!("{}/faults", sb.control_url()))
        .json(&json!({"dropResponseRate": 1.0, "remaining": 1, "operations": ["CreateCharge"]}))
        .send()
        .await
        .expect("faults");
    assert_eq!(resp.status().as_u16(), 200);
    let k = key();
    let lost = c.create_charge(&charge_req(&cp, 4242), &k).await;
    assert!(lost.is_err(), "the response was dropped");
    assert!(lost
        .as_ref()
        .err()
        .map(|e| e.is_retryable())
        .unwrap_or(false));
    let ledger = sb.ledger();
    let applied: Vec<&Value> = ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter(|c| c["chargeAmount"]["amount"] == "42.42")
        .collect();
    assert_eq!(applied.len(), 1, "the charge was applied");
    let retry = c
        .create_charge(&charge_req(&cp, 4242), &k)
        .await
        .expect("retry");
    assert_eq!(
        retry.body.charge_id,
        applied[0]["chargeId"].as_str().expect("id")
    );

    // Injected 429 and 5xx are not applied.
    sb.set_faults(savedwallet_sandbox::FaultConfig {
        rate_429: 1.0,
        remaining: Some(1),
        ..Default::default()
    })
    .expect("faults");
    assert_eq!(
        api_err(c.get_charge_permission(&cp).await),
        (429, "TooManyRequests".into())
    );
    sb.set_faults(savedwallet_sandbox::FaultConfig {
        rate_5xx: 1.0,
        remaining: Some(1),
        ..Default::default()
    })
    .expect("faults");
    assert_eq!(charge_err(&c, &cp, 4343).await.0, 503);
    sb.set_faults(savedwallet_sandbox::FaultConfig {
        reset_rate: 1.0,
        remaining: Some(1),
        ..Default::default()
    })
    .expect("faults");
    assert!(c
        .create_charge(&charge_req(&cp, 4343), &key())
        .await
        .is_err());
    let ledger = sb.ledger();
    assert!(!ledger["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .any(|c| c["chargeAmount"]["amount"] == "43.43"));
    // Faults are over: normal service.
    charge(&c, &cp, 4343).await;
}

async fn control_post(
    sb: &savedwallet_sandbox::SandboxHandle,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", sb.control_url()))
        .json(&body)
        .send()
        .await
        .expect("control");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn checkout_with_payment_update_flow_and_ipn_ledger() {
    let sb = start().await;
    let c = client(&sb);
    let mut req = setup_request();
    req.payment_method_on_file_metadata = None;
    req.payment_details = Some(PaymentDetails {
        payment_intent: Some(PaymentIntent::AuthorizeWithCapture),
        charge_amount: Some(eur(1999)),
        ..Default::default()
    });
    // Buyer choice through the control API instead of the HTML page.
    let sid = new_session(&c, &req).await;
    let (status, v) = control_post(
        &sb,
        &format!("/checkout-sessions/{sid}/buyer"),
        json!({"preset": "always-approve"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(v["redirectUrl"]
        .as_str()
        .expect("url")
        .ends_with(&format!("amazonCheckoutSessionId={sid}")));
    let mismatch = c
        .complete_checkout_session(&sid, &complete(1998), &key())
        .await;
    assert_eq!(api_err(mismatch), (409, "AmountMismatch".into()));
    let done = c
        .complete_checkout_session(&sid, &complete(1999), &key())
        .await
        .expect("complete");
    assert_eq!(done.status, 200);
    let charge_id = done.body.charge_id.clone().expect("chargeId");
    let cp = done.body.charge_permission_id.clone().expect("cp");
    assert_eq!(charge_status(&c, &charge_id).await.0, ChargeState::Captured);

    // Pending authorization at completion → 202, resolved later.
    let mut pending = req.clone();
    pending.payment_details = Some(PaymentDetails {
        payment_intent: Some(PaymentIntent::Authorize),
        charge_amount: Some(eur(500)),
        can_handle_pending_authorization: Some(true),
        ..Default::default()
    });
    let sid2 = new_session(&c, &pending).await;
    control_post(&sb, &format!("/checkout-sessions/{sid2}/buyer"), json!({})).await;
    let p = simulating(&c, "AuthorizationInitiated")
        .complete_checkout_session(&sid2, &complete(500), &key())
        .await
        .expect("complete pending");
    assert_eq!(p.status, 202);
    let pending_charge = p.body.charge_id.expect("charge id");
    assert_eq!(
        charge_status_after(&sb, &c, &pending_charge, 31).await.0,
        ChargeState::Authorized
    );

    // Hosted Update flow (SPEC §11.6): a session carrying the permission id re-enables it.
    let sb_close = simulating(&c, "HardDeclined")
        .create_charge(&charge_req(&cp, 100), &key())
        .await;
    assert_eq!(api_err(sb_close).1, "HardDeclined");
    let mut upd = setup_request();
    upd.charge_permission_id = Some(cp.clone());
    let usid = new_session(&c, &upd).await;
    let location = submit_page(
        &format!("{}/checkout/{usid}", sb.base_url()),
        &[("action", "consent"), ("preset", "always-approve")],
    )
    .await;
    assert_eq!(session_id_from(&location), usid);
    let done = c
        .complete_checkout_session(&usid, &CompleteCheckoutSessionRequest::default(), &key())
        .await
        .expect("complete update");
    assert_eq!(done.body.charge_permission_id.as_deref(), Some(cp.as_str()));
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );

    // MFA outcome through the control API.
    let mfa_cp = wallet(&sb, "mfa-required").await;
    let ch = c
        .create_charge(&mfa_charge(&mfa_cp), &key())
        .await
        .expect("mfa")
        .body;
    let redirect = redirect_of(&ch);
    let msid = redirect.rsplit('/').next().expect("sid").to_string();
    let (status, _) = control_post(
        &sb,
        &format!("/checkout-sessions/{msid}/mfa"),
        json!({"outcome": "approved"}),
    )
    .await;
    assert_eq!(status, 200);
    c.complete_checkout_session(&msid, &complete(2500), &key())
        .await
        .expect("mfa complete");

    // Every state change was published as an IPN (ledger view).
    let ledger = sb.ledger();
    let published = ledger["ipnPublished"].as_array().expect("ipns");
    let for_obj = |id: &str| published.iter().filter(|m| m["ObjectId"] == id).count();
    assert!(
        for_obj(&pending_charge) >= 2,
        "AuthorizationInitiated and Authorized"
    );
    assert!(for_obj(&cp) >= 2, "NonChargeable and Chargeable again");
    assert!(published
        .iter()
        .all(|m| m["MerchantID"] == "A2SANDBOXMERCHANT" && m["NotificationVersion"] == "V2"));
    // Buyers from the control API.
    let (status, b) = control_post(
        &sb,
        "/buyers",
        json!({"name": "Test Buyer", "email": "t@example.com"}),
    )
    .await;
    assert_eq!(status, 201);
    let w = control_wallet(&sb, json!({"buyerId": b["buyerId"], "region": "na"})).await;
    assert_eq!(w["buyer"]["name"], "Test Buyer");
    assert_eq!(w["presentmentCurrency"], "USD");
    assert_eq!(
        w["limits"]["amountLimit"],
        json!({"amount": "15000.00", "currencyCode": "USD"})
    );
}

#[tokio::test]
async fn refund_allowance_and_count_limits() {
    let (sb, c, cp) = with_wallet("always-approve").await;
    // 100.00 captured: 15 % (15.00) is below 75.00, so at most 115.00 in total;
    // 1,000.00 captured: 15 % (150.00) is above 75.00, so at most 1,075.00.
    for (captured_minor, max_total) in [(10_000, 11_500), (100_000, 107_500)] {
        let ch = c
            .create_charge(&captured_req(&cp, captured_minor), &key())
            .await
            .expect("captured")
            .body;
        let over = c
            .create_refund(&refund(&ch.charge_id, max_total + 1), &key())
            .await;
        assert_eq!(
            api_err(over),
            (400, "TransactionAmountExceeded".into()),
            "{captured_minor}"
        );
        let exact = c
            .create_refund(&refund(&ch.charge_id, max_total), &key())
            .await
            .expect("exactly the allowance");
        assert_eq!(exact.status, 201);
        let more = c.create_refund(&refund(&ch.charge_id, 1), &key()).await;
        assert_eq!(api_err(more), (400, "TransactionAmountExceeded".into()));
    }
    // At most 10 refunds per charge (SPEC §4.7, simulator choice).
    let many = c
        .create_charge(&captured_req(&cp, 2_000), &key())
        .await
        .expect("many")
        .body;
    for i in 0..10 {
        c.create_refund(&refund(&many.charge_id, 100), &key())
            .await
            .unwrap_or_else(|e| panic!("refund {i}: {e}"));
    }
    assert_eq!(
        api_err(c.create_refund(&refund(&many.charge_id, 100), &key()).await),
        (422, "TransactionCountExceeded".into())
    );
    // A declined refund frees its amount for another refund.
    let d = c
        .create_charge(&captured_req(&cp, 1_000), &key())
        .await
        .expect("d")
        .body;
    let rejected = simulating(&c, "AmazonRejected")
        .create_refund(&refund(&d.charge_id, 1_000), &key())
        .await
        .expect("refund")
        .body;
    advance(&sb, 31).await;
    assert_eq!(
        c.get_refund(&rejected.refund_id)
            .await
            .expect("get")
            .body
            .status_details
            .state,
        RefundState::Declined
    );
    assert_eq!(
        c.create_refund(&refund(&d.charge_id, 1_000), &key())
            .await
            .expect("after decline")
            .status,
        201
    );
}

#[tokio::test]
async fn close_cancels_pending_charges_only_when_asked() {
    let sb = start().await;
    let c = client(&sb);
    // Without cancelPendingCharges an Authorized charge survives the close.
    let cp = wallet(&sb, "always-approve").await;
    let kept = charge(&c, &cp, 1000).await;
    c.close_charge_permission(&cp, &close_req("no cancel", Some(false)))
        .await
        .expect("close");
    assert_eq!(
        charge_status(&c, &kept.charge_id).await,
        (ChargeState::Authorized, None)
    );
    assert_eq!(
        c.capture_charge(&kept.charge_id, &capture(1000), &key())
            .await
            .expect("capture after close")
            .body
            .status_details
            .state,
        ChargeState::Captured
    );
    // With it, AuthorizationInitiated and ActionRequired charges are canceled too.
    let cp = wallet(&sb, "mfa-required").await;
    let pending = pending_req(&cp, 1000);
    let pending = simulating(&c, "AuthorizationInitiated")
        .create_charge(&pending, &key())
        .await
        .expect("pending")
        .body;
    let mfa = c
        .create_charge(&mfa_charge(&cp), &key())
        .await
        .expect("mfa")
        .body;
    assert_eq!(mfa.status_details.state, ChargeState::ActionRequired);
    c.close_charge_permission(&cp, &close_req("cancel all", Some(true)))
        .await
        .expect("close");
    for id in [&pending.charge_id, &mfa.charge_id] {
        assert_eq!(
            charge_status(&c, id).await,
            (
                ChargeState::Canceled,
                Some(ReasonCode::ChargePermissionCanceled)
            ),
            "{id}"
        );
    }
    // The async timer of the canceled charge does not revive it.
    assert_eq!(
        charge_status_after(&sb, &c, &pending.charge_id, 31).await.0,
        ChargeState::Canceled
    );
}

#[tokio::test]
async fn request_id_on_every_answer_and_amazon_id_shapes() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    // S01-1234567-1234567 (P01 in Live).
    let parts: Vec<&str> = cp.split('-').collect();
    assert_eq!(parts.len(), 3, "{cp}");
    assert_eq!(parts[0], "S01");
    assert!(parts[1..]
        .iter()
        .all(|p| p.len() == 7 && p.bytes().all(|b| b.is_ascii_digit())));
    let sid = setup_session(&sb).await;
    assert!(uuid::Uuid::parse_str(&sid).is_ok(), "session id {sid}");

    let get = |path: String| RawRequest::new(&sb, "GET", &path, "");
    let mut cases: Vec<(&str, RawRequest, Option<String>, u16)> = vec![
        ("ok", get(format!("/v2/chargePermissions/{cp}")), None, 200),
        (
            "not found",
            get("/v2/chargePermissions/S01-0000000-0000000".into()),
            None,
            404,
        ),
        ("wrong method", get("/v2/charges".into()), None, 405),
        ("unknown path", get("/v2/nothing".into()), None, 404),
        (
            "bad body",
            RawRequest::new(&sb, "POST", "/v2/charges", "{"),
            None,
            400,
        ),
    ];
    let forged = get(format!("/v2/chargePermissions/{cp}"));
    let auth = forged
        .authorization()
        .replace("Signature=", "Signature=AAAA");
    cases.push(("bad signature", forged, Some(auth), 403));
    let unsigned = get(format!("/v2/chargePermissions/{cp}"));
    cases.push(("no authorization", unsigned, Some(String::new()), 400));
    let mut seen = std::collections::HashSet::new();
    for (name, req, auth, want) in cases {
        let auth = auth.unwrap_or_else(|| req.authorization());
        let (status, headers, body) = req.send_full(&sb, &auth).await;
        assert_eq!(status, want, "{name}: {body}");
        let id = headers
            .get("x-amz-pay-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name}: no x-amz-pay-request-id"));
        assert!(
            !id.is_empty() && seen.insert(id.to_string()),
            "{name}: {id}"
        );
    }
    // Injected throttling and outages carry it too.
    for fault in [
        savedwallet_sandbox::FaultConfig {
            rate_429: 1.0,
            remaining: Some(1),
            ..Default::default()
        },
        savedwallet_sandbox::FaultConfig {
            rate_5xx: 1.0,
            remaining: Some(1),
            ..Default::default()
        },
    ] {
        sb.set_faults(fault).expect("faults");
        let req = get(format!("/v2/chargePermissions/{cp}"));
        let (status, headers, _) = req.send_full(&sb, &req.authorization()).await;
        assert!(status == 429 || status == 503, "{status}");
        assert!(headers.contains_key("x-amz-pay-request-id"), "{status}");
    }
}

#[tokio::test]
async fn live_ignores_simulation_codes() {
    let sb = start().await;
    let live = control_wallet(
        &sb,
        json!({"environment": "Live", "region": "eu", "currency": "EUR"}),
    )
    .await;
    let live_id = live["chargePermissionId"].as_str().expect("id");
    let body = format!(
        r#"{{"chargePermissionId":"{live_id}","chargeAmount":{{"amount":"10.00","currencyCode":"EUR"}}}}"#
    );
    let mut req = RawRequest::new(&sb, "POST", "/live/v2/charges", &body);
    req.key_id = LEGACY_KEY_ID.into();
    req.signed_simulation_code("HardDeclined");
    let (status, v) = req.send(&sb).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["statusDetails"]["state"], "Authorized");
    assert_eq!(v["releaseEnvironment"], "Live");
    // The same signed code in Sandbox is applied.
    let cp = wallet(&sb, "always-approve").await;
    let body = body.replace(live_id, &cp);
    let mut req = RawRequest::new(&sb, "POST", "/sandbox/v2/charges", &body);
    req.key_id = LEGACY_KEY_ID.into();
    req.signed_simulation_code("HardDeclined");
    assert_eq!(req.outcome(&sb).await, (422, "HardDeclined".into()));
}

#[tokio::test]
async fn buyer_pages_need_the_form_token_and_escape_merchant_text() {
    let sb = start().await;
    let c = client(&sb);
    let mut req = setup_request();
    req.merchant_metadata = Some(MerchantMetadata {
        merchant_store_name: Some("<script>alert(1)</script> & Co".into()),
        ..Default::default()
    });
    let sid = new_session(&c, &req).await;
    let url = format!("{}/checkout/{sid}", sb.base_url());
    let html = reqwest::get(&url)
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(html.contains("<legend>") && html.contains("<button type=\"submit\""));
    // A forged or missing token changes nothing.
    let http = no_redirect_client();
    for form in [
        "token=forged&action=consent&preset=always-approve",
        "action=consent&preset=always-approve",
    ] {
        let resp = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("post");
        assert!(resp.status().is_client_error(), "{form}: {}", resp.status());
        let s = c.get_checkout_session(&sid).await.expect("get").body;
        assert!(s.buyer.is_none(), "{form}");
        assert_eq!(s.status_details.state, CheckoutSessionState::Open);
    }
    // The account page refuses a forged close, then a real close leaves no forms.
    let cp = wallet(&sb, "always-approve").await;
    let account = sb.payment_method_update_url(&cp);
    let resp = http
        .post(&account)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=forged&action=close")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(
        permission_state(&c, &cp).await,
        ChargePermissionState::Chargeable
    );
    submit_page(&account, &[("action", "close")]).await;
    let html = reqwest::get(&account)
        .await
        .expect("get")
        .text()
        .await
        .expect("t");
    assert!(html.contains("is closed") && !html.contains("<form"));
    // A canceled checkout's consent page is gone.
    let location = submit_page(&url, &[("action", "cancel")]).await;
    assert_eq!(session_id_from(&location), sid);
    let gone = reqwest::get(&url).await.expect("get");
    assert_eq!(gone.status().as_u16(), 410);
}

#[tokio::test]
async fn control_api_rejects_out_of_range_clock_and_delays() {
    let sb = start().await;
    let (status, _) = control_post(&sb, "/clock/advance", json!({"seconds": i64::MAX})).await;
    assert_eq!(status, 400);
    let (status, _) = control_post(&sb, "/clock/advance", json!({"seconds": -1})).await;
    assert_eq!(status, 400);
    let (status, _) = control_post(
        &sb,
        "/charge-permissions",
        json!({"preset": "async-approve", "asyncDelaySeconds": i64::MAX}),
    )
    .await;
    assert_eq!(status, 400);
    // Still serving, clock untouched by the refused calls.
    let clock: Value = reqwest::get(format!("{}/clock", sb.control_url()))
        .await
        .expect("clock")
        .json()
        .await
        .expect("json");
    assert_eq!(clock["offsetSeconds"], 0);
}

#[tokio::test]
async fn test_cards_0701_and_4354_resolve_after_30_seconds_at_checkout() {
    let sb = start().await;
    let c = client(&sb);
    let checkout = |can_pend: bool| {
        let mut req = setup_request();
        req.payment_method_on_file_metadata = None;
        req.payment_details = Some(PaymentDetails {
            payment_intent: Some(PaymentIntent::Authorize),
            charge_amount: Some(eur(3000)),
            can_handle_pending_authorization: Some(can_pend),
            ..Default::default()
        });
        req
    };
    for (preset, end) in [
        ("async-approve", (ChargeState::Authorized, None)),
        (
            "async-decline",
            (ChargeState::Declined, Some(ReasonCode::HardDeclined)),
        ),
    ] {
        let sid = new_session(&c, &checkout(true)).await;
        let page = format!("{}/checkout/{sid}", sb.base_url());
        let html = reqwest::get(&page)
            .await
            .expect("get")
            .text()
            .await
            .expect("t");
        assert!(html.contains(if preset == "async-approve" {
            "****0701"
        } else {
            "****4354"
        }));
        submit_page(&page, &[("action", "consent"), ("preset", preset)]).await;
        let done = c
            .complete_checkout_session(&sid, &complete(3000), &key())
            .await
            .expect("complete");
        assert_eq!(done.status, 202, "{preset}: authorization pending");
        let charge_id = done.body.charge_id.expect("chargeId");
        assert_eq!(
            charge_status(&c, &charge_id).await.0,
            ChargeState::AuthorizationInitiated
        );
        assert_eq!(
            charge_status_after(&sb, &c, &charge_id, 29).await.0,
            ChargeState::AuthorizationInitiated,
            "{preset}: not before 30 s"
        );
        assert_eq!(
            charge_status_after(&sb, &c, &charge_id, 2).await,
            end,
            "{preset}"
        );
    }
    // Without canHandlePendingAuthorization the pending card is an error at completion,
    // and no Saved Wallet is left behind.
    let wallets = |l: Value| l["chargePermissions"].as_array().map_or(0, |a| a.len());
    let before = wallets(sb.ledger());
    let sid = new_session(&c, &checkout(false)).await;
    submit_page(
        &format!("{}/checkout/{sid}", sb.base_url()),
        &[("action", "consent"), ("preset", "async-approve")],
    )
    .await;
    let e = c
        .complete_checkout_session(&sid, &complete(3000), &key())
        .await;
    assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
    let s = c.get_checkout_session(&sid).await.expect("get").body;
    assert_eq!(s.status_details.reason_code, Some(ReasonCode::Declined));
    assert!(s.charge_permission_id.is_none());
    assert_eq!(wallets(sb.ledger()), before);
}
