//! Lambda function `billing-scheduler` (see `functions::lambda::jobs`).

use savedwallet_functions::lambda::{serve_job, JobFunction, StartError};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    serve_job(JobFunction::BillingScheduler).await
}
