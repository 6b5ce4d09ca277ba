//! Signing throughput: RSA-PSS V2 (salt 32), V1 (salt 20), and canonical request building.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use savedwallet_amazon_pay::{Signer, SigningAlgorithm};
use savedwallet_shared::signing::{canonical_request_from_pairs, string_to_sign, RequestParts};
use secrecy::SecretString;
use std::hint::black_box;

const BODY: &[u8] = br#"{"chargePermissionId":"B01-1234567-1234567","chargeAmount":{"amount":"14.99","currencyCode":"EUR"},"captureNow":true,"softDescriptor":"ACME Monthly","canHandlePendingAuthorization":false,"chargeInitiator":"MITU","channel":"Web","merchantMetadata":{"merchantReferenceId":"order-0001","merchantStoreName":"ACME Store"}}"#;

fn headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("x-amz-pay-date", "20240601T123456Z"),
        ("x-amz-pay-host", "pay-api.amazon.eu"),
        (
            "x-amz-pay-idempotency-key",
            "b5a9d4a0c3f94a5c8e2f1d7e6c5b4a39",
        ),
        ("x-amz-pay-region", "eu"),
    ]
}

fn parts() -> RequestParts<'static> {
    RequestParts {
        method: "POST",
        path: "/v2/charges",
        query: "",
        body: BODY,
    }
}

fn private_key() -> SecretString {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/amazon-pay/signing-vectors.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json");
    SecretString::from(
        v["keys"]["privateKeyPem"]
            .as_str()
            .expect("key")
            .to_string(),
    )
}

fn bench(c: &mut Criterion) {
    let key = private_key();
    let headers = headers();
    let mut g = c.benchmark_group("amazon_pay_signing");
    g.throughput(Throughput::Elements(1));
    for alg in [SigningAlgorithm::V2, SigningAlgorithm::V1] {
        let signer = Signer::from_pem(&key, "SANDBOX-BENCH", alg).expect("signer");
        g.bench_function(format!("sign_request_{}", alg.name()), |b| {
            b.iter(|| {
                signer
                    .sign_request(black_box(parts()), black_box(&headers))
                    .expect("sign")
            })
        });
    }
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    g.bench_function("canonical_request_and_string_to_sign", |b| {
        b.iter(|| {
            let cr =
                canonical_request_from_pairs(black_box(parts()), &names, &headers).expect("cr");
            string_to_sign(SigningAlgorithm::V2, &cr)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
