//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` attributes and
//! the DTOs' schemas. It is served at `GET /openapi.json` and committed as
//! `docs/openapi.json`; `functions/tests/http_api` fails when the committed file differs
//! (regenerate with `UPDATE_OPENAPI=1 cargo test -p savedwallet-functions --test http_api
//! openapi`) or when a route of the routers is missing from it, or the reverse.

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, buyer, dev, ipn, meta};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "savedwallet",
        description = "Amazon Pay Saved Wallet charging service. Buyer routes (`/v1`) take the buyer's JWT (in AWS: API Gateway's JWT authorizer); merchant routes (`/admin/v1`) take AWS_IAM in AWS and the admin bearer token locally. `/dev` routes exist only in the local stack. Every non-2xx answer is `{\"error\": {\"code\", \"message\", \"param\"?, \"requestId\"}}`.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&Security),
    paths(
        buyer::wallets::button,
        buyer::wallets::setup,
        buyer::wallets::complete,
        buyer::wallets::list,
        buyer::wallets::get,
        buyer::wallets::close,
        buyer::subscriptions::plans,
        buyer::subscriptions::subscribe,
        buyer::subscriptions::list,
        buyer::subscriptions::get,
        buyer::subscriptions::change_wallet,
        buyer::subscriptions::cancel,
        buyer::payments::get_order,
        buyer::payments::pay_order,
        buyer::payments::list,
        buyer::payments::get,
        buyer::payments::retry,
        buyer::payments::complete,
        admin::catalog::put_plan,
        admin::catalog::create_order,
        admin::catalog::get_order,
        admin::catalog::customer_wallets,
        admin::catalog::customer_subscriptions,
        admin::catalog::cancel_subscription,
        admin::catalog::events,
        admin::catalog::billing_run,
        admin::payments::charge,
        admin::payments::get,
        admin::payments::capture,
        admin::payments::cancel,
        admin::payments::refund,
        admin::payments::get_refund,
        admin::payments::customer_payments,
        admin::view::recent_payments,
        admin::view::subscriptions_by_status,
        admin::view::wallets_to_update,
        ipn::ipn,
        dev::token,
        dev::advance,
        dev::run_jobs,
        meta::health,
        meta::document,
    ),
    tags(
        (name = "wallets", description = "Saved Wallet setup and the caller's wallets"),
        (name = "subscriptions", description = "Plans and the caller's subscriptions"),
        (name = "payments", description = "Orders and payments of the caller"),
        (name = "admin", description = "The merchant's trusted side"),
        (name = "ipn", description = "Amazon Pay IPNs delivered by SNS"),
        (name = "dev", description = "Local stack only: absent in AWS, loopback callers only"),
        (name = "meta", description = "Health and this document"),
    ),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut buyer = Http::new(HttpAuthScheme::Bearer);
        buyer.bearer_format = Some("JWT".into());
        buyer.description = Some(
            "The buyer's JWT; its `sub` is the merchant's customer id. In AWS, API Gateway's JWT authorizer verifies it."
                .into(),
        );
        components.add_security_scheme("buyer", SecurityScheme::Http(buyer));
        let mut admin = Http::new(HttpAuthScheme::Bearer);
        admin.description = Some(
            "In AWS: AWS_IAM (SigV4) on the route. Locally: the admin token of `.local/stack.json`."
                .into(),
        );
        components.add_security_scheme("admin", SecurityScheme::Http(admin));
    }
}

/// The document as JSON (built once).
pub fn document_json() -> serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
        .clone()
}

/// The document as `docs/openapi.json` holds it (pretty, with a final newline).
pub fn document_text() -> String {
    let mut s = serde_json::to_string_pretty(&document_json()).unwrap_or_default();
    s.push('\n');
    s
}

/// Every `(METHOD, path)` the document describes.
pub fn operations() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let doc = document_json();
    if let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) {
        for (path, item) in paths {
            if let Some(ops) = item.as_object() {
                for method in ops.keys() {
                    if matches!(
                        method.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
                    ) {
                        out.push((method.to_uppercase(), path.clone()));
                    }
                }
            }
        }
    }
    out.sort();
    out
}
