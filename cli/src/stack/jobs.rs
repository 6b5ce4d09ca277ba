//! The local stack's background jobs — the scheduler, the billing workers, the reconciler
//! and the event dispatcher of AWS, in one process. A pass runs them in order; the loop
//! runs a pass every few seconds, and `POST /dev/jobs/run` runs one at once (tests and
//! walkthroughs use it instead of waiting).
//!
//! Locally the queue is in memory and the workers are tasks: every worker shares the one
//! Amazon Pay client, whose pacer keeps the whole process under the sandbox's quota, so
//! the scheduler does not spread jobs over time here (it does in AWS, where the workers are
//! separate Lambda instances).

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::JoinSet;

use savedwallet_app::ports::{BillingJob, BillingQueue, EventSink, QueueError};
use savedwallet_app::usecases::Billed;
use savedwallet_app::{Service, ServiceError};
use savedwallet_functions::http::JobsReport;
use savedwallet_sandbox::SandboxHandle;

/// Most due periods, payments and events one pass takes on.
const BUDGET: u32 = 10_000;

/// The in-process billing queue: jobs wait here until the pass hands them to workers.
#[derive(Debug, Default)]
pub struct LocalQueue {
    jobs: Mutex<Vec<BillingJob>>,
}

#[async_trait::async_trait]
impl BillingQueue for LocalQueue {
    async fn enqueue(&self, jobs: &[BillingJob]) -> Result<u32, QueueError> {
        self.jobs.lock().extend_from_slice(jobs);
        Ok(jobs.len() as u32)
    }
}

impl LocalQueue {
    /// Takes every queued job.
    pub fn take(&self) -> Vec<BillingJob> {
        std::mem::take(&mut *self.jobs.lock())
    }
}

/// The jobs over one service.
pub struct Jobs {
    service: Arc<Service>,
    sandbox: Arc<SandboxHandle>,
    sink: Arc<dyn EventSink>,
    workers: usize,
    /// One pass at a time (the loop and `/dev/jobs/run` never overlap; overlapping would be
    /// safe — claims are exactly once — only confusing).
    running: tokio::sync::Mutex<()>,
}

impl Jobs {
    /// Jobs with `workers` concurrent billing workers.
    pub fn new(
        service: Arc<Service>,
        sandbox: Arc<SandboxHandle>,
        sink: Arc<dyn EventSink>,
        workers: usize,
    ) -> Jobs {
        Jobs {
            service,
            sandbox,
            sink,
            workers: workers.max(1),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Bills `jobs` with the worker pool; returns (charged, waiting). A period that fails
    /// stays claimed until its lease lapses, then bills again (logged here).
    pub async fn work(&self, jobs: Vec<BillingJob>) -> (u32, u32) {
        let mut pending = jobs.into_iter();
        let mut set = JoinSet::new();
        let (mut charged, mut waiting) = (0, 0);
        loop {
            while set.len() < self.workers {
                let Some(job) = pending.next() else { break };
                let service = self.service.clone();
                set.spawn(async move { service.run_billing_job(&job).await });
            }
            let Some(done) = set.join_next().await else {
                break;
            };
            match done {
                Ok(Ok(Billed::Charged(_))) => charged += 1,
                Ok(Ok(Billed::Waiting)) => waiting += 1,
                Ok(Ok(Billed::Skipped)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "billing a period failed; it is retried later");
                }
                Err(e) => {
                    tracing::error!(error = %e, "a billing worker panicked");
                }
            }
        }
        (charged, waiting)
    }

    /// One pass: IPNs settled, due periods billed, the reconciler and the watch over
    /// upcoming renewals, merchant events.
    pub async fn pass(&self) -> Result<JobsReport, ServiceError> {
        let _one = self.running.lock().await;
        self.sandbox.ipn().idle().await;
        let queue = LocalQueue::default();
        let scheduled = self.service.schedule_billing(&queue, 0.0, BUDGET).await?;
        let (charged, waiting) = self.work(queue.take()).await;
        let reconciled = self.service.reconcile(BUDGET).await?;
        let outreach = self.service.watch_upcoming(BUDGET, BUDGET).await?;
        // What billing and reconciling made Amazon publish, before events go out.
        self.sandbox.ipn().idle().await;
        let events = self
            .service
            .dispatch_events(self.sink.as_ref(), BUDGET)
            .await?;
        Ok(JobsReport {
            due: scheduled.found,
            charged,
            waiting,
            reconciled: reconciled.examined,
            at_risk: outreach.at_risk,
            rechecked: outreach.rechecked,
            events_delivered: events.delivered,
            events_rescheduled: events.rescheduled,
        })
    }
}
