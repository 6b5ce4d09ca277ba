//! What the Lambda entry points share: configuration from the environment, the service
//! built on the first invocation (the key comes from Secrets Manager then, never on the
//! init path), and JSON tracing.

pub mod env;
pub mod jobs;
mod serve;

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use savedwallet_amazon_pay::{AmazonPayClient, ClientConfig, Pacing};
use savedwallet_app::ports::SystemClock;
use savedwallet_app::{Service, ServiceConfig};
use savedwallet_shared::api::Quotas;
use savedwallet_shared::idempotency::KeyScope;

use crate::amazon::{AmazonPayGateway, Timeouts};
use crate::metrics::EmfMetrics;
use crate::runtime::OsEntropy;
use crate::store::DynamoStore;
pub use env::{EnvError, LambdaEnv};
pub use jobs::{serve_job, JobFunction};
pub use serve::{serve, StartError};

/// Which function a process of the one bootstrap binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// An API function.
    Api(crate::http::LambdaFunction),
    /// A job function.
    Job(JobFunction),
}

impl Function {
    /// Every function's name, as the template's `SAVEDWALLET_FUNCTION` spells it.
    pub const NAMES: [&'static str; 9] = [
        "create-charge",
        "complete-checkout",
        "wallets",
        "admin",
        "ipn",
        "billing-scheduler",
        "billing-worker",
        "reconciler",
        "event-dispatcher",
    ];

    /// The function called `name`.
    pub fn parse(name: &str) -> Option<Function> {
        crate::http::LambdaFunction::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .map(Function::Api)
            .or_else(|| {
                JobFunction::ALL
                    .into_iter()
                    .find(|j| j.name() == name)
                    .map(Function::Job)
            })
    }

    /// This process's function: `SAVEDWALLET_FUNCTION`, else the executable's file name
    /// (a copy named `wallets` is the wallets function; in Lambda the file is always
    /// `bootstrap`, so the variable is required there).
    pub fn from_env() -> Result<Function, StartError> {
        let name = std::env::var("SAVEDWALLET_FUNCTION")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                std::env::args_os().next().and_then(|a| {
                    std::path::Path::new(&a)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                })
            })
            .unwrap_or_default();
        Function::parse(&name).ok_or(StartError::UnknownFunction(name))
    }

    /// Runs this function on the Lambda runtime until the instance is shut down.
    pub async fn run(self) -> Result<(), StartError> {
        // Boxed: the two runtimes' futures are deep types; one enum of both overflows
        // the compiler's layout recursion.
        match self {
            Function::Api(f) => Box::pin(serve(f)).await,
            Function::Job(j) => Box::pin(serve_job(j)).await,
        }
    }
}

/// Why the service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The environment is not a valid configuration.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// The key secret could not be read (its value is never printed).
    #[error("cannot read the Amazon Pay secret: {0}")]
    Secret(String),
    /// The Amazon Pay client refused the configuration.
    #[error("Amazon Pay client: {0}")]
    Client(String),
}

/// The secret's JSON (`AMAZON_PAY_SECRET_ARN`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeySecret {
    private_key_pem: String,
    binding_secret: String,
}

/// Reads the Amazon Pay key and the session-binding secret from Secrets Manager.
async fn fetch_secret(cfg: &aws_config::SdkConfig, arn: &str) -> Result<KeySecret, BuildError> {
    let client = aws_sdk_secretsmanager::Client::new(cfg);
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            BuildError::Secret(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| BuildError::Secret("the secret has no string value".into()))?;
    serde_json::from_str(text).map_err(|_| {
        BuildError::Secret("the secret must be JSON {\"privateKeyPem\", \"bindingSecret\"}".into())
    })
}

/// Builds the service from the environment: DynamoDB store, the key from Secrets Manager,
/// the Amazon Pay client. Called on the first invocation, not at init.
pub async fn build_service(
    env: &LambdaEnv,
    aws: &aws_config::SdkConfig,
    metrics: Arc<EmfMetrics>,
) -> Result<Arc<Service>, BuildError> {
    let secret = fetch_secret(aws, &env.secret_arn).await?;
    let mut client_cfg = ClientConfig::new(
        env.region,
        env.environment,
        env.public_key_id.clone(),
        SecretString::from(secret.private_key_pem),
    );
    client_cfg.endpoint = env.endpoint.clone();
    // Amazon's quotas are per merchant account: each instance paces at its share.
    client_cfg.pacing = Pacing::Quotas(
        Quotas::scaled(env.quota_share).map_err(|e| BuildError::Client(e.to_string()))?,
    );
    let client = AmazonPayClient::new(client_cfg).map_err(|e| BuildError::Client(e.to_string()))?;
    metrics.watch_amazon(client.counters());
    let gateway = AmazonPayGateway::new(client, env.region, Timeouts::default());
    let store = DynamoStore::from_client(aws_sdk_dynamodb::Client::new(aws), env.table.clone());
    let mut config = ServiceConfig::new(
        KeyScope::new(
            env.merchant_id.clone(),
            env.environment,
            env.namespace.clone(),
        ),
        env.store_id.clone(),
    );
    config.return_origins = env.return_origins.clone();
    config.binding_secret = secret.binding_secret.into_bytes();
    config.final_dunning = env.final_dunning;
    // API Gateway gives up after 30 s: answer within 25.
    config.charge_deadline = Duration::from_secs(25);
    Ok(Arc::new(
        Service::new(
            Arc::new(store),
            Arc::new(gateway),
            Arc::new(SystemClock),
            Arc::new(OsEntropy),
            config,
        )
        .with_metrics(metrics),
    ))
}

/// JSON logs for CloudWatch (one line per event, the span's fields included), level from
/// `RUST_LOG` (default info). Never configured to print request bodies.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_one_function_and_back() {
        for name in Function::NAMES {
            let f = Function::parse(name).expect(name);
            let back = match f {
                Function::Api(a) => a.name(),
                Function::Job(j) => j.name(),
            };
            assert_eq!(back, name);
        }
        assert_eq!(Function::parse("bootstrap"), None);
        assert_eq!(Function::parse(""), None);
        assert_eq!(
            crate::http::LambdaFunction::ALL.len() + JobFunction::ALL.len(),
            Function::NAMES.len()
        );
    }
}
