//! Typed helpers over the project's client for the flow tests: requests, one-line
//! assertions, wallets from the control API and the hosted pages' forms.

use savedwallet_amazon_pay::AmazonPayClient;
use savedwallet_sandbox::SandboxHandle;
use savedwallet_shared::api::*;
use savedwallet_shared::money::{Currency, Price};
use serde_json::{json, Value};

use super::*;

pub fn eur(minor: i64) -> Price {
    Price::from_minor(minor, Currency::EUR)
}

pub fn charge_req(cp: &str, minor: i64) -> CreateChargeRequest {
    let mut r = CreateChargeRequest::new(cp, eur(minor));
    r.charge_initiator = Some(ChargeInitiator::Mitu);
    r.channel = Some(Channel::Web);
    r
}

pub fn capture(minor: i64) -> CaptureChargeRequest {
    CaptureChargeRequest {
        capture_amount: eur(minor),
        soft_descriptor: None,
    }
}

pub fn refund(charge_id: &str, minor: i64) -> CreateRefundRequest {
    CreateRefundRequest {
        charge_id: charge_id.to_string(),
        refund_amount: eur(minor),
        soft_descriptor: None,
    }
}

pub fn complete(minor: i64) -> CompleteCheckoutSessionRequest {
    CompleteCheckoutSessionRequest {
        charge_amount: Some(eur(minor)),
        total_order_amount: None,
    }
}

pub fn close_req(
    reason: &str,
    cancel_pending_charges: Option<bool>,
) -> CloseChargePermissionRequest {
    CloseChargePermissionRequest {
        closure_reason: reason.into(),
        cancel_pending_charges,
    }
}

/// The permission is `Closed` with exactly this reason.
pub fn assert_closed(p: &ChargePermission, reason: ReasonCode) {
    assert_eq!(p.status_details.state, ChargePermissionState::Closed);
    assert_eq!(p.status_details.reasons[0].reason_code, reason);
}

pub fn cancel(reason: &str) -> CancelChargeRequest {
    CancelChargeRequest {
        cancellation_reason: reason.into(),
    }
}

/// The MFA challenge URL of a 202 `ActionRequired` charge.
pub fn redirect_of(ch: &Charge) -> String {
    ch.web_checkout_details
        .as_ref()
        .and_then(|w| w.amazon_pay_redirect_url.clone())
        .expect("amazonPayRedirectUrl")
}

/// Create Charge (MIT, EUR) that must answer 201 → the Charge.
pub async fn charge(c: &AmazonPayClient, cp: &str, minor: i64) -> Charge {
    let r = c
        .create_charge(&charge_req(cp, minor), &key())
        .await
        .expect("create charge");
    assert_eq!(r.status, 201);
    r.body
}

/// The client sending `x-amz-pay-simulation-code: code` with every call.
pub fn simulating(c: &AmazonPayClient, code: &str) -> AmazonPayClient {
    c.with_simulation_code(code).expect("simulation code")
}

/// Create Charge with a simulation code that must answer 2xx → the Charge.
pub async fn sim_charge(c: &AmazonPayClient, code: &str, req: &CreateChargeRequest) -> Charge {
    simulating(c, code)
        .create_charge(req, &key())
        .await
        .unwrap_or_else(|e| panic!("{code}: {e}"))
        .body
}

/// An MFA charge of `cp` whose challenge the buyer approved → (charge, session id).
pub async fn approved_challenge(c: &AmazonPayClient, cp: &str) -> (Charge, String) {
    let ch = c
        .create_charge(&mfa_charge(cp), &key())
        .await
        .expect("mfa")
        .body;
    let sid = session_id_from(&submit_page(&redirect_of(&ch), &[("outcome", "approved")]).await);
    (ch, sid)
}

/// Create Charge (MIT, EUR) that must fail → (status, reasonCode).
pub async fn charge_err(c: &AmazonPayClient, cp: &str, minor: i64) -> (u16, String) {
    api_err(c.create_charge(&charge_req(cp, minor), &key()).await)
}

