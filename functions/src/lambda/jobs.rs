//! The functions that are not behind the API: the billing scheduler (EventBridge Scheduler,
//! every minute), the billing workers (the SQS queue, `ReportBatchItemFailures`), the
//! reconciler and the event dispatcher (both scheduled). Each builds the service on its
//! first invocation, like the API functions, and does one bounded pass per invocation.
//!
//! Pacing the fleet under Amazon's per-merchant Create Charge quota: the scheduler gives
//! every due period a send time `i / rate` seconds out (`DelaySeconds`), so the queue
//! releases jobs at the quota's restore rate; the workers' reserved concurrency N and
//! `SAVEDWALLET_QUOTA_SHARE = 1/N` make each instance's client pacer hold 1/N of the
//! quota, so bursts from redeliveries stay under it too; a 429 that still happens (another
//! system on the same merchant account) is retried by the client, then the message is
//! reported failed and comes back after its visibility timeout.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use tracing::Instrument;

use savedwallet_app::usecases::Billed;
use savedwallet_app::{Service, ServiceError};
use savedwallet_shared::api::{Operation, Quotas};

use super::serve::StartError;
use super::{build_service, BuildError, LambdaEnv};
use crate::events::EventBridgeSink;
use crate::metrics::EmfMetrics;
use crate::queue::{parse_job, SqsQueue};

/// One of the job functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFunction {
    /// Due periods → the billing queue.
    BillingScheduler,
    /// The billing queue → Create Charge (MITR).
    BillingWorker,
    /// Unknown outcomes, pending charges, MFA expiry, renewals at risk.
    Reconciler,
    /// The event outbox → EventBridge.
    EventDispatcher,
}

impl JobFunction {
    /// Every job function.
    pub const ALL: [JobFunction; 4] = [
        JobFunction::BillingScheduler,
        JobFunction::BillingWorker,
        JobFunction::Reconciler,
        JobFunction::EventDispatcher,
    ];

    /// The function's name (`SAVEDWALLET_FUNCTION`).
    pub fn name(self) -> &'static str {
        match self {
            JobFunction::BillingScheduler => "billing-scheduler",
            JobFunction::BillingWorker => "billing-worker",
            JobFunction::Reconciler => "reconciler",
            JobFunction::EventDispatcher => "event-dispatcher",
        }
    }
}

/// How often EventBridge Scheduler runs the scheduler (the template's rate); each run
/// queues what the fleet can bill until the next one.
const SCHEDULE_EVERY_SECS: f64 = 60.0;
/// Payments the reconciler and subscriptions the outreach check look at per run.
const RECONCILE_BUDGET: u32 = 500;
/// Wallets re-read with Get Charge Permission per run (a small share of its quota).
const RECHECK_BUDGET: u32 = 20;
/// Events delivered per run.
const DISPATCH_BUDGET: u32 = 1000;

/// What a job function's invocation needs, built once.
struct Built {
    service: Arc<Service>,
    aws: aws_config::SdkConfig,
}

/// The jobs' rate: Amazon's Create Charge restore rate for the environment.
pub fn billing_rate(env: &LambdaEnv) -> f64 {
    Quotas::amazon()
        .limit(Operation::CreateCharge, env.environment)
        .per_second
}

