//! The client configuration (`ClientConfig` in the typings), read once from the object the
//! merchant passes to `new SavedWalletClient(...)`.

use js_sys::{Array, Function};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Url;

use crate::error::{code, Error};
use crate::js;
use crate::redirect::{is_loopback, AllowList};

/// A checked configuration.
#[derive(Clone)]
pub struct Config {
    /// The API's base URL.
    pub api_base_url: String,
    /// The token provider.
    pub get_token: Function,
    /// Where a failed payment sends the buyer (absolute).
    pub checkout_start_url: String,
    /// `checkoutResultReturnUrl` for charges (absolute).
    pub return_url: String,
    /// The setup consent's return URL (absolute).
    pub setup_return_url: String,
    /// Where redirects may go.
    pub allow: AllowList,
    /// After a failed MFA return, send the buyer to `checkout_start_url` (else only report).
    pub redirect_on_failure: bool,
}

fn invalid(message: &str) -> Error {
    Error::new(code::CONFIG_INVALID, message)
}

/// `value` resolved against the page's address, as an absolute http(s) URL.
fn absolute(value: &str, base: Option<&str>, message: &str) -> Result<String, Error> {
    let u = match base {
        Some(b) => Url::new_with_base(value, b),
        None => Url::new(value),
    }
    .map_err(|_| invalid(message))?;
    match u.protocol().as_str() {
        "https:" | "http:" => Ok(u.href()),
        _ => Err(invalid(message)),
    }
}

impl Config {
    /// Reads and checks `value`; `page` is the current address (relative URLs resolve
    /// against it).
    pub fn from_js(value: &JsValue, page: Option<&str>) -> Result<Config, Error> {
        if !value.is_object() {
            return Err(invalid(
                "new SavedWalletClient(config) needs a config object",
            ));
        }
        let api = js::string(value, "apiBaseUrl")
            .ok_or_else(|| invalid("config.apiBaseUrl is required"))?;
        let api = Url::new(&api).map_err(|_| invalid("config.apiBaseUrl must be absolute"))?;
        let api_ok = match api.protocol().as_str() {
            "https:" => true,
            "http:" => is_loopback(&api.hostname()),
            _ => false,
        };
        if !api_ok {
            return Err(invalid(
                "config.apiBaseUrl must be https (http only for localhost)",
            ));
        }
        let get_token = js::get(value, "getToken")
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| invalid("config.getToken must be a function"))?;
        let start = js::string(value, "checkoutStartUrl")
            .ok_or_else(|| invalid("config.checkoutStartUrl is required"))?;
        let start = absolute(&start, page, "config.checkoutStartUrl is not a URL")?;
        let ret = js::string(value, "returnUrl")
            .ok_or_else(|| invalid("config.returnUrl is required"))?;
        let ret = absolute(&ret, page, "config.returnUrl is not a URL")?;
        let setup = match js::string(value, "setupReturnUrl") {
            Some(s) => absolute(&s, page, "config.setupReturnUrl is not a URL")?,
            None => ret.clone(),
        };
        let mut allow =
            match js::get(value, "allowedRedirectHosts") {
                Some(v) if Array::is_array(&v) => {
                    let mut hosts = Vec::new();
                    for h in Array::from(&v).iter() {
                        hosts.push(h.as_string().ok_or_else(|| {
                            invalid("config.allowedRedirectHosts must be strings")
                        })?);
                    }
                    AllowList::of(&hosts)?
                }
                Some(_) => return Err(invalid("config.allowedRedirectHosts must be an array")),
                None => AllowList::amazon(),
            };
        if let Some(s) = js::string(value, "sandboxUrl") {
            allow = allow.with_sandbox(&s)?;
        }
        let redirect_on_failure = match js::string(value, "onFailure").as_deref() {
            None | Some("redirect") => true,
            Some("return") => false,
            Some(_) => {
                return Err(invalid(
                    "config.onFailure must be \"redirect\" or \"return\"",
                ))
            }
        };
        Ok(Config {
            redirect_on_failure,
            api_base_url: api.href(),
            get_token,
            checkout_start_url: start,
            return_url: ret,
            setup_return_url: setup,
            allow,
        })
    }
}
