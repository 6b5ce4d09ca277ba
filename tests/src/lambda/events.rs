//! The events the functions are invoked with — API Gateway HTTP API v2 requests (and
//! [`ApiReply`], their answers), EventBridge Scheduler events, SQS batches — and the calls
//! that invoke a function with one.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::Message;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use crate::runtime_api::{Bootstrap, InvocationError};

/// Who calls, as API Gateway's authorizers tell the function.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No authorizer context (a route without an authorizer, or a forged request).
    Anonymous,
    /// A buyer: the JWT authorizer's claims with this `sub`.
    Buyer(String),
    /// The merchant: the IAM authorizer's identity.
    Iam,
}

/// An API Gateway HTTP API (payload 2.0) event for `method path` (the route template is
/// `route`, e.g. `/v1/orders/{orderId}/pay`), with `body` as JSON.
pub fn api_event(
    method: &str,
    route: &str,
    path: &str,
    caller: &Caller,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> Value {
    let text = body.map(Value::to_string);
    api_event_raw(
        method,
        route,
        path,
        caller,
        text.as_deref().map(|t| ("application/json", t)),
        idempotency_key,
        &[],
    )
}

/// [`api_event`] with a raw body and its content type, and more headers.
pub fn api_event_raw(
    method: &str,
    route: &str,
    path: &str,
    caller: &Caller,
    body: Option<(&str, &str)>,
    idempotency_key: Option<&str>,
    extra_headers: &[(&str, &str)],
) -> Value {
    let now = Utc::now();
    let domain = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";
    let request_id = format!("{}=", &uuid::Uuid::new_v4().simple().to_string()[..15]);
    let mut headers = serde_json::Map::new();
    let mut h = |k: &str, v: &str| {
        headers.insert(k.to_string(), Value::from(v));
    };
    h("accept", "application/json");
    h("accept-encoding", "gzip, deflate, br");
    h("host", domain);
    h(
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) savedwallet-tests",
    );
    h(
        "x-amzn-trace-id",
        &format!(
            "Root=1-{:08x}-{}",
            now.timestamp(),
            &uuid::Uuid::new_v4().simple().to_string()[..24]
        ),
    );
    h("x-forwarded-for", "203.0.113.7");
    h("x-forwarded-port", "443");
    h("x-forwarded-proto", "https");
    if let Some((ct, b)) = body {
        h("content-type", ct);
        h("content-length", &b.len().to_string());
    }
    if let Some(k) = idempotency_key {
        h("idempotency-key", k);
    }
    if let Caller::Buyer(_) = caller {
        // API Gateway passes the token through; the functions never read it.
        h(
            "authorization",
            "Bearer eyJraWQiOiJ0ZXN0IiwiYWxnIjoiUlMyNTYifQ.e30.c2ln",
        );
    }
    for (k, v) in extra_headers {
        h(k, v);
    }
    let segments: Vec<&str> = route.split('/').collect();
    let actual: Vec<&str> = path.split('/').collect();
    let mut params = serde_json::Map::new();
    if segments.len() == actual.len() {
        for (t, a) in segments.iter().zip(&actual) {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                params.insert(name.to_string(), Value::from(*a));
            }
        }
    }
    let (raw_path, raw_query) = match path.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path, ""),
    };
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": domain,
        "domainPrefix": "a1b2c3d4e5",
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) savedwallet-tests",
        },
        "requestId": request_id,
        "routeKey": format!("{method} {route}"),
        "stage": "$default",
        "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "timeEpoch": now.timestamp_millis(),
    });
    match caller {
        Caller::Anonymous => {}
        Caller::Buyer(sub) => {
            let iat = now.timestamp();
            context["authorizer"] = json!({
                "jwt": {
                    "claims": {
                        "sub": sub,
                        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ex4mpl3",
                        "client_id": "4example0client0id0000000",
                        "token_use": "access",
                        "scope": "savedwallet/buyer",
                        "auth_time": iat.to_string(),
                        "iat": iat.to_string(),
                        "exp": (iat + 3600).to_string(),
                        "jti": uuid::Uuid::new_v4().to_string(),
                        "username": sub,
                    },
                    "scopes": null,
                }
            });
        }
        Caller::Iam => {
            context["authorizer"] = json!({
                "iam": {
                    "accessKey": "ASIAEXAMPLE0ACCESS0K",
                    "accountId": "123456789012",
                    "callerId": "AROAEXAMPLE0ROLE0ID00:merchant-backend",
                    "cognitoIdentity": null,
                    "principalOrgId": "o-example0org",
                    "userArn": "arn:aws:sts::123456789012:assumed-role/savedwallet-merchant/merchant-backend",
                    "userId": "AROAEXAMPLE0ROLE0ID00:merchant-backend",
                }
            });
        }
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !params.is_empty() {
        event["pathParameters"] = Value::Object(params);
    }
    if !raw_query.is_empty() {
        let q: serde_json::Map<String, Value> = url::form_urlencoded::parse(raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
        event["queryStringParameters"] = Value::Object(q);
    }
    if let Some((_, b)) = body {
        event["body"] = Value::from(b);
    }
    event
}

/// An HTTP answer of an API function (its API Gateway v2 response).
#[derive(Debug, Clone)]
pub struct ApiReply {
    /// Status.
    pub status: u16,
    /// Headers, lower case.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The raw response.
    pub raw: Value,
}

impl ApiReply {
    /// From the function's JSON answer.
    pub fn parse(raw: Value) -> ApiReply {
        let status = raw["statusCode"].as_u64().expect("a statusCode") as u16;
        let headers = raw["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        (
                            k.to_ascii_lowercase(),
                            v.as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let text = raw["body"].as_str().unwrap_or_default();
        let bytes = if raw["isBase64Encoded"] == true {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("a base64 body")
        } else {
            text.as_bytes().to_vec()
        };
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        ApiReply {
            status,
            headers,
            body,
            raw,
        }
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.raw);
        &self.body
    }

    /// Asserts an error answer of the API's shape with `code`; returns its `error`.
    #[track_caller]
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.raw);
        let e = &self.body["error"];
        assert_eq!(e["code"], code, "unexpected error: {:#}", self.raw);
        assert!(e["message"].is_string(), "no message: {:#}", self.raw);
        assert!(e["requestId"].is_string(), "no requestId: {:#}", self.raw);
        e
    }
}

