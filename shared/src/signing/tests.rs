//! Unit tests of `signing`.
use super::*;

#[test]
fn algorithm_names_and_salts() {
    for (alg, name, salt) in [
        (SigningAlgorithm::V1, "AMZN-PAY-RSASSA-PSS", 20),
        (SigningAlgorithm::V2, "AMZN-PAY-RSASSA-PSS-V2", 32),
    ] {
        assert_eq!(alg.name(), name);
        assert_eq!(alg.salt_len(), salt);
        assert_eq!(SigningAlgorithm::from_name(name).unwrap(), alg);
        assert_eq!(name.parse::<SigningAlgorithm>().unwrap(), alg);
    }
    assert_eq!(
        "V1".parse::<SigningAlgorithm>().unwrap(),
        SigningAlgorithm::V1
    );
    assert_eq!(
        "v2".parse::<SigningAlgorithm>().unwrap(),
        SigningAlgorithm::V2
    );
    for bad in ["", "amzn-pay-rssassa-pss", "AMZN-PAY-RSASSA-PSS-V3", "v3"] {
        assert!(matches!(
            bad.parse::<SigningAlgorithm>(),
            Err(SigningError::UnknownAlgorithm(_))
        ));
    }
    assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::V2);
}

#[test]
fn canonical_query_table() {
    for (raw, want) in [
        ("", ""),
        ("?", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1", "a=1&a=2"),
        ("a=x%2cy", "a=x%2Cy"),
        ("a=x,y", "a=x%2Cy"),
        ("q=a b", "q=a%20b"),
        ("q=a%20b", "q=a%20b"),
        ("q=a+b", "q=a%2Bb"),
        ("q=~-_.", "q=~-_."),
        ("q=%7E", "q=~"),
        ("flag", "flag="),
        ("a=1&&b=2", "a=1&b=2"),
        ("q=%zz", "q=%25zz"),
        ("q=%4", "q=%254"),
        ("n%61me=v", "name=v"),
        ("q=%E2%82%AC", "q=%E2%82%AC"),
        ("q=*!'()", "q=%2A%21%27%28%29"),
    ] {
        assert_eq!(canonical_query(raw), want, "raw {raw:?}");
    }
}

fn parts<'a>(method: &'a str, path: &'a str, query: &'a str, body: &'a [u8]) -> RequestParts<'a> {
    RequestParts {
        method,
        path,
        query,
        body,
    }
}

#[test]
fn canonical_request_shape() {
    let headers = [
        ("Accept", "application/json"),
        ("X-Amz-Pay-Date", "  20240601T123456Z "),
        ("x-amz-pay-host", "pay-api.amazon.eu"),
    ];
    let cr = canonical_request_from_pairs(
        parts("post", "/v2/charges/", "", b"{}"),
        &["accept", "X-AMZ-PAY-DATE", "x-amz-pay-host"],
        &headers,
    )
    .unwrap();
    assert_eq!(
        cr,
        format!(
            "POST\n/v2/charges/\n\naccept:application/json\nx-amz-pay-date:20240601T123456Z\nx-amz-pay-host:pay-api.amazon.eu\n\naccept;x-amz-pay-date;x-amz-pay-host\n{}",
            hex_sha256(b"{}")
        )
    );
    // Empty path and empty body.
    let cr =
        canonical_request_from_pairs(parts("GET", "", "", b""), &["accept"], &headers).unwrap();
    assert!(cr.starts_with("GET\n/\n\n"));
    assert!(cr.ends_with(EMPTY_BODY_SHA256));
}

#[test]
fn canonical_request_errors() {
    let headers = [("accept", "application/json")];
    assert_eq!(
        canonical_request_from_pairs(
            parts("GET", "/", "", b""),
            &["accept", "x-amz-pay-date"],
            &headers
        ),
        Err(SigningError::MissingSignedHeader("x-amz-pay-date".into()))
    );
    let none: [&str; 0] = [];
    assert!(matches!(
        canonical_request_from_pairs(parts("GET", "/", "", b""), &none, &headers),
        Err(SigningError::InvalidSignedHeaders(_))
    ));
    assert!(matches!(
        canonical_request_from_pairs(parts("GET", "/", "", b""), &["acc ept"], &headers),
        Err(SigningError::InvalidSignedHeaders(_))
    ));
    assert!(matches!(
        canonical_request_from_pairs(parts("G ET", "/", "", b""), &["accept"], &headers),
        Err(SigningError::InvalidMethod(_))
    ));
}

#[test]
fn authorization_round_trip() {
    let h = AuthorizationHeader {
        algorithm: SigningAlgorithm::V2,
        public_key_id: "SANDBOX-AEXAMPLE".into(),
        signed_headers: vec!["accept".into(), "x-amz-pay-date".into()],
        signature_b64: "ab+/cd==".into(),
    };
    let s = h.format();
    assert_eq!(
        s,
        "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=SANDBOX-AEXAMPLE, SignedHeaders=accept;x-amz-pay-date, Signature=ab+/cd=="
    );
    assert_eq!(AuthorizationHeader::parse(&s).unwrap(), h);
    assert!(!format!("{h:?}").contains("ab+/cd=="));
    let v1 = s.replace("RSASSA-PSS-V2", "RSASSA-PSS");
    assert_eq!(
        AuthorizationHeader::parse(&v1).unwrap().algorithm,
        SigningAlgorithm::V1
    );
}

#[test]
fn authorization_parse_rejects() {
    let good = "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K, SignedHeaders=accept, Signature=QUJD";
    assert_eq!(
        AuthorizationHeader::parse(good).map(|h| h.signed_headers),
        Ok(vec!["accept".to_string()])
    );
    use SigningError::MalformedAuthorization as M;
    let bad_list = SigningError::InvalidSignedHeaders("bad header name \"\"".into());
    for (bad, want) in [
        ("", M("no space after the algorithm name")),
        (
            "AMZN-PAY-RSASSA-PSS-V2",
            M("no space after the algorithm name"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V3 PublicKeyId=K, SignedHeaders=accept, Signature=QUJD",
            SigningError::UnknownAlgorithm("AMZN-PAY-RSASSA-PSS-V3".into()),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2  PublicKeyId=K, SignedHeaders=accept, Signature=QUJD",
            M("expected PublicKeyId= after the algorithm"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=, SignedHeaders=accept, Signature=QUJD",
            M("invalid PublicKeyId"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K,SignedHeaders=accept, Signature=QUJD",
            M("expected \", SignedHeaders=\" after PublicKeyId"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K, SignedHeaders=, Signature=QUJD",
            M("invalid SignedHeaders"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K, SignedHeaders=accept, Signature=",
            M("invalid Signature (expected standard base64)"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K, SignedHeaders=accept, Signature=QU-D",
            M("invalid Signature (expected standard base64)"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K, SignedHeaders=accept, Signature=QUJD ",
            M("invalid Signature (expected standard base64)"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K K, SignedHeaders=accept, Signature=QUJD",
            M("invalid PublicKeyId"),
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=K, SignedHeaders=accept;;date, Signature=QUJD",
            bad_list,
        ),
        (
            "AMZN-PAY-RSASSA-PSS-V2 Signature=QUJD, PublicKeyId=K, SignedHeaders=accept",
            M("expected PublicKeyId= after the algorithm"),
        ),
    ] {
        assert_eq!(AuthorizationHeader::parse(bad), Err(want), "{bad:?}");
    }
}

#[test]
fn pay_date_helpers() {
    let t = parse_pay_date("2024-06-01T12:34:56Z").unwrap();
    assert_eq!(format_pay_date(t), "20240601T123456Z");
    assert_eq!(parse_pay_date("20240601T123456Z").unwrap(), t);
    assert_eq!(
        parse_pay_date("June 1st"),
        Err(TimestampError("June 1st".into()))
    );
}

#[test]
fn button_string_to_sign_hashes_payload() {
    assert_eq!(
        button_string_to_sign(SigningAlgorithm::V2, ""),
        format!("AMZN-PAY-RSASSA-PSS-V2\n{EMPTY_BODY_SHA256}")
    );
}

proptest::proptest! {
    /// The canonical query is a fixed point and does not depend on pair order.
    #[test]
    fn canonical_query_is_stable(pairs in proptest::collection::vec(("[a-zA-Z0-9 ,+%~*]{0,6}", "[a-zA-Z0-9 ,+%~*=]{0,6}"), 0..6)) {
        let raw: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let once = canonical_query(&raw.join("&"));
        proptest::prop_assert_eq!(canonical_query(&once), once.clone());
        let mut rev = raw.clone();
        rev.reverse();
        proptest::prop_assert_eq!(canonical_query(&rev.join("&")), once.clone());
        proptest::prop_assert!(once.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_.~%&=".contains(&c)));
    }
}
