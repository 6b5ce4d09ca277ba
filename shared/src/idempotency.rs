//! Deterministic `x-amz-pay-idempotency-key` values for Create Charge (SPEC §8).
//!
//! A key is derived from *what* is being paid (a [`LogicalChargeKey`]) and *which attempt*
//! it is, so a crashed or duplicated worker that retries the same attempt sends the same
//! key and Amazon replays the stored first response instead of charging again. A new
//! attempt (after a soft decline) gets a new key.
//!
//! Derivation: `base32(SHA-256(canonical bytes))[..32]` (lowercase RFC 4648 alphabet, no
//! padding): 32 × 5 = 160 bits. Collision budget: for n keys per merchant the chance that
//! any two collide is about n² / 2^161; even 10^12 keys give ≈ 3 × 10^-25.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use crate::region::Environment;

/// Amazon's limit on the key length.
pub const MAX_KEY_LEN: usize = 32;

/// Domain separation: keys for other purposes (or a future v2 encoding) never collide
/// with these even for equal inputs.
const DOMAIN: &[u8] = b"savedwallet/idempotency-key/create-charge/v1";

/// Why a string is not a valid idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    /// Empty string.
    #[error("idempotency key is empty")]
    Empty,
    /// Longer than 32 characters.
    #[error("idempotency key is {0} characters long, at most 32 allowed")]
    TooLong(usize),
    /// A character outside `[A-Za-z0-9-_]`.
    #[error("idempotency key may only contain A-Z, a-z, 0-9, '-' and '_'")]
    InvalidCharacter,
}

/// A valid Amazon Pay idempotency key: 1–32 characters of `[A-Za-z0-9-_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Validates a key from outside (a header, a stored record).
    pub fn parse(s: &str) -> Result<IdempotencyKey, IdempotencyKeyError> {
        if s.is_empty() {
            return Err(IdempotencyKeyError::Empty);
        }
        if s.len() > MAX_KEY_LEN {
            return Err(IdempotencyKeyError::TooLong(s.chars().count()));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(IdempotencyKeyError::InvalidCharacter);
        }
        Ok(IdempotencyKey(s.to_string()))
    }

    /// The key text, as sent in the header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IdempotencyKey {
    type Err = IdempotencyKeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdempotencyKey::parse(s)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = IdempotencyKeyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdempotencyKey::parse(&s)
    }
}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for IdempotencyKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        IdempotencyKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a charge pays for: one logical charge may take several attempts, but must succeed
/// at most once. The service's payments are exactly these (an order's payment, a period's
/// payment, a merchant's unscheduled payment).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogicalChargeKey {
    /// One billing period of a subscription (period numbers never repeat for a
    /// subscription, whatever happens to its schedule).
    SubscriptionPeriod {
        /// The merchant's subscription id.
        subscription_id: String,
        /// The 1-based period number.
        period: u32,
    },
    /// A one-off order charged to the saved wallet.
    Order {
        /// The merchant's order id.
        order_id: String,
    },
    /// A merchant-initiated unscheduled charge (MITU): its own payment.
    Unscheduled {
        /// The payment id.
        payment_id: String,
    },
}

impl LogicalChargeKey {
    /// Canonical, unambiguous bytes: a variant tag, then each field length-prefixed, so
    /// `("a|b", "c")` and `("a", "b|c")` encode differently.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            LogicalChargeKey::SubscriptionPeriod {
                subscription_id,
                period,
            } => {
                put_field(&mut out, b"subscription-period");
                put_field(&mut out, subscription_id.as_bytes());
                put_field(&mut out, &period.to_be_bytes());
            }
            LogicalChargeKey::Order { order_id } => {
                put_field(&mut out, b"order");
                put_field(&mut out, order_id.as_bytes());
            }
            LogicalChargeKey::Unscheduled { payment_id } => {
                put_field(&mut out, b"unscheduled");
                put_field(&mut out, payment_id.as_bytes());
            }
        }
        out
    }
}