/// Get Charge Permission → its state.
pub async fn permission_state(c: &AmazonPayClient, cp: &str) -> ChargePermissionState {
    c.get_charge_permission(cp)
        .await
        .expect("get charge permission")
        .body
        .status_details
        .state
}

/// Advances the clock by `seconds`, then Get Charge → its state and reason code.
pub async fn charge_status_after(
    sb: &SandboxHandle,
    c: &AmazonPayClient,
    id: &str,
    seconds: i64,
) -> (ChargeState, Option<ReasonCode>) {
    advance(sb, seconds).await;
    charge_status(c, id).await
}

/// Get Charge → its state and reason code.
pub async fn charge_status(c: &AmazonPayClient, id: &str) -> (ChargeState, Option<ReasonCode>) {
    let d = c
        .get_charge(id)
        .await
        .expect("get charge")
        .body
        .status_details;
    (d.state, d.reason_code)
}

pub fn pending_req(cp: &str, minor: i64) -> CreateChargeRequest {
    let mut r = charge_req(cp, minor);
    r.can_handle_pending_authorization = Some(true);
    r
}

pub fn captured_req(cp: &str, minor: i64) -> CreateChargeRequest {
    let mut r = charge_req(cp, minor);
    r.capture_now = Some(true);
    r
}

/// A fresh sandbox, the client pointed at it, and one EUR Saved Wallet with `preset`.
pub async fn with_wallet(preset: &str) -> (SandboxHandle, AmazonPayClient, String) {
    let sb = start().await;
    let c = client(&sb);
    let cp = wallet(&sb, preset).await;
    (sb, c, cp)
}

/// A Saved Wallet from the control API → its charge permission id.
pub async fn wallet_with(sb: &SandboxHandle, body: Value) -> String {
    let cp = control_wallet(sb, body).await;
    cp["chargePermissionId"].as_str().expect("id").to_string()
}

pub async fn wallet(sb: &SandboxHandle, preset: &str) -> String {
    wallet_with(
        sb,
        json!({"preset": preset, "region": "eu", "currency": "EUR"}),
    )
    .await
}

/// Extracts the hidden form token from a buyer page.
pub fn form_token(html: &str) -> String {
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker).expect("token field") + marker.len();
    let end = html[start..].find('"').expect("end quote") + start;
    html[start..end].to_string()
}

pub fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET a buyer page, POST its form with `fields`, return the Location header.
pub async fn submit_page(url: &str, fields: &[(&str, &str)]) -> String {
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

pub fn session_id_from(location: &str) -> String {
    let u = url::Url::parse(location).expect("redirect url");
    u.query_pairs()
        .find(|(k, _)| k == "amazonCheckoutSessionId")
        .map(|(_, v)| v.to_string())
        .expect("amazonCheckoutSessionId")
}

pub fn setup_request() -> CreateCheckoutSessionRequest {
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
pub async fn new_session(c: &AmazonPayClient, req: &CreateCheckoutSessionRequest) -> String {
    c.create_checkout_session(req, &key())
        .await
        .expect("create session")
        .body
        .checkout_session_id
}

pub async fn setup_session(sb: &SandboxHandle) -> String {
    new_session(&client(sb), &setup_request()).await
}

pub fn mfa_charge(cp: &str) -> CreateChargeRequest {
    let mut r = charge_req(cp, 2500);
    r.charge_initiator = Some(ChargeInitiator::Citu);
    r.web_checkout_details = Some(WebCheckoutDetails {
        checkout_result_return_url: Some("http://localhost:9/mfa-return?order=42".into()),
        ..Default::default()
    });
    r
}

pub async fn control_post(sb: &SandboxHandle, path: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}{path}", sb.control_url()))
        .json(&body)
        .send()
        .await
        .expect("control");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}
