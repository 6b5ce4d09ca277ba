//! What Amazon's Saved Wallet page allows in a request, checked before anything is sent
//! (SPEC §0): `softDescriptor` ≤ 16 characters and only with `captureNow: true`;
//! `checkoutResultReturnUrl` ≤ 1024 bytes, `https` in Live (`http` only for localhost or a
//! loopback address in Sandbox); `chargeInitiator` and `channel` from the listed values.

use std::net::IpAddr;

use url::{Host, Url};

use super::enums::{Channel, ChargeInitiator};
use super::objects::{PaymentDetails, WebCheckoutDetails};
use super::requests::{
    CaptureChargeRequest, CompleteCheckoutSessionRequest, CreateChargeRequest,
    CreateCheckoutSessionRequest, CreateRefundRequest, UpdateCheckoutSessionRequest,
};
use crate::region::Environment;

/// Longest `softDescriptor` (characters).
pub const MAX_SOFT_DESCRIPTOR_CHARS: usize = 16;
/// Longest `checkoutResultReturnUrl` (bytes).
pub const MAX_RETURN_URL_BYTES: usize = 1024;

/// Why a request would not be accepted by Amazon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// `softDescriptor` longer than 16 characters.
    #[error("softDescriptor has {chars} characters; at most 16 are allowed")]
    SoftDescriptorTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// `softDescriptor` on a Create Charge without `captureNow: true`.
    #[error("softDescriptor is only allowed with captureNow: true")]
    SoftDescriptorWithoutCaptureNow,
    /// `checkoutResultReturnUrl` longer than 1024 bytes.
    #[error("checkoutResultReturnUrl has {bytes} bytes; at most 1024 are allowed")]
    ReturnUrlTooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// `checkoutResultReturnUrl` is not an absolute URL with a host.
    #[error("checkoutResultReturnUrl is not an absolute http(s) URL with a host")]
    ReturnUrlInvalid,
    /// `checkoutResultReturnUrl` is not `https` (Sandbox allows `http` for local hosts only).
    #[error("checkoutResultReturnUrl must use https in {environment:?} (http only for localhost or a loopback address in Sandbox)")]
    ReturnUrlNotHttps {
        /// The environment the request is for.
        environment: Environment,
    },
    /// A `chargeInitiator` outside CITU, MITU, CITR, MITR.
    #[error("chargeInitiator {0:?} is not one of CITU, MITU, CITR, MITR")]
    UnknownChargeInitiator(String),
    /// A `channel` outside the page's list.
    #[error("channel {0:?} is not one of Web, Phone, App, Alexa, PointOfSale, Firetv, Offline")]
    UnknownChannel(String),
}

/// A request body that can be checked against Amazon's rules before sending.
pub trait Validate {
    /// `Ok` when Amazon's page allows the request in `environment`.
    fn validate(&self, environment: Environment) -> Result<(), ValidationError>;
}

/// Checks one `softDescriptor` length.
pub fn validate_soft_descriptor(descriptor: &str) -> Result<(), ValidationError> {
    let chars = descriptor.chars().count();
    if chars > MAX_SOFT_DESCRIPTOR_CHARS {
        return Err(ValidationError::SoftDescriptorTooLong { chars });
    }
    Ok(())
}

/// Checks a `checkoutResultReturnUrl`: ≤ 1024 bytes, absolute, `https` — or `http` to
/// `localhost` / a loopback address in Sandbox.
pub fn validate_return_url(url: &str, environment: Environment) -> Result<(), ValidationError> {
    if url.len() > MAX_RETURN_URL_BYTES {
        return Err(ValidationError::ReturnUrlTooLong { bytes: url.len() });
    }
    let parsed = Url::parse(url).map_err(|_| ValidationError::ReturnUrlInvalid)?;
    let Some(host) = parsed.host() else {
        return Err(ValidationError::ReturnUrlInvalid);
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if environment == Environment::Sandbox && is_local(&host) => Ok(()),
        "http" => Err(ValidationError::ReturnUrlNotHttps { environment }),
        _ => Err(ValidationError::ReturnUrlInvalid),
    }
}

/// `localhost` or a loopback address (127.0.0.0/8, ::1).
fn is_local(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

fn validate_web_checkout_details(
    details: Option<&WebCheckoutDetails>,
    environment: Environment,
) -> Result<(), ValidationError> {
    match details.and_then(|d| d.checkout_result_return_url.as_deref()) {
        Some(url) => validate_return_url(url, environment),
        None => Ok(()),
    }
}

fn validate_optional_descriptor(descriptor: Option<&str>) -> Result<(), ValidationError> {
    descriptor.map_or(Ok(()), validate_soft_descriptor)
}

impl Validate for CreateChargeRequest {
    fn validate(&self, environment: Environment) -> Result<(), ValidationError> {
        if let Some(descriptor) = &self.soft_descriptor {
            validate_soft_descriptor(descriptor)?;
            if self.capture_now != Some(true) {
                return Err(ValidationError::SoftDescriptorWithoutCaptureNow);
            }
        }
        if let Some(ChargeInitiator::Unknown(v)) = &self.charge_initiator {
            return Err(ValidationError::UnknownChargeInitiator(clip(v)));
        }
        if let Some(Channel::Unknown(v)) = &self.channel {
            return Err(ValidationError::UnknownChannel(clip(v)));
        }
        validate_web_checkout_details(self.web_checkout_details.as_ref(), environment)
    }
}

impl Validate for CaptureChargeRequest {
    fn validate(&self, _: Environment) -> Result<(), ValidationError> {
        validate_optional_descriptor(self.soft_descriptor.as_deref())
    }
}

impl Validate for CreateRefundRequest {
    fn validate(&self, _: Environment) -> Result<(), ValidationError> {
        validate_optional_descriptor(self.soft_descriptor.as_deref())
    }
}

impl Validate for CompleteCheckoutSessionRequest {
    fn validate(&self, _: Environment) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// A checkout session's return URL and payment descriptor (Create and Update alike).
fn validate_checkout_session(
    details: Option<&WebCheckoutDetails>,
    payment: Option<&PaymentDetails>,
    environment: Environment,
) -> Result<(), ValidationError> {
    validate_web_checkout_details(details, environment)?;
    validate_optional_descriptor(payment.and_then(|p| p.soft_descriptor.as_deref()))
}

impl Validate for CreateCheckoutSessionRequest {
    fn validate(&self, environment: Environment) -> Result<(), ValidationError> {
        validate_checkout_session(
            self.web_checkout_details.as_ref(),
            self.payment_details.as_ref(),
            environment,
        )
    }
}

impl Validate for UpdateCheckoutSessionRequest {
    fn validate(&self, environment: Environment) -> Result<(), ValidationError> {
        validate_checkout_session(
            self.web_checkout_details.as_ref(),
            self.payment_details.as_ref(),
            environment,
        )
    }
}

/// Outside values are quoted in errors, cut short so a huge one cannot flood a log line.
fn clip(v: &str) -> String {
    v.chars().take(32).collect()
}
