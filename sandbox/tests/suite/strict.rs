//! The simulator is as strict as Live: request values Amazon does not list, merchant URLs,
//! the Charge JSON of Amazon's page, checkout-session constraints. Hand-built requests
//! (`RawRequest`) send what the typed client may refuse to send.

use crate::helpers::*;
use savedwallet_sandbox::{ConversionFields, Knobs, MissingChargeInitiator};
use serde_json::{json, Value};

/// A Create Charge body for `cp` (EUR 14.99) with extra top-level fields.
fn body(cp: &str, extra: Value) -> String {
    let mut v = json!({
        "chargePermissionId": cp,
        "chargeAmount": {"amount": "14.99", "currencyCode": "EUR"},
    });
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v.to_string()
}

/// POST /v2/charges with `extra` → (status, reasonCode or "", body).
async fn create(
    sb: &savedwallet_sandbox::SandboxHandle,
    cp: &str,
    extra: Value,
) -> (u16, String, Value) {
    let (status, v) = RawRequest::new(sb, "POST", "/v2/charges", &body(cp, extra))
        .send(sb)
        .await;
    let reason = v["reasonCode"].as_str().unwrap_or("").to_string();
    (status, reason, v)
}

#[tokio::test]
async fn unknown_initiator_and_channel_are_rejected() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    for extra in [
        json!({"chargeInitiator": "CIT", "channel": "Web"}),
        json!({"chargeInitiator": "mitu", "channel": "Web"}),
        json!({"chargeInitiator": "MITU", "channel": "Kiosk"}),
        // .NET lists `Amazon`; Amazon's Saved Wallet page does not.
        json!({"chargeInitiator": "MITU", "channel": "Amazon"}),
    ] {
        let (status, reason, v) = create(&sb, &cp, extra.clone()).await;
        assert_eq!(
            (status, reason.as_str()),
            (400, "InvalidParameterValue"),
            "{extra}: {v}"
        );
    }
    assert!(
        sb.ledger()["charges"]
            .as_array()
            .is_some_and(|a| a.is_empty()),
        "nothing was charged"
    );
    // Every value the page lists is accepted, the Fire TV channel in both spellings.
    let channels = [
        "Web",
        "Phone",
        "App",
        "Alexa",
        "PointOfSale",
        "Firetv",
        "FireTv",
        "Offline",
    ];
    let initiators = ["CITU", "MITU", "CITR", "MITR"];
    let pairs = channels
        .iter()
        .map(|c| ("MITU", *c))
        .chain(initiators.iter().map(|i| (*i, "Web")));
    for (initiator, channel) in pairs {
        let extra = json!({"chargeInitiator": initiator, "channel": channel});
        let (status, _, v) = create(&sb, &cp, extra).await;
        assert_eq!(status, 201, "{initiator} {channel}: {v}");
        assert_eq!(v["chargeInitiator"], initiator);
        assert_eq!(
            v["channel"].as_str().map(str::to_ascii_lowercase),
            Some(channel.to_ascii_lowercase())
        );
    }
}

#[tokio::test]
async fn a_missing_initiator_is_refused_unless_the_knob_treats_it_as_citu() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    // Default: a Saved Wallet charge must say who initiated it.
    let (status, reason, _) = create(&sb, &cp, json!({})).await;
    assert_eq!((status, reason.as_str()), (400, "MissingParameterValue"));
    // Other position: handled as CITU, so an EU mfa-required wallet asks for MFA.
    sb.set_knobs(Knobs {
        missing_charge_initiator: MissingChargeInitiator::TreatAsCitu,
        ..Default::default()
    })
    .expect("knobs");
    let (status, _, v) = create(&sb, &cp, json!({})).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["chargeInitiator"], "CITU");
    let mfa = wallet(&sb, "mfa-required").await;
    let url = json!({"webCheckoutDetails": {"checkoutResultReturnUrl": "http://localhost:9/r"}});
    let (status, _, v) = create(&sb, &mfa, url).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["statusDetails"]["state"], "ActionRequired");
}

