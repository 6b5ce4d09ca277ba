//! The one bootstrap binary of every Lambda function. `SAVEDWALLET_FUNCTION` (set per
//! function by infra/template.yaml) says which: `create-charge`, `complete-checkout`,
//! `wallets`, `admin`, `ipn` (API Gateway), `billing-scheduler`, `reconciler`,
//! `event-dispatcher` (schedules), `billing-worker` (SQS). One binary rather than nine:
//! one release link with LTO instead of nine (the deployable build's cost is mostly those
//! links), one artifact, and every function runs the same code. Outside Lambda a copy named
//! after a function needs no variable.

use savedwallet_functions::lambda::{Function, StartError};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    Function::from_env()?.run().await
}
