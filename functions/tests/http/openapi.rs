//! The OpenAPI document: generated from the code, committed as `docs/openapi.json`, served
//! at `/openapi.json`, and equal to the routes the routers are built from.

use std::collections::BTreeSet;

use axum::http::Method;

use savedwallet_functions::http::{self, openapi};

use super::harness::*;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = openapi::document_text();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write docs/openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p savedwallet-functions --test http_api openapi`"
    );
    let doc = openapi::document_json();
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
}

fn table(routes: Vec<&'static http::RouteSpec>) -> BTreeSet<(String, String)> {
    let mut set = BTreeSet::new();
    for r in routes {
        assert!(
            set.insert((r.method.to_string(), r.path.to_string())),
            "{r:?} is registered twice"
        );
    }
    set
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let documented: BTreeSet<(String, String)> = openapi::operations().into_iter().collect();
    let local = table(http::local_route_table());
    assert_eq!(
        local.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not documented"
    );
    assert_eq!(
        documented.difference(&local).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not served"
    );
    // The Lambda app serves all of it except the dev routes, which the document tags.
    let lambda = table(http::lambda_route_table());
    let doc = openapi::document_json();
    for (method, path) in documented.difference(&lambda) {
        let tags = &doc["paths"][path][method.to_lowercase()]["tags"];
        assert_eq!(tags, &serde_json::json!(["dev"]), "{method} {path}");
    }
    // Every route of the contract (API.md) is there.
    for (m, p) in [
        ("GET", "/v1/wallets/button"),
        ("POST", "/v1/wallets/setup"),
        ("POST", "/v1/wallets"),
        ("GET", "/v1/wallets"),
        ("GET", "/v1/wallets/{walletId}"),
        ("DELETE", "/v1/wallets/{walletId}"),
        ("GET", "/v1/plans"),
        ("POST", "/v1/subscriptions"),
        ("GET", "/v1/subscriptions"),
        ("GET", "/v1/subscriptions/{subscriptionId}"),
        ("PATCH", "/v1/subscriptions/{subscriptionId}"),
        ("DELETE", "/v1/subscriptions/{subscriptionId}"),
        ("GET", "/v1/orders/{orderId}"),
        ("POST", "/v1/orders/{orderId}/pay"),
        ("GET", "/v1/payments"),
        ("GET", "/v1/payments/{paymentId}"),
        ("POST", "/v1/payments/{paymentId}/retry"),
        ("POST", "/v1/payments/{paymentId}/complete"),
        ("PUT", "/admin/v1/plans/{planId}"),
        ("POST", "/admin/v1/orders"),
        ("POST", "/admin/v1/payments"),
        ("POST", "/admin/v1/payments/{paymentId}/capture"),
        ("POST", "/admin/v1/payments/{paymentId}/cancel"),
        ("POST", "/admin/v1/payments/{paymentId}/refunds"),
        ("GET", "/admin/v1/refunds/{refundId}"),
        ("GET", "/admin/v1/customers/{customerId}/payments"),
        ("GET", "/admin/v1/customers/{customerId}/wallets"),
        ("GET", "/admin/v1/customers/{customerId}/subscriptions"),
        ("GET", "/admin/v1/payments/{paymentId}"),
        ("DELETE", "/admin/v1/subscriptions/{subscriptionId}"),
        ("GET", "/admin/v1/events"),
        ("POST", "/admin/v1/billing/run"),
        ("POST", "/ipn"),
        ("GET", "/health"),
    ] {
        assert!(
            lambda.contains(&(m.to_string(), p.to_string())),
            "{m} {p} missing from the Lambda app"
        );
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let app = TestApp::spawn().await;
    let r = app
        .call(Method::GET, "/openapi.json", Who::Anonymous)
        .send()
        .await;
    r.expect(200);
    assert_eq!(r.json, openapi::document_json());
}
