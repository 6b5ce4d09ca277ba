//! The helper's logic in a real browser (headless Chromium through chromedriver; see
//! wasm/webdriver.json): URL parsing, the redirect allow list, and the completion guard
//! against a stand-in `fetch` that counts the calls (the real API is exercised by the
//! end-to-end tests in tests/tests/browser.rs). On the host these compile to nothing.
#![cfg(target_arch = "wasm32")]

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use savedwallet_wasm::redirect::AllowList;
use savedwallet_wasm::returns::{self, ReturnKind};
use savedwallet_wasm::{check_redirect, SavedWalletClient};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = "
export function installFetch() {
  const calls = [];
  window.__calls = calls;
  window.fetch = async (url, init) => {
    const method = (init && init.method) || 'GET';
    calls.push(method + ' ' + new URL(url).pathname);
    const payment = { paymentId: 'pay_1', status: 'succeeded',
                      amount: { amount: '14.00', currencyCode: 'EUR' } };
    return new Response(JSON.stringify(payment), { status: method === 'POST' ? 201 : 200,
      headers: { 'content-type': 'application/json' } });
  };
}
export function calls() { return window.__calls.slice(); }
export function setAddress(path) { history.replaceState(null, '', path); }
export function address() { return location.pathname + location.search + location.hash; }
export function config(onFailure) {
  return { apiBaseUrl: 'http://127.0.0.1:9/', getToken: () => Promise.resolve('t0k3n'),
           checkoutStartUrl: '/checkout', returnUrl: '/return', onFailure };
}
")]
extern "C" {
    #[wasm_bindgen(js_name = installFetch)]
    fn install_fetch();
    fn calls() -> Vec<String>;
    #[wasm_bindgen(js_name = setAddress)]
    fn set_address(path: &str);
    fn address() -> String;
    fn config(on_failure: &str) -> JsValue;
}

