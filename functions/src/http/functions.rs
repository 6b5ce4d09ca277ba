//! The Lambda functions of a deployment, each an axum router over a slice of the API. The
//! split follows what the routes need from Lambda, not the URL families:
//!
//! | Function | Routes | Why apart |
//! | --- | --- | --- |
//! | `create-charge` | `POST /v1/orders/{id}/pay`, `POST /v1/payments/{id}/retry`, `POST /v1/subscriptions` | calls Create Charge: 29 s timeout, reserved concurrency under Amazon's quota |
//! | `complete-checkout` | `POST /v1/wallets`, `POST /v1/payments/{id}/complete` | the buyer's return from Amazon: Complete Checkout Session, one call per session |
//! | `wallets` | every other `/v1` route | reads and short Amazon calls; scales with page views |
//! | `admin` | `/admin/v1/…` | IAM-authorized merchant calls, its own concurrency |
//! | `ipn` | `/ipn` | unauthenticated (the SNS signature is the proof), bursts with Amazon's retries |
//!
//! Every function also serves `/health` and `/openapi.json`. A test holds the split to the
//! route tables: each API route is served by exactly one function.

use axum::http::Method;
use axum::Router;

use super::routes::{build_where, RouteSpec};
use super::{admin, buyer, ipn, meta, request, AppState};

/// One Lambda function of the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaFunction {
    /// The charging routes.
    CreateCharge,
    /// Wallet setup completion and the MFA return.
    CompleteCheckout,
    /// The other buyer routes.
    Wallets,
    /// The merchant routes.
    Admin,
    /// Amazon Pay IPNs from SNS.
    Ipn,
}

/// Routes of `create-charge`.
const CHARGING: &[(Method, &str)] = &[
    (Method::POST, "/v1/orders/{orderId}/pay"),
    (Method::POST, "/v1/payments/{paymentId}/retry"),
    (Method::POST, "/v1/subscriptions"),
];

/// Routes of `complete-checkout`.
const COMPLETING: &[(Method, &str)] = &[
    (Method::POST, "/v1/wallets"),
    (Method::POST, "/v1/payments/{paymentId}/complete"),
];

impl LambdaFunction {
    /// Every function.
    pub const ALL: [LambdaFunction; 5] = [
        LambdaFunction::CreateCharge,
        LambdaFunction::CompleteCheckout,
        LambdaFunction::Wallets,
        LambdaFunction::Admin,
        LambdaFunction::Ipn,
    ];

    /// The function's name (`SAVEDWALLET_FUNCTION`).
    pub fn name(self) -> &'static str {
        match self {
            LambdaFunction::CreateCharge => "create-charge",
            LambdaFunction::CompleteCheckout => "complete-checkout",
            LambdaFunction::Wallets => "wallets",
            LambdaFunction::Admin => "admin",
            LambdaFunction::Ipn => "ipn",
        }
    }

    /// Whether this function serves `method path` (a route template).
    pub fn serves(self, method: &Method, path: &str) -> bool {
        if meta::ROUTES.iter().any(|r| r.path == path) {
            return true;
        }
        let listed =
            |table: &[(Method, &str)]| table.iter().any(|(m, p)| m == method && *p == path);
        match self {
            LambdaFunction::CreateCharge => listed(CHARGING),
            LambdaFunction::CompleteCheckout => listed(COMPLETING),
            LambdaFunction::Wallets => {
                path.starts_with("/v1/") && !listed(CHARGING) && !listed(COMPLETING)
            }
            LambdaFunction::Admin => path.starts_with("/admin/"),
            LambdaFunction::Ipn => path == "/ipn",
        }
    }

    /// The routes this function serves.
    pub fn routes(self) -> Vec<&'static RouteSpec> {
        super::lambda_route_table()
            .into_iter()
            .filter(|r| self.serves(&r.method, r.path))
            .collect()
    }
}

/// The app of one Lambda function: its slice of [`super::lambda_app`], with the same layers
/// (CORS on `/v1`, the request layer, our 404).
pub fn function_app(state: AppState, function: LambdaFunction) -> Router {
    let only = |r: &RouteSpec| function.serves(&r.method, r.path);
    let cors = buyer::cors_layer(&state.config().cors_origins);
    let app = Router::new()
        .merge(build_where(buyer::ROUTES, only).layer(cors))
        .merge(build_where(admin::ROUTES, only))
        .merge(build_where(ipn::ROUTES, only))
        .merge(build_where(meta::ROUTES, only));
    request::finish(app).with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_exactly_one_function() {
        for r in super::super::lambda_route_table() {
            let owners: Vec<_> = LambdaFunction::ALL
                .iter()
                .filter(|f| f.serves(&r.method, r.path))
                .collect();
            let shared = meta::ROUTES.iter().any(|m| m.path == r.path);
            if shared {
                assert_eq!(owners.len(), LambdaFunction::ALL.len(), "{r:?}");
            } else {
                assert_eq!(owners.len(), 1, "{r:?} is served by {owners:?}");
            }
        }
        // The split names real routes (a renamed route would silently move to `wallets`).
        for (m, p) in CHARGING.iter().chain(COMPLETING) {
            assert!(
                super::super::lambda_route_table()
                    .iter()
                    .any(|r| r.method == m && r.path == *p),
                "{m} {p} is not a route"
            );
        }
        assert!(LambdaFunction::Ipn
            .routes()
            .iter()
            .any(|r| r.path == "/ipn"));
        assert!(!LambdaFunction::Ipn
            .routes()
            .iter()
            .any(|r| r.path.starts_with("/dev")));
    }
}
