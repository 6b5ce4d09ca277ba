//! A hand-built signed request (rsa crate signer): every part can be tampered with, and
//! it sends what the typed client refuses to send.

use base64::Engine as _;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use savedwallet_sandbox::SandboxHandle;
use savedwallet_shared::signing::{
    canonical_request_from_pairs, string_to_sign, RequestParts, SigningAlgorithm,
};
use serde_json::Value;

use super::{key, private_pem, KEY_ID};

/// A hand-built signed request: everything can be tampered with before sending.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Header names to sign (lower case, sorted).
    pub signed: Vec<String>,
    pub key_id: String,
    pub alg_name: String,
    pub salt: usize,
}

impl RawRequest {
    pub fn new(sb: &SandboxHandle, method: &str, path: &str, body: &str) -> RawRequest {
        let host = sb.addr().to_string();
        let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut headers = vec![
            ("accept".to_string(), "application/json".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
            ("x-amz-pay-date".to_string(), date),
            ("x-amz-pay-host".to_string(), host),
            ("x-amz-pay-region".to_string(), "eu".to_string()),
        ];
        if method == "POST" {
            headers.push(("x-amz-pay-idempotency-key".to_string(), key()));
        }
        let mut signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        signed.sort();
        RawRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers,
            body: body.into(),
            signed,
            key_id: KEY_ID.into(),
            alg_name: "AMZN-PAY-RSASSA-PSS-V2".into(),
            salt: 32,
        }
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// The authorization header over the current fields, signed with the rsa crate.
    pub fn authorization(&self) -> String {
        let alg = SigningAlgorithm::from_name(&self.alg_name).unwrap_or(SigningAlgorithm::V2);
        let canonical = canonical_request_from_pairs(
            RequestParts {
                method: &self.method,
                path: &self.path,
                query: &self.query,
                body: self.body.as_bytes(),
            },
            &self.signed,
            &self.headers,
        )
        .expect("canonical");
        let sts = string_to_sign(alg, &canonical);
        let key = rsa::PrivateKey::from_pkcs8_pem(&private_pem()).expect("key");
        let signer = rsa::pss::SigningKey::<rsa::sha2::Sha256>::new_with_salt_len(key, self.salt);
        let sig = signer.try_sign(sts.as_bytes()).expect("sign");
        format!(
            "{} PublicKeyId={}, SignedHeaders={}, Signature={}",
            self.alg_name,
            self.key_id,
            self.signed.join(";"),
            base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
        )
    }

    /// Sends with the given authorization header; returns (status, JSON body).
    pub async fn send_with(&self, sb: &SandboxHandle, authorization: &str) -> (u16, Value) {
        let (status, _, body) = self.send_full(sb, authorization).await;
        (status, body)
    }

    /// Sends with the given authorization header; returns (status, headers, JSON body).
    pub async fn send_full(
        &self,
        sb: &SandboxHandle,
        authorization: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if self.query.is_empty() {
            format!("{}{}", sb.base_url(), self.path)
        } else {
            format!("{}{}?{}", sb.base_url(), self.path, self.query)
        };
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).expect("method");
        let mut rb = reqwest::Client::new().request(method, url);
        for (n, v) in &self.headers {
            rb = rb.header(n.as_str(), v.as_str());
        }
        let resp = rb
            .header("authorization", authorization)
            .body(self.body.clone())
            .send()
            .await
            .expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Signs, sends and returns (status, `reasonCode` or "" on success).
    pub async fn outcome(&self, sb: &SandboxHandle) -> (u16, String) {
        let (status, v) = self.send(sb).await;
        (status, v["reasonCode"].as_str().unwrap_or("").to_string())
    }

    /// Adds a signed `x-amz-pay-simulation-code` header (Node/Java/.NET style).
    pub fn signed_simulation_code(&mut self, code: &str) {
        self.set_header("x-amz-pay-simulation-code", code);
        self.signed.push("x-amz-pay-simulation-code".into());
        self.signed.sort();
    }

    pub async fn send(&self, sb: &SandboxHandle) -> (u16, Value) {
        let auth = self.authorization();
        self.send_with(sb, &auth).await
    }
}
