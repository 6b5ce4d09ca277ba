//! Lambda function `billing-worker` (see `functions::lambda::jobs`).

use savedwallet_functions::lambda::{serve_job, JobFunction, StartError};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    serve_job(JobFunction::BillingWorker).await
}
