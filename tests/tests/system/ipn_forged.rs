//! Forged IPNs. Real signed envelopes are taken from a second endpoint subscribed at the
//! sandbox (a capture server), then mutated copies are POSTed to the API's `/ipn`: a bad
//! signature, a changed Message, a replay of one already processed (200, nothing
//! changes), a topic off the allow list, a SignatureVersion below the topic's minimum,
//! and certificate / SubscribeURL attacks pointing at a local listener that counts
//! connections — refused with the verifier's code before anything is fetched.

use savedwallet_tests::{
    message_of, ConnectionCounter, IpnCapture, Preset, Reply, SignatureVersion, System,
};
use serde_json::{json, Value};

/// An authorized order: its charge's IPN reaches `/ipn` and the capture server. Returns
/// the capture, the payment id and the Notification envelope of the charge.
async fn one_processed_notification(sys: &System, version: &str) -> (IpnCapture, String, Value) {
    let capture = sys.capture_ipns(version).await;
    let token = sys.token("cust_forge").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let order = sys.order("cust_forge", "10.00", false).await;
    let paid = sys.pay(&token, &order, &wallet).await;
    assert_eq!(paid.ok(201)["status"], "authorized");
    let pid = paid.body["paymentId"].as_str().expect("id").to_string();
    let charge = paid.body["chargeId"]
        .as_str()
        .expect("chargeId")
        .to_string();
    sys.jobs().await;
    let envelopes = capture.notifications_about(&charge);
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    (capture, pid, envelopes[0].clone())
}

fn with(envelope: &Value, field: &str, value: Value) -> String {
    let mut e = envelope.clone();
    e[field] = value;
    e.to_string()
}

fn refused(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.body["error"]["code"].as_str()),
        (status, Some(code)),
        "{what}: {:#}",
        r.body
    );
}

/// What must not move when a forged envelope is refused.
async fn snapshot(sys: &System, pid: &str) -> (u64, Value, Value, usize) {
    (
        sys.store_writes(),
        sys.ledger().await["apiCalls"].clone(),
        sys.admin_payment(pid).await,
        sys.events().await.len(),
    )
}

#[tokio::test]
async fn mutated_copies_of_real_envelopes_are_refused_and_a_replay_changes_nothing() {
    let sys = System::start().await;
    let (_capture, pid, real) = one_processed_notification(&sys, "1").await;
    assert_eq!(real["SignatureVersion"], "1");
    let before = snapshot(&sys, &pid).await;

    // The envelope as SNS sent it, again: a duplicate, answered 200, nothing fetched.
    let replay = sys.post_ipn(real.to_string()).await;
    assert_eq!(replay.ok(200)["outcome"], "duplicate");
    let after = snapshot(&sys, &pid).await;
    assert_eq!(after.1, before.1, "no Amazon call");
    assert_eq!(after.2, before.2, "the payment is unchanged");
    assert_eq!(after.3, before.3, "no event");
    let writes = sys.store_writes();

    let mut message = message_of(&real);
    message["NotificationId"] = json!("0123456789abcdef0123456789abcdef");
    let signature = real["Signature"].as_str().expect("Signature").to_string();
    let mut flipped: Vec<char> = signature.chars().collect();
    flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "a flipped signature",
            with(&real, "Signature", json!(flipped)),
            403,
            "bad_signature",
        ),
        (
            "a signature that is not base64",
            with(&real, "Signature", json!("not base64!")),
            403,
            "bad_signature",
        ),
        (
            "an empty signature",
            with(&real, "Signature", json!("")),
            403,
            "bad_signature",
        ),
        (
            "a new NotificationId in the Message",
            with(&real, "Message", json!(message.to_string())),
            403,
            "bad_signature",
        ),
        (
            "another MessageId",
            with(
                &real,
                "MessageId",
                json!("00000000-0000-4000-8000-000000000000"),
            ),
            403,
            "bad_signature",
        ),
        (
            "a signed v1 envelope claiming v2",
            with(&real, "SignatureVersion", json!("2")),
            403,
            "bad_signature",
        ),
        (
            "a topic off the allow list",
            with(
                &real,
                "TopicArn",
                json!("arn:aws:sns:us-east-1:123456789012:amazon-pay-sandbox"),
            ),
            403,
            "topic_not_allowed",
        ),
        (
            "an unknown SignatureVersion",
            with(&real, "SignatureVersion", json!("3")),
            400,
            "unsupported_signature_version",
        ),
        (
            "an unknown Type",
            with(&real, "Type", json!("Advertisement")),
            400,
            "unknown_type",
        ),
        ("not JSON", "{\"Type\": ".to_string(), 400, "malformed"),
    ];
    for (what, body, status, code) in cases {
        let r = sys.post_ipn(body).await;
        refused(&r, status, code, what);
    }
    let after = snapshot(&sys, &pid).await;
    assert_eq!(sys.store_writes(), writes, "refusals write nothing");
    assert_eq!(after.1, before.1, "no Amazon call");
    assert_eq!(after.2, before.2);
    assert_eq!(after.3, before.3);
}

