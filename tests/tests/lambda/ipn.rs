//! An IPN as Amazon delivers it: the sandbox's own signed SNS envelope, POSTed through API
//! Gateway (an HTTP API v2 event) to the `ipn` function. The deployed build refuses it (its
//! certificate URL is the sandbox's loopback http URL, not an SNS host) even when told the
//! sandbox's URL; the test build with `local-sns` accepts it and applies it, and does not
//! even start where the real Lambda execution environment's variables are set.

use std::time::Duration;

use savedwallet_tests::runtime_api::{Bootstrap, BootstrapOptions, InvocationError};
use savedwallet_tests::{Preset, RequestCapture};

use savedwallet_tests::lambda::{
    api_event_raw, buyer_get, call, eventually, local_sns_ipn_bin, save_wallet, Api, Caller,
    Deployment,
};

#[tokio::test]
async fn a_sandbox_ipn_is_refused_by_the_deployed_build_and_applied_by_the_local_sns_build() {
    let d = Deployment::new().await;
    let base = d.sandbox.base_url().to_string();
    // The variable only a local-sns build reads: the deployed build must ignore it.
    let local = [("SAVEDWALLET_LOCAL_SNS_SANDBOX_URL", base.as_str())];
    let (api, deployed, test_build) = tokio::join!(
        Api::start(&d),
        d.start_binary(savedwallet_tests::lambda::plain_bin("ipn"), "ipn", &local),
        d.start_binary(local_sns_ipn_bin(), "ipn", &local),
    );
    let saved = save_wallet(&d, &api, "alice", Preset::AlwaysApprove).await;
    let wallet = saved["walletId"].as_str().expect("walletId").to_string();

    // What the sandbox's SNS topic sends when the buyer closes the wallet on Amazon's site.
    let capture = RequestCapture::start().await;
    d.sandbox
        .ipn()
        .register_endpoint(capture.url().parse().expect("URL"))
        .await
        .expect("subscribe the capture server");
    d.sandbox.buyer_close(&wallet).expect("the buyer closes it");
    let delivery = eventually(Duration::from_secs(10), "the IPN", || async {
        capture.requests().into_iter().find(|r| {
            let e = r.json();
            e["Type"] == "Notification"
                && savedwallet_tests::message_of(&e)["ObjectId"] == wallet.as_str()
        })
    })
    .await;
    let envelope = delivery.json();
    assert!(
        envelope["SigningCertURL"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{base}/_sandbox/sns/"))),
        "{envelope:#}"
    );
    let header = |name: &str| {
        delivery
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let sns_headers: Vec<(String, String)> = [
        "x-amz-sns-message-type",
        "x-amz-sns-message-id",
        "x-amz-sns-topic-arn",
        "x-amz-sns-subscription-arn",
        "user-agent",
    ]
    .iter()
    .map(|h| (h.to_string(), header(h)))
    .filter(|(_, v)| !v.is_empty())
    .collect();
    let extra: Vec<(&str, &str)> = sns_headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let event = api_event_raw(
        "POST",
        "/ipn",
        "/ipn",
        &Caller::Anonymous,
        Some(("text/plain; charset=UTF-8", &delivery.body)),
        None,
        &extra,
    );

    let wallet_path = format!("/v1/wallets/{wallet}");
    let state = |reply: savedwallet_tests::lambda::ApiReply| reply.ok(200)["state"].clone();
    let before = d.table_items().await;
    let reads_before = d.amazon_calls("GetChargePermission").await;

    let refused = call(&deployed, event.clone()).await;
    refused.error(403, "cert_url_not_https");
    assert_eq!(d.table_items().await, before, "nothing written");
    assert_eq!(
        d.amazon_calls("GetChargePermission").await,
        reads_before,
        "nothing fetched"
    );
    assert_eq!(
        state(buyer_get(&api, "alice", "/v1/wallets/{walletId}", &wallet_path).await),
        "Chargeable"
    );

    let accepted = call(&test_build, event).await;
    assert_eq!(
        accepted.ok(200)["outcome"],
        "applied",
        "{}",
        test_build.output_tail(20)
    );
    assert_eq!(
        d.amazon_calls("GetChargePermission").await,
        reads_before + 1,
        "the permission's real state was fetched"
    );
    assert_eq!(
        state(buyer_get(&api, "alice", "/v1/wallets/{walletId}", &wallet_path).await),
        "Closed"
    );
}

#[tokio::test]
async fn a_local_sns_build_does_not_start_inside_real_lambda() {
    let d = Deployment::new().await;
    let base = d.sandbox.base_url().to_string();
    // What only the real Lambda execution environment sets (on top of what every Runtime
    // API client sets, which the harness does).
    let opts = BootstrapOptions::new("savedwallet-ipn")
        .vars(d.env())
        .var("SAVEDWALLET_LOCAL_SNS_SANDBOX_URL", base)
        .var("LAMBDA_TASK_ROOT", "/var/task");
    let f = Bootstrap::spawn(&local_sns_ipn_bin(), opts)
        .await
        .expect("spawn");
    let why = f
        .wait_ready(Duration::from_secs(30))
        .await
        .expect_err("it must not start");
    assert!(
        matches!(why, InvocationError::Exited(_)),
        "{why}\n{}",
        f.output_tail(20)
    );
    assert!(
        f.stderr_lines()
            .iter()
            .any(|l| l.contains("LocalModeInLambda")),
        "{}",
        f.output_tail(20)
    );
    assert_eq!(f.api().polls(), 0, "it never asked for an event");
}