/// Bills the batch's periods one by one; a period that failed for a reason that may pass
/// (Amazon or the store unavailable, throttled) is reported for redelivery.
pub async fn work_batch(service: &Service, event: SqsEvent) -> SqsBatchResponse {
    let mut out = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let job = match record.body.as_deref().map(parse_job) {
            Some(Ok(job)) => job,
            other => {
                let error = match other {
                    Some(Err(e)) => e.to_string(),
                    _ => "the message has no body".to_string(),
                };
                // Never ours: to the dead-letter queue after the redrive count.
                tracing::error!(message_id = %id, error = %error, "unreadable billing message");
                out.add_failure(id);
                continue;
            }
        };
        let span = tracing::info_span!("billing_job", message_id = %id, subscription_id = %job.subscription_id, period = job.period);
        // `instrument`, not `enter`: a guard held across `.await` mislabels other tasks' logs.
        let billed = service.run_billing_job(&job).instrument(span.clone()).await;
        let _enter = span.enter();
        match billed {
            Ok(Billed::Charged(p)) => {
                tracing::info!(payment_id = %p.payment_id, status = ?p.status, "period billed")
            }
            Ok(Billed::Waiting) | Ok(Billed::Skipped) => {}
            Err(e) => {
                tracing::warn!(error = %e, "billing job failed; redelivered later");
                out.add_failure(id);
            }
        }
    }
    out
}

async fn run_once(
    function: JobFunction,
    env: &LambdaEnv,
    built: &Built,
    event: Value,
) -> Result<Value, ServiceError> {
    let s = &built.service;
    match function {
        JobFunction::BillingScheduler => {
            let url = env.billing_queue_url.clone().ok_or_else(|| {
                ServiceError::Internal("SAVEDWALLET_BILLING_QUEUE_URL is not set".into())
            })?;
            let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&built.aws), url);
            let rate = billing_rate(env);
            let budget = (rate * SCHEDULE_EVERY_SECS).ceil() as u32;
            let r = s.schedule_billing(&queue, rate, budget.max(1)).await?;
            Ok(json!({ "found": r.found, "enqueued": r.enqueued }))
        }
        JobFunction::BillingWorker => {
            let batch: SqsEvent = serde_json::from_value(event)
                .map_err(|e| ServiceError::Internal(format!("not an SQS event: {e}")))?;
            let resp = work_batch(s, batch).await;
            serde_json::to_value(resp).map_err(|e| ServiceError::Internal(e.to_string()))
        }
        JobFunction::Reconciler => {
            let r = s.reconcile(RECONCILE_BUDGET).await?;
            let o = s.watch_upcoming(RECONCILE_BUDGET, RECHECK_BUDGET).await?;
            Ok(json!({
                "examined": r.examined, "replayed": r.replayed, "refreshed": r.refreshed,
                "voided": r.voided, "expired": r.expired, "upcoming": o.upcoming, "atRisk": o.at_risk, "rechecked": o.rechecked,
            }))
        }
        JobFunction::EventDispatcher => {
            let sink = EventBridgeSink::new(
                aws_sdk_eventbridge::Client::new(&built.aws),
                env.event_bus.clone(),
            );
            let r = s.dispatch_events(&sink, DISPATCH_BUDGET).await?;
            Ok(json!({ "delivered": r.delivered, "rescheduled": r.rescheduled }))
        }
    }
}

/// Runs one job function on the Lambda runtime.
pub async fn serve_job(function: JobFunction) -> Result<(), StartError> {
    super::init_tracing();
    let env = Arc::new(LambdaEnv::from_env()?);
    let cell: Arc<OnceCell<Built>> = Arc::new(OnceCell::new());
    let metrics = Arc::new(EmfMetrics::new(env.service_name.clone()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (env, cell, metrics) = (env.clone(), cell.clone(), metrics.clone());
        async move {
            let built = cell
                .get_or_try_init(|| async {
                    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    let service = build_service(&env, &aws, metrics.clone()).await?;
                    Ok::<_, BuildError>(Built { service, aws })
                })
                .await
                .map_err(|e| {
                    tracing::error!(function = function.name(), error = %e, "the service could not be built");
                    lambda_runtime::Error::from(e.to_string())
                })?;
            let span = tracing::info_span!("job", function = function.name(), request_id = %event.context.request_id);
            let answer = run_once(function, &env, built, event.payload)
                .instrument(span)
                .await
                .map_err(|e| lambda_runtime::Error::from(e.to_string()));
            metrics.flush();
            answer
        }
    }))
    .await
    .map_err(|e| StartError::Runtime(e.to_string()))
}
