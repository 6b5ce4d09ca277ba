//! Amazon Pay API v2 request signing, the pure part (SPEC §2): algorithms, canonical
//! request, string to sign, the `authorization` header and `x-amz-pay-date`.
//!
//! No crypto beyond SHA-256 lives here: the RSASSA-PSS operation itself is done by the
//! client (aws-lc-rs) and by verifiers (the sandbox), both on top of these byte-exact
//! builders, so signer and verifier can never disagree about what was signed.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use crate::timestamp::{AmazonTimestamp, TimestampError};

/// Lowercase hex SHA-256 of the empty string: the payload hash of a request without body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Name of the `x-amz-pay-date` header.
pub const HEADER_DATE: &str = "x-amz-pay-date";
/// Name of the `x-amz-pay-host` header.
pub const HEADER_HOST: &str = "x-amz-pay-host";
/// Name of the `x-amz-pay-region` header.
pub const HEADER_REGION: &str = "x-amz-pay-region";
/// Name of the `x-amz-pay-idempotency-key` header.
pub const HEADER_IDEMPOTENCY_KEY: &str = "x-amz-pay-idempotency-key";
/// Name of the `x-amz-pay-simulation-code` header (sandbox only).
pub const HEADER_SIMULATION_CODE: &str = "x-amz-pay-simulation-code";
/// Name of Amazon's response header carrying its request id.
pub const HEADER_REQUEST_ID: &str = "x-amz-pay-request-id";

/// The two Amazon Pay signature algorithms (SPEC §2.1). Both are RSASSA-PSS with SHA-256
/// and MGF1-SHA-256; they differ only in the salt length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlgorithm {
    /// `AMZN-PAY-RSASSA-PSS`, salt 20 bytes (the SDKs' historical default).
    V1,
    /// `AMZN-PAY-RSASSA-PSS-V2`, salt 32 bytes (recommended).
    #[default]
    V2,
}

impl SigningAlgorithm {
    /// Both algorithms.
    pub const ALL: [SigningAlgorithm; 2] = [SigningAlgorithm::V1, SigningAlgorithm::V2];

    /// The name used in the string to sign and the `authorization` header.
    pub fn name(self) -> &'static str {
        match self {
            SigningAlgorithm::V1 => "AMZN-PAY-RSASSA-PSS",
            SigningAlgorithm::V2 => "AMZN-PAY-RSASSA-PSS-V2",
        }
    }

    /// The PSS salt length in bytes.
    pub fn salt_len(self) -> usize {
        match self {
            SigningAlgorithm::V1 => 20,
            SigningAlgorithm::V2 => 32,
        }
    }

    /// Parses an exact algorithm name (case-sensitive, as Amazon compares it).
    pub fn from_name(name: &str) -> Result<Self, SigningError> {
        match name {
            "AMZN-PAY-RSASSA-PSS" => Ok(SigningAlgorithm::V1),
            "AMZN-PAY-RSASSA-PSS-V2" => Ok(SigningAlgorithm::V2),
            other => Err(SigningError::UnknownAlgorithm(truncate(other, 40))),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = SigningError;
    /// Accepts the exact algorithm names and the short forms `v1` / `v2` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v1" => Ok(SigningAlgorithm::V1),
            "v2" => Ok(SigningAlgorithm::V2),
            _ => SigningAlgorithm::from_name(s),
        }
    }
}

/// Why a request could not be canonicalised or a header parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The algorithm name is neither `AMZN-PAY-RSASSA-PSS` nor `AMZN-PAY-RSASSA-PSS-V2`.
    #[error("unknown signing algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// A header listed in SignedHeaders is not in the request.
    #[error("signed header {0:?} is missing from the request")]
    MissingSignedHeader(String),
    /// The SignedHeaders list is empty or contains an empty/invalid name.
    #[error("invalid SignedHeaders list: {0}")]
    InvalidSignedHeaders(String),
    /// The HTTP method is empty or not a token.
    #[error("invalid HTTP method {0:?}")]
    InvalidMethod(String),
    /// The `authorization` header does not have the Amazon Pay shape.
    #[error("malformed authorization header: {0}")]
    MalformedAuthorization(&'static str),
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Canonical query string (SPEC §2.3): the raw query is split into pairs, each name and
/// value percent-decoded, pairs sorted by name then value (byte order), and re-encoded
/// with the RFC 3986 unreserved set and uppercase hex. `+` is kept as a literal plus
/// (RFC 3986, not form encoding). Empty input gives the empty string.
pub fn canonical_query(raw_query: &str) -> String {
    let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (percent_decode(n), percent_decode(v)),
            None => (percent_decode(p), Vec::new()),
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode_into(n, &mut out);
        out.push('=');
        percent_encode_into(v, &mut out);
    }
    out
}

