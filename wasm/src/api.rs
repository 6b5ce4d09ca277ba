//! Calls to the savedwallet API (`/v1`, the buyer routes) with the browser's `fetch`: a bearer
//! token from the merchant's provider on every call, no cookies, JSON in and out, errors
//! turned into typed codes.

use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCredentials, RequestInit, RequestMode, Response};

use crate::error::{code, Details, Error};
use crate::js;

/// An API answer: status and JSON body.
pub struct Answer {
    /// HTTP status (2xx: errors are returned as [`Error`]).
    pub status: u16,
    /// The parsed body.
    pub body: JsValue,
}

/// The API client.
#[derive(Clone)]
pub struct Api {
    base: String,
    token: Function,
}

/// `encodeURIComponent(s)`: ids go into paths as one segment, whatever they contain.
pub fn segment(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

impl Api {
    /// A client of the API at `base` (no trailing slash needed).
    pub fn new(base: &str, token: Function) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    async fn bearer(&self) -> Result<String, Error> {
        let none = || Error::new(code::TOKEN_UNAVAILABLE, "getToken() did not give a token");
        let v = self.token.call0(&JsValue::NULL).map_err(|_| none())?;
        // A plain string or a promise of one.
        let v = JsFuture::from(Promise::resolve(&v))
            .await
            .map_err(|_| none())?;
        v.as_string().filter(|t| !t.is_empty()).ok_or_else(none)
    }

    /// `method path` with an optional JSON body and Idempotency-Key.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&JsValue>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, Error> {
        let window = web_sys::window()
            .ok_or_else(|| Error::new(code::NO_WINDOW, "the helper needs a browser window"))?;
        let token = self.bearer().await?;
        let headers = Headers::new().map_err(|_| network())?;
        let mut auth = String::with_capacity(token.len() + 7);
        auth.push_str("Bearer ");
        auth.push_str(&token);
        headers
            .set("Authorization", &auth)
            .map_err(|_| Error::new(code::TOKEN_UNAVAILABLE, "the token is not a valid header"))?;
        headers
            .set("Accept", "application/json")
            .map_err(|_| network())?;
        let init = RequestInit::new();
        init.set_method(method);
        init.set_mode(RequestMode::Cors);
        init.set_credentials(RequestCredentials::Omit);
        if let Some(b) = body {
            let text = js::stringify(b)
                .ok_or_else(|| Error::new(code::INVALID_ARGUMENT, "the body is not JSON"))?;
            headers
                .set("Content-Type", "application/json")
                .map_err(|_| network())?;
            init.set_body(&JsValue::from_str(&text));
        }
        if let Some(k) = idempotency_key {
            headers
                .set("Idempotency-Key", k)
                .map_err(|_| Error::new(code::INVALID_ARGUMENT, "bad idempotency key"))?;
        }
        init.set_headers(&headers);
        let mut url = self.base.clone();
        url.push_str(path);
        let resp = JsFuture::from(window.fetch_with_str_and_init(&url, &init))
            .await
            .map_err(|_| network())?;
        let resp: Response = resp.dyn_into().map_err(|_| invalid())?;
        let status = resp.status();
        let body = match resp.json() {
            Ok(p) => JsFuture::from(p).await.ok(),
            Err(_) => None,
        };
        if (200..300).contains(&status) {
            return body
                .filter(|b| b.is_object())
                .map(|body| Answer { status, body })
                .ok_or_else(invalid);
        }
        Err(api_error(status, body.as_ref()))
    }
}

fn network() -> Error {
    Error::new(code::NETWORK, "the API could not be reached")
}

fn invalid() -> Error {
    Error::new(
        code::INVALID_RESPONSE,
        "the API answered something unexpected",
    )
}

/// The API's error body (`{"error": {code, message, param, requestId, paymentId}}`) as an
/// [`Error`]; an answer without one (a gateway's own 401/403/429) keeps its status.
pub fn api_error(status: u16, body: Option<&JsValue>) -> Error {
    let e = body.and_then(|b| js::get(b, "error"));
    let fallback = match status {
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        429 => "rate_limited",
        s if s >= 500 => "upstream_unavailable",
        _ => code::INVALID_RESPONSE,
    };
    let field = |k: &str| e.as_ref().and_then(|e| js::string(e, k));
    let details = Details {
        request_id: field("requestId"),
        param: field("param"),
        payment_id: field("paymentId"),
    };
    Error {
        code: field("code").unwrap_or_else(|| fallback.to_string()),
        message: field("message").unwrap_or_else(|| "the API refused the request".to_string()),
        status: Some(status),
        details: (details != Details::default()).then(|| Box::new(details)),
    }
}