fn field(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

async fn resolve(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

#[wasm_bindgen_test]
fn a_return_url_gives_its_session_and_payment() {
    let p = returns::read("https://shop.example/r?amazonCheckoutSessionId=S-1&paymentId=pay_9&x=1")
        .expect("a return");
    assert_eq!(p.session, "S-1");
    assert_eq!(p.payment.as_deref(), Some("pay_9"));
    assert_eq!(p.kind(), ReturnKind::Payment);
    let setup =
        returns::read("https://shop.example/r?amazonCheckoutSessionId=S-2").expect("a return");
    assert_eq!(setup.kind(), ReturnKind::Setup);
}

#[wasm_bindgen_test]
fn malformed_ids_make_no_return() {
    for href in [
        "https://shop.example/r",
        "https://shop.example/r?paymentId=pay_1",
        "https://shop.example/r?amazonCheckoutSessionId=",
        "https://shop.example/r?amazonCheckoutSessionId=a/b",
        "https://shop.example/r?amazonCheckoutSessionId=S&paymentId=..%2Fadmin%2Fx",
        "https://shop.example/r?amazonCheckoutSessionId=S&paymentId=",
        "not a url",
    ] {
        assert_eq!(returns::read(href), None, "{href}");
    }
}

#[wasm_bindgen_test]
fn stripping_keeps_the_rest_of_the_address() {
    let s =
        returns::strip("https://shop.example/r/x?a=1&amazonCheckoutSessionId=S&paymentId=P#top");
    assert_eq!(s.as_deref(), Some("/r/x?a=1#top"));
    let s = returns::strip("https://shop.example/r?amazonCheckoutSessionId=S");
    assert_eq!(s.as_deref(), Some("/r"));
}

#[wasm_bindgen_test]
fn amazon_hosts_are_followed_over_https() {
    let allow = AllowList::amazon();
    for url in [
        "https://payments.amazon.com/checkout/mfa?id=1",
        "https://payments.amazon.de/jr/your-account/ba/B01",
        "https://pay.amazon.com/jp/jr/your-account/ba/B01",
        "https://PAYMENTS.AMAZON.COM/x",
    ] {
        assert!(allow.check(url).is_ok(), "{url}");
    }
}

#[wasm_bindgen_test]
fn everything_else_is_refused() {
    let allow = AllowList::amazon();
    for url in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "/relative",
        "http://payments.amazon.com/x",
        "https://evil.example/x",
        "https://payments.amazon.com.evil.example/x",
        "https://evilpayments.amazon.com/x",
        "https://payments-amazon.com/x",
        "https://payments.amazon.com@evil.example/x",
        "https://user:pw@payments.amazon.com/x",
        "https://payments.amazon.com:8443/x",
        "https://p\u{0430}yments.amazon.com/x",
        "ftp://payments.amazon.com/x",
    ] {
        let e = allow.check(url).expect_err(url);
        assert_eq!(e.code, "redirect_not_allowed", "{url}");
    }
}

#[wasm_bindgen_test]
fn http_is_for_a_loopback_sandbox_only() {
    let allow = AllowList::amazon()
        .with_sandbox("http://127.0.0.1:8085")
        .expect("a sandbox URL");
    assert!(allow.check("http://127.0.0.1:8085/mfa/S1").is_ok());
    for url in [
        "http://127.0.0.1:9999/mfa/S1",
        "http://127.0.0.1.evil.example:8085/",
        "http://localhost:8085/",
    ] {
        assert!(allow.check(url).is_err(), "{url}");
    }
    let named = AllowList::of(&["sandbox.example:8085".to_string()]).expect("a host list");
    assert!(
        named.check("http://sandbox.example:8085/").is_err(),
        "http off loopback"
    );
    assert!(named.check("https://sandbox.example:8085/").is_ok());
}

#[wasm_bindgen_test]
fn check_redirect_throws_a_typed_error() {
    let e = check_redirect("javascript:void(0)", None).expect_err("refused");
    assert_eq!(
        field(&e, "name").as_string().as_deref(),
        Some("SavedWalletError")
    );
    assert_eq!(
        field(&e, "code").as_string().as_deref(),
        Some("redirect_not_allowed")
    );
    assert_eq!(field(&e, "retryable").as_bool(), Some(false));
}

#[wasm_bindgen_test]
fn a_bad_config_is_refused_with_a_code() {
    let e = SavedWalletClient::new(JsValue::from_str("nope"))
        .err()
        .expect("refused");
    assert_eq!(
        field(&e, "code").as_string().as_deref(),
        Some("config_invalid")
    );
    let c = config("redirect");
    Reflect::set(&c, &"apiBaseUrl".into(), &"http://api.example.com".into()).expect("set");
    let e = SavedWalletClient::new(c).err().expect("http off loopback");
    assert_eq!(
        field(&e, "code").as_string().as_deref(),
        Some("config_invalid")
    );
}

#[wasm_bindgen_test]
async fn a_reload_of_the_return_page_does_not_complete_twice() {
    install_fetch();
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .expect("session storage")
        .clear()
        .expect("cleared");
    let client = SavedWalletClient::new(config("return")).expect("a client");
    let back = "/r?amazonCheckoutSessionId=SESSION-1&paymentId=pay_1&keep=1";
    set_address(back);

    let first = resolve(client.complete_return()).await.expect("completed");
    assert_eq!(field(&first, "succeeded").as_bool(), Some(true));
    assert_eq!(field(&first, "repeated").as_bool(), Some(false));
    assert_eq!(address(), "/r?keep=1", "the ids leave the address bar");
    assert_eq!(
        calls(),
        vec!["POST /v1/payments/pay_1/complete".to_string()]
    );

    // The same return URL again (a reload before the address was cleaned, Back, history).
    set_address(back);
    let again = SavedWalletClient::new(config("return")).expect("a client after reload");
    let second = resolve(again.complete_return()).await.expect("read");
    assert_eq!(field(&second, "repeated").as_bool(), Some(true));
    assert_eq!(
        calls(),
        vec![
            "POST /v1/payments/pay_1/complete".to_string(),
            "GET /v1/payments/pay_1".to_string()
        ],
        "the second visit only reads the payment"
    );

    // No return parameters: nothing to do, nothing called.
    set_address("/r");
    let none = resolve(again.complete_return()).await.expect("nothing");
    assert!(none.is_null());
    assert_eq!(calls().len(), 2);
}
