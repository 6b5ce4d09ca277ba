//! `savedwallet keys`: create the RSA key pair Amazon Pay signs requests with.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use savedwallet_cli::stack::secrets::{rsa_pair, write_new, SecretError};

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
            Err(e @ SecretError::Exists(_)) => {
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

fn generate(dir: &Path) -> Result<(PathBuf, PathBuf), SecretError> {
    let private_path = dir.join("private.pem");
    let public_path = dir.join("public.pem");
    for p in [&private_path, &public_path] {
        if p.exists() {
            return Err(SecretError::Exists(p.clone()));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| SecretError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let pair = rsa_pair()?;
    write_new(&private_path, pair.private_pem.as_bytes(), true)?;
    write_new(&public_path, pair.public_pem.as_bytes(), false)?;
    Ok((private_path, public_path))
}