#[tokio::test]
async fn certificate_and_subscribe_url_attacks_fetch_nothing() {
    let sys = System::start().await;
    let (capture, pid, real) = one_processed_notification(&sys, "1").await;
    let counter = ConnectionCounter::start().await;
    let port = counter.port();
    let genuine = real["SigningCertURL"].as_str().expect("url").to_string();
    let pem = genuine.rsplit('/').next().expect("file").to_string();
    let before = snapshot(&sys, &pid).await;

    let cert_urls: Vec<(String, &str)> = vec![
        (
            format!("http://127.0.0.1:{port}/_sandbox/sns/{pem}"),
            "cert_url_not_https",
        ),
        (
            format!("http://[::1]:{port}/_sandbox/sns/{pem}"),
            "cert_url_not_https",
        ),
        (format!("file:///_sandbox/sns/{pem}"), "cert_url_not_https"),
        (
            format!("https://sns.us-east-1.amazonaws.com.evil.example/{pem}"),
            "cert_url_host",
        ),
        (
            format!("https://evil-sns.us-east-1.amazonaws.com/{pem}"),
            "cert_url_host",
        ),
        (format!("https://localhost/{pem}"), "cert_url_host"),
        (format!("https://127.0.0.1/{pem}"), "cert_url_host"),
        (format!("https://evil.example/{pem}"), "cert_url_host"),
        (
            format!("https://user@sns.us-east-1.amazonaws.com/{pem}"),
            "cert_url_userinfo",
        ),
        (
            format!("https://sns.us-east-1.amazonaws.com@127.0.0.1:{port}/{pem}"),
            "cert_url_userinfo",
        ),
        (
            format!("https://sns.us-east-1.amazonaws.com:443/{pem}"),
            "cert_url_port",
        ),
        (
            format!("https://sns.us-east-1.amazonaws.com:{port}/{pem}"),
            "cert_url_port",
        ),
        (format!("https://127.0.0.1:{port}/{pem}"), "cert_url_port"),
        (
            format!("https://SNS.us-east-1.amazonaws.com/{pem}"),
            "cert_url_not_canonical",
        ),
        (
            "https://sns.us-east-1.amazonaws.com/cert.txt".to_string(),
            "cert_url_path",
        ),
        (
            format!("https://sns.us-east-1.amazonaws.com/{pem}?x=1"),
            "cert_url_query",
        ),
        ("not a url".to_string(), "cert_url_unparseable"),
    ];
    for (url, code) in &cert_urls {
        let r = sys
            .post_ipn(with(&real, "SigningCertURL", json!(url)))
            .await;
        refused(&r, 403, code, url);
    }

    // A SubscriptionConfirmation the capture server got, with its SubscribeURL moved.
    let confirmations = capture.of_type("SubscriptionConfirmation");
    assert_eq!(confirmations.len(), 1);
    let confirmation = &confirmations[0];
    let subscribe = confirmation["SubscribeURL"].as_str().expect("url");
    let query = subscribe.split_once('?').expect("a query").1.to_string();
    let subscribe_urls: Vec<(String, &str)> = vec![
        (
            format!("http://127.0.0.1:{port}/_sandbox/sns/confirm?{query}"),
            "subscribe_url_not_https",
        ),
        (
            format!("https://sns.us-east-1.amazonaws.com.evil.example/?{query}"),
            "subscribe_url_host",
        ),
        (
            format!("https://sns.us-east-1.amazonaws.com:{port}/?{query}"),
            "subscribe_url_port",
        ),
        (
            format!("https://x@sns.us-east-1.amazonaws.com/?{query}"),
            "subscribe_url_userinfo",
        ),
        (
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe".to_string(),
            "subscribe_url_confirm_query",
        ),
    ];
    for (url, code) in &subscribe_urls {
        let r = sys
            .post_ipn(with(confirmation, "SubscribeURL", json!(url)))
            .await;
        refused(&r, 403, code, url);
    }

    assert_eq!(
        counter.connections(),
        0,
        "nothing was fetched from where the forgeries pointed"
    );
    let after = snapshot(&sys, &pid).await;
    assert_eq!(after, before, "nothing written, fetched or changed");
}

