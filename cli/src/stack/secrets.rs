//! The local stack's per-install secrets under its state directory (`.local/`): the
//! merchant's RSA signing key pair, the dev JWT issuer's P-256 key, the admin token, the
//! checkout-session binding secret and the webhook secret. Created on first run (secret
//! files mode 0600, never overwritten), read back afterwards; in memory when there is no
//! directory (tests, `simulate`).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use savedwallet_amazon_pay::pem;

/// Why a secret could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists already (never overwritten).
    #[error("{0} already exists; refusing to overwrite it")]
    Exists(PathBuf),
    /// Key generation failed.
    #[error("key generation failed")]
    Crypto,
    /// A stored file is not what it should be.
    #[error("{0} is damaged; remove it to make a new one")]
    Damaged(PathBuf),
}

/// A merchant signing key pair: PKCS#8 private PEM and SubjectPublicKeyInfo PEM.
#[derive(Clone)]
pub struct RsaPair {
    /// PKCS#8 PEM (secret).
    pub private_pem: String,
    /// SPKI PEM.
    pub public_pem: String,
}

impl std::fmt::Debug for RsaPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPair").finish_non_exhaustive()
    }
}

/// A fresh RSA-2048 pair, the size Amazon Pay's keys are.
pub fn rsa_pair() -> Result<RsaPair, SecretError> {
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| SecretError::Crypto)?;
    let pkcs8: Pkcs8V1Der<'static> = key.as_der().map_err(|_| SecretError::Crypto)?;
    let spki = key.public_key().as_der().map_err(|_| SecretError::Crypto)?;
    Ok(RsaPair {
        private_pem: pem::encode("PRIVATE KEY", pkcs8.as_ref()),
        public_pem: pem::encode("PUBLIC KEY", spki.as_ref()),
    })
}

/// `n` random bytes, URL-safe base64 without padding.
pub fn random_token(n: usize) -> Result<String, SecretError> {
    let mut b = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| SecretError::Crypto)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// Creates `path` exclusively (never overwrites); a secret is 0600 from the start.
pub fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), SecretError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let io = |source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            SecretError::Exists(path.to_path_buf())
        } else {
            io(e)
        }
    })?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Writes `path` (replacing it) with mode 0600: `stack.json`, rewritten at every start.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SecretError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    write_new(&tmp, bytes, true)?;
    std::fs::rename(&tmp, path).map_err(|source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every secret of one install.
#[derive(Clone)]
pub struct Secrets {
    /// The merchant's Amazon Pay signing key pair.
    pub merchant_key: RsaPair,
    /// The dev JWT issuer's P-256 key (PKCS#8 DER).
    pub issuer_pkcs8: Vec<u8>,
    /// The admin token (`Authorization: Bearer …` on `/admin/v1`).
    pub admin_token: String,
    /// The checkout-session binding secret.
    pub binding_secret: Vec<u8>,
    /// The webhook signing secret (Standard Webhooks `whsec_…`).
    pub webhook_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

fn read_or(
    path: &Path,
    make: impl FnOnce() -> Result<Vec<u8>, SecretError>,
) -> Result<Vec<u8>, SecretError> {
    match std::fs::read(path) {
        Ok(b) if !b.is_empty() => Ok(b),
        Ok(_) => Err(SecretError::Damaged(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let b = make()?;
            write_new(path, &b, true)?;
            Ok(b)
        }
        Err(source) => Err(SecretError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn text(path: &Path, b: Vec<u8>) -> Result<String, SecretError> {
    String::from_utf8(b)
        .map(|s| s.trim().to_string())
        .map_err(|_| SecretError::Damaged(path.to_path_buf()))
}

fn new_issuer_key() -> Result<Vec<u8>, SecretError> {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| SecretError::Crypto)
}

fn new_webhook_secret() -> Result<Vec<u8>, SecretError> {
    let mut b = [0u8; 24];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| SecretError::Crypto)?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b)
    )
    .into_bytes())
}

impl Secrets {
    /// Fresh secrets, kept in memory only.
    pub fn ephemeral() -> Result<Secrets, SecretError> {
        Ok(Secrets {
            merchant_key: rsa_pair()?,
            issuer_pkcs8: new_issuer_key()?,
            admin_token: random_token(24)?,
            binding_secret: random_token(32)?.into_bytes(),
            webhook_secret: text(Path::new("webhook"), new_webhook_secret()?)?,
        })
    }

    /// The secrets under `dir` (`keys/private.pem`, `keys/public.pem`, `jwt-issuer.pk8`,
    /// `admin-token`, `binding-secret`, `webhook-secret`), made on first use.
    pub fn load_or_create(dir: &Path) -> Result<Secrets, SecretError> {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).map_err(|source| SecretError::Io {
            path: keys.clone(),
            source,
        })?;
        let (private, public) = (keys.join("private.pem"), keys.join("public.pem"));
        if !private.exists() {
            let pair = rsa_pair()?;
            let _ = std::fs::remove_file(&public);
            write_new(&private, pair.private_pem.as_bytes(), true)?;
            write_new(&public, pair.public_pem.as_bytes(), false)?;
        }
        let merchant_key = RsaPair {
            private_pem: text(
                &private,
                read_or(&private, || Err(SecretError::Damaged(private.clone())))?,
            )?,
            public_pem: text(
                &public,
                read_or(&public, || Err(SecretError::Damaged(public.clone())))?,
            )?,
        };
        let token_path = dir.join("admin-token");
        let binding_path = dir.join("binding-secret");
        let webhook_path = dir.join("webhook-secret");
        Ok(Secrets {
            merchant_key,
            issuer_pkcs8: read_or(&dir.join("jwt-issuer.pk8"), new_issuer_key)?,
            admin_token: text(
                &token_path,
                read_or(&token_path, || Ok(random_token(24)?.into_bytes()))?,
            )?,
            binding_secret: read_or(&binding_path, || Ok(random_token(32)?.into_bytes()))?,
            webhook_secret: text(&webhook_path, read_or(&webhook_path, new_webhook_secret)?)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_read_back_with_private_modes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Secrets::load_or_create(dir.path()).expect("created");
        let b = Secrets::load_or_create(dir.path()).expect("read back");
        assert_eq!(a.admin_token, b.admin_token);
        assert_eq!(a.binding_secret, b.binding_secret);
        assert_eq!(a.issuer_pkcs8, b.issuer_pkcs8);
        assert_eq!(a.merchant_key.private_pem, b.merchant_key.private_pem);
        assert!(a.webhook_secret.starts_with("whsec_"));
        assert!(a.admin_token.len() >= 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [
                "keys/private.pem",
                "jwt-issuer.pk8",
                "admin-token",
                "binding-secret",
                "webhook-secret",
            ] {
                let mode = std::fs::metadata(dir.path().join(f))
                    .expect(f)
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "{f} is readable by others");
            }
        }
        let c = Secrets::ephemeral().expect("ephemeral");
        assert_ne!(c.admin_token, a.admin_token);
    }
}
