//! Signature verification over HTTP: the Node-SDK vectors verify as recorded, and every
//! tampering is rejected before anything is applied.

use crate::helpers::*;
use serde_json::{json, Value};

async fn wallet(sb: &savedwallet_sandbox::SandboxHandle) -> String {
    let cp = control_wallet(sb, json!({"region": "eu"})).await;
    cp["chargePermissionId"].as_str().expect("id").to_string()
}

fn charge_body(cp: &str) -> String {
    format!(
        r#"{{"chargePermissionId":"{cp}","chargeAmount":{{"amount":"14.99","currencyCode":"EUR"}},"chargeInitiator":"MITU"}}"#
    )
}

fn reason(v: &Value) -> &str {
    v["reasonCode"].as_str().unwrap_or("")
}

/// Sends a recorded vector byte-for-byte (its date is 2024, so the skew is opened wide).
async fn send_vector(
    sb: &savedwallet_sandbox::SandboxHandle,
    v: &Value,
    mutate: impl Fn(&mut Vec<(String, String)>, &mut String, &mut String, &mut String),
) -> (u16, Value) {
    let req = &v["request"];
    let mut method = req["method"].as_str().expect("m").to_string();
    let mut path = req["path"].as_str().expect("p").to_string();
    let query = req["rawQuery"].as_str().unwrap_or("").to_string();
    let mut body = req["body"].as_str().unwrap_or("").to_string();
    let mut headers: Vec<(String, String)> = req["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("v").to_string()))
        .collect();
    mutate(&mut headers, &mut method, &mut path, &mut body);
    let url = if query.is_empty() {
        format!("{}{}", sb.base_url(), path)
    } else {
        format!("{}{}?{}", sb.base_url(), path, query)
    };
    let mut rb = reqwest::Client::new().request(
        reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
        url,
    );
    for (n, v) in &headers {
        rb = rb.header(n.as_str(), v.as_str());
    }
    let resp = rb.body(body).send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn node_sdk_vectors_verify_and_mutations_are_rejected() {
    let vectors = vectors();
    let pem = public_pem();
    let mut b = savedwallet_sandbox::Sandbox::builder()
        .throttling(false)
        .max_clock_skew_secs(100 * 365 * 24 * 3600);
    for v in vectors["vectors"].as_array().expect("vectors") {
        b = b.public_key(
            v["config"]["publicKeyId"].as_str().expect("id"),
            pem.clone(),
        );
    }
    let sb = b
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox");
    for v in vectors["vectors"].as_array().expect("vectors") {
        let (status, body) = send_vector(&sb, v, |_, _, _, _| {}).await;
        // The vectors name objects that do not exist here: a verified request gets 404.
        assert_eq!(status, 404, "{}: {body}", v["name"]);
    }
    let v0 = &vectors["vectors"][0];
    type Mutation = Box<dyn Fn(&mut Vec<(String, String)>, &mut String, &mut String, &mut String)>;
    // Rewrites every (name, value) header pair of the vector.
    let each_header = |f: fn(&mut String, &mut String)| -> Mutation {
        Box::new(
            move |h: &mut Vec<(String, String)>, _: &mut String, _: &mut String, _: &mut String| {
                for (n, v) in h.iter_mut() {
                    f(n, v);
                }
            },
        )
    };
    let set = |name: &'static str, value: &'static str| -> Mutation {
        Box::new(
            move |h: &mut Vec<(String, String)>, _: &mut String, _: &mut String, _: &mut String| {
                for (n, v) in h.iter_mut() {
                    if n.eq_ignore_ascii_case(name) {
                        *v = value.to_string();
                    }
                }
            },
        )
    };
    let cases: Vec<(&str, Mutation, u16)> = vec![
        (
            "body amount",
            Box::new(
                |_: &mut Vec<(String, String)>, _: &mut String, _: &mut String, b: &mut String| {
                    *b = b.replace("14.99", "14.98")
                },
            ),
            403,
        ),
        (
            "body re-serialised",
            Box::new(
                |_: &mut Vec<(String, String)>, _: &mut String, _: &mut String, b: &mut String| {
                    *b = b.replacen(':', ": ", 1)
                },
            ),
            403,
        ),
        (
            "date +1 s",
            set("x-amz-pay-date", "2024-06-01T12:34:57Z"),
            403,
        ),
        (
            "idempotency key",
            set(
                "x-amz-pay-idempotency-key",
                "b5a9d4a0c3f94a5c8e2f1d7e6c5b4a38",
            ),
            403,
        ),
        (
            "trailing slash",
            Box::new(
                |_: &mut Vec<(String, String)>, _: &mut String, p: &mut String, _: &mut String| {
                    p.push('/')
                },
            ),
            403,
        ),
        (
            "method",
            Box::new(
                |_: &mut Vec<(String, String)>, m: &mut String, _: &mut String, _: &mut String| {
                    *m = "PUT".into()
                },
            ),
            403,
        ),
        ("host", set("x-amz-pay-host", "pay-api.amazon.com"), 403),
        (
            "unsigned extra header",
            Box::new(
                |h: &mut Vec<(String, String)>, _: &mut String, _: &mut String, _: &mut String| {
                    h.push(("x-amz-pay-simulation-code".into(), "HardDeclined".into()))
                },
            ),
            404,
        ),
        (
            "header name case",
            each_header(|n, _| {
                if n == "Accept" {
                    *n = "ACCEPT".into();
                }
            }),
            404,
        ),
        (
            "algorithm renamed to salt-20 variant",
            each_header(|n, v| {
                if n == "authorization" {
                    *v = v.replacen("AMZN-PAY-RSASSA-PSS-V2 ", "AMZN-PAY-RSASSA-PSS ", 1);
                }
            }),
            403,
        ),
    ];
    for (name, m, want) in cases {
        let (status, body) = send_vector(&sb, v0, m).await;
        assert_eq!(status, want, "{name}: {body}");
        if want == 403 {
            assert_eq!(reason(&body), "InvalidRequestSignature", "{name}");
        }
    }
}

#[tokio::test]
async fn hand_built_requests_are_verified_exactly() {
    let sb = start().await;
    let cp = wallet(&sb).await;
    let body = charge_body(&cp);

    // Control: a correct request is applied.
    let ok = RawRequest::new(&sb, "POST", "/v2/charges", &body);
    let (s, v) = ok.send(&sb).await;
    assert_eq!(s, 201, "{v}");
    // Salt 20 with the V1 name also verifies; both date formats verify.
    let mut v1 = RawRequest::new(&sb, "POST", "/v2/charges", &body);
    v1.alg_name = "AMZN-PAY-RSASSA-PSS".into();
    v1.salt = 20;
    assert_eq!(v1.send(&sb).await.0, 201);
    let mut ext = RawRequest::new(&sb, "GET", &format!("/v2/chargePermissions/{cp}"), "");
    ext.set_header(
        "x-amz-pay-date",
        &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    assert_eq!(ext.send(&sb).await.0, 200);
    // Header names in any case, an unsigned simulation code (PHP style).
    let mut upper = RawRequest::new(&sb, "GET", &format!("/v2/chargePermissions/{cp}"), "");
    upper.headers = upper
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_uppercase(), v.clone()))
        .collect();
    assert_eq!(upper.send(&sb).await.0, 200);
    let mut php = RawRequest::new(&sb, "POST", "/v2/charges", &body);
    let auth = php.authorization();
    php.headers
        .push(("x-amz-pay-simulation-code".into(), "SoftDeclined".into()));
    let (s, v) = php.send_with(&sb, &auth).await;
    assert_eq!((s, reason(&v)), (422, "SoftDeclined"));

    let before = sb.ledger()["charges"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    // What each rejected request must get: (status, reasonCode).
    type Expected = (u16, &'static str);
    const SIGNATURE: Expected = (403, "InvalidRequestSignature");
    let post = || RawRequest::new(&sb, "POST", "/v2/charges", &body);
    // A request signed as it is now, to be tampered with afterwards.
    let signed = || {
        let r = post();
        let auth = r.authorization();
        (r, auth)
    };
    // (case, request, authorization to send instead of its own, expected answer)
    let mut rejected: Vec<(&str, RawRequest, Option<String>, Expected)> = Vec::new();
    // Tampered body after signing.
    let (mut t, auth) = signed();
    t.body = t.body.replace("14.99", "1.99");
    rejected.push(("tampered body", t, Some(auth), SIGNATURE));
    // Tampered signed header.
    let (mut t, auth) = signed();
    t.set_header("x-amz-pay-region", "na");
    rejected.push(("tampered header", t, Some(auth), SIGNATURE));
    // Tampered path.
    let (mut t, auth) = signed();
    t.path = "/v2/refunds".into();
    rejected.push(("tampered path", t, Some(auth), SIGNATURE));
    // Wrong key: signed with the vector key, registered public key differs.
    let mut t = post();
    t.key_id = OTHER_KEY_ID.into();
    rejected.push(("wrong key", t, None, SIGNATURE));
    // Unknown key id.
    let mut t = post();
    t.key_id = "SANDBOX-NOSUCHKEY".into();
    rejected.push(("unknown key", t, None, SIGNATURE));
    // Wrong salt for the named algorithm, both ways.
    let mut t = post();
    t.salt = 20;
    rejected.push(("V2 with salt 20", t, None, SIGNATURE));
    let mut t = post();
    t.alg_name = "AMZN-PAY-RSASSA-PSS".into();
    rejected.push(("V1 with salt 32", t, None, SIGNATURE));
    // Stale date (1 hour; default skew 15 minutes).
    let mut t = post();
    t.set_header(
        "x-amz-pay-date",
        &(chrono::Utc::now() - chrono::Duration::hours(1))
            .format("%Y%m%dT%H%M%SZ")
            .to_string(),
    );
    rejected.push(("stale date", t, None, SIGNATURE));
    // Required header left unsigned.
    let mut t = post();
    t.signed.retain(|n| n != "x-amz-pay-date");
    rejected.push(("unsigned x-amz-pay-date", t, None, SIGNATURE));
    let mut t = post();
    t.signed.retain(|n| n != "x-amz-pay-host");
    rejected.push(("unsigned x-amz-pay-host", t, None, SIGNATURE));
    // Malformed headers get 400s.
    let t = post();
    rejected.push((
        "garbage authorization",
        t,
        Some("Bearer abc".into()),
        (400, "InvalidHeaderValue"),
    ));
    let t = post();
    rejected.push((
        "empty authorization",
        t,
        Some(" ".into()),
        (400, "MissingHeaderValue"),
    ));
    let mut t = post();
    t.set_header("x-amz-pay-date", "yesterday");
    rejected.push(("unparseable date", t, None, (400, "InvalidHeaderValue")));
    let (mut t, auth) = signed();
    t.headers.retain(|(n, _)| n != "x-amz-pay-region");
    rejected.push((
        "signed header missing",
        t,
        Some(auth),
        (400, "MissingHeaderValue"),
    ));

    for (name, req, auth, (status, code)) in rejected {
        let auth = auth.unwrap_or_else(|| req.authorization());
        let (s, v) = req.send_with(&sb, &auth).await;
        assert_eq!((s, reason(&v)), (status, code), "{name}: {v}");
    }
    // Missing authorization entirely.
    let resp = reqwest::Client::new()
        .post(format!("{}/v2/charges", sb.base_url()))
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(reason(&v), "MissingHeaderValue");
    // Nothing was applied by any rejected request.
    let after = sb.ledger()["charges"]
        .as_array()
        .map(|a| a.len())
        .unwrap_or(0);
    assert_eq!(before, after);
}