#[tokio::test]
async fn a_signature_version_below_the_topics_minimum_is_refused() {
    // The sandbox's topic is allowed from SignatureVersion 2 on; the stack's own
    // subscription is signed with 2, a second one with 1.
    let sys = System::start_with(|o| {
        o.sns_allowed_topics = vec![(
            savedwallet_sandbox::ipn::DEFAULT_TOPIC_ARN.to_string(),
            SignatureVersion::V2,
        )];
        o.ipn_signature_version = SignatureVersion::V2;
    })
    .await;
    let v2 = sys.capture_ipns("2").await;
    let (_v1, pid, v1_envelope) = one_processed_notification(&sys, "1").await;
    assert_eq!(v1_envelope["SignatureVersion"], "1");
    // The stack's v2 delivery was applied: the charge's IPN was fetched.
    assert_eq!(sys.admin_payment(&pid).await["status"], "authorized");
    let before = snapshot(&sys, &pid).await;

    let r = sys.post_ipn(v1_envelope.to_string()).await;
    refused(&r, 403, "signature_version_below_minimum", "a v1 envelope");
    // The same notification signed with v2 is accepted (and is a duplicate by now).
    let charge = message_of(&v1_envelope)["ObjectId"]
        .as_str()
        .expect("ObjectId")
        .to_string();
    let same = v2.notifications_about(&charge);
    assert_eq!(same.len(), 1);
    assert_eq!(same[0]["SignatureVersion"], "2");
    assert_eq!(
        sys.post_ipn(same[0].to_string()).await.ok(200)["outcome"],
        "duplicate"
    );
    let after = snapshot(&sys, &pid).await;
    assert_eq!(after.1, before.1);
    assert_eq!(after.2, before.2);
}

#[tokio::test]
async fn genuine_envelopes_of_a_topic_off_the_allow_list_are_not_believed() {
    // `/ipn` allows another topic only: the sandbox's own, properly signed deliveries
    // (its SubscriptionConfirmation included) are refused.
    let sys = System::start_with(|o| {
        o.sns_allowed_topics = vec![(
            "arn:aws:sns:eu-west-1:123456789012:amazon-pay-ipn".to_string(),
            SignatureVersion::V1,
        )];
        o.require_ipn_confirmation = false;
    })
    .await;
    let token = sys.token("cust_topic").await;
    let wallet = sys.wallet_id(&token, Preset::AlwaysApprove).await;
    let page = sys.get_wallet(&token, &wallet).await["paymentMethodUpdateUrl"]
        .as_str()
        .expect("url")
        .to_string();
    sys.buyer.close_wallet(&page).await.expect("account page");
    let gets = sys.amazon_calls("GetChargePermission").await;
    sys.jobs().await;

    let deliveries: Vec<Value> = sys.ledger().await["ipnDeliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = deliveries
        .iter()
        .filter_map(|d| d["messageType"].as_str())
        .collect();
    assert_eq!(kinds, ["SubscriptionConfirmation", "Notification"]);
    for d in &deliveries {
        assert_eq!(d["status"]["status"], "rejected", "{d:#}");
        assert_eq!(d["status"]["httpStatus"], 403);
    }
    let subs = sys
        .http
        .get(format!("{}/ipn-endpoints", sys.control()))
        .send()
        .await
        .expect("endpoints")
        .json::<Value>()
        .await
        .expect("json");
    assert!(
        subs.to_string().contains("\"confirmed\":false"),
        "never confirmed: {subs:#}"
    );
    // Nothing believed: the wallet is as it was, Amazon not asked about it.
    assert_eq!(sys.get_wallet(&token, &wallet).await["state"], "Chargeable");
    assert_eq!(sys.amazon_calls("GetChargePermission").await, gets);
}
