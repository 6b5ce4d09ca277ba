//! The demo shop `savedwallet local` serves under `/demo/` on the API's own origin (so its
//! return URLs are allowed and no CORS is involved): the buyer's account page and the
//! merchant view (cli/demo/, compiled in; the merchant view reads the admin list routes), the browser helper package from `--helper-dir`
//! (read per request, so a rebuilt package is served at once), the shop's settings, and
//! `POST /demo/orders` — the demo merchant's server creating an order from its catalogue for
//! the signed-in buyer (amounts never come from the browser). Local stack only: the Lambda
//! router has none of it.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::RngCore;
use serde_json::json;

use savedwallet_app::usecases::NewOrder;
use savedwallet_app::validate::MoneyInput;
use savedwallet_app::Service;
use savedwallet_functions::http::JwtVerifier;
use savedwallet_shared::region::Region;

/// The pages and assets, compiled into the binary.
const PAGES: [(&str, &str, &str); 6] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../demo/index.html"),
    ),
    (
        "shop.js",
        "text/javascript; charset=utf-8",
        include_str!("../../demo/shop.js"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../../demo/common.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../demo/style.css"),
    ),
    (
        "merchant.html",
        "text/html; charset=utf-8",
        include_str!("../../demo/merchant.html"),
    ),
    (
        "merchant.js",
        "text/javascript; charset=utf-8",
        include_str!("../../demo/merchant.js"),
    ),
];

/// The package files served from the helper folder (nothing else in it is reachable).
const PACKAGE: [(&str, &str); 5] = [
    ("savedwallet_wasm.js", "text/javascript; charset=utf-8"),
    ("savedwallet_wasm_bg.wasm", "application/wasm"),
    ("savedwallet_wasm.d.ts", "text/plain; charset=utf-8"),
    ("package.json", "application/json"),
    ("README.md", "text/markdown; charset=utf-8"),
];

/// One thing the demo shop sells.
struct Product {
    sku: &'static str,
    name: &'static str,
    /// Per region: NA (USD), EU (EUR), JP (JPY).
    prices: [&'static str; 3],
}

const CATALOGUE: [Product; 3] = [
    Product {
        sku: "espresso-beans",
        name: "Espresso beans, 1 kg",
        prices: ["14.00", "14.00", "1400"],
    },
    Product {
        sku: "pour-over-kettle",
        name: "Pour-over kettle",
        prices: ["39.90", "39.90", "3990"],
    },
    Product {
        sku: "tasting-box",
        name: "Tasting box (6 origins)",
        prices: ["24.50", "24.50", "2450"],
    },
];

fn price(p: &Product, region: Region) -> MoneyInput {
    let (i, currency) = match region {
        Region::Na => (0, "USD"),
        Region::Eu => (1, "EUR"),
        Region::Jp => (2, "JPY"),
    };
    MoneyInput {
        amount: p.prices[i].to_string(),
        currency_code: currency.to_string(),
    }
}

/// What the demo routes need.
#[derive(Clone)]
pub struct Demo {
    /// The service (orders are created through its merchant use case).
    pub service: Arc<Service>,
    /// Verifies the buyer's dev JWT.
    pub jwt: Arc<JwtVerifier>,
    /// The merchant's region (prices and currency).
    pub region: Region,
    /// The sandbox's base URL (the helper's allowed redirect host in local mode).
    pub sandbox_url: String,
    /// The built helper package (`scripts/build-wasm`), if any.
    pub helper_dir: Option<PathBuf>,
}

/// The `/demo` router.
pub fn routes(demo: Demo) -> Router {
    Router::new()
        .route("/demo", get(|| async { Redirect::permanent("/demo/") }))
        .route("/demo/", get(|| async { page("index.html") }))
        .route("/demo/config.json", get(settings))
        .route("/demo/orders", post(create_order))
        .route("/demo/pkg/{file}", get(package_file))
        .route(
            "/demo/{file}",
            get(|Path(f): Path<String>| async move { page(&f) }),
        )
        .with_state(demo)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn page(name: &str) -> Response {
    match PAGES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "no-store"),
            ],
            *body,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "no such demo page"),
    }
}

async fn settings(State(demo): State<Demo>) -> Response {
    let products: Vec<_> = CATALOGUE
        .iter()
        .map(|p| {
            let m = price(p, demo.region);
            json!({"sku": p.sku, "name": p.name,
                   "price": {"amount": m.amount, "currencyCode": m.currency_code}})
        })
        .collect();
    let built = demo
        .helper_dir
        .as_ref()
        .is_some_and(|d| d.join("savedwallet_wasm_bg.wasm").is_file());
    Json(json!({
        "sandboxUrl": demo.sandbox_url,
        "region": demo.region.to_string(),
        "products": products,
        "helperBuilt": built,
    }))
    .into_response()
}

async fn package_file(State(demo): State<Demo>, Path(file): Path<String>) -> Response {
    let Some((name, mime)) = PACKAGE.iter().find(|(n, _)| *n == file) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such package file");
    };
    let Some(dir) = &demo.helper_dir else {
        return error(
            StatusCode::NOT_FOUND,
            "helper_not_built",
            "the browser helper is not built: run scripts/build-wasm and pass --helper-dir",
        );
    };
    match tokio::fs::read(dir.join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => error(
            StatusCode::NOT_FOUND,
            "helper_not_built",
            "the browser helper is not built: run scripts/build-wasm",
        ),
    }
}

#[derive(serde::Deserialize)]
struct OrderBody {
    sku: String,
}

async fn create_order(
    State(demo): State<Demo>,
    headers: HeaderMap,
    body: Result<Json<OrderBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(customer) = token.and_then(|t| demo.jwt.verify(t).ok()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in first (a bearer token from POST /dev/token)",
        );
    };
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be {\"sku\": \"…\"}",
        );
    };
    let Some(product) = CATALOGUE.iter().find(|p| p.sku == body.sku) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "unknown sku");
    };
    // Every click is a new order: a random scope names it.
    let mut scope = vec![0u8; 16];
    rand::rng().fill_bytes(&mut scope);
    let order = demo
        .service
        .create_order(NewOrder {
            customer_id: customer.as_str().to_string(),
            amount: price(product, demo.region),
            description: product.name.to_string(),
            capture_now: Some(true),
            soft_descriptor: None,
            scope,
        })
        .await;
    match order {
        Ok(o) => (
            StatusCode::CREATED,
            Json(json!({"orderId": o.order_id.as_str(), "description": product.name})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "demo order not created");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the order could not be created",
            )
        }
    }
}
