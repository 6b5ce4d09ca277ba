//! Lambda function `admin`: its slice of the API (see `functions::http::LambdaFunction`).

use savedwallet_functions::http::LambdaFunction;
use savedwallet_functions::lambda::{serve, StartError};

#[tokio::main]
async fn main() -> Result<(), StartError> {
    serve(LambdaFunction::Admin).await
}
