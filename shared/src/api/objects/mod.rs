//! Amazon Pay v2 response objects (SPEC §4), exact camelCase field names.
//!
//! Responses are parsed leniently (unknown fields ignored, most fields optional) and written
//! the way Amazon writes them: absent values as `null`.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

use super::enums::*;
use crate::money::{Price, PriceOrAmount};
use crate::timestamp::AmazonTimestamp;

/// `statusDetails` of a Charge, Checkout Session or Refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails<S> {
    /// The state.
    pub state: S,
    /// Why it is in that state.
    #[serde(default)]
    pub reason_code: Option<ReasonCode>,
    /// Human text for the reason.
    #[serde(default)]
    pub reason_description: Option<String>,
    /// When the state last changed.
    #[serde(default)]
    pub last_updated_timestamp: Option<AmazonTimestamp>,
}

/// One entry of a Charge Permission's `statusDetails.reasons` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReason {
    /// The reason code.
    pub reason_code: ReasonCode,
    /// Human text.
    #[serde(default)]
    pub reason_description: Option<String>,
}

/// `statusDetails` of a Charge Permission: a list of reasons, unlike the other objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargePermissionStatusDetails {
    /// The state.
    pub state: ChargePermissionState,
    /// Reasons (empty or null when Chargeable).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub reasons: Vec<StatusReason>,
    /// When the state last changed.
    #[serde(default)]
    pub last_updated_timestamp: Option<AmazonTimestamp>,
}

impl ChargePermissionStatusDetails {
    /// The reason codes, with the older `BuyerCanceled` read as `BuyerClosed` on a Closed
    /// permission (SPEC §16: both mean the buyer closed it). Serde keeps the spelling Amazon
    /// sent, so a simulator can still emit either.
    pub fn reason_codes(&self) -> Vec<ReasonCode> {
        self.reasons
            .iter()
            .map(|r| permission_reason(&self.state, r.reason_code.clone()))
            .collect()
    }
}

/// A charge permission's reason code as it means: `BuyerCanceled` among a Closed
/// permission's reasons is `BuyerClosed`. Only there — on a checkout session or a charge,
/// `BuyerCanceled` means the buyer left Amazon's page.
pub fn permission_reason(state: &ChargePermissionState, code: ReasonCode) -> ReasonCode {
    match (state, code) {
        (ChargePermissionState::Closed, ReasonCode::BuyerCanceled) => ReasonCode::BuyerClosed,
        (_, code) => code,
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Merchant-provided order details (SPEC §4.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantMetadata {
    /// Merchant's order id (≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_reference_id: Option<String>,
    /// Store name in buyer emails (≤50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_store_name: Option<String>,
    /// Note in buyer emails (≤255).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_to_buyer: Option<String>,
    /// Not shown to the buyer (≤4096).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_information: Option<String>,
}

/// Payment service provider details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderMetadata {
    /// PSP reference id.
    #[serde(default)]
    pub provider_reference_id: Option<String>,
}

/// Browser redirect URLs of a checkout session or an MFA charge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebCheckoutDetails {
    /// Review page return URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_review_return_url: Option<String>,
    /// Where Amazon returns the buyer with `amazonCheckoutSessionId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_result_return_url: Option<String>,
    /// Where the buyer goes on cancel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_cancel_url: Option<String>,
    /// Where to send the buyer (read-only, set by Amazon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_pay_redirect_url: Option<String>,
    /// `ProcessOrder` = no review page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_mode: Option<String>,
}

/// A buyer (PII: never log it; `Debug` shows only the buyer id and which fields are set).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buyer {
    /// Amazon buyer id.
    #[serde(default)]
    pub buyer_id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Prime membership types.
    #[serde(default)]
    pub prime_membership_types: Option<Vec<String>>,
}

/// A postal address (PII: never log it; `Debug` shows only the country and which fields are set).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Line 1.
    #[serde(default)]
    pub address_line1: Option<String>,
    /// Line 2.
    #[serde(default)]
    pub address_line2: Option<String>,
    /// Line 3.
    #[serde(default)]
    pub address_line3: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// County.
    #[serde(default)]
    pub county: Option<String>,
    /// District.
    #[serde(default)]
    pub district: Option<String>,
    /// State or region.
    #[serde(default)]
    pub state_or_region: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO country code.
    #[serde(default)]
    pub country_code: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone_number: Option<String>,
}

