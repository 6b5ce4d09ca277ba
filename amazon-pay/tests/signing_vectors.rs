//! The client's aws-lc-rs signer against the recorded vectors, checked by an independent
//! implementation (the `rsa` crate), for both salt lengths, plus the negative cases.

mod common;

use common::*;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use savedwallet_amazon_pay::{pem, Error, Signer, SigningAlgorithm};
use savedwallet_shared::signing::{
    button_string_to_sign, canonical_request_from_pairs, string_to_sign, RequestParts,
};
use secrecy::{ExposeSecret, SecretString};

fn signer(alg: SigningAlgorithm) -> Signer {
    Signer::from_pem(&SecretString::from(private_key_pem()), "SANDBOX-TEST", alg).expect("key")
}

#[test]
fn recorded_signatures_verify_with_rsa() {
    let key = rsa_public_key(&public_key_pem());
    let all = vectors();
    for v in all["vectors"].as_array().expect("vectors") {
        let name = v["name"].as_str().unwrap();
        let sts = v["stringToSign"].as_str().unwrap();
        let salt = v["saltLength"].as_u64().unwrap() as usize;
        let sig = v["signatureBase64"].as_str().unwrap();
        assert!(rsa_verify(&key, salt, sts.as_bytes(), sig), "{name}");
        // A strict verifier with the other salt must refuse it.
        let other = if salt == 20 { 32 } else { 20 };
        assert!(
            !rsa_verify(&key, other, sts.as_bytes(), sig),
            "{name} with salt {other}"
        );
        // And the full §2.6 verifier accepts the recorded request as received.
        assert!(
            verify_received(&key, &vector_request(v), None),
            "{name}: as received"
        );
    }
    let b = &all["buttonSignature"];
    assert!(rsa_verify(
        &key,
        32,
        b["stringToSign"].as_str().unwrap().as_bytes(),
        b["signatureBase64"].as_str().unwrap()
    ));
}

#[test]
fn our_signatures_verify_with_rsa_for_both_salts() {
    let key = rsa_public_key(&public_key_pem());
    let all = vectors();
    for v in all["vectors"].as_array().expect("vectors") {
        let name = v["name"].as_str().unwrap();
        let mut req = vector_request(v);
        req.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        for alg in SigningAlgorithm::ALL {
            let s = signer(alg);
            let auth = s
                .sign_request(
                    RequestParts {
                        method: &req.method,
                        path: &req.path,
                        query: &req.query,
                        body: &req.body,
                    },
                    &req.headers,
                )
                .expect("sign");
            assert_eq!(auth.algorithm, alg);
            assert_eq!(
                auth.signed_headers.join(";"),
                v["signedHeaders"].as_str().unwrap(),
                "{name}"
            );
            // Our canonical request equals the recorded one; the string to sign differs only
            // by the algorithm name.
            let cr = canonical_request_from_pairs(
                RequestParts {
                    method: &req.method,
                    path: &req.path,
                    query: &req.query,
                    body: &req.body,
                },
                &auth.signed_headers,
                &req.headers,
            )
            .unwrap();
            assert_eq!(cr, v["canonicalRequest"].as_str().unwrap(), "{name}");
            let sts = string_to_sign(alg, &cr);
            assert!(
                rsa_verify(&key, alg.salt_len(), sts.as_bytes(), &auth.signature_b64),
                "{name} {alg}"
            );
            let other = if alg.salt_len() == 20 { 32 } else { 20 };
            assert!(
                !rsa_verify(&key, other, sts.as_bytes(), &auth.signature_b64),
                "{name} {alg} wrong salt"
            );
            // End to end through the §2.6 verifier with the formatted header.
            let mut sent = req.clone();
            sent.headers.push(("authorization".into(), auth.format()));
            assert!(verify_received(&key, &sent, None), "{name} {alg} as sent");
        }
    }
}

#[test]
fn pss_is_randomized() {
    let s = signer(SigningAlgorithm::V2);
    let a = s.sign_raw(SigningAlgorithm::V2, b"x").unwrap();
    let b = s.sign_raw(SigningAlgorithm::V2, b"x").unwrap();
    assert_eq!(a.len(), 256);
    assert_ne!(a, b);
}

#[test]
fn button_payload_signature_verifies() {
    let key = rsa_public_key(&public_key_pem());
    let all = vectors();
    let payload = all["buttonSignature"]["payloadJson"].as_str().unwrap();
    for alg in SigningAlgorithm::ALL {
        let sig = signer(alg).sign_button_payload(payload).unwrap();
        let sts = button_string_to_sign(alg, payload);
        assert!(
            rsa_verify(&key, alg.salt_len(), sts.as_bytes(), &sig),
            "{alg}"
        );
    }
}

