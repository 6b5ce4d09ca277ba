//! `SavedWalletClient`: the page's one object. Every method that talks to the API returns a
//! `Promise`; failures reject with a `SavedWalletError` (see `error`). Redirects go through
//! the allow list first, and the pending state is saved before the page leaves.

use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::api::{segment, Api};
use crate::config::Config;
use crate::error::{code, Error};
use crate::js;
use crate::returns::{self, ReturnKind, ReturnParams};
use crate::state::{Guard, TabState};

/// What the seed tells a buyer whose MFA challenge failed (one source with the service).
pub use savedwallet_shared::decline::FAILED_MFA_MESSAGE;

/// The page's address, when there is a window.
pub fn location_href() -> Option<String> {
    web_sys::window()?.location().href().ok()
}

fn no_window() -> Error {
    Error::new(code::NO_WINDOW, "the helper needs a browser window")
}

fn bad_argument(message: &str) -> Error {
    Error::new(code::INVALID_ARGUMENT, message)
}

fn unexpected() -> Error {
    Error::new(
        code::INVALID_RESPONSE,
        "the API answered something unexpected",
    )
}

/// Sends the browser to `url` (already allow-listed).
fn go(url: &str) -> Result<(), Error> {
    web_sys::window()
        .ok_or_else(no_window)?
        .location()
        .assign(url)
        .map_err(|_| {
            Error::new(
                code::REDIRECT_NOT_ALLOWED,
                "the browser refused the redirect",
            )
        })
}

/// A fresh Idempotency-Key (`crypto.randomUUID()`).
fn fresh_key() -> Result<String, Error> {
    let crypto = web_sys::window()
        .ok_or_else(no_window)?
        .crypto()
        .map_err(|_| no_window())?;
    Ok(crypto.random_uuid())
}

/// Checks that `id` is a usable id and gives it back as a path segment.
fn id_segment(id: &str, what: &'static str) -> Result<String, Error> {
    if returns::is_id(id) {
        Ok(segment(id))
    } else {
        Err(bad_argument(what))
    }
}

struct Inner {
    config: Config,
    api: Api,
    tab: TabState,
}

/// The buyer helper. `new SavedWalletClient(config)` checks the configuration at once
/// (throws `config_invalid`).
#[wasm_bindgen]
pub struct SavedWalletClient {
    inner: Rc<Inner>,
}

/// Runs `f` as a JavaScript promise (a rejected one carries the `SavedWalletError`).
fn promise<F>(f: F) -> Promise
where
    F: std::future::Future<Output = Result<JsValue, Error>> + 'static,
{
    future_to_promise(async move { f.await.map_err(Error::into_js) })
}

impl Inner {
    /// The body of a charging call: `walletId` when given, and the return URL.
    fn charge_body(&self, wallet_id: Option<&str>) -> Result<JsValue, Error> {
        let body = js::object();
        if let Some(w) = wallet_id {
            if !returns::is_id(w) {
                return Err(bad_argument("walletId is not an id"));
            }
            js::put_str(&body, "walletId", w);
        }
        js::put_str(&body, "checkoutResultReturnUrl", &self.config.return_url);
        Ok(body)
    }

    /// After a charging call: on `action_required`, saves the pending payment and redirects
    /// to Amazon's MFA page (allow-listed), else just reports.
    fn follow(&self, payment: &JsValue) -> Result<bool, Error> {
        if js::string(payment, "status").as_deref() != Some("action_required") {
            return Ok(false);
        }
        let id = js::string(payment, "paymentId").ok_or_else(unexpected)?;
        let url = js::string(payment, "redirectUrl").ok_or_else(unexpected)?;
        let url = self.config.allow.check(&url)?;
        let pending = js::object();
        js::put_str(&pending, "kind", "payment");
        js::put_str(&pending, "paymentId", &id);
        if let Some(e) = js::string(payment, "expiresAt") {
            js::put_str(&pending, "expiresAt", &e);
        }
        self.tab.set_pending(&pending);
        go(&url)?;
        Ok(true)
    }