/// Debug stand-in for a PII field: says whether it is set, never what it holds.
fn redacted(field: &Option<String>) -> &'static str {
    match field {
        Some(_) => "<redacted>",
        None => "None",
    }
}

// Hand-written so that `{:?}` of a Charge Permission or Checkout Session (in a log line, a
// panic or an assertion message) never prints a buyer's name, email, phone or address.
impl fmt::Debug for Buyer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buyer")
            .field("buyer_id", &self.buyer_id)
            .field("name", &redacted(&self.name))
            .field("email", &redacted(&self.email))
            .field("phone_number", &redacted(&self.phone_number))
            .field("prime_membership_types", &self.prime_membership_types)
            .finish()
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("name", &redacted(&self.name))
            .field("address_line1", &redacted(&self.address_line1))
            .field("address_line2", &redacted(&self.address_line2))
            .field("address_line3", &redacted(&self.address_line3))
            .field("city", &redacted(&self.city))
            .field("county", &redacted(&self.county))
            .field("district", &redacted(&self.district))
            .field("state_or_region", &redacted(&self.state_or_region))
            .field("postal_code", &redacted(&self.postal_code))
            .field("country_code", &self.country_code)
            .field("phone_number", &redacted(&self.phone_number))
            .finish()
    }
}

/// `paymentPreferences` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentPreference {
    /// E.g. `Visa ****1111`.
    #[serde(default)]
    pub payment_descriptor: Option<String>,
}

/// `limits` of a charge permission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Maximum amount.
    #[serde(default)]
    pub amount_limit: Option<Price>,
    /// Remaining amount.
    #[serde(default)]
    pub amount_balance: Option<Price>,
}

/// Recurring frequency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frequency {
    /// `Year`, `Month`, `Week`, `Day`, `Variable`.
    pub unit: String,
    /// Count of units (a string in Amazon's examples).
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// `recurringMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecurringMetadata {
    /// Frequency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<Frequency>,
    /// Amount per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Price>,
}

/// `paymentMethodOnFileMetadata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodOnFileMetadata {
    /// True = only save the wallet, no payment now.
    #[serde(default)]
    pub setup_only: Option<bool>,
}

/// `paymentDetails` of a checkout session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetails {
    /// Confirm / Authorize / AuthorizeWithCapture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_intent: Option<PaymentIntent>,
    /// Async authorization allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_handle_pending_authorization: Option<bool>,
    /// Amount to charge at completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_amount: Option<Price>,
    /// Order total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_order_amount: Option<Price>,
    /// Presentment currency (EU/UK multi-currency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentment_currency: Option<String>,
    /// Statement descriptor (≤16, only with AuthorizeWithCapture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_descriptor: Option<String>,
    /// Overcharge allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_overcharge: Option<bool>,
    /// Extend authorization expiration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_expiration: Option<bool>,
}