/// Decodes `%XX` escapes; a malformed escape is kept literally (lenient, like browsers).
fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 encoding: unreserved `A-Z a-z 0-9 - _ . ~` kept, everything else `%XX`.
fn percent_encode_into(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in bytes {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~') {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(c >> 4)] as char);
            out.push(HEX[usize::from(c & 0x0f)] as char);
        }
    }
}

/// Joins header names into the SignedHeaders form (`a;b;c`), lower-cased, order kept.
pub fn signed_headers_value<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| n.as_ref().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(";")
}

/// Splits a SignedHeaders value (`a;b;c`) into lower-cased names.
pub fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigningError> {
    let names: Vec<String> = value.split(';').map(|n| n.to_ascii_lowercase()).collect();
    for n in &names {
        if n.is_empty() || !n.bytes().all(is_token_char) {
            return Err(SigningError::InvalidSignedHeaders(format!(
                "bad header name {:?}",
                truncate(n, 40)
            )));
        }
    }
    Ok(names)
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Looks a header up case-insensitively in a list of `(name, value)` pairs (first match).
pub fn find_header<'a, N: AsRef<str>, V: AsRef<str>>(
    headers: &'a [(N, V)],
    name: &str,
) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

/// The parts of an HTTP request that the signature covers, exactly as sent or received.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method (upper-cased in the canonical form).
    pub method: &'a str,
    /// Raw URL path as sent, including any `/sandbox` prefix and trailing slash.
    pub path: &'a str,
    /// Raw query string without `?` (empty when none).
    pub query: &'a str,
    /// Raw body bytes (empty when none).
    pub body: &'a [u8],
}

/// Builds the canonical request (SPEC §2.3). `signed_headers` gives the header names in
/// the order they appear in SignedHeaders; `lookup` returns the value of a header by its
/// lower-case name (case-insensitive lookup is the caller's job, e.g. [`find_header`]).
/// Values are trimmed.
pub fn canonical_request<S, F>(
    parts: RequestParts<'_>,
    signed_headers: &[S],
    lookup: F,
) -> Result<String, SigningError>
where
    S: AsRef<str>,
    F: Fn(&str) -> Option<String>,
{
    if parts.method.is_empty() || !parts.method.bytes().all(is_token_char) {
        return Err(SigningError::InvalidMethod(truncate(parts.method, 16)));
    }
    if signed_headers.is_empty() {
        return Err(SigningError::InvalidSignedHeaders("empty list".into()));
    }
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    let mut out = String::with_capacity(512);
    out.push_str(&parts.method.to_ascii_uppercase());
    out.push('\n');
    out.push_str(path);
    out.push('\n');
    out.push_str(&canonical_query(parts.query));
    out.push('\n');
    let mut names = Vec::with_capacity(signed_headers.len());
    for name in signed_headers {
        let lower = name.as_ref().to_ascii_lowercase();
        if lower.is_empty() || !lower.bytes().all(is_token_char) {
            return Err(SigningError::InvalidSignedHeaders(format!(
                "bad header name {:?}",
                truncate(&lower, 40)
            )));
        }
        let value =
            lookup(&lower).ok_or_else(|| SigningError::MissingSignedHeader(lower.clone()))?;
        out.push_str(&lower);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
        names.push(lower);
    }
    out.push('\n');
    out.push_str(&names.join(";"));
    out.push('\n');
    out.push_str(&hex_sha256(parts.body));
    Ok(out)
}

/// Convenience: [`canonical_request`] over a `(name, value)` header list.
pub fn canonical_request_from_pairs<S, N, V>(
    parts: RequestParts<'_>,
    signed_headers: &[S],
    headers: &[(N, V)],
) -> Result<String, SigningError>
where
    S: AsRef<str>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    canonical_request(parts, signed_headers, |n| {
        find_header(headers, n).map(str::to_string)
    })
}

