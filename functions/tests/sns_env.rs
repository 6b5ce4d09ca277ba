//! `SnsConfig::from_env` over the real process environment: variables that look like a
//! local-mode switch do not enable the sandbox's certificate rule, and inside Lambda (the
//! variables only its execution environment sets) the explicit local-mode constructor
//! refuses. One test in its own binary, because it sets process-wide variables.

use savedwallet_functions::sns::SnsConfig;

#[test]
fn the_process_environment_cannot_enable_the_local_sandbox() {
    let sandbox = "http://127.0.0.1:8080";
    for name in [
        "SNS_LOCAL_SANDBOX",
        "SNS_LOCAL_SANDBOX_URL",
        "SNS_SANDBOX_BASE_URL",
        "SNS_CERT_BASE_URL",
        "LOCAL_SNS",
        "SAVEDWALLET_LOCAL",
        "SAVEDWALLET_SANDBOX_URL",
        "SANDBOX_URL",
        "CARGO_FEATURE_LOCAL_SNS",
    ] {
        std::env::set_var(name, sandbox);
    }
    std::env::set_var(
        "SNS_ALLOWED_TOPICS",
        "arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox",
    );
    let config = SnsConfig::from_env().unwrap();
    assert!(!config.accepts_local_sandbox());
    assert!(config
        .topic_minimum("arn:aws:sns:us-east-1:000000000000:amazon-pay-sandbox")
        .is_some());

    #[cfg(feature = "local-sns")]
    {
        use savedwallet_functions::sns::SnsConfigError;
        let base = url::Url::parse(sandbox).unwrap();
        assert!(SnsConfig::local_sandbox(&base).is_ok());
        // Every Runtime API client sets these (the tests of the real binaries drive a
        // local-sns `ipn` through a local Runtime API): they do not mean "inside Lambda".
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "savedwallet-ipn");
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        assert!(SnsConfig::local_sandbox(&base).is_ok());
        // What only the real Lambda execution environment sets: each one alone refuses.
        for (name, value) in [
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_rapid"),
        ] {
            std::env::set_var(name, value);
            assert_eq!(
                SnsConfig::local_sandbox(&base),
                Err(SnsConfigError::LocalModeInLambda),
                "{name} is set"
            );
            std::env::remove_var(name);
        }
        assert!(SnsConfig::local_sandbox(&base).is_ok());
    }
}
