//! An SNS signature verifier written here from SPEC §12.3 and AWS's page, independent of
//! the production code: its own key lists and string to sign, x509-parser for the
//! certificate, the rsa crate with SHA-1 / SHA-256 for PKCS#1 v1.5.

use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use rsa::Pkcs1v15Sign;
use serde_json::Value;
use sha2::Digest;
use url::Url;

/// The keys SNS signs, in order, per message type (AWS: "sns-verify-signature-of-message").
fn signed_keys(message_type: &str) -> Result<&'static [&'static str], String> {
    match message_type {
        "Notification" => Ok(&[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]),
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => Ok(&[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]),
        other => Err(format!("unknown Type {other:?}")),
    }
}

/// Fetches the signing certificate and checks what a real verifier checks of it, except
/// that it must live below the sandbox's base URL (https / `sns.*.amazonaws.com` cannot
/// hold for a loopback sandbox).
async fn certificate_key(base: &Url, cert_url: &str) -> Result<rsa::PublicKey, String> {
    let parsed = Url::parse(cert_url).map_err(|e| e.to_string())?;
    if parsed.origin() != base.origin()
        || !parsed.path().ends_with(".pem")
        || !parsed
            .path()
            .starts_with("/_sandbox/sns/SimpleNotificationService-")
    {
        return Err(format!("certificate URL {cert_url} is not the sandbox's"));
    }
    let pem = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?
        .get(cert_url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
    let cert = pem.parse_x509().map_err(|e| e.to_string())?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or("certificate has no CN")?;
    if cn != "sns.amazonaws.com" {
        return Err(format!("certificate CN is {cn}"));
    }
    rsa::PublicKey::from_public_key_der(cert.public_key().raw).map_err(|e| e.to_string())
}

/// Verifies one SNS envelope (as received JSON) against the sandbox at `base`.
pub async fn verify_envelope(base: &Url, envelope: &Value) -> Result<(), String> {
    let field = |k: &str| envelope.get(k).and_then(Value::as_str);
    let key = certificate_key(base, field("SigningCertURL").ok_or("no SigningCertURL")?).await?;
    let mut to_sign = String::new();
    for k in signed_keys(field("Type").unwrap_or(""))? {
        if let Some(v) = field(k) {
            to_sign.push_str(&format!("{k}\n{v}\n"));
        }
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(field("Signature").ok_or("no Signature")?)
        .map_err(|e| e.to_string())?;
    let verified = match field("SignatureVersion") {
        Some("1") => key.verify(
            Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(to_sign.as_bytes()),
            &signature,
        ),
        Some("2") => key.verify(
            Pkcs1v15Sign::new::<sha2::Sha256>(),
            &sha2::Sha256::digest(to_sign.as_bytes()),
            &signature,
        ),
        other => return Err(format!("unsupported SignatureVersion {other:?}")),
    };
    verified.map_err(|e| format!("bad signature: {e}"))
}
