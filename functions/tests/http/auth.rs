//! Auth: 401 without or with bad credentials in local mode; in Lambda mode the identities
//! come from the API Gateway request context only.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::Method;
use serde_json::{json, Value};

use savedwallet_functions::http::{JwtClaims, LocalIssuer};

use super::harness::*;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

fn claims(iss: &str, aud: &str, exp: u64) -> JwtClaims {
    JwtClaims {
        iss: iss.into(),
        aud: aud.into(),
        sub: "alice".into(),
        iat: now() - 10,
        exp,
    }
}

#[tokio::test]
async fn buyer_routes_refuse_missing_and_bad_tokens() {
    let app = TestApp::spawn().await;
    let other_key = LocalIssuer::generate(ISSUER, AUDIENCE).expect("issuer");
    let sign = |c: JwtClaims| app.issuer.sign(&c).expect("sign");
    let bad = [
        ("no header", None),
        ("not bearer", Some(format!("Basic {}", app.token("alice")))),
        ("empty bearer", Some("Bearer ".to_string())),
        ("garbage", Some("Bearer not.a.jwt".to_string())),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                sign(claims(ISSUER, AUDIENCE, now() - 120))
            )),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                sign(claims("https://evil.example", AUDIENCE, now() + 600))
            )),
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                sign(claims(ISSUER, "another-api", now() + 600))
            )),
        ),
        (
            "bad signature",
            Some(format!(
                "Bearer {}",
                other_key
                    .sign(&claims(ISSUER, AUDIENCE, now() + 600))
                    .expect("sign")
            )),
        ),
        ("admin token", Some(format!("Bearer {ADMIN_TOKEN}"))),
    ];
    for (what, header) in bad {
        let who = header.map_or(Who::Anonymous, Who::Raw);
        let r = app.call(Method::GET, "/v1/wallets", who).send().await;
        assert_eq!(r.status, 401, "{what}: {}", r.json);
        r.expect_error(401, "unauthenticated");
    }
    let expired = app
        .call(
            Method::GET,
            "/v1/wallets",
            Who::Raw(format!(
                "Bearer {}",
                sign(claims(ISSUER, AUDIENCE, now() - 120))
            )),
        )
        .send()
        .await;
    assert!(expired.json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("expired")));
    app.buyer("alice", Method::GET, "/v1/wallets")
        .send()
        .await
        .expect(200);
}

#[tokio::test]
async fn admin_routes_take_only_the_admin_token() {
    let app = TestApp::spawn().await;
    for who in [
        Who::Anonymous,
        Who::Buyer("alice".into()),
        Who::Raw("Bearer wrong-admin-token-0123456789".into()),
        Who::Raw(format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1])),
        Who::Raw(ADMIN_TOKEN.to_string()),
    ] {
        let r = app
            .call(Method::GET, "/admin/v1/events", who.clone())
            .send()
            .await;
        assert_eq!(r.status, 401, "{who:?}: {}", r.json);
        r.expect_error(401, "unauthenticated");
    }
    app.admin(Method::GET, "/admin/v1/events")
        .send()
        .await
        .expect(200);
}

/// An API Gateway HTTP API (v2) event, as Lambda receives it.
fn event(method: &str, path: &str, authorizer: Value, headers: Value) -> axum::http::Request<Body> {
    let e = json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1",
            "domainName": "api1.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "api1",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "apigw-request-1",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "01/Dec/2026:08:15:00 +0000",
            "timeEpoch": 1_796_112_900_000_i64,
            "authorizer": authorizer,
        },
        "isBase64Encoded": false,
    });
    let req = lambda_http::request::from_str(&e.to_string()).expect("API Gateway event");
    req.map(|b| Body::from(b.to_vec()))
}

#[tokio::test]
async fn lambda_mode_reads_identities_from_the_request_context_only() {
    let app = TestApp::with(Opts {
        api_gateway: true,
        ..Opts::default()
    })
    .await;
    let host = json!({"host": "api1.execute-api.eu-west-1.amazonaws.com"});
    let claims =
        json!({"jwt": {"claims": {"sub": "alice", "iss": "https://idp.example"}, "scopes": null}});
    let ok = send_to(
        app.app.clone(),
        event("GET", "/v1/wallets", claims.clone(), host.clone()),
    )
    .await;
    ok.expect(200);
    assert_eq!(ok.header("x-request-id"), Some("apigw-request-1"));

    // A perfectly valid local token in the header is never looked at.
    let with_header = json!({"host": "api1.execute-api.eu-west-1.amazonaws.com",
        "authorization": format!("Bearer {}", app.token("alice"))});
    let r = send_to(
        app.app.clone(),
        event("GET", "/v1/wallets", json!({}), with_header.clone()),
    )
    .await;
    r.expect_error(401, "unauthenticated");
    assert_eq!(r.json["error"]["requestId"], "apigw-request-1");

    // Admin routes need the IAM authorizer's identity; JWT claims are not enough.
    let iam = json!({"iam": {"accessKey": "AKIAEXAMPLE", "accountId": "123456789012",
        "callerId": "AIDAEXAMPLE", "userArn": "arn:aws:iam::123456789012:user/ops",
        "userId": "AIDAEXAMPLE", "cognitoIdentity": null, "principalOrgId": null}});
    send_to(
        app.app.clone(),
        event("GET", "/admin/v1/events", iam.clone(), host.clone()),
    )
    .await
    .expect(200);
    for authorizer in [claims.clone(), json!({})] {
        send_to(
            app.app.clone(),
            event("GET", "/admin/v1/events", authorizer, with_header.clone()),
        )
        .await
        .expect_error(401, "unauthenticated");
    }
    // And the buyer routes need JWT claims: an IAM identity is no buyer.
    send_to(
        app.app.clone(),
        event("GET", "/v1/wallets", iam, host.clone()),
    )
    .await
    .expect_error(401, "unauthenticated");
    // A plain request without any context (not through API Gateway) is refused too.
    app.buyer("alice", Method::GET, "/v1/wallets")
        .send()
        .await
        .expect_error(401, "unauthenticated");
}
