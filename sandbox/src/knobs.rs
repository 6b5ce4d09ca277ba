//! Behaviours Amazon leaves open (SPEC marks them UNCONFIRMED or §16 names two readings):
//! each is a knob with the default we believe, set with the builder, `PATCH /_sandbox/knobs`
//! or a `savedwallet sandbox` flag; some can be overridden per wallet ([`WalletKnobs`]).
//! `docs/sandbox.md` says why each default is what it is.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Longest synchronous authorization Amazon documents: 15 s (NA, EU, UK), 30 s in JP.
pub const MAX_SYNC_LATENCY_MS: u64 = 30_000;

/// Parses a kebab-case knob value the way the control API's JSON does.
fn parse_kebab<T: DeserializeOwned>(s: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown {what} {s:?}"))
}

/// Implements `FromStr` (CLI flags) through the serde names, so both spell values alike.
macro_rules! kebab_from_str {
    ($t:ty, $what:literal) => {
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_kebab(s, $what)
            }
        }
    };
}

/// What a HardDeclined charge does to its charge permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HardDeclineEffect {
    /// `NonChargeable` / `PaymentMethodInvalid` at once, with its IPN (default, SPEC §16).
    #[default]
    NonChargeable,
    /// Stays `Chargeable`; the buyer's update then sends an `ATTRIBUTE_CHANGE` IPN.
    StaysChargeable,
}
kebab_from_str!(HardDeclineEffect, "hard-decline effect");

/// What a failed MFA challenge does to the charge permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MfaFailureEffect {
    /// `NonChargeable` / `MFAFailed`, with its IPN (default, SPEC §5.2, §11.7).
    #[default]
    NonChargeable,
    /// The permission stays `Chargeable`.
    StaysChargeable,
}
kebab_from_str!(MfaFailureEffect, "MFA failure effect");

/// How Create Charge treats a Saved Wallet charge without `chargeInitiator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MissingChargeInitiator {
    /// 400 `MissingParameterValue` on a PaymentMethodOnFile permission (default).
    #[default]
    Reject,
    /// Handled as `CITU` (customer present: MFA may be asked).
    TreatAsCitu,
}
kebab_from_str!(MissingChargeInitiator, "missing-charge-initiator mode");

/// Whose customer-initiated charges an `mfa-required` wallet challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MfaRegions {
    /// EU and UK merchants only; NA and JP CIT charges are approved (default, Amazon's page).
    #[default]
    EuUk,
    /// Every region.
    AllRegions,
}
kebab_from_str!(MfaRegions, "MFA region scope");

/// How a Charge shows `convertedAmount` and `conversionRate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConversionFields {
    /// Strings as on Amazon's page: `"14.00"`, `"1.00"` (default).
    #[default]
    Strings,
    /// Both `null`, as in a recorded sandbox response.
    Null,
}
kebab_from_str!(ConversionFields, "conversion-fields form");

/// The sandbox-wide knobs (`GET`/`PATCH /_sandbox/knobs`). Not persisted: the builder or
/// the command line sets them at every start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Knobs {
    /// HardDeclined and the permission (default for wallets without their own setting).
    pub hard_decline: HardDeclineEffect,
    /// Failed MFA and the permission (default for wallets without their own setting).
    pub mfa_failure: MfaFailureEffect,
    /// A Saved Wallet Create Charge without `chargeInitiator`.
    pub missing_charge_initiator: MissingChargeInitiator,
    /// Which merchants' CIT charges can get an MFA challenge.
    pub mfa_regions: MfaRegions,
    /// `convertedAmount` / `conversionRate` form.
    pub conversion_fields: ConversionFields,
    /// HTTP status of `CheckoutSessionCanceled`: 422 (default) or 400.
    pub checkout_session_canceled_status: u16,
    /// Wall-clock delay of a `canHandlePendingAuthorization: false` Create Charge answer, ms
    /// (0 to 30000; capped at Amazon's 15 s outside JP). Default 0.
    pub sync_latency_ms: u64,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            hard_decline: HardDeclineEffect::default(),
            mfa_failure: MfaFailureEffect::default(),
            missing_charge_initiator: MissingChargeInitiator::default(),
            mfa_regions: MfaRegions::default(),
            conversion_fields: ConversionFields::default(),
            checkout_session_canceled_status: 422,
            sync_latency_ms: 0,
        }
    }
}