#[test]
fn verifier_negative_cases() {
    let key = rsa_public_key(&public_key_pem());
    let all = vectors();
    let cases = all["verifierNegativeCases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let base_name = c["baseVector"].as_str().unwrap();
        let base = all["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == base_name)
            .expect("base vector");
        let mut r = vector_request(base);
        let mut force_salt = None;
        let set_header = |r: &mut Received, name: &str, f: &dyn Fn(&str) -> String| {
            for (n, v) in r.headers.iter_mut() {
                if n.eq_ignore_ascii_case(name) {
                    *v = f(v);
                }
            }
        };
        match name {
            "unchanged (control)" => {}
            "body: amount 14.99 -> 14.98" => {
                let b = String::from_utf8(r.body.clone()).unwrap();
                assert!(b.contains("14.99"));
                r.body = b.replace("14.99", "14.98").into_bytes();
            }
            "body: same JSON re-serialised with a space after first colon" => {
                let b = String::from_utf8(r.body.clone()).unwrap();
                r.body = b.replacen(':', ": ", 1).into_bytes();
            }
            "header x-amz-pay-date changed by one second" => {
                set_header(&mut r, "x-amz-pay-date", &|v| {
                    assert_eq!(v, "2024-06-01T12:34:56Z");
                    "2024-06-01T12:34:57Z".into()
                });
            }
            "signed header x-amz-pay-idempotency-key changed" => {
                set_header(&mut r, "x-amz-pay-idempotency-key", &|v| format!("{v}x"));
            }
            "path with trailing slash /v2/charges/" => r.path.push('/'),
            "method POST -> PUT" => r.method = "PUT".into(),
            "extra UNSIGNED header added (x-amz-pay-simulation-code: HardDeclined)" => r
                .headers
                .push(("x-amz-pay-simulation-code".into(), "HardDeclined".into())),
            "header NAME case changed (ACCEPT instead of Accept) - names are case-insensitive" => {
                for (n, _) in r.headers.iter_mut() {
                    if n == "Accept" {
                        *n = "ACCEPT".into();
                    }
                }
            }
            "verify with salt 20 / AMZN-PAY-RSASSA-PSS while header says -V2" => {
                force_salt = Some(20)
            }
            other => panic!("negative case {other:?} has no mutation in this test"),
        }
        let expected = c["expectedValid"].as_bool().unwrap();
        assert_eq!(verify_received(&key, &r, force_salt), expected, "{name}");
    }
}

#[test]
fn key_formats() {
    let pkcs8 = private_key_pem();
    // PKCS#1 form of the same key, produced by the rsa crate.
    let sk = rsa::PrivateKey::from_pkcs8_pem(&pkcs8).expect("pkcs8");
    let pkcs1_der = sk.to_pkcs1_der().expect("pkcs1");
    let pkcs1 = pem::encode("RSA PRIVATE KEY", pkcs1_der.as_bytes());
    let key = rsa_public_key(&public_key_pem());
    let s = Signer::from_pem(&SecretString::from(pkcs1), "K", SigningAlgorithm::V1)
        .expect("pkcs1 accepted");
    let sig = s.sign_raw(SigningAlgorithm::V1, b"msg").unwrap();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig);
    assert!(rsa_verify(&key, 20, b"msg", &b64));
    // The public key it reports is the one in the vectors.
    let spki = s.public_key_spki_der().unwrap();
    assert_eq!(
        pem::decode_first(&public_key_pem())
            .unwrap()
            .der
            .expose_secret(),
        spki.as_slice()
    );

    for (bad, what) in [
        ("".to_string(), "empty"),
        ("not a key".to_string(), "garbage"),
        (public_key_pem(), "public key"),
        (
            pem::encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00"),
            "bad DER",
        ),
        (
            pem::encode("ENCRYPTED PRIVATE KEY", b"\x30\x00"),
            "encrypted",
        ),
        (pkcs8.replace("MIIEvg", "MIIEvh"), "corrupt"),
    ] {
        match Signer::from_pem(&SecretString::from(bad), "K", SigningAlgorithm::V2) {
            Err(Error::InvalidKey(msg)) => {
                assert!(!msg.contains("MII"), "{what}: no key material in {msg}")
            }
            other => panic!("{what}: expected InvalidKey, got {other:?}"),
        }
    }
    // Debug never prints key material.
    let dbg = format!("{:?}", signer(SigningAlgorithm::V2));
    assert!(dbg.contains("redacted") && !dbg.contains("MII"));
    assert!(matches!(
        Signer::from_pem(&SecretString::from(pkcs8), "bad id", SigningAlgorithm::V2),
        Err(Error::Config(_))
    ));
}