/// A Charge (SPEC §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// `<chargePermissionId>-C<6 digits>`.
    pub charge_id: String,
    /// Parent permission.
    pub charge_permission_id: String,
    /// Amount authorized.
    pub charge_amount: Price,
    /// Total captured.
    #[serde(default)]
    pub capture_amount: Option<Price>,
    /// Total refunded.
    #[serde(default)]
    pub refunded_amount: Option<Price>,
    /// Captured amount in the ledger currency (a Price or a bare string).
    #[serde(default)]
    pub converted_amount: Option<PriceOrAmount>,
    /// Conversion rate (a number or a string).
    #[serde(default)]
    pub conversion_rate: Option<serde_json::Value>,
    /// Statement descriptor.
    #[serde(default)]
    pub soft_descriptor: Option<String>,
    /// Echo of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_now: Option<bool>,
    /// Echo of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_handle_pending_authorization: Option<bool>,
    /// Echo of the request.
    #[serde(default)]
    pub charge_initiator: Option<ChargeInitiator>,
    /// Echo of the request.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Merchant details.
    #[serde(default)]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// PSP details.
    #[serde(default)]
    pub provider_metadata: Option<ProviderMetadata>,
    /// Solution provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// Present when the buyer must act (MFA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_checkout_details: Option<WebCheckoutDetails>,
    /// State.
    pub status_details: StatusDetails<ChargeState>,
    /// Created at.
    #[serde(default)]
    pub creation_timestamp: Option<AmazonTimestamp>,
    /// Authorization valid until.
    #[serde(default)]
    pub expiration_timestamp: Option<AmazonTimestamp>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// A Charge Permission (SPEC §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargePermission {
    /// `X00-0000000-0000000`.
    pub charge_permission_id: String,
    /// `PaymentMethodOnFile` for Saved Wallet.
    #[serde(default)]
    pub charge_permission_type: Option<ChargePermissionType>,
    /// Recurring details.
    #[serde(default)]
    pub recurring_metadata: Option<RecurringMetadata>,
    /// Saved Wallet details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_on_file_metadata: Option<PaymentMethodOnFileMetadata>,
    /// Limits.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Currency the buyer is charged in.
    #[serde(default)]
    pub presentment_currency: Option<String>,
    /// Buyer (PII).
    #[serde(default)]
    pub buyer: Option<Buyer>,
    /// Shipping address (PII).
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// Billing address (PII).
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// Payment method descriptors.
    #[serde(default)]
    pub payment_preferences: Option<Vec<PaymentPreference>>,
    /// Merchant details.
    #[serde(default)]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// Solution provider id.
    #[serde(default)]
    pub platform_id: Option<String>,
    /// State and reasons.
    pub status_details: ChargePermissionStatusDetails,
    /// Created at.
    #[serde(default)]
    pub creation_timestamp: Option<AmazonTimestamp>,
    /// Null for Saved Wallet (no expiry).
    #[serde(default)]
    pub expiration_timestamp: Option<AmazonTimestamp>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// A Checkout Session (SPEC §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    /// UUID.
    pub checkout_session_id: String,
    /// Redirect URLs.
    #[serde(default)]
    pub web_checkout_details: Option<WebCheckoutDetails>,
    /// `PayAndShip`, `PayOnly`, …
    #[serde(default)]
    pub product_type: Option<String>,
    /// Kind of permission the session creates.
    #[serde(default)]
    pub charge_permission_type: Option<ChargePermissionType>,
    /// Recurring details.
    #[serde(default)]
    pub recurring_metadata: Option<RecurringMetadata>,
    /// Saved Wallet details.
    #[serde(default)]
    pub payment_method_on_file_metadata: Option<PaymentMethodOnFileMetadata>,
    /// Payment details.
    #[serde(default)]
    pub payment_details: Option<PaymentDetails>,
    /// Merchant details.
    #[serde(default)]
    pub merchant_metadata: Option<MerchantMetadata>,
    /// Free text.
    #[serde(default)]
    pub supplementary_data: Option<String>,
    /// Solution provider id.
    #[serde(default)]
    pub platform_id: Option<String>,
    /// PSP details.
    #[serde(default)]
    pub provider_metadata: Option<ProviderMetadata>,
    /// Buyer (PII).
    #[serde(default)]
    pub buyer: Option<Buyer>,
    /// Shipping address (PII).
    #[serde(default)]
    pub shipping_address: Option<Address>,
    /// Billing address (PII).
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// Payment method descriptors.
    #[serde(default)]
    pub payment_preferences: Option<Vec<PaymentPreference>>,
    /// State.
    pub status_details: StatusDetails<CheckoutSessionState>,
    /// Open constraints.
    #[serde(default)]
    pub constraints: Option<Vec<serde_json::Value>>,
    /// Created at.
    #[serde(default)]
    pub creation_timestamp: Option<AmazonTimestamp>,
    /// Created + 24 h.
    #[serde(default)]
    pub expiration_timestamp: Option<AmazonTimestamp>,
    /// Set after Complete.
    #[serde(default)]
    pub charge_permission_id: Option<String>,
    /// Set after Complete when a payment was made.
    #[serde(default)]
    pub charge_id: Option<String>,
    /// Store id.
    #[serde(default)]
    pub store_id: Option<String>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// A Refund (SPEC §4.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    /// `<chargePermissionId>-R<6 digits>`.
    pub refund_id: String,
    /// Refunded charge.
    pub charge_id: String,
    /// Amount.
    pub refund_amount: Price,
    /// Statement descriptor.
    #[serde(default)]
    pub soft_descriptor: Option<String>,
    /// Created at.
    #[serde(default)]
    pub creation_timestamp: Option<AmazonTimestamp>,
    /// State.
    pub status_details: StatusDetails<RefundState>,
    /// `Sandbox` or `Live`.
    #[serde(default)]
    pub release_environment: Option<String>,
}

/// Amazon's error body `{"reasonCode": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// The reason code.
    pub reason_code: ReasonCode,
    /// Human text.
    #[serde(default)]
    pub message: String,
}

#[cfg(test)]
mod tests;