impl Knobs {
    /// Checks the numeric knobs.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.checkout_session_canceled_status, 400 | 422) {
            return Err("checkoutSessionCanceledStatus must be 400 or 422".into());
        }
        check_latency(self.sync_latency_ms)
    }

    /// These knobs with the fields of a JSON object laid over them (PATCH semantics).
    pub fn merged(&self, patch: &serde_json::Value) -> Result<Knobs, String> {
        let mut current = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let (Some(cur), Some(over)) = (current.as_object_mut(), patch.as_object()) else {
            return Err("the knobs body must be a JSON object".into());
        };
        for (k, v) in over {
            cur.insert(k.clone(), v.clone());
        }
        let knobs: Knobs = serde_json::from_value(current).map_err(|e| e.to_string())?;
        knobs.validate()?;
        Ok(knobs)
    }
}

fn check_latency(ms: u64) -> Result<(), String> {
    if ms > MAX_SYNC_LATENCY_MS {
        return Err(format!(
            "syncLatencyMs must be at most {MAX_SYNC_LATENCY_MS} (Amazon answers within 30 s)"
        ));
    }
    Ok(())
}

/// Per-wallet overrides of the sandbox-wide knobs (control API fields of the same names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WalletKnobs {
    /// HardDeclined and this permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_decline: Option<HardDeclineEffect>,
    /// Failed MFA and this permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_failure: Option<MfaFailureEffect>,
    /// Synchronous authorization latency of this buyer's bank, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_latency_ms: Option<u64>,
}

impl WalletKnobs {
    /// Checks the numeric overrides.
    pub fn validate(&self) -> Result<(), String> {
        self.sync_latency_ms.map_or(Ok(()), check_latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let k = Knobs::default();
        assert_eq!(k.hard_decline, HardDeclineEffect::NonChargeable);
        assert_eq!(k.mfa_failure, MfaFailureEffect::NonChargeable);
        assert_eq!(k.missing_charge_initiator, MissingChargeInitiator::Reject);
        assert_eq!(k.mfa_regions, MfaRegions::EuUk);
        assert_eq!(k.conversion_fields, ConversionFields::Strings);
        assert_eq!(k.checkout_session_canceled_status, 422);
        assert_eq!(k.sync_latency_ms, 0);
    }

    #[test]
    fn merge_overlays_fields_and_validates() {
        let k = Knobs::default()
            .merged(&serde_json::json!({"hardDecline": "stays-chargeable"}))
            .unwrap();
        assert_eq!(k.hard_decline, HardDeclineEffect::StaysChargeable);
        assert_eq!(k.mfa_failure, MfaFailureEffect::NonChargeable);
        for bad in [
            serde_json::json!({"checkoutSessionCanceledStatus": 500}),
            serde_json::json!({"syncLatencyMs": 30_001}),
            serde_json::json!({"noSuchKnob": true}),
            serde_json::json!({"mfaRegions": "mars"}),
            serde_json::json!([1]),
        ] {
            assert!(Knobs::default().merged(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cli_spellings_are_the_json_ones() {
        assert_eq!(
            "all-regions".parse::<MfaRegions>(),
            Ok(MfaRegions::AllRegions)
        );
        assert_eq!(
            "treat-as-citu".parse::<MissingChargeInitiator>(),
            Ok(MissingChargeInitiator::TreatAsCitu)
        );
        assert_eq!(
            "null".parse::<ConversionFields>(),
            Ok(ConversionFields::Null)
        );
        assert!("sometimes".parse::<HardDeclineEffect>().is_err());
    }
}
