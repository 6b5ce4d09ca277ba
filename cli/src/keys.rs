//! `savedwallet keys`: create the RSA key pair Amazon Pay signs requests with.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use savedwallet_amazon_pay::pem;

/// Arguments of `savedwallet keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Generate an RSA-2048 key pair for request signing: private.pem and public.pem.
    ///
    /// private.pem is PKCS#8 (mode 0600 on Unix); public.pem is SubjectPublicKeyInfo. Upload
    /// public.pem in Seller Central (Integration Central → API keys) to get the public key
    /// id to use with `savedwallet pay --public-key-id`. Existing files are never
    /// overwritten (exit code 2).
    Generate {
        /// Directory to write private.pem and public.pem into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Why key generation failed.
#[derive(Debug, thiserror::Error)]
enum KeysError {
    #[error("{0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key generation failed")]
    Crypto,
}

/// Runs the command.
pub async fn run(args: KeysArgs) -> ExitCode {
    match args.command {
        KeysCommand::Generate { out } => match generate(&out) {
            Ok((private, public)) => {
                println!("wrote {} (private key, keep it secret)", private.display());
                println!(
                    "wrote {} (upload it to Seller Central to get a public key id)",
                    public.display()
                );
                ExitCode::SUCCESS
            }
            Err(e @ KeysError::Exists(_)) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn generate(dir: &Path) -> Result<(PathBuf, PathBuf), KeysError> {
    let private_path = dir.join("private.pem");
    let public_path = dir.join("public.pem");
    for p in [&private_path, &public_path] {
        if p.exists() {
            return Err(KeysError::Exists(p.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| KeysError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeysError::Crypto)?;
    let pkcs8: Pkcs8V1Der<'static> = key.as_der().map_err(|_| KeysError::Crypto)?;
    let spki = key.public_key().as_der().map_err(|_| KeysError::Crypto)?;
    write_new(
        &private_path,
        &pem::encode("PRIVATE KEY", pkcs8.as_ref()),
        true,
    )?;
    write_new(
        &public_path,
        &pem::encode("PUBLIC KEY", spki.as_ref()),
        false,
    )?;
    Ok((private_path, public_path))
}

/// Creates `path` exclusively (never overwrites); the private key is 0600 from the start.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), KeysError> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let io = |source| KeysError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeysError::Exists(path.to_path_buf())
        } else {
            io(e)
        }
    })?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}
