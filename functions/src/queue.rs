//! The billing queue in AWS: SQS. The scheduler sends each due period as one message with
//! its own `DelaySeconds` (its place in the quota-paced schedule), ten per
//! `SendMessageBatch`; the workers receive them through the SQS event source.

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use savedwallet_app::ports::{BillingJob, BillingQueue, QueueError};

/// A standard SQS queue (duplicates are harmless: a period's claim is exactly once).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `url`.
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> SqsQueue {
        SqsQueue {
            client,
            url: url.into(),
        }
    }
}

/// The message body of a job.
pub fn job_body(job: &BillingJob) -> Result<String, QueueError> {
    serde_json::to_string(job).map_err(|e| QueueError(e.to_string()))
}

/// A job from a message body.
pub fn parse_job(body: &str) -> Result<BillingJob, QueueError> {
    serde_json::from_str(body).map_err(|e| QueueError(format!("not a billing job: {e}")))
}

#[async_trait]
impl BillingQueue for SqsQueue {
    async fn enqueue(&self, jobs: &[BillingJob]) -> Result<u32, QueueError> {
        let mut accepted = 0;
        for chunk in jobs.chunks(10) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, job) in chunk.iter().enumerate() {
                entries.push(
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(job_body(job)?)
                        .delay_seconds(job.delay_secs.min(900) as i32)
                        .build()
                        .map_err(|e| QueueError(e.to_string()))?,
                );
            }
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
            accepted += out.successful().len() as u32;
            if !out.failed().is_empty() {
                // The rest stays due: the next scheduler run sends it again.
                tracing::warn!(
                    failed = out.failed().len(),
                    "some billing jobs were not queued"
                );
            }
        }
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_bad_bodies_are_refused() {
        let job = BillingJob {
            subscription_id: savedwallet_app::ids::SubscriptionId::parse("sub_abc").unwrap(),
            period: 3,
            delay_secs: 12,
        };
        let body = job_body(&job).unwrap();
        assert_eq!(parse_job(&body).unwrap(), job);
        assert!(parse_job("{}").is_err());
        assert!(parse_job("not json").is_err());
    }
}
