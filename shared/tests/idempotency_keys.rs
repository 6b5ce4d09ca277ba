//! Idempotency keys: validation, deterministic derivation, unambiguous encoding.

use proptest::prelude::*;
use savedwallet_shared::idempotency::{
    IdempotencyKey, IdempotencyKeyError, KeyPurpose, KeyScope, LogicalChargeKey, MAX_KEY_LEN,
};
use savedwallet_shared::region::Environment;
use std::collections::HashSet;

fn scope() -> KeyScope {
    KeyScope::new("A1B2C3D4E5F6G7", Environment::Live, "prod-1")
}

fn order(id: &str) -> LogicalChargeKey {
    LogicalChargeKey::Order {
        order_id: id.to_string(),
    }
}

fn period(sub: &str, period: u32) -> LogicalChargeKey {
    LogicalChargeKey::SubscriptionPeriod {
        subscription_id: sub.to_string(),
        period,
    }
}

fn is_valid_shape(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KEY_LEN
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn parse_validates_amazons_rules() {
    let ok = [
        "a",
        "b5a9d4a0c3f94a5c8e2f1d7e6c5b4a39",
        "ABC-def_123",
        "--__",
        "0123456789abcdefghijklmnopqrstuv",
    ];
    for s in ok {
        assert_eq!(
            IdempotencyKey::parse(s).map(|k| k.as_str().to_string()),
            Ok(s.to_string())
        );
    }
    let bad: &[(&str, IdempotencyKeyError)] = &[
        ("", IdempotencyKeyError::Empty),
        (
            "0123456789abcdefghijklmnopqrstuvw",
            IdempotencyKeyError::TooLong(33),
        ),
        ("has space", IdempotencyKeyError::InvalidCharacter),
        ("dot.ted", IdempotencyKeyError::InvalidCharacter),
        ("plus+", IdempotencyKeyError::InvalidCharacter),
        ("slash/", IdempotencyKeyError::InvalidCharacter),
        ("é", IdempotencyKeyError::InvalidCharacter),
        ("line\n", IdempotencyKeyError::InvalidCharacter),
    ];
    for (s, want) in bad {
        assert_eq!(IdempotencyKey::parse(s), Err(want.clone()), "{s:?}");
    }
}

#[test]
fn serde_validates_on_the_way_in() {
    let k: IdempotencyKey = serde_json::from_str("\"abc-DEF_1\"").unwrap();
    assert_eq!(serde_json::to_string(&k).unwrap(), "\"abc-DEF_1\"");
    for (text, want) in [
        ("\"a b\"", IdempotencyKeyError::InvalidCharacter),
        ("\"\"", IdempotencyKeyError::Empty),
    ] {
        let e = serde_json::from_str::<IdempotencyKey>(text).unwrap_err();
        assert!(e.to_string().starts_with(&want.to_string()), "{text}: {e}");
    }
}

#[test]
fn derivation_is_pinned() {
    // A fixed vector: if this changes, every in-flight charge would get a new key and
    // could be charged twice after an upgrade. Change only with a new domain version.
    let k = scope().derive(&period("sub-42", 1), 1);
    assert_eq!(k.as_str().len(), 32);
    assert!(is_valid_shape(k.as_str()));
    assert_eq!(k, scope().derive(&period("sub-42", 1), 1));
    let pinned = k.as_str().to_string();
    assert_eq!(pinned, PINNED_SUB_42_ATTEMPT_1, "derivation changed");
}

/// See `derivation_is_pinned`. Computed independently with Python (hashlib + base64),
/// following the encoding in docs/domain.md:
/// `f(b) = len(b) as u64 BE ‖ b`; `logical = f("subscription-period") ‖ f("sub-42") ‖
/// f(u32 BE period)`; `data = f(DOMAIN) ‖ f(merchant) ‖ f("Live") ‖ f(ns) ‖
/// f(logical) ‖ f(u32 BE attempt)`; key = lower(base32(sha256(data)[..20])).
const PINNED_SUB_42_ATTEMPT_1: &str = "g727pztopj4flz5isctersvklpntet3h";

#[test]
fn every_input_changes_the_key() {
    let base = scope().derive(&period("sub-42", 1), 1);
    let variants = [
        scope().derive(&period("sub-42", 1), 2),
        scope().derive(&period("sub-43", 1), 1),
        scope().derive(&period("sub-42", 2), 1),
        scope().derive(
            &LogicalChargeKey::Unscheduled {
                payment_id: "sub-42".into(),
            },
            1,
        ),
        scope().derive_for(
            KeyPurpose::Refund,
            &period("sub-42", 1).canonical_bytes(),
            1,
        ),
        scope().derive(&order("sub-42"), 1),
        KeyScope::new("A1B2C3D4E5F6G8", Environment::Live, "prod-1")
            .derive(&period("sub-42", 1), 1),
        KeyScope::new("A1B2C3D4E5F6G7", Environment::Sandbox, "prod-1")
            .derive(&period("sub-42", 1), 1),
        KeyScope::new("A1B2C3D4E5F6G7", Environment::Live, "prod-2")
            .derive(&period("sub-42", 1), 1),
    ];
    let mut all: HashSet<IdempotencyKey> = variants.iter().cloned().collect();
    all.insert(base.clone());
    assert_eq!(
        all.len(),
        variants.len() + 1,
        "some input did not change the key"
    );
}

#[test]
fn encoding_is_unambiguous() {
    // Field boundaries cannot be moved: ("a|b","c") vs ("a","b|c") style pairs.
    let s1 = KeyScope::new("a|b", Environment::Live, "c");
    let s2 = KeyScope::new("a", Environment::Live, "b|c");
    assert_ne!(s1.derive(&order("x"), 1), s2.derive(&order("x"), 1));
    let s3 = KeyScope::new("ab", Environment::Live, "");
    let s4 = KeyScope::new("a", Environment::Live, "b");
    assert_ne!(s3.derive(&order("x"), 1), s4.derive(&order("x"), 1));
    // Namespace vs order id boundary.
    let s5 = KeyScope::new("m", Environment::Live, "ns");
    let s6 = KeyScope::new("m", Environment::Live, "n");
    assert_ne!(s5.derive(&order("x"), 1), s6.derive(&order("sx"), 1));
    assert_ne!(order("a|b").canonical_bytes(), order("a").canonical_bytes());
    // A subscription id that spells an order tag never equals an order.
    assert_ne!(
        period("order", 0).canonical_bytes(),
        order("").canonical_bytes()
    );
}

#[test]
fn a_large_sample_has_no_collisions() {
    // 20,000 orders × 5 attempts: with 160-bit keys any collision would mean a bug.
    let s = scope();
    let mut seen = HashSet::new();
    for i in 0..20_000 {
        for attempt in 1..=5 {
            assert!(seen.insert(s.derive(&order(&format!("o-{i}")), attempt)));
        }
    }
}

fn arb_logical() -> impl Strategy<Value = LogicalChargeKey> {
    prop_oneof![
        (".{0,40}", any::<u32>()).prop_map(|(sub, p)| period(&sub, p)),
        ".{0,40}".prop_map(|id| order(&id)),
        ".{0,40}".prop_map(|id| LogicalChargeKey::Unscheduled { payment_id: id }),
    ]
}

fn arb_scope() -> impl Strategy<Value = KeyScope> {
    (".{0,20}", any::<bool>(), ".{0,20}").prop_map(|(m, live, ns)| {
        KeyScope::new(
            m,
            if live {
                Environment::Live
            } else {
                Environment::Sandbox
            },
            ns,
        )
    })
}

proptest! {
    #[test]
    fn derived_keys_are_valid_and_deterministic(scope in arb_scope(), logical in arb_logical(), attempt in any::<u32>()) {
        let k = scope.derive(&logical, attempt);
        prop_assert_eq!(k.as_str().len(), 32);
        prop_assert!(is_valid_shape(k.as_str()));
        // Lowercase base32 only: safe even if Amazon compared keys case-insensitively.
        prop_assert!(k.as_str().bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        prop_assert_eq!(IdempotencyKey::parse(k.as_str()), Ok(k.clone()));
        prop_assert_eq!(scope.derive(&logical.clone(), attempt), k);
    }

    #[test]
    fn distinct_inputs_give_distinct_keys(
        inputs in proptest::collection::hash_set((arb_scope(), arb_logical(), 0u32..8), 1..64)
    ) {
        let keys: HashSet<IdempotencyKey> =
            inputs.iter().map(|(s, l, a)| s.derive(l, *a)).collect();
        prop_assert_eq!(keys.len(), inputs.len());
    }

    #[test]
    fn parse_accepts_exactly_the_valid_shape(s in "[ -~]{0,40}") {
        prop_assert_eq!(IdempotencyKey::parse(&s).is_ok(), is_valid_shape(&s));
    }
}