/// `StringToSign = AlgorithmName "\n" HexLower(SHA256(CanonicalRequest))` (SPEC §2.4).
pub fn string_to_sign(alg: SigningAlgorithm, canonical_request: &str) -> String {
    format!(
        "{}\n{}",
        alg.name(),
        hex_sha256(canonical_request.as_bytes())
    )
}

/// String to sign for an Amazon Pay button payload (SPEC §2.7): no canonical request,
/// no date; the payload JSON string must be byte-identical to what the page passes.
pub fn button_string_to_sign(alg: SigningAlgorithm, payload_json: &str) -> String {
    format!("{}\n{}", alg.name(), hex_sha256(payload_json.as_bytes()))
}

/// The `authorization` header (SPEC §2.5).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// Algorithm named in the header.
    pub algorithm: SigningAlgorithm,
    /// Merchant public key id.
    pub public_key_id: String,
    /// Lower-case signed header names, in header order.
    pub signed_headers: Vec<String>,
    /// Base64 (standard, padded) signature.
    pub signature_b64: String,
}

impl fmt::Debug for AuthorizationHeader {
    // The signature is a bearer-like credential for replay within the skew window: elide it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationHeader")
            .field("algorithm", &self.algorithm)
            .field("public_key_id", &self.public_key_id)
            .field("signed_headers", &self.signed_headers)
            .field("signature_b64", &"<redacted>")
            .finish()
    }
}

impl AuthorizationHeader {
    /// `<Alg> PublicKeyId=<id>, SignedHeaders=<h1;h2>, Signature=<b64>`.
    pub fn format(&self) -> String {
        format!(
            "{} PublicKeyId={}, SignedHeaders={}, Signature={}",
            self.algorithm.name(),
            self.public_key_id,
            signed_headers_value(&self.signed_headers),
            self.signature_b64
        )
    }

    /// Parses the header exactly as the regex of SPEC §2.6 step 1:
    /// `^(AMZN-PAY-RSASSA-PSS(-V2)?) PublicKeyId=([^,\s]+), SignedHeaders=([^,\s]+), Signature=([A-Za-z0-9+/=]+)$`.
    pub fn parse(value: &str) -> Result<Self, SigningError> {
        use SigningError::MalformedAuthorization as M;
        let (alg, rest) = value
            .split_once(' ')
            .ok_or(M("no space after the algorithm name"))?;
        let algorithm = SigningAlgorithm::from_name(alg)?;
        let rest = rest
            .strip_prefix("PublicKeyId=")
            .ok_or(M("expected PublicKeyId= after the algorithm"))?;
        let (public_key_id, rest) = rest
            .split_once(", SignedHeaders=")
            .ok_or(M("expected \", SignedHeaders=\" after PublicKeyId"))?;
        if public_key_id.is_empty() || !no_comma_or_space(public_key_id) {
            return Err(M("invalid PublicKeyId"));
        }
        let (signed, signature) = rest
            .split_once(", Signature=")
            .ok_or(M("expected \", Signature=\" after SignedHeaders"))?;
        if signed.is_empty() || !no_comma_or_space(signed) {
            return Err(M("invalid SignedHeaders"));
        }
        if signature.is_empty()
            || !signature
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        {
            return Err(M("invalid Signature (expected standard base64)"));
        }
        Ok(AuthorizationHeader {
            algorithm,
            public_key_id: public_key_id.to_string(),
            signed_headers: parse_signed_headers(signed)?,
            signature_b64: signature.to_string(),
        })
    }
}

fn no_comma_or_space(s: &str) -> bool {
    !s.chars().any(|c| c == ',' || c.is_whitespace())
}

/// Formats an instant for `x-amz-pay-date` in the basic form `yyyyMMddTHHmmssZ`.
pub fn format_pay_date(t: AmazonTimestamp) -> String {
    t.to_basic()
}

/// Parses `x-amz-pay-date` in either the basic or the extended form (SPEC §2.2).
pub fn parse_pay_date(s: &str) -> Result<AmazonTimestamp, TimestampError> {
    AmazonTimestamp::parse(s)
}

#[cfg(test)]
mod tests;