#[tokio::test]
async fn return_urls_are_https_except_loopback_in_sandbox() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    let with_url = |u: &str| json!({"chargeInitiator": "CITU", "webCheckoutDetails": {"checkoutResultReturnUrl": u}});
    let long = format!("https://merchant.example/{}", "a".repeat(1000));
    for bad in [
        "http://merchant.example/return",
        "http://192.168.1.10/return",
        "http://localhost.merchant.example/return",
        "javascript:alert(1)",
        long.as_str(),
    ] {
        let (status, reason, v) = create(&sb, &cp, with_url(bad)).await;
        assert_eq!(
            (status, reason.as_str()),
            (400, "InvalidParameterValue"),
            "{bad}: {v}"
        );
    }
    for good in [
        "https://merchant.example/return",
        "http://localhost:3000/return",
        "http://127.0.0.1:3000/return",
        "http://[::1]:3000/return",
    ] {
        let (status, _, v) = create(&sb, &cp, with_url(good)).await;
        assert_eq!(status, 201, "{good}: {v}");
    }
    // Every checkout-session URL follows the same rule (SPEC §16), on create and update.
    let c = client(&sb);
    for field in [
        "checkoutResultReturnUrl",
        "checkoutReviewReturnUrl",
        "checkoutCancelUrl",
    ] {
        let mut req = serde_json::to_value(setup_request()).expect("json");
        req["webCheckoutDetails"][field] = json!("http://merchant.example/x");
        let raw = RawRequest::new(&sb, "POST", "/v2/checkoutSessions", &req.to_string());
        assert_eq!(
            raw.outcome(&sb).await,
            (400, "InvalidParameterValue".into()),
            "{field}"
        );
        let sid = new_session(&c, &setup_request()).await;
        let patch = json!({"webCheckoutDetails": {field: "http://merchant.example/x"}});
        let raw = RawRequest::new(
            &sb,
            "PATCH",
            &format!("/v2/checkoutSessions/{sid}"),
            &patch.to_string(),
        );
        assert_eq!(
            raw.outcome(&sb).await,
            (400, "InvalidParameterValue".into()),
            "update {field}"
        );
    }
    // Live: https only, even for localhost.
    let live = control_wallet(&sb, json!({"environment": "Live", "region": "eu"})).await;
    let live_id = live["chargePermissionId"].as_str().expect("id");
    let mut raw = RawRequest::new(
        &sb,
        "POST",
        "/live/v2/charges",
        &body(live_id, with_url("http://localhost:3000/return")),
    );
    raw.key_id = LEGACY_KEY_ID.into();
    assert_eq!(
        raw.outcome(&sb).await,
        (400, "InvalidParameterValue".into())
    );
}

