//! Hosted buyer pages (Amazon's website, not the API: unsigned). Plain server-rendered HTML
//! with real forms, labels and headings; every state change is a POST carrying the
//! session's form token, so a GET (prefetch, crawler) never changes anything.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use savedwallet_shared::api::{ChargePermissionState, CheckoutSessionState, MerchantMetadata};
use serde::Deserialize;

use crate::engine::Core;
use crate::error::ApiError;
use crate::model::{MfaOutcome, Preset, SessionRec};
use crate::state::App;

type AppState = State<Arc<App>>;

/// Routes of the buyer pages.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/checkout/{id}", get(checkout_page).post(checkout_post))
        .route("/mfa/{id}", get(mfa_page).post(mfa_post))
        .route(
            "/jr/your-account/ba/{id}",
            get(account_page).post(account_post),
        )
        .route(
            "/jp/jr/your-account/ba/{id}",
            get(account_page).post(account_post),
        )
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{t} – Amazon Pay sandbox</title>\n\
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
fieldset{{border:1px solid #888;padding:1rem}}button{{font-size:1rem;padding:.5rem 1rem;margin:.25rem .5rem .25rem 0}}\
:focus{{outline:3px solid #1a73e8;outline-offset:2px}}.note{{color:#444}}</style>\n</head>\n<body>\n\
<header><p><strong>Amazon Pay</strong> <span class=\"note\">(local sandbox simulator)</span></p></header>\n\
<main>\n<h1>{t}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        t = text(title),
    )
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    (status, Html(page(title, body))).into_response()
}

fn not_found(what: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("<p>{} was not found.</p>", text(what)),
    )
}

fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn preset_options(presets: &[Preset], checked: Preset) -> String {
    let mut out = String::new();
    for (i, p) in presets.iter().enumerate() {
        out.push_str(&format!(
            "<div><input type=\"radio\" id=\"pm{i}\" name=\"preset\" value=\"{v}\"{c}> \
<label for=\"pm{i}\">{d} — {l}</label></div>\n",
            v = attr(p.name()),
            c = if *p == checked { " checked" } else { "" },
            d = text(p.descriptor()),
            l = text(p.label()),
        ));
    }
    out
}

/// Landing page listing what the sandbox serves.
pub(crate) async fn index(State(app): AppState) -> Response {
    let body = format!(
        "<p>This is a local Amazon Pay API v2 simulator.</p>\n<ul>\n\
<li>API: <code>{b}/v2/…</code> (also <code>/sandbox/v2/…</code> and <code>/live/v2/…</code>)</li>\n\
<li>Control API: <a href=\"/_sandbox\">{b}/_sandbox</a></li>\n\
<li>Payment-method update link: <code>{b}/jr/your-account/ba/{{chargePermissionId}}</code></li>\n</ul>",
        b = text(&app.base_url)
    );
    html(StatusCode::OK, "Amazon Pay sandbox", &body)
}

// ------------------------------------------------------------------ shared page pieces

/// Which kind of checkout session a page serves: the consent page never shows an MFA
/// challenge and the challenge page never shows a consent.
#[derive(Clone, Copy)]
enum SessionPage {
    Consent,
    Mfa,
}

impl SessionPage {
    fn matches(self, s: &SessionRec) -> bool {
        match self {
            SessionPage::Consent => s.mfa_charge_id.is_none(),
            SessionPage::Mfa => s.mfa_charge_id.is_some(),
        }
    }

    fn what(self) -> &'static str {
        match self {
            SessionPage::Consent => "This checkout session",
            SessionPage::Mfa => "This authentication request",
        }
    }

    fn gone_title(self) -> &'static str {
        match self {
            SessionPage::Consent => "Checkout no longer available",
            SessionPage::Mfa => "Authentication no longer available",
        }
    }
}

