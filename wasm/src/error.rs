//! Typed JavaScript errors. Every failure reaches the page as an `Error` named
//! `SavedWalletError` with a `code` (the helper's own, or the API's `error.code`), so callers
//! branch on codes, never on message text. Nothing here formats: messages are fixed strings or
//! the API's own text.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// The helper's own error codes (the API's codes pass through unchanged).
pub mod code {
    /// The client configuration is missing a field or has a bad value.
    pub const CONFIG_INVALID: &str = "config_invalid";
    /// A redirect target is not https on an allowed host (http only for localhost).
    pub const REDIRECT_NOT_ALLOWED: &str = "redirect_not_allowed";
    /// The API could not be reached (offline, CORS refused, connection reset).
    pub const NETWORK: &str = "network_error";
    /// The API answered something that is not the documented JSON.
    pub const INVALID_RESPONSE: &str = "invalid_response";
    /// The token provider threw or gave no token.
    pub const TOKEN_UNAVAILABLE: &str = "token_unavailable";
    /// No browser window (the helper runs in a page, not a worker or Node).
    pub const NO_WINDOW: &str = "browser_unsupported";
    /// An argument is empty or not an id.
    pub const INVALID_ARGUMENT: &str = "invalid_argument";
}

/// A failure on its way to JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Machine-readable code.
    pub code: String,
    /// Human text (never shown to buyers as is; the API's message, or the helper's).
    pub message: String,
    /// The HTTP status, when the API answered.
    pub status: Option<u16>,
    /// What the API's error body said beyond code and message (boxed: rarely there).
    pub details: Option<Box<Details>>,
}

/// The API error's optional fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// The API's `requestId` (for support).
    pub request_id: Option<String>,
    /// The API's `param` (the field at fault).
    pub param: Option<String>,
    /// The API's `paymentId` (`order_has_payment`).
    pub payment_id: Option<String>,
}

impl Error {
    /// An error of the helper's own.
    pub fn new(code: &str, message: &str) -> Error {
        Error {
            code: code.to_string(),
            message: message.to_string(),
            status: None,
            details: None,
        }
    }

    /// Whether trying the same call again later may succeed: no answer, the API busy or
    /// rate limited, or a completion still running.
    pub fn retryable(&self) -> bool {
        match self.status {
            None => self.code == code::NETWORK,
            Some(s) => {
                s >= 500
                    || s == 429
                    || self.code == "payment_in_progress"
                    || self.code == "idempotency_key_in_progress"
            }
        }
    }

    /// The JavaScript `Error` (name `SavedWalletError`, with `code`, `retryable` and the API's
    /// `status`, `requestId`, `param`, `paymentId` when known).
    pub fn into_js(self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        e.set_name("SavedWalletError");
        let retryable = self.retryable();
        let obj: &JsValue = e.as_ref();
        set(obj, "code", &JsValue::from_str(&self.code));
        set(obj, "retryable", &JsValue::from_bool(retryable));
        if let Some(s) = self.status {
            set(obj, "status", &JsValue::from_f64(f64::from(s)));
        }
        if let Some(d) = &self.details {
            for (k, v) in [
                ("requestId", &d.request_id),
                ("param", &d.param),
                ("paymentId", &d.payment_id),
            ] {
                if let Some(v) = v {
                    set(obj, k, &JsValue::from_str(v));
                }
            }
        }
        e.into()
    }
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        e.into_js()
    }
}

/// Sets a property; a frozen or exotic target is ignored (the error still carries its message).
pub(crate) fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// Whether `value` is an error this helper threw (name and a string `code`).
pub fn is_helper_error(value: &JsValue) -> bool {
    let name = Reflect::get(value, &JsValue::from_str("name")).ok();
    let code = Reflect::get(value, &JsValue::from_str("code")).ok();
    value.is_instance_of::<js_sys::Error>()
        && name.and_then(|n| n.as_string()).as_deref() == Some("SavedWalletError")
        && code.is_some_and(|c| c.is_string())
}
