//! The whole `main` of every API Lambda function: read the configuration (fast: the
//! environment only), start polling the Runtime API at once, and build the service on the
//! first invocation (AWS config, the secret from Secrets Manager, the clients), cached for
//! the life of the instance. A failed build answers 503 and is tried again on the next
//! invocation; its cause is logged without any secret.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use lambda_http::{service_fn, RequestExt};
use tokio::sync::OnceCell;
use tower::ServiceExt;

use crate::http::error::ErrorInfo;
use crate::http::{function_app, AppState, AuthMode, HttpConfig, LambdaFunction};
use crate::sns::{SnsConfig, SnsVerifier};

use super::{build_service, BuildError, LambdaEnv};
use crate::metrics::EmfMetrics;

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The environment is not a valid configuration.
    #[error(transparent)]
    Env(#[from] super::EnvError),
    /// The SNS settings are invalid.
    #[error(transparent)]
    Sns(#[from] crate::sns::SnsConfigError),
    /// The Lambda runtime failed.
    #[error("lambda runtime: {0}")]
    Runtime(String),
    /// `SAVEDWALLET_FUNCTION` names no function (the template sets it per function).
    #[error("SAVEDWALLET_FUNCTION={0:?} is not one of: {names}", names = super::Function::NAMES.join(", "))]
    UnknownFunction(String),
}

/// The router, built on first use.
struct LazyApp {
    function: LambdaFunction,
    env: LambdaEnv,
    metrics: Arc<EmfMetrics>,
    sns: SnsConfig,
    router: OnceCell<Router>,
}

impl LazyApp {
    async fn build(&self) -> Result<Router, BuildError> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let service = build_service(&self.env, &aws, self.metrics.clone()).await?;
        let http = HttpConfig {
            cors_origins: self.env.cors_origins.clone(),
            ..HttpConfig::default()
        };
        let state = AppState::new(
            service,
            AuthMode::ApiGateway,
            Arc::new(SnsVerifier::new(self.sns.clone())),
            http,
        );
        Ok(function_app(state, self.function))
    }

    async fn handle(
        &self,
        req: lambda_http::Request,
    ) -> Result<Response, std::convert::Infallible> {
        let router = match self.router.get_or_try_init(|| self.build()).await {
            Ok(r) => r.clone(),
            Err(e) => {
                tracing::error!(function = self.function.name(), error = %e, "the service could not be built");
                let id = req.lambda_context_ref().map(|c| c.request_id.clone());
                let mut info = ErrorInfo::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "upstream_unavailable",
                    "the service is starting; retry",
                );
                info.retry_after = Some(5);
                return Ok(info.response(id.as_deref()));
            }
        };
        let answer = router.oneshot(req.map(axum::body::Body::new)).await;
        // One flush per invocation, before the answer leaves (the instance may be frozen
        // right after it).
        self.metrics.flush();
        answer
    }
}

/// Runs one API function on the Lambda runtime until the instance is shut down.
pub async fn serve(function: LambdaFunction) -> Result<(), StartError> {
    super::init_tracing();
    let env = LambdaEnv::from_env()?;
    let sns = SnsConfig::from_env()?;
    #[cfg(feature = "local-sns")]
    let sns = local_sns(sns)?;
    let app = Arc::new(LazyApp {
        function,
        metrics: Arc::new(EmfMetrics::new(env.service_name.clone())),
        env,
        sns,
        router: OnceCell::new(),
    });
    lambda_http::run(service_fn(move |req| {
        let app = app.clone();
        async move { app.handle(req).await }
    }))
    .await
    .map_err(|e| StartError::Runtime(e.to_string()))
}

/// Test builds only (the `local-sns` feature): with `SAVEDWALLET_LOCAL_SNS_SANDBOX_URL` set,
/// the IPN verifier also accepts the local sandbox's certificate, so the tests of the real
/// bootstrap binaries can deliver the simulator's IPNs to an `ipn` built with the feature.
/// This is safe for production because the Lambda functions are built without the feature:
/// there this function and the variable's name do not exist, and nothing reads it. Even in a
/// build with the feature, `SnsConfig::local_sandbox` refuses inside real AWS Lambda.
#[cfg(feature = "local-sns")]
fn local_sns(from_env: SnsConfig) -> Result<SnsConfig, StartError> {
    let Some(raw) = std::env::var("SAVEDWALLET_LOCAL_SNS_SANDBOX_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(from_env);
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| {
        StartError::Sns(crate::sns::SnsConfigError::BadSandboxUrl(
            "SAVEDWALLET_LOCAL_SNS_SANDBOX_URL is not a URL",
        ))
    })?;
    let mut sns = SnsConfig::local_sandbox(&url)?;
    for (topic, minimum) in from_env.allowed_topics() {
        sns = sns.allow_topic(topic, minimum);
    }
    Ok(sns)
}