#[tokio::test]
async fn charge_json_is_the_one_on_amazons_page() {
    let sb = start().await;
    let cp = wallet(&sb, "always-approve").await;
    let (status, _, created) = create(
        &sb,
        &cp,
        json!({"chargeInitiator": "CITU", "channel": "Web", "captureNow": true, "softDescriptor": "Descriptor"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let get = RawRequest::new(
        &sb,
        "GET",
        &format!("/v2/charges/{}", created["chargeId"].as_str().expect("id")),
        "",
    );
    let (_, v) = get.send(&sb).await;
    for doc in [&created, &v] {
        assert_eq!(doc["convertedAmount"], "14.99");
        assert_eq!(doc["conversionRate"], "1.00");
        assert_eq!(
            doc["providerMetadata"],
            json!({"providerReferenceId": null})
        );
        assert_eq!(doc["merchantMetadata"], Value::Null);
        assert_eq!(doc["softDescriptor"], "Descriptor");
        assert_eq!(
            doc["captureAmount"],
            json!({"amount": "14.99", "currencyCode": "EUR"})
        );
        assert_eq!(
            doc["refundedAmount"],
            json!({"amount": "0.00", "currencyCode": "EUR"})
        );
        assert_eq!(doc["statusDetails"]["reasonCode"], Value::Null);
        // The authorization lives 30 days (SPEC §16; the page's +24 h is an example).
        let ts = |k: &str| {
            chrono::NaiveDateTime::parse_from_str(doc[k].as_str().expect(k), "%Y%m%dT%H%M%SZ")
                .expect("basic timestamp")
        };
        assert_eq!(
            ts("expirationTimestamp") - ts("creationTimestamp"),
            chrono::Duration::days(30)
        );
    }
    // A PSP reference is echoed.
    let (_, _, psp) = create(
        &sb,
        &cp,
        json!({"chargeInitiator": "MITU", "providerMetadata": {"providerReferenceId": "psp-1"}}),
    )
    .await;
    assert_eq!(
        psp["providerMetadata"],
        json!({"providerReferenceId": "psp-1"})
    );
    // Other position: both null, as in a recorded sandbox response.
    sb.set_knobs(Knobs {
        conversion_fields: ConversionFields::Null,
        ..Default::default()
    })
    .expect("knobs");
    let (_, _, v) = create(&sb, &cp, json!({"chargeInitiator": "MITU"})).await;
    assert_eq!(v["convertedAmount"], Value::Null);
    assert_eq!(v["conversionRate"], Value::Null);
    assert!(v
        .as_object()
        .is_some_and(|o| o.contains_key("convertedAmount")));
}

/// The constraint ids of a session JSON.
fn constraint_ids(s: &Value) -> Vec<String> {
    s["constraints"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["constraintId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn checkout_constraints_use_the_ids_real_responses_show() {
    let sb = start().await;
    let bare = json!({
        "webCheckoutDetails": {"checkoutReviewReturnUrl": "https://merchant.example/review"},
        "storeId": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
        "chargePermissionType": "PaymentMethodOnFile",
    });
    let (status, s) = RawRequest::new(&sb, "POST", "/v2/checkoutSessions", &bare.to_string())
        .send(&sb)
        .await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(
        constraint_ids(&s),
        [
            "CheckoutResultReturnUrlNotSet",
            "PaymentIntentNotSet",
            "BuyerNotAssociated"
        ]
    );
    assert!(s["webCheckoutDetails"]
        .get("amazonPayRedirectUrl")
        .is_none());
    let sid = s["checkoutSessionId"].as_str().expect("id").to_string();
    let path = format!("/v2/checkoutSessions/{sid}");
    // An authorizing intent without an amount.
    let patch = json!({
        "webCheckoutDetails": {"checkoutResultReturnUrl": "https://merchant.example/result"},
        "paymentDetails": {"paymentIntent": "Authorize"},
    });
    let (_, s) = RawRequest::new(&sb, "PATCH", &path, &patch.to_string())
        .send(&sb)
        .await;
    assert_eq!(
        constraint_ids(&s),
        ["ChargeAmountNotSet", "BuyerNotAssociated"]
    );
    let patch = json!({"paymentDetails": {"paymentIntent": "Authorize", "chargeAmount": {"amount": "5.00", "currencyCode": "EUR"}}});
    let (_, s) = RawRequest::new(&sb, "PATCH", &path, &patch.to_string())
        .send(&sb)
        .await;
    // Only the buyer is missing; that does not withhold the page where the buyer signs in.
    assert_eq!(constraint_ids(&s), ["BuyerNotAssociated"]);
    let redirect = s["webCheckoutDetails"]["amazonPayRedirectUrl"]
        .as_str()
        .expect("redirect");
    submit_page(
        redirect,
        &[("action", "consent"), ("preset", "always-approve")],
    )
    .await;
    let (_, s) = RawRequest::new(&sb, "GET", &path, "").send(&sb).await;
    assert!(constraint_ids(&s).is_empty(), "{s}");
}

#[tokio::test]
async fn checkout_session_canceled_status_is_a_knob() {
    let sb = start().await;
    let c = client(&sb);
    let sid = setup_session(&sb).await;
    let e = simulating(&c, "BuyerCanceled")
        .complete_checkout_session(&sid, &Default::default(), &key())
        .await;
    assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
    // A second completion of the canceled session answers the same way.
    let e = c
        .complete_checkout_session(&sid, &Default::default(), &key())
        .await;
    assert_eq!(api_err(e), (422, "CheckoutSessionCanceled".into()));
    sb.set_knobs(Knobs {
        checkout_session_canceled_status: 400,
        ..Default::default()
    })
    .expect("knobs");
    let e = c
        .complete_checkout_session(&sid, &Default::default(), &key())
        .await;
    assert_eq!(api_err(e), (400, "CheckoutSessionCanceled".into()));
    assert!(sb
        .set_knobs(Knobs {
            checkout_session_canceled_status: 409,
            ..Default::default()
        })
        .is_err_and(|e| e.to_string().contains("400 or 422")));
}
