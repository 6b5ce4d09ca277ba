//! Start-up: a function reaches the Runtime API's `next` poll from the environment alone;
//! the key secret is read on the first invocation (a failed read answers 503 or fails the
//! invocation, and is tried again on the next one).

use std::time::Duration;

use serde_json::{json, Value};

use savedwallet_tests::runtime_api::InvocationError;
use savedwallet_tests::uuid_like;

use savedwallet_tests::lambda::{
    api_event, call, expect_failure, plain_bin, run_job, scheduler_event, Caller, Deployment,
};

#[tokio::test]
async fn the_key_secret_is_read_on_first_use_not_at_init() {
    let d = Deployment::new().await;
    // A secret that does not exist (yet).
    let name = format!("savedwallet/amazon-pay-later-{}", uuid_like());
    let missing = [("AMAZON_PAY_SECRET_ARN", name.as_str())];
    let (wallets, scheduler) = tokio::join!(
        d.start_binary(plain_bin("wallets"), "wallets", &missing),
        d.start_binary(
            plain_bin("billing-scheduler"),
            "billing-scheduler",
            &missing
        ),
    );
    // `start_binary` returned once each polled `next`: both got there without the secret.
    for f in [&wallets, &scheduler] {
        let cold = f.cold_start().expect("it polled");
        let rss = f.peak_rss_kib().expect("its peak RSS");
        assert!(rss > 0, "{}: VmHWM {rss} KiB", f.name());
        eprintln!(
            "{}: process start → first poll {cold:?}, peak RSS {rss} KiB",
            f.name()
        );
        assert_eq!(f.exit_status(), None, "{} is running", f.name());
    }

    let list = || {
        api_event(
            "GET",
            "/v1/wallets",
            "/v1/wallets",
            &Caller::Buyer("alice".into()),
            None,
            None,
        )
    };
    let first = call(&wallets, list()).await;
    first.error(503, "upstream_unavailable");
    assert_eq!(
        first.headers.get("retry-after").map(String::as_str),
        Some("5")
    );
    let failed = expect_failure(scheduler.invoke(scheduler_event("billing")).await);
    match &failed {
        InvocationError::Function { error_message, .. } => assert!(
            error_message.contains("cannot read the Amazon Pay secret"),
            "{failed}"
        ),
        other => panic!("expected the invocation to fail: {other}"),
    }
    // Why, in the functions' JSON log on stdout.
    let logged: Vec<Value> = wallets
        .json_lines()
        .into_iter()
        .filter(|l| l["fields"]["message"] == "the service could not be built")
        .collect();
    assert_eq!(logged.len(), 1, "{}", wallets.output_tail(20));
    assert!(
        logged[0]["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot read the Amazon Pay secret")),
        "{:#}",
        logged[0]
    );

    // The secret appears: the same instances build the service on their next invocation.
    aws_sdk_secretsmanager::Client::new(&d.aws)
        .create_secret()
        .name(&name)
        .secret_string(
            json!({
                "privateKeyPem": d.merchant_key.private_pem,
                "bindingSecret": d.binding_secret,
            })
            .to_string(),
        )
        .send()
        .await
        .expect("create the secret");
    let second = call(&wallets, list()).await;
    assert_eq!(second.ok(200)["wallets"], json!([]), "{:#}", second.raw);
    assert_eq!(
        run_job(&scheduler, scheduler_event("billing")).await,
        json!({ "found": 0, "enqueued": 0 })
    );
    // Still the processes that started without it, polling for their third event.
    for f in [&wallets, &scheduler] {
        assert_eq!(f.exit_status(), None, "{} is running", f.name());
        savedwallet_tests::lambda::eventually(
            Duration::from_secs(10),
            "the third poll",
            || async { (f.api().polls() == 3).then_some(()) },
        )
        .await;
    }
}