/// Which Amazon operation a key is for: a capture or a refund of a charge never shares a
/// key with a Create Charge, even for equal inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Create Charge (attempt `n` of a logical charge).
    CreateCharge,
    /// Capture Charge.
    Capture,
    /// Create Refund (`n` = the refund's sequence number within the payment).
    Refund,
    /// Complete Checkout Session (MFA return or wallet setup).
    CompleteCheckout,
    /// Create Checkout Session (wallet setup / update page).
    CreateCheckout,
}

impl KeyPurpose {
    fn domain(self) -> &'static [u8] {
        match self {
            KeyPurpose::CreateCharge => DOMAIN,
            KeyPurpose::Capture => b"savedwallet/idempotency-key/capture/v1",
            KeyPurpose::Refund => b"savedwallet/idempotency-key/refund/v1",
            KeyPurpose::CompleteCheckout => b"savedwallet/idempotency-key/complete-checkout/v1",
            KeyPurpose::CreateCheckout => b"savedwallet/idempotency-key/create-checkout/v1",
        }
    }
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Where keys live: Amazon scopes keys per merchant account and keeps them forever.
///
/// - `merchant_id` and `environment` keep keys of different merchants, and of sandbox vs
///   live, apart even if Amazon's store were shared between environments (UNCONFIRMED).
/// - `namespace` is a stable id of this installation's data (e.g. set once at deploy).
///   Change it when the merchant's ids can repeat (a wiped sandbox store restarting at
///   `sub-1`): otherwise a reused id would derive an old key and Amazon would replay an
///   old charge's response for a new charge, or answer `DuplicateIdempotencyKey`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyScope {
    /// Amazon Pay merchant id.
    pub merchant_id: String,
    /// Sandbox or live.
    pub environment: Environment,
    /// Installation/data namespace (see type docs).
    pub namespace: String,
}

impl KeyScope {
    /// A scope from its parts.
    pub fn new(
        merchant_id: impl Into<String>,
        environment: Environment,
        namespace: impl Into<String>,
    ) -> KeyScope {
        KeyScope {
            merchant_id: merchant_id.into(),
            environment,
            namespace: namespace.into(),
        }
    }

    /// The key for attempt `attempt` (1-based by convention) of a logical charge: same
    /// inputs → same key (replays), any different input → a different key.
    pub fn derive(&self, logical_charge: &LogicalChargeKey, attempt: u32) -> IdempotencyKey {
        self.derive_for(
            KeyPurpose::CreateCharge,
            &logical_charge.canonical_bytes(),
            attempt,
        )
    }

    /// A key for another operation: `subject` names the object (e.g. a payment id),
    /// `n` the occurrence (e.g. the refund's number). Create Charge keys equal [`derive`].
    ///
    /// [`derive`]: KeyScope::derive
    pub fn derive_for(&self, purpose: KeyPurpose, subject: &[u8], n: u32) -> IdempotencyKey {
        let mut bytes = Vec::new();
        put_field(&mut bytes, purpose.domain());
        put_field(&mut bytes, self.merchant_id.as_bytes());
        put_field(
            &mut bytes,
            self.environment.release_environment().as_bytes(),
        );
        put_field(&mut bytes, self.namespace.as_bytes());
        put_field(&mut bytes, subject);
        put_field(&mut bytes, &n.to_be_bytes());
        let digest = Sha256::digest(&bytes);
        IdempotencyKey(base32_lower(&digest[..20]))
    }
}

/// RFC 4648 base32, lowercase, no padding. 20 bytes → exactly 32 characters.
fn base32_lower(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        // RFC 4648 §10, lowercased, padding stripped.
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "my"),
            (b"fo", "mzxq"),
            (b"foo", "mzxw6"),
            (b"foob", "mzxw6yq"),
            (b"fooba", "mzxw6ytb"),
            (b"foobar", "mzxw6ytboi"),
        ];
        for (input, want) in cases {
            assert_eq!(base32_lower(input), *want);
        }
    }
}
