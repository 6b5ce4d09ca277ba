//! One conformance suite, three adapters: embedded in memory, embedded in a database file,
//! and DynamoDB (moto server with the one-lock wrapper, one fresh table per test).

mod common;
mod suite;

use std::sync::Arc;

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod embedded_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = crate::common::memory_store();
                    crate::suite::$name(&s).await;
                }
            )+
        }
        mod embedded_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (s, _dir) = crate::common::file_store();
                    crate::suite::$name(&s).await;
                }
            )+
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = crate::common::dynamo_store().await;
                    crate::suite::$name(&s).await;
                }
            )+
        }
    };
}

conformance!(
    wallets,
    plans_and_orders,
    claims_and_leases,
    edit_while_charging,
    due_pagination,
    attempts_and_usage,
    hot_path_cost,
    notifications,
    idempotency,
    outbox,
    bad_data_is_an_error,
);

#[tokio::test]
async fn embedded_ttl_purge_memory() {
    suite::embedded_ttl_purge(&common::memory_store()).await;
}

#[tokio::test]
async fn embedded_ttl_purge_file() {
    let (s, _dir) = common::file_store();
    suite::embedded_ttl_purge(&s).await;
}

/// Races: embedded rounds are cheap; on moto every request is serialised, so fewer rounds.
macro_rules! races {
    ($($name:ident: $embedded_rounds:expr, $dynamo_rounds:expr;)+) => {
        mod races {
            use super::*;
            $(
                mod $name {
                    use super::*;
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn embedded_memory() {
                        let s = Arc::new(crate::common::memory_store());
                        crate::suite::$name(s, $embedded_rounds).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn embedded_file() {
                        let (s, _dir) = crate::common::file_store();
                        crate::suite::$name(Arc::new(s), 3).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn dynamodb() {
                        let s = Arc::new(crate::common::dynamo_store().await);
                        crate::suite::$name(s, $dynamo_rounds).await;
                    }
                }
            )+
        }
    };
}

races! {
    race_claim: 20, 3;
    race_monthly_cap: 20, 2;
    race_idempotency: 50, 5;
}

/// The moto harness itself: clear failure without the tools venv, no orphan server.
mod harness {
    use std::time::Duration;

    use crate::common::{start_moto, tools_python};

    #[test]
    fn missing_python_names_the_setup_command() {
        let missing = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-venv/bin/python");
        let err = start_moto(&missing).err().expect("no python, no server");
        assert!(err.contains("./scripts/test"), "{err}");
        assert!(err.contains("no-venv/bin/python"), "{err}");
    }

    #[test]
    fn server_exits_when_its_harness_lets_go() {
        let moto = start_moto(&tools_python()).unwrap_or_else(|e| panic!("{e}"));
        let status = moto
            .shutdown(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "{status:?}");
    }
}
