//! Unit tests of `api::objects`.
use super::*;

/// The seed's own Create Charge responses parse (including the bare-string
/// convertedAmount and the MFA webCheckoutDetails).
#[test]
fn seed_charge_examples_parse() {
    let captured = r#"{
      "chargeId": "P21-1111111-1111111-C111111",
      "chargePermissionId": "P21-1111111-1111111",
      "chargeInitiator":"CITU", "channel":"Web",
      "chargeAmount": {"amount": "14.00", "currencyCode": "USD"},
      "captureAmount": {"amount": "14.00", "currencyCode": "USD"},
      "refundedAmount": {"amount": "0.00", "currencyCode": "USD"},
      "convertedAmount": "14.00", "conversionRate": "1.00",
      "softDescriptor": "Descriptor", "merchantMetadata": null,
      "providerMetadata": {"providerReferenceId": null},
      "statusDetails":{"state": "Captured", "reasonCode": null, "reasonDescription": null,
                       "lastUpdatedTimestamp": "20190714T155300Z"},
      "creationTimestamp": "20190714T155300Z", "expirationTimestamp": "20190715T155300Z",
      "releaseEnvironment": "Sandbox"}"#;
    let c: Charge = serde_json::from_str(captured).unwrap();
    assert_eq!(c.status_details.state, ChargeState::Captured);
    assert_eq!(
        c.converted_amount,
        Some(PriceOrAmount::Amount("14.00".into()))
    );
    assert_eq!(c.charge_initiator, Some(ChargeInitiator::Citu));

    let mfa = captured
        .replace(r#""state": "Captured", "reasonCode": null, "reasonDescription": null"#,
            r#""state": "ActionRequired", "reasonCode": "BuyerActionRequired", "reasonDescription": "Charge requires buyer action to proceed.""#)
        .replace(r#""releaseEnvironment": "Sandbox""#,
            r#""releaseEnvironment": "Sandbox", "webCheckoutDetails": {"checkoutResultReturnUrl": "https://m.example/r", "amazonPayRedirectUrl": "https://pay.example/mfa"}"#);
    let c: Charge = serde_json::from_str(&mfa).unwrap();
    assert_eq!(c.status_details.state, ChargeState::ActionRequired);
    assert_eq!(
        c.status_details.reason_code,
        Some(ReasonCode::BuyerActionRequired)
    );
    assert_eq!(
        c.web_checkout_details
            .unwrap()
            .amazon_pay_redirect_url
            .as_deref(),
        Some("https://pay.example/mfa")
    );
}

#[test]
fn charge_permission_reasons_accept_null_and_list() {
    let j = r#"{"chargePermissionId":"S01-1234567-1234567","statusDetails":{"state":"NonChargeable","reasons":[{"reasonCode":"PaymentMethodExpired","reasonDescription":"x"}],"lastUpdatedTimestamp":"20240101T000000Z"}}"#;
    let cp: ChargePermission = serde_json::from_str(j).unwrap();
    assert_eq!(
        cp.status_details.reasons[0].reason_code,
        ReasonCode::PaymentMethodExpired
    );
    let j = r#"{"chargePermissionId":"S01-1234567-1234567","statusDetails":{"state":"Chargeable","reasons":null}}"#;
    let cp: ChargePermission = serde_json::from_str(j).unwrap();
    assert!(cp.status_details.reasons.is_empty());
}

#[test]
fn buyer_canceled_means_buyer_closed_only_on_a_closed_permission() {
    let closed = r#"{"chargePermissionId":"S01-1234567-1234567","statusDetails":{"state":"Closed","reasons":[{"reasonCode":"BuyerCanceled"}]}}"#;
    let cp: ChargePermission = serde_json::from_str(closed).unwrap();
    assert_eq!(cp.status_details.reason_codes(), [ReasonCode::BuyerClosed]);
    // The wire spelling is kept (a simulator writes back what it was told).
    assert_eq!(
        cp.status_details.reasons[0].reason_code,
        ReasonCode::BuyerCanceled
    );
    let newer = closed.replace("BuyerCanceled", "BuyerClosed");
    let cp: ChargePermission = serde_json::from_str(&newer).unwrap();
    assert_eq!(cp.status_details.reason_codes(), [ReasonCode::BuyerClosed]);
    // Elsewhere BuyerCanceled stays what it is: the buyer left the page.
    for state in [
        ChargePermissionState::NonChargeable,
        ChargePermissionState::Chargeable,
    ] {
        assert_eq!(
            permission_reason(&state, ReasonCode::BuyerCanceled),
            ReasonCode::BuyerCanceled
        );
    }
    let session = r#"{"checkoutSessionId":"bd504926-f659-4ad7-a1a9-9a747aaf5275","statusDetails":{"state":"Canceled","reasonCode":"BuyerCanceled"}}"#;
    let cs: CheckoutSession = serde_json::from_str(session).unwrap();
    assert_eq!(
        cs.status_details.reason_code,
        Some(ReasonCode::BuyerCanceled)
    );
}

#[test]
fn debug_never_shows_buyer_pii() {
    let j = r#"{"chargePermissionId":"S01-1234567-1234567","statusDetails":{"state":"Chargeable"},
        "buyer":{"buyerId":"amzn1.account.B1","name":"Jane Buyer","email":"jane@example.com","phoneNumber":"+49301234"},
        "shippingAddress":{"name":"Jane Buyer","addressLine1":"1 Secret Lane","city":"Berlin","postalCode":"10115","countryCode":"DE"}}"#;
    let cp: ChargePermission = serde_json::from_str(j).unwrap();
    assert_eq!(
        cp.buyer.as_ref().and_then(|b| b.email.as_deref()),
        Some("jane@example.com")
    );
    let debug = format!("{cp:?}");
    for pii in [
        "Jane",
        "jane@example.com",
        "+49301234",
        "Secret Lane",
        "Berlin",
        "10115",
    ] {
        assert!(!debug.contains(pii), "{pii} leaked: {debug}");
    }
    assert!(debug.contains("amzn1.account.B1"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
}
