//! savedwallet's buyer helper for the browser, as WebAssembly: it calls the savedwallet API's
//! charging routes, follows Amazon Pay's MFA and wallet-setup redirects (only to allowed hosts),
//! completes the buyer's return exactly once per tab, and hands the page typed results and
//! typed errors. The JavaScript surface is [`SavedWalletClient`], [`check_redirect`] and
//! [`read_return`]; the TypeScript types are in [`TYPES`].
//!
//! Size matters more than convenience here (the gate is 60 KB gzipped for wasm + glue): JSON
//! goes through the browser's own `JSON` and `Response.json()`, read field by field (`js`),
//! never serde; nothing uses `format!`; errors are fixed strings or the API's own text.

pub mod api;
pub mod client;
pub mod config;
pub mod error;
pub mod js;
pub mod redirect;
pub mod returns;
pub mod state;

use wasm_bindgen::prelude::*;

pub use client::SavedWalletClient;

/// The TypeScript types of the objects the helper takes and gives (added to the `.d.ts`).
#[wasm_bindgen(typescript_custom_section)]
pub const TYPES: &str = r#"
/** What `new SavedWalletClient(config)` takes. Relative URLs resolve against the page. */
export interface ClientConfig {
  /** The savedwallet API, e.g. `https://api.example.com` (https; http only for localhost). */
  apiBaseUrl: string;
  /** The buyer's bearer token for `/v1` (a JWT from your sign-in), or a promise of one. */
  getToken: () => string | Promise<string>;
  /** Where a failed payment sends the buyer (the start of your checkout). */
  checkoutStartUrl: string;
  /** Your return page for MFA challenges (`checkoutResultReturnUrl`). */
  returnUrl: string;
  /** Your return page for wallet setup; defaults to `returnUrl`. */
  setupReturnUrl?: string;
  /** Hosts the helper may redirect to (`host` or `host:port`); Amazon Pay's by default. */
  allowedRedirectHosts?: string[];
  /** Local mode: the sandbox simulator's base URL; its host is allowed too. */
  sandboxUrl?: string;
  /** After a failed MFA return: `"redirect"` (default) to `checkoutStartUrl`, or `"return"`. */
  onFailure?: "redirect" | "return";
}

/** Amazon's price object. */
export interface Money { amount: string; currencyCode: string; }

export type PaymentStatus =
  "pending" | "action_required" | "authorized" | "succeeded" | "declined" | "failed" | "canceled";

export type BuyerActionKind = "update_payment_method" | "use_another_method" | "retry_later";

/** What the buyer should do about a payment that did not succeed. */
export interface BuyerAction { kind: BuyerActionKind; url?: string; }

/** The API's payment result. */
export interface PaymentResult {
  paymentId: string;
  status: PaymentStatus;
  amount: Money;
  chargeId?: string;
  declineCode?: string;
  redirectUrl?: string;
  expiresAt?: string;
  nextAttemptAt?: string;
  buyerAction?: BuyerAction;
  message?: string;
  attempts?: { status: string; createdAt: string }[];
}

/** A charging call's outcome: `redirecting` when the buyer is on the way to Amazon's MFA page. */
export interface ChargeOutcome { payment: PaymentResult; redirecting: boolean; }

/** The API's subscription. */
export interface Subscription {
  subscriptionId: string;
  walletId: string;
  planId: string;
  status: "incomplete" | "active" | "past_due" | "canceled";
  currentPeriod: { number: number; startsAt?: string; endsAt: string };
  nextBillingAt?: string;
  latestPayment?: PaymentResult;
  canceledAt?: string;
  cancelReason?: string;
  price: Money;
  interval: string;
  intervalCount: number;
  createdAt: string;
}

/** `subscribe`'s outcome. */
export interface SubscribeOutcome { subscription: Subscription; payment: PaymentResult; redirecting: boolean; }

/** The API's wallet (a Saved Wallet charge permission). */
export interface Wallet {
  walletId: string;
  /** Amazon's state. */
  state: "Chargeable" | "NonChargeable" | "Closed";
  /** Amazon's reason codes for the state. */
  reasons: string[];
  /** Where the buyer fixes the payment method (allow-listed by `updatePaymentMethod`). */
  paymentMethodUpdateUrl: string;
  monthlyUsage: { month: string; used: Money; limit: Money };
  paymentDescriptor?: string;
  /** The buyer must update the payment method before the next charge can succeed. */
  updateRequired: boolean;
  currencyCode: string;
  createdAt: string;
}

/** What `completeReturn()` found on an MFA return page. */
export interface ReturnOutcome {
  payment: PaymentResult;
  /** The payment succeeded, is authorized, or is pending Amazon's answer. */
  succeeded: boolean;
  /** The buyer's message when it did not (the failed-MFA text, or the API's). */
  message?: string;
  /** Set when the helper is sending the buyer back to `checkoutStartUrl`. */
  redirectingTo?: string;
  /** This tab had already completed it (a reload, Back): the API was only read, not called again. */
  repeated: boolean;
}

/** What `completeWalletSetup()` found on a setup return page. */
export interface SetupOutcome { wallet: Wallet; repeated: boolean; }

/** `startWalletSetup()`'s outcome (the buyer is on the way to Amazon's consent page). */
export interface SetupStart { checkoutSessionId: string; redirecting: boolean; }

/** What a return URL carries (`readReturn`). */
export interface ReturnParams { kind: "payment" | "setup"; amazonCheckoutSessionId: string; paymentId?: string; }

/** What the helper keeps in `sessionStorage` while the buyer is at Amazon. */
export interface PendingState { kind: "payment" | "setup"; paymentId?: string; checkoutSessionId?: string; expiresAt?: string; }

/** Every error the helper throws or rejects with. Branch on `code`. */
export interface SavedWalletError extends Error {
  name: "SavedWalletError";
  /** The helper's code (`config_invalid`, `redirect_not_allowed`, `network_error`, `invalid_response`,
   *  `token_unavailable`, `browser_unsupported`, `invalid_argument`) or the API's `error.code`. */
  code: string;
  /** Trying the same call again later may succeed. */
  retryable: boolean;
  status?: number;
  requestId?: string;
  param?: string;
  paymentId?: string;
}
"#;

/// In debug builds, panics reach the console with their message (release builds link no hook).
#[wasm_bindgen(start)]
pub fn start() {
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
}

/// `url` when the helper would follow it (https on an allowed host, http only for loopback),
/// else throws `redirect_not_allowed`. `hosts` defaults to Amazon Pay's.
#[wasm_bindgen(js_name = checkRedirect)]
pub fn check_redirect(url: &str, hosts: Option<Vec<String>>) -> Result<String, JsValue> {
    let allow = match hosts {
        Some(h) => redirect::AllowList::of(&h)?,
        None => redirect::AllowList::amazon(),
    };
    Ok(allow.check(url)?)
}

/// The return parameters of `href` (the current address by default), or `null` when it is no
/// return page.
#[wasm_bindgen(js_name = readReturn, unchecked_return_type = "ReturnParams | null")]
pub fn read_return(href: Option<String>) -> JsValue {
    let href = href.or_else(client::location_href);
    match href.as_deref().and_then(returns::read) {
        Some(p) => {
            let o = js::object();
            js::put_str(&o, "kind", p.kind().as_str());
            js::put_str(&o, "amazonCheckoutSessionId", &p.session);
            if let Some(id) = &p.payment {
                js::put_str(&o, "paymentId", id);
            }
            o
        }
        None => JsValue::NULL,
    }
}