    /// `{payment, redirecting}` for a charging route's answer.
    async fn charge(&self, path: &str, body: JsValue, key: &str) -> Result<JsValue, Error> {
        let answer = self.api.call("POST", path, Some(&body), Some(key)).await?;
        let redirecting = self.follow(&answer.body)?;
        let out = js::object();
        js::put(&out, "payment", &answer.body);
        js::put(&out, "redirecting", &JsValue::from_bool(redirecting));
        Ok(out)
    }

    /// Removes the return parameters from the address bar (no reload, no history entry).
    fn strip_address(&self) {
        let Some(w) = web_sys::window() else { return };
        let Some(href) = w.location().href().ok() else {
            return;
        };
        if let (Some(path), Ok(h)) = (returns::strip(&href), w.history()) {
            let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&path));
        }
    }

    /// Completes (or, when this tab already did, only reads) the payment of an MFA return.
    async fn complete_payment(&self, p: &ReturnParams, payment_id: &str) -> Result<JsValue, Error> {
        let seg = segment(payment_id);
        let mut read_path = String::from("/v1/payments/");
        read_path.push_str(&seg);
        let mut complete_path = read_path.clone();
        complete_path.push_str("/complete");
        let guard = self.tab.guard(&p.session);
        let (payment, repeated) = match guard {
            // Completed in this tab before (a reload, Back): never call it again.
            Guard::Done(_) => (
                self.api.call("GET", &read_path, None, None).await?.body,
                true,
            ),
            // A call went out and its answer was lost (the page went away). Only when the
            // payment still waits for the buyer did it not arrive: then send it now.
            Guard::Started => {
                let now = self.api.call("GET", &read_path, None, None).await?.body;
                if js::string(&now, "status").as_deref() == Some("action_required") {
                    (self.send_complete(p, &complete_path).await?, false)
                } else {
                    (now, true)
                }
            }
            Guard::Fresh => (self.send_complete(p, &complete_path).await?, false),
        };
        self.strip_address();
        self.tab.clear_pending();
        Ok(self.return_outcome(payment, repeated))
    }

    async fn send_complete(&self, p: &ReturnParams, path: &str) -> Result<JsValue, Error> {
        let body = js::object();
        js::put_str(&body, "amazonCheckoutSessionId", &p.session);
        self.tab.mark_started(&p.session);
        match self.api.call("POST", path, Some(&body), None).await {
            Ok(a) => {
                self.tab.mark_done(&p.session, None);
                Ok(a.body)
            }
            Err(e) => {
                // A refusal is an answer (the API completes exactly once: calling again
                // gives the same); no answer at all may be tried again.
                if e.status.is_some() {
                    self.tab.mark_done(&p.session, None);
                } else {
                    self.tab.unmark(&p.session);
                }
                Err(e)
            }
        }
    }

    fn return_outcome(&self, payment: JsValue, repeated: bool) -> JsValue {
        let status = js::string(&payment, "status").unwrap_or_default();
        let succeeded = matches!(status.as_str(), "succeeded" | "authorized" | "pending");
        let out = js::object();
        js::put(&out, "succeeded", &JsValue::from_bool(succeeded));
        js::put(&out, "repeated", &JsValue::from_bool(repeated));
        if !succeeded && status != "action_required" {
            let message =
                js::string(&payment, "message").unwrap_or_else(|| FAILED_MFA_MESSAGE.to_string());
            js::put_str(&out, "message", &message);
            if self.config.redirect_on_failure {
                self.tab.set_notice(&message);
                let start = &self.config.checkout_start_url;
                if go(start).is_ok() {
                    js::put_str(&out, "redirectingTo", start);
                }
            }
        }
        js::put(&out, "payment", &payment);
        out
    }

    /// Saves (or, when this tab already did, only reads) the wallet of a setup return.
    async fn complete_setup(&self, p: &ReturnParams) -> Result<JsValue, Error> {
        let (wallet, repeated) = match self.tab.guard(&p.session) {
            Guard::Done(Some(wallet_id)) if returns::is_id(&wallet_id) => {
                let mut path = String::from("/v1/wallets/");
                path.push_str(&segment(&wallet_id));
                (self.api.call("GET", &path, None, None).await?.body, true)
            }
            // POST /v1/wallets is idempotent per session: a lost answer is safe to ask again.
            _ => {
                let body = js::object();
                js::put_str(&body, "amazonCheckoutSessionId", &p.session);
                self.tab.mark_started(&p.session);
                let answer = self
                    .api
                    .call("POST", "/v1/wallets", Some(&body), None)
                    .await;
                let wallet = match answer {
                    Ok(a) => a.body,
                    Err(e) => {
                        self.tab.unmark(&p.session);
                        self.strip_address();
                        self.tab.clear_pending();
                        return Err(e);
                    }
                };
                let id = js::string(&wallet, "walletId").ok_or_else(unexpected)?;
                self.tab.mark_done(&p.session, Some(&id));
                (wallet, false)
            }
        };
        self.strip_address();
        self.tab.clear_pending();
        let out = js::object();
        js::put(&out, "wallet", &wallet);
        js::put(&out, "repeated", &JsValue::from_bool(repeated));
        Ok(out)
    }
}