/// Invokes an API function and reads its HTTP answer (an invocation error fails the test).
pub async fn call(f: &Bootstrap, event: Value) -> ApiReply {
    match f.invoke(event).await {
        Ok(v) => ApiReply::parse(v),
        Err(e) => panic!("{} failed: {e}\n{}", f.name(), f.output_tail(40)),
    }
}

/// Invokes a job function and returns its JSON answer (an invocation error fails the test).
pub async fn run_job(f: &Bootstrap, event: Value) -> Value {
    match f.invoke(event).await {
        Ok(v) => v,
        Err(e) => panic!("{} failed: {e}\n{}", f.name(), f.output_tail(40)),
    }
}

/// What an invocation error is, when the test expects one.
pub fn expect_failure(r: Result<Value, InvocationError>) -> InvocationError {
    match r {
        Ok(v) => panic!("expected the invocation to fail, it answered {v:#}"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------- other events

/// What EventBridge Scheduler sends a function on a schedule: the target's input, with its
/// context attributes filled in (the template's schedules pass these).
pub fn scheduler_event(schedule: &str) -> Value {
    json!({
        "scheduleArn": format!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/{schedule}"),
        "scheduledTime": Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "executionId": uuid::Uuid::new_v4().simple().to_string()[..16].to_string(),
        "attemptNumber": "1",
    })
}

/// The SQS event source mapping's event for received messages.
pub fn sqs_event(queue_arn: &str, messages: &[Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attrs: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_string(), Value::from(v.as_str())))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attrs,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}