/// Why a buyer page refuses to show or act (rendered as a small HTML page).
enum Refusal {
    /// No such session/wallet of that kind: 404.
    NotFound(&'static str),
    /// The session is no longer Open: 410 with its state.
    Gone(SessionPage, String),
    /// The form token does not match: 403.
    Forbidden,
    /// The form names no known action: 400.
    UnknownAction,
    /// The engine refused the action: 409 with its message.
    Failed(&'static str, ApiError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotFound(what) => not_found(what),
            Refusal::Gone(kind, state) => html(
                StatusCode::GONE,
                kind.gone_title(),
                &format!("<p>{} is {}.</p>", text(kind.what()), text(&state)),
            ),
            Refusal::Forbidden => html(
                StatusCode::FORBIDDEN,
                "Form expired",
                "<p>This form is no longer valid. Go back and reload the page.</p>",
            ),
            Refusal::UnknownAction => html(
                StatusCode::BAD_REQUEST,
                "Unknown action",
                "<p>Unknown action.</p>",
            ),
            Refusal::Failed(title, e) => html(
                StatusCode::CONFLICT,
                title,
                &format!("<p>{}</p>", text(&e.message)),
            ),
        }
    }
}

/// The session a page may act on, or why not.
fn open_session<'a>(
    core: &'a Core,
    id: &str,
    kind: SessionPage,
) -> Result<&'a SessionRec, Refusal> {
    let s = core
        .state
        .sessions
        .get(id)
        .filter(|s| kind.matches(s))
        .ok_or(Refusal::NotFound(kind.what()))?;
    if s.object.status_details.state != CheckoutSessionState::Open {
        return Err(Refusal::Gone(
            kind,
            s.object.status_details.state.as_str().to_string(),
        ));
    }
    Ok(s)
}

/// A state-changing POST must echo the form token of the page it came from.
fn check_token(expected: &str, got: &str) -> Result<(), Refusal> {
    if expected == got {
        Ok(())
    } else {
        Err(Refusal::Forbidden)
    }
}

/// 303 to `target` on success, otherwise an explanation page.
fn outcome(result: Result<String, ApiError>, failure_title: &'static str) -> Response {
    match result {
        Ok(target) => redirect(&target),
        Err(e) => Refusal::Failed(failure_title, e).into_response(),
    }
}

fn chosen_preset(p: Option<&str>) -> Preset {
    p.and_then(Preset::parse).unwrap_or(Preset::AlwaysApprove)
}

/// The merchant's store name and note, as Amazon shows them on its pages.
fn merchant_lines(m: Option<&MerchantMetadata>) -> String {
    let Some(m) = m else {
        return String::new();
    };
    let mut out = String::new();
    if let Some(name) = &m.merchant_store_name {
        out.push_str(&format!(
            "<p>Merchant: <strong>{}</strong></p>\n",
            text(name)
        ));
    }
    if let Some(note) = &m.note_to_buyer {
        out.push_str(&format!("<p>Note from the merchant: {}</p>\n", text(note)));
    }
    out
}

// ------------------------------------------------------------------ consent / checkout

async fn checkout_page(State(app): AppState, Path(id): Path<String>) -> Response {
    app.tick();
    let core = app.core.lock();
    let s = match open_session(&core, &id, SessionPage::Consent) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let saved_wallet =
        s.object.charge_permission_type.as_ref().map(|t| t.as_str()) == Some("PaymentMethodOnFile");
    let amount = s
        .object
        .payment_details
        .as_ref()
        .and_then(|p| p.charge_amount)
        .map(|p| format!("<p>Amount: <strong>{}</strong></p>", text(&p.to_string())))
        .unwrap_or_default();
    let consent = if s.object.charge_permission_id.is_some() {
        "<p>Choose the payment method to use for this merchant's future charges.</p>".to_string()
    } else if saved_wallet {
        "<p>The merchant asks to <strong>save this payment method</strong> (Saved Wallet) \
and charge it for future purchases, within your monthly limits.</p>"
            .to_string()
    } else {
        String::new()
    };
    let body = format!(
        "{merchant}{consent}{amount}\n<form method=\"post\" action=\"/checkout/{sid}\">\n\
<input type=\"hidden\" name=\"token\" value=\"{tok}\">\n\
<fieldset>\n<legend>Payment method (sandbox test cards)</legend>\n{opts}</fieldset>\n\
<p><button type=\"submit\" name=\"action\" value=\"consent\">Agree and continue</button>\
<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel and return to the merchant</button></p>\n</form>",
        merchant = merchant_lines(s.object.merchant_metadata.as_ref()),
        sid = attr(&id),
        tok = attr(&s.form_token),
        opts = preset_options(&Preset::ALL, Preset::AlwaysApprove),
    );
    html(StatusCode::OK, "Choose how to pay", &body)
}

