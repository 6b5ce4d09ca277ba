//! Amazon Pay regions, environments and API hosts (SPEC §1).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An Amazon Pay region as sent in `x-amz-pay-region`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// North America (`us`/`na` in SDK configs), host `pay-api.amazon.com`.
    Na,
    /// Europe and UK (`eu`/`de`/`uk`), host `pay-api.amazon.eu`.
    Eu,
    /// Japan, host `pay-api.amazon.jp`.
    Jp,
}

impl Region {
    /// The value of the `x-amz-pay-region` header.
    pub fn header_value(self) -> &'static str {
        match self {
            Region::Na => "na",
            Region::Eu => "eu",
            Region::Jp => "jp",
        }
    }

    /// Amazon's API host for the region.
    pub fn api_host(self) -> &'static str {
        match self {
            Region::Na => "pay-api.amazon.com",
            Region::Eu => "pay-api.amazon.eu",
            Region::Jp => "pay-api.amazon.jp",
        }
    }

    /// The buyer-facing link to update a Saved Wallet's payment method after a
    /// HardDeclined (SPEC §11.5): JP has its own host, US/EU share the documented one.
    pub fn payment_method_update_url(self, charge_permission_id: &str) -> String {
        match self {
            Region::Jp => {
                format!("https://pay.amazon.com/jp/jr/your-account/ba/{charge_permission_id}")
            }
            _ => format!("https://payments.amazon.com/jr/your-account/ba/{charge_permission_id}"),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header_value())
    }
}

/// Error for an unknown region name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Amazon Pay region {0:?} (expected na, us, eu, de, uk or jp)")]
pub struct UnknownRegion(pub String);

impl FromStr for Region {
    type Err = UnknownRegion;
    /// Case-insensitive; accepts the SDK config aliases (`us`→na, `de`/`uk`→eu).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "na" | "us" => Ok(Region::Na),
            "eu" | "de" | "uk" => Ok(Region::Eu),
            "jp" => Ok(Region::Jp),
            _ => Err(UnknownRegion(s.chars().take(16).collect())),
        }
    }
}

/// Sandbox or live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Environment {
    /// Amazon Pay sandbox.
    Sandbox,
    /// Production.
    Live,
}

impl Environment {
    /// The `releaseEnvironment` string Amazon puts in objects.
    pub fn release_environment(self) -> &'static str {
        match self {
            Environment::Sandbox => "Sandbox",
            Environment::Live => "Live",
        }
    }
}

/// Error for an unknown environment name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment {0:?} (expected sandbox or live)")]
pub struct UnknownEnvironment(pub String);

/// For callers that collect error messages as strings.
impl From<UnknownEnvironment> for String {
    fn from(e: UnknownEnvironment) -> String {
        e.to_string()
    }
}

impl FromStr for Environment {
    type Err = UnknownEnvironment;
    /// Case-insensitive `sandbox` or `live`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sandbox" => Ok(Environment::Sandbox),
            "live" => Ok(Environment::Live),
            _ => Err(UnknownEnvironment(s.chars().take(16).collect())),
        }
    }
}

/// How a public key id selects the environment (SPEC §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEnvironment {
    /// `SANDBOX-…` / `LIVE-…` keys: the environment is implied, no path prefix.
    Implied(Environment),
    /// Any other ("legacy") key: the path carries `/sandbox` or `/live`.
    Legacy,
}

impl KeyEnvironment {
    /// Classifies a public key id by its (case-insensitive) prefix.
    pub fn of(public_key_id: &str) -> Self {
        let upper = public_key_id.to_ascii_uppercase();
        if upper.starts_with("SANDBOX") {
            KeyEnvironment::Implied(Environment::Sandbox)
        } else if upper.starts_with("LIVE") {
            KeyEnvironment::Implied(Environment::Live)
        } else {
            KeyEnvironment::Legacy
        }
    }

    /// The path prefix before `v2/…`: `/` for env keys, `/sandbox/` or `/live/` for legacy.
    pub fn path_prefix(self, configured: Environment) -> &'static str {
        match (self, configured) {
            (KeyEnvironment::Implied(_), _) => "/",
            (KeyEnvironment::Legacy, Environment::Sandbox) => "/sandbox/",
            (KeyEnvironment::Legacy, Environment::Live) => "/live/",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_aliases_are_case_insensitive() {
        for (s, r) in [
            ("us", Region::Na),
            ("NA", Region::Na),
            ("Eu", Region::Eu),
            ("de", Region::Eu),
            ("UK", Region::Eu),
            ("jp", Region::Jp),
        ] {
            assert_eq!(s.parse::<Region>().unwrap(), r);
        }
        assert_eq!("xx".parse::<Region>(), Err(UnknownRegion("xx".into())));
    }

    #[test]
    fn environments_parse_case_insensitively() {
        assert_eq!("Sandbox".parse::<Environment>(), Ok(Environment::Sandbox));
        assert_eq!("LIVE".parse::<Environment>(), Ok(Environment::Live));
        let err = "production-and-then-some"
            .parse::<Environment>()
            .unwrap_err();
        assert_eq!(err, UnknownEnvironment("production-and-t".into()));
        assert!(String::from(err).contains("expected sandbox or live"));
    }

    #[test]
    fn key_prefixes_pick_the_path() {
        use Environment::*;
        assert_eq!(KeyEnvironment::of("SANDBOX-AFVX").path_prefix(Live), "/");
        assert_eq!(KeyEnvironment::of("sandboxfoo").path_prefix(Live), "/");
        assert_eq!(KeyEnvironment::of("LIVE-X").path_prefix(Sandbox), "/");
        assert_eq!(
            KeyEnvironment::of("AFVX7ULW").path_prefix(Sandbox),
            "/sandbox/"
        );
        assert_eq!(KeyEnvironment::of("AFVX7ULW").path_prefix(Live), "/live/");
    }

    #[test]
    fn update_links() {
        assert_eq!(
            Region::Eu.payment_method_update_url("S01-1-2"),
            "https://payments.amazon.com/jr/your-account/ba/S01-1-2"
        );
        assert_eq!(
            Region::Jp.payment_method_update_url("S01-1-2"),
            "https://pay.amazon.com/jp/jr/your-account/ba/S01-1-2"
        );
    }
}
