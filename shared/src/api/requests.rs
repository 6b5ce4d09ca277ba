//! Amazon Pay v2 request bodies. Optional fields are omitted when unset (Amazon rejects
//! unknown fields, and we never send nulls); unknown fields are refused on parse so the
//! sandbox can answer `UnrecognizedField`.

use serde::{Deserialize, Serialize};

use super::enums::*;
use super::objects::{
    MerchantMetadata, PaymentDetails, PaymentMethodOnFileMetadata, ProviderMetadata,
    RecurringMetadata, WebCheckoutDetails,
};
use crate::money::Price;

/// Create Charge body (SPEC §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateChargeRequest {
    /// The Saved Wallet permission.
    pub charge_permission_id: String,
    /// Amount; from the merchant's own records, never from the browser.
    pub charge_amount: Price,
    /// Capture in the same step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_now: Option<bool>,
    /// ≤16 chars; only with captureNow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_descriptor: Option<String>,
    /// Async authorization allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_handle_pending_authorization: Option<bool>,
    /// CITU/MITU/CITR/MITR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_initiator: Option<ChargeInitiator>,
    /// Web/App/…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// Merchant details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// PSP details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_metadata: Option<ProviderMetadata>,
    /// Solution provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// `checkoutResultReturnUrl` for the MFA case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_checkout_details: Option<WebCheckoutDetails>,
}

impl CreateChargeRequest {
    /// A request with only the required fields set.
    pub fn new(charge_permission_id: impl Into<String>, charge_amount: Price) -> Self {
        CreateChargeRequest {
            charge_permission_id: charge_permission_id.into(),
            charge_amount,
            capture_now: None,
            soft_descriptor: None,
            can_handle_pending_authorization: None,
            charge_initiator: None,
            channel: None,
            merchant_metadata: None,
            provider_metadata: None,
            platform_id: None,
            web_checkout_details: None,
        }
    }
}

/// Capture Charge body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureChargeRequest {
    /// Amount to capture.
    pub capture_amount: Price,
    /// ≤16 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_descriptor: Option<String>,
}

/// Cancel Charge body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelChargeRequest {
    /// Why (≤255).
    pub cancellation_reason: String,
}

/// Close Charge Permission body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloseChargePermissionRequest {
    /// Why (≤255).
    pub closure_reason: String,
    /// Cancel charges still AuthorizationInitiated/Authorized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_pending_charges: Option<bool>,
}

/// Update Charge Permission body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateChargePermissionRequest {
    /// Merchant details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// Recurring details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_metadata: Option<RecurringMetadata>,
}

/// Create Checkout Session body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCheckoutSessionRequest {
    /// Return URLs (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_checkout_details: Option<WebCheckoutDetails>,
    /// Store id (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    /// Buyer data scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// `PaymentMethodOnFile` for Saved Wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_permission_type: Option<ChargePermissionType>,
    /// `setupOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_on_file_metadata: Option<PaymentMethodOnFileMetadata>,
    /// Recurring details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_metadata: Option<RecurringMetadata>,
    /// Payment details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_details: Option<PaymentDetails>,
    /// Merchant details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// Solution provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// PSP details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_metadata: Option<ProviderMetadata>,
    /// Delivery specifications (opaque here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_specifications: Option<serde_json::Value>,
    /// Address details (opaque here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_details: Option<serde_json::Value>,
    /// Existing Saved Wallet permission (hosted Update page, SPEC §11.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_permission_id: Option<String>,
}

/// Update Checkout Session body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCheckoutSessionRequest {
    /// Return URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_checkout_details: Option<WebCheckoutDetails>,
    /// Payment details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_details: Option<PaymentDetails>,
    /// Merchant details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// Solution provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// PSP details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_metadata: Option<ProviderMetadata>,
    /// Permission type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_permission_type: Option<ChargePermissionType>,
    /// Recurring details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_metadata: Option<RecurringMetadata>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplementary_data: Option<String>,
}

/// Complete Checkout Session body (`{}` for setup-only Saved Wallet sessions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteCheckoutSessionRequest {
    /// Must equal the session's amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_amount: Option<Price>,
    /// Must be sent if the session has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_order_amount: Option<Price>,
}

/// Create Refund body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// The captured charge.
    pub charge_id: String,
    /// Amount.
    pub refund_amount: Price,
    /// ≤16 chars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_descriptor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn create_charge_serialises_without_nulls() {
        let mut r = CreateChargeRequest::new(
            "S01-1234567-1234567",
            Price::from_minor(1499, Currency::EUR),
        );
        r.capture_now = Some(true);
        r.charge_initiator = Some(ChargeInitiator::Mitr);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"chargePermissionId":"S01-1234567-1234567","chargeAmount":{"amount":"14.99","currencyCode":"EUR"},"captureNow":true,"chargeInitiator":"MITR"}"#
        );
    }

    #[test]
    fn unknown_request_fields_are_refused() {
        let e = serde_json::from_str::<CreateChargeRequest>(
            r#"{"chargePermissionId":"x","chargeAmount":{"amount":"1.00","currencyCode":"USD"},"foo":1}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field"));
    }

    #[test]
    fn seed_request_body_parses() {
        let body = r#"{"chargePermissionId": "P21-1111111-1111111",
            "chargeAmount": {"amount": "14.00", "currencyCode": "USD"},
            "chargeInitiator":"CITU", "channel":"Web", "captureNow": true,
            "softDescriptor": "Descriptor", "canHandlePendingAuthorization": false,
            "webCheckoutDetails": {"checkoutResultReturnUrl": "http://localhost/r"}}"#;
        let r: CreateChargeRequest = serde_json::from_str(body).unwrap();
        assert_eq!(r.channel, Some(Channel::Web));
    }
}