/// The form of the consent and account pages: an action and maybe a payment method.
#[derive(Deserialize)]
struct ActionForm {
    token: String,
    action: String,
    preset: Option<String>,
}

async fn checkout_post(
    State(app): AppState,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let result = app.act(|core, now| -> Result<_, Refusal> {
        let s = open_session(core, &id, SessionPage::Consent)?;
        check_token(&s.form_token, &f.token)?;
        let cancel_url = s
            .object
            .web_checkout_details
            .as_ref()
            .and_then(|w| w.checkout_cancel_url.clone());
        Ok(match f.action.as_str() {
            "consent" => core.buyer_choose(&id, chosen_preset(f.preset.as_deref()), &app.base_url),
            "cancel" => core
                .buyer_cancel_session(&id, now)
                .map(|t| cancel_url.unwrap_or(t)),
            _ => return Err(Refusal::UnknownAction),
        })
    });
    match result {
        Ok(r) => outcome(r, "Checkout no longer available"),
        Err(refusal) => refusal.into_response(),
    }
}

// ------------------------------------------------------------------ MFA challenge

async fn mfa_page(State(app): AppState, Path(id): Path<String>) -> Response {
    app.tick();
    let core = app.core.lock();
    let s = match open_session(&core, &id, SessionPage::Mfa) {
        Ok(s) => s,
        Err(refusal) => return refusal.into_response(),
    };
    let amount = s
        .object
        .payment_details
        .as_ref()
        .and_then(|p| p.charge_amount)
        .map(|p| p.to_string())
        .unwrap_or_default();
    let body = format!(
        "<p>Your bank asks you to confirm a payment of <strong>{amt}</strong>.</p>\n\
<form method=\"post\" action=\"/mfa/{sid}\">\n<input type=\"hidden\" name=\"token\" value=\"{tok}\">\n\
<fieldset>\n<legend>Simulated challenge result</legend>\n\
<p><button type=\"submit\" name=\"outcome\" value=\"approved\">Approve the payment</button>\
<button type=\"submit\" name=\"outcome\" value=\"failed\">Fail the challenge</button>\
<button type=\"submit\" name=\"outcome\" value=\"abandoned\">Cancel and return to the merchant</button></p>\n\
</fieldset>\n</form>",
        amt = text(&amount),
        sid = attr(&id),
        tok = attr(&s.form_token),
    );
    html(StatusCode::OK, "Confirm your payment", &body)
}

#[derive(Deserialize)]
struct MfaForm {
    token: String,
    outcome: String,
}

async fn mfa_post(
    State(app): AppState,
    Path(id): Path<String>,
    Form(f): Form<MfaForm>,
) -> Response {
    let mfa_outcome = match f.outcome.as_str() {
        "approved" => MfaOutcome::Approved,
        "failed" => MfaOutcome::Failed,
        "abandoned" => MfaOutcome::Abandoned,
        _ => return Refusal::UnknownAction.into_response(),
    };
    let result = app.act(|core, _| -> Result<_, Refusal> {
        let s = open_session(core, &id, SessionPage::Mfa)?;
        check_token(&s.form_token, &f.token)?;
        Ok(core.buyer_mfa(&id, mfa_outcome))
    });
    match result {
        Ok(r) => outcome(r, "Authentication no longer available"),
        Err(refusal) => refusal.into_response(),
    }
}