#[wasm_bindgen]
impl SavedWalletClient {
    /// Checks `config` and makes the client.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ClientConfig")] config: JsValue,
    ) -> Result<SavedWalletClient, JsValue> {
        let page = location_href();
        let config = Config::from_js(&config, page.as_deref())?;
        let api = Api::new(&config.api_base_url, config.get_token.clone());
        Ok(SavedWalletClient {
            inner: Rc::new(Inner {
                config,
                api,
                tab: TabState::session(),
            }),
        })
    }

    /// Pays the merchant's order `orderId` with the buyer's wallet (`POST
    /// /v1/orders/{orderId}/pay`); on `action_required` redirects to the MFA page.
    #[wasm_bindgen(js_name = payOrder, unchecked_return_type = "Promise<ChargeOutcome>")]
    pub fn pay_order(
        &self,
        #[wasm_bindgen(js_name = orderId)] order_id: String,
        #[wasm_bindgen(js_name = walletId)] wallet_id: String,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let mut path = String::from("/v1/orders/");
            path.push_str(&id_segment(&order_id, "orderId is not an id")?);
            path.push_str("/pay");
            let body = inner.charge_body(Some(&wallet_id))?;
            inner.charge(&path, body, &fresh_key()?).await
        })
    }

    /// Subscribes the buyer to `planId` on `walletId` (`POST /v1/subscriptions`, the first
    /// period charged now). `idempotencyKey` makes a retry of the same subscribe safe; one is
    /// made when absent.
    #[wasm_bindgen(unchecked_return_type = "Promise<SubscribeOutcome>")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(js_name = planId)] plan_id: String,
        #[wasm_bindgen(js_name = walletId)] wallet_id: String,
        #[wasm_bindgen(js_name = idempotencyKey)] idempotency_key: Option<String>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            if !returns::is_id(&plan_id) {
                return Err(bad_argument("planId is not an id"));
            }
            let body = inner.charge_body(Some(&wallet_id))?;
            js::put_str(&body, "planId", &plan_id);
            let key = match idempotency_key {
                Some(k) if !k.is_empty() && k.len() <= 255 => k,
                Some(_) => return Err(bad_argument("idempotencyKey must be 1 to 255 characters")),
                None => fresh_key()?,
            };
            let answer = inner
                .api
                .call("POST", "/v1/subscriptions", Some(&body), Some(&key))
                .await?;
            let payment = js::get(&answer.body, "payment").ok_or_else(unexpected)?;
            let redirecting = inner.follow(&payment)?;
            js::put(
                &answer.body,
                "redirecting",
                &JsValue::from_bool(redirecting),
            );
            Ok(answer.body)
        })
    }

    /// A new attempt of a declined, failed or canceled payment (`POST
    /// /v1/payments/{paymentId}/retry`), optionally on another of the buyer's wallets.
    #[wasm_bindgen(js_name = retryPayment, unchecked_return_type = "Promise<ChargeOutcome>")]
    pub fn retry_payment(
        &self,
        #[wasm_bindgen(js_name = paymentId)] payment_id: String,
        #[wasm_bindgen(js_name = walletId)] wallet_id: Option<String>,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let mut path = String::from("/v1/payments/");
            path.push_str(&id_segment(&payment_id, "paymentId is not an id")?);
            path.push_str("/retry");
            let body = inner.charge_body(wallet_id.as_deref())?;
            inner.charge(&path, body, &fresh_key()?).await
        })
    }

    /// On the MFA return page: completes the payment once (`POST
    /// /v1/payments/{paymentId}/complete`), removes the ids from the address bar, clears the
    /// pending state and gives the outcome; on failure leaves the buyer's message for the
    /// checkout start page and (unless `onFailure: "return"`) sends the buyer there. `null`
    /// when this page is not an MFA return.
    #[wasm_bindgen(
        js_name = completeReturn,
        unchecked_return_type = "Promise<ReturnOutcome | null>"
    )]
    pub fn complete_return(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let href = location_href().ok_or_else(no_window)?;
            let Some(p) = returns::read(&href) else {
                return Ok(JsValue::NULL);
            };
            let Some(payment_id) = p.payment.clone() else {
                return Ok(JsValue::NULL);
            };
            inner.complete_payment(&p, &payment_id).await
        })
    }

    /// Starts a Saved Wallet setup (`POST /v1/wallets/setup`) and sends the buyer to Amazon's
    /// consent page.
    #[wasm_bindgen(js_name = startWalletSetup, unchecked_return_type = "Promise<SetupStart>")]
    pub fn start_wallet_setup(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let body = js::object();
            js::put_str(&body, "returnUrl", &inner.config.setup_return_url);
            let key = fresh_key()?;
            let answer = inner
                .api
                .call("POST", "/v1/wallets/setup", Some(&body), Some(&key))
                .await?;
            let session = js::string(&answer.body, "checkoutSessionId").ok_or_else(unexpected)?;
            let url = js::string(&answer.body, "redirectUrl").ok_or_else(unexpected)?;
            let url = inner.config.allow.check(&url)?;
            let pending = js::object();
            js::put_str(&pending, "kind", "setup");
            js::put_str(&pending, "checkoutSessionId", &session);
            inner.tab.set_pending(&pending);
            go(&url)?;
            let out = js::object();
            js::put_str(&out, "checkoutSessionId", &session);
            js::put(&out, "redirecting", &JsValue::TRUE);
            Ok(out)
        })
    }

    /// On the setup return page: saves the wallet once (`POST /v1/wallets`), cleans the address
    /// bar and gives the wallet; `null` when this page is not a setup return.
    #[wasm_bindgen(
        js_name = completeWalletSetup,
        unchecked_return_type = "Promise<SetupOutcome | null>"
    )]
    pub fn complete_wallet_setup(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let href = location_href().ok_or_else(no_window)?;
            match returns::read(&href) {
                Some(p) if p.kind() == ReturnKind::Setup => inner.complete_setup(&p).await,
                _ => Ok(JsValue::NULL),
            }
        })
    }

    /// Sends the buyer to the payment-method update page (`buyerAction.url` or a wallet's
    /// `paymentMethodUpdateUrl`), after the allow list; throws `redirect_not_allowed`.
    #[wasm_bindgen(js_name = updatePaymentMethod)]
    pub fn update_payment_method(&self, url: &str) -> Result<(), JsValue> {
        let url = self.inner.config.allow.check(url)?;
        Ok(go(&url)?)
    }

    /// The message a failed return left for the checkout start page (read once).
    #[wasm_bindgen(js_name = takeNotice)]
    pub fn take_notice(&self) -> Option<String> {
        self.inner.tab.take_notice()
    }

    /// The charge or setup this tab is waiting on (saved before the redirect), if any.
    #[wasm_bindgen(unchecked_return_type = "PendingState | undefined")]
    pub fn pending(&self) -> JsValue {
        self.inner.tab.pending().unwrap_or(JsValue::UNDEFINED)
    }

    /// The hosts redirects may go to.
    #[wasm_bindgen(getter, js_name = allowedRedirectHosts)]
    pub fn allowed_redirect_hosts(&self) -> Vec<String> {
        self.inner.config.allow.hosts().to_vec()
    }
}
