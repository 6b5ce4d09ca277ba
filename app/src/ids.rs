//! Identifier newtypes. Every id that enters from outside (a path, a body, a JWT `sub`, an
//! Amazon response) is parsed once into one of these, so the rest of the code never handles
//! a bare string id and every store key is built from a validated value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty.
    #[error("{kind} is empty")]
    Empty {
        /// Id kind.
        kind: &'static str,
    },
    /// Too long.
    #[error("{kind} is longer than {max} characters")]
    TooLong {
        /// Id kind.
        kind: &'static str,
        /// Maximum length.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("{kind} contains a character that is not allowed")]
    BadCharacter {
        /// Id kind.
        kind: &'static str,
    },
}

/// Visible ASCII except `#` (the store's key separator) — JWT `sub` values such as
/// `auth0|abc` or UUIDs fit; whitespace and control characters never do.
fn visible_no_hash(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b'#'
}

/// Amazon's ids (`S01-5105180-3221187`, `…-C056351`, UUID session ids) and ours.
fn id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $max:expr, $allowed:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates an id from outside.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if s.is_empty() {
                    return Err(IdError::Empty { kind: $kind });
                }
                if s.len() > $max {
                    return Err(IdError::TooLong { kind: $kind, max: $max });
                }
                if !s.bytes().all($allowed) {
                    return Err(IdError::BadCharacter { kind: $kind });
                }
                Ok($name(s.to_string()))
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// The merchant's customer id: the JWT `sub` of the buyer.
    CustomerId, "customer id", 255, visible_no_hash
);
id_type!(
    /// A Saved Wallet: Amazon's `chargePermissionId`.
    WalletId, "wallet id", 64, id_char
);
id_type!(
    /// A plan id (chosen by the merchant).
    PlanId, "plan id", 64, id_char
);
id_type!(
    /// A subscription id (ours).
    SubscriptionId, "subscription id", 64, id_char
);
id_type!(
    /// An order id (ours).
    OrderId, "order id", 64, id_char
);
id_type!(
    /// A payment id (ours): one logical charge.
    PaymentId, "payment id", 64, id_char
);
id_type!(
    /// A refund id (ours; Amazon's refund id is stored beside it).
    RefundId, "refund id", 64, id_char
);
id_type!(
    /// Amazon's `checkoutSessionId`.
    CheckoutSessionId, "checkout session id", 64, id_char
);
id_type!(
    /// Amazon's `chargeId`.
    ChargeId, "charge id", 64, id_char
);
id_type!(
    /// A merchant event id (ours).
    EventId, "event id", 64, id_char
);

/// A new random-looking id with a type prefix (`sub_…`, `ord_…`): 26 base32 characters of
/// SHA-256 over the caller's entropy (a UUID, a counter), so ids sort randomly and never
/// reveal counts.
pub fn new_id(prefix: &str, entropy: &[u8]) -> String {
    format!("{prefix}_{}", base32(&Sha256::digest(entropy)[..16]))
}

/// A deterministic id: the same inputs always give the same id (the payment of an order,
/// of a subscription period). `parts` are length-prefixed so `("a|b","c")` ≠ `("a","b|c")`.
pub fn derived_id(prefix: &str, parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    h.update(prefix.as_bytes());
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    format!("{prefix}_{}", base32(&h.finalize()[..16]))
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

impl PaymentId {
    /// The payment of an order: one per order, by construction.
    pub fn for_order(order: &OrderId) -> PaymentId {
        PaymentId(derived_id("pay", &[b"order", order.as_str().as_bytes()]))
    }

    /// The payment of a subscription period: one per period, by construction.
    pub fn for_period(subscription: &SubscriptionId, period: u32) -> PaymentId {
        PaymentId(derived_id(
            "pay",
            &[
                b"period",
                subscription.as_str().as_bytes(),
                &period.to_be_bytes(),
            ],
        ))
    }

    /// A merchant-initiated unscheduled payment (MITU): its own logical charge, named by
    /// the caller's idempotency scope so a retried request names the same payment.
    pub fn for_unscheduled(scope: &[u8]) -> PaymentId {
        PaymentId(derived_id("pay", &[b"unscheduled", scope]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_validate_their_alphabet() {
        assert!(CustomerId::parse("auth0|abc-123").is_ok());
        assert_eq!(
            CustomerId::parse("a#b"),
            Err(IdError::BadCharacter {
                kind: "customer id"
            })
        );
        assert_eq!(
            CustomerId::parse(""),
            Err(IdError::Empty {
                kind: "customer id"
            })
        );
        assert!(CustomerId::parse("a b").is_err());
        assert!(CustomerId::parse(&"x".repeat(256)).is_err());
        assert!(WalletId::parse("S01-5105180-3221187").is_ok());
        assert!(WalletId::parse("S01/../x").is_err());
        assert!(PlanId::parse("gold-monthly").is_ok());
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let o = OrderId::parse("ord_1").unwrap();
        assert_eq!(PaymentId::for_order(&o), PaymentId::for_order(&o));
        let s = SubscriptionId::parse("sub_1").unwrap();
        assert_ne!(PaymentId::for_period(&s, 1), PaymentId::for_period(&s, 2));
        assert_ne!(
            PaymentId::for_order(&OrderId::parse("sub_1").unwrap()),
            PaymentId::for_period(&s, 1)
        );
        let id = PaymentId::for_period(&s, 7);
        assert!(PaymentId::parse(id.as_str()).is_ok());
        assert_eq!(id.as_str().len(), 4 + 26);
        // Pinned: changing the derivation would rename every stored payment.
        assert_eq!(
            PaymentId::for_order(&o).as_str(),
            derived_id("pay", &[b"order", b"ord_1"])
        );
    }
}