// ------------------------------------------------------------------ buyer account: update / close

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn account_page(
    State(app): AppState,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    app.tick();
    let core = app.core.lock();
    let Some(p) = core.state.permissions.get(&id) else {
        return Refusal::NotFound("This Saved Wallet").into_response();
    };
    let state = p.object.status_details.state.clone();
    let reasons: Vec<String> = p
        .object
        .status_details
        .reasons
        .iter()
        .map(|r| r.reason_code.as_str().to_string())
        .collect();
    let status_line = format!(
        "<p role=\"status\">Status: <strong>{}</strong>{}</p>",
        text(state.as_str()),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", text(&reasons.join(", ")))
        }
    );
    let done = match q.done.as_deref() {
        Some("updated") => "<p role=\"alert\">Your payment method was updated.</p>\n",
        Some("closed") => "<p role=\"alert\">Your Saved Wallet was closed.</p>\n",
        _ => "",
    };
    let method = p
        .object
        .payment_preferences
        .as_ref()
        .and_then(|v| v.first())
        .and_then(|pp| pp.payment_descriptor.clone())
        .unwrap_or_default();
    let forms = if state == ChargePermissionState::Closed {
        "<p>This Saved Wallet is closed. The merchant must ask you to set up a new one.</p>"
            .to_string()
    } else {
        let presets: Vec<Preset> = Preset::ALL
            .into_iter()
            .filter(|p| !matches!(p, Preset::SetupBuyerCanceled | Preset::SetupDeclined))
            .collect();
        format!(
            "<h2>Change payment method</h2>\n<form method=\"post\" action=\"/jr/your-account/ba/{cid}\">\n\
<input type=\"hidden\" name=\"token\" value=\"{tok}\">\n<input type=\"hidden\" name=\"action\" value=\"update\">\n\
<fieldset>\n<legend>New payment method (sandbox test cards)</legend>\n{opts}</fieldset>\n\
<p><button type=\"submit\">Use this payment method</button></p>\n</form>\n\
<h2>Close this Saved Wallet</h2>\n<form method=\"post\" action=\"/jr/your-account/ba/{cid}\">\n\
<input type=\"hidden\" name=\"token\" value=\"{tok}\">\n<input type=\"hidden\" name=\"action\" value=\"close\">\n\
<p class=\"note\">The merchant will no longer be able to charge this payment method.</p>\n\
<p><button type=\"submit\">Close my Saved Wallet</button></p>\n</form>",
            cid = attr(&id),
            tok = attr(&p.form_token),
            opts = preset_options(&presets, Preset::AlwaysApprove),
        )
    };
    let body = format!(
        "{done}<p>Saved Wallet <code>{cid}</code> — current payment method {m}.</p>\n{status_line}\n{forms}",
        cid = text(&id),
        m = text(&method),
    );
    html(StatusCode::OK, "Your Saved Wallet", &body)
}

async fn account_post(
    State(app): AppState,
    Path(id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let result = app.act(|core, now| -> Result<_, Refusal> {
        let p = core
            .state
            .permissions
            .get(&id)
            .ok_or(Refusal::NotFound("This Saved Wallet"))?;
        check_token(&p.form_token, &f.token)?;
        Ok(match f.action.as_str() {
            "update" => core
                .buyer_update_payment_method(&id, chosen_preset(f.preset.as_deref()), now)
                .map(|_| "updated"),
            "close" => core.buyer_close(&id, now).map(|_| "closed"),
            _ => return Err(Refusal::UnknownAction),
        })
    });
    match result {
        Ok(r) => outcome(
            r.map(|done| format!("/jr/your-account/ba/{id}?done={done}")),
            "Could not change the Saved Wallet",
        ),
        Err(refusal) => refusal.into_response(),
    }
}
