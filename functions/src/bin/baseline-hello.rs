//! Not deployed: the benchmark's baseline, a hello-world `lambda_runtime` function built with
//! the same profile, so the real functions' cold start, memory and size are compared with
//! the least a Rust Lambda costs on the same machine (`tests/src/bin/lambda_bench.rs`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({ "hello": event.payload.get("name").cloned() }))
    }))
    .await
}
