//! Minimal PEM reading and writing (RFC 7468): enough for RSA keys, no extra crate.

use base64::Engine as _;
use secrecy::SecretSlice;

/// One decoded PEM block; the DER is kept secret because it may be a private key.
pub struct PemBlock {
    /// The label between `BEGIN ` and `-----`, e.g. `PRIVATE KEY`.
    pub label: String,
    /// The decoded DER bytes.
    pub der: SecretSlice<u8>,
}

/// Why a text is not a usable PEM block (never quotes the text: it may be a key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    /// No `-----BEGIN ` line.
    #[error("no PEM block found (expected -----BEGIN …-----)")]
    NoBlock,
    /// The BEGIN line does not end with `-----`.
    #[error("unterminated PEM BEGIN line")]
    UnterminatedBegin,
    /// No `-----END <label>-----` line.
    #[error("missing \"-----END {0}-----\"")]
    MissingEnd(String),
    /// RFC 1421 headers (an encrypted legacy key).
    #[error("PEM headers (e.g. Proc-Type: encrypted) are not supported")]
    Headers,
    /// The body is not base64.
    #[error("invalid base64 in the {0} PEM block")]
    InvalidBase64(String),
}

/// Decodes the first PEM block in `text` (leading text and other blocks are ignored).
pub fn decode_first(text: &str) -> Result<PemBlock, PemError> {
    let start = text.find("-----BEGIN ").ok_or(PemError::NoBlock)?;
    let after = &text[start + "-----BEGIN ".len()..];
    let label_end = after.find("-----").ok_or(PemError::UnterminatedBegin)?;
    let label = after[..label_end].to_string();
    let body_and_rest = &after[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| PemError::MissingEnd(label.clone()))?;
    let b64: String = body_and_rest[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if b64.contains(':') {
        return Err(PemError::Headers);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| PemError::InvalidBase64(label.clone()))?;
    Ok(PemBlock {
        label,
        der: SecretSlice::from(der),
    })
}

/// Encodes DER as PEM with 64-column lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn round_trip() {
        let der: Vec<u8> = (0..200u8).collect();
        let pem = encode("PUBLIC KEY", &der);
        assert!(pem.lines().all(|l| l.len() <= 64));
        let b = decode_first(&format!("junk\n{pem}")).unwrap();
        assert_eq!(b.label, "PUBLIC KEY");
        assert_eq!(b.der.expose_secret(), der.as_slice());
    }

    #[test]
    fn rejects() {
        for (text, want) in [
            ("hello", PemError::NoBlock),
            ("-----BEGIN X", PemError::UnterminatedBegin),
            ("-----BEGIN X-----\nAAAA\n", PemError::MissingEnd("X".into())),
            (
                "-----BEGIN X-----\n@@@@\n-----END X-----\n",
                PemError::InvalidBase64("X".into()),
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                PemError::Headers,
            ),
        ] {
            match decode_first(text) {
                Err(got) => assert_eq!(got, want, "{text:?}"),
                Ok(b) => panic!("{text:?} decoded as {}", b.label),
            }
        }
    }
}
