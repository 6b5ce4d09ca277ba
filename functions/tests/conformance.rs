//! One conformance suite, three adapters: embedded in memory, embedded in a database file,
//! and DynamoDB (moto server with the one-lock wrapper, one fresh table per test). The
//! fault tests and the randomized model test run each adapter behind the fault injector.

mod common;
mod suite;

use std::sync::Arc;

macro_rules! conformance {
    ($($module:ident :: $name:ident),+ $(,)?) => {
        mod embedded_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = crate::common::memory_store();
                    crate::suite::$module::$name(&s).await;
                }
            )+
        }
        mod embedded_file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (s, _dir) = crate::common::file_store();
                    crate::suite::$module::$name(&s).await;
                }
            )+
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = crate::common::dynamo_store().await;
                    crate::suite::$module::$name(&s).await;
                }
            )+
        }
    };
}

conformance!(
    basics::wallets,
    basics::lists_newest_first_with_cursors,
    basics::catalog,
    basics::bad_data_is_an_error,
    basics::limits_are_dynamodbs,
    merchant::merchant_view_lists,
    payments::begin_checks_wallet_and_cap,
    payments::one_open_attempt_per_payment,
    payments::an_order_has_one_payment,
    payments::finish_keeps_keys_and_final_states,
    payments::usage_month_is_the_attempts_own,
    payments::update_payment_is_annotation_only,
    payments::refunds_stay_within_captured,
    billing::claims_and_leases,
    billing::late_record_after_takeover,
    billing::lease_must_be_live_for_a_period_attempt,
    billing::edits_never_undo_billing,
    billing::due_index_follows_policy,
    billing::poisoned_due_shard,
    billing::due_pagination,
    billing::hot_path_cost,
    records::notifications,
    records::idempotency,
    records::events,
);

macro_rules! faults {
    ($($name:ident),+ $(,)?) => {
        mod faults {
            $(
                mod $name {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn embedded_memory() {
                        let s = crate::common::faulty_memory_store(1);
                        crate::suite::faults::$name(&s).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn embedded_file() {
                        let (s, _dir) = crate::common::faulty_file_store(1);
                        crate::suite::faults::$name(&s).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn dynamodb() {
                        let s = crate::common::faulty_dynamo_store(1).await;
                        crate::suite::faults::$name(&s).await;
                    }
                }
            )+
        }
    };
}

faults!(
    lost_answers_are_recognised,
    refusals_write_nothing,
    stale_index_decisions_are_rechecked,
);

mod model {
    use super::*;
    use crate::suite::model::{randomized_model, Shape};

    const SHAPE: Shape = Shape {
        workers: 3,
        steps: 12,
        subscriptions: 3,
        merchant_payments: 2,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn embedded_memory() {
        let store = |seed| async move { Arc::new(crate::common::faulty_memory_store(seed)) };
        randomized_model(store, 1500, SHAPE).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn dynamodb() {
        let store = |seed| async move { Arc::new(crate::common::faulty_dynamo_store(seed).await) };
        // moto serves ~100 requests/s here (one lock, Python): a smaller schedule, fewer runs.
        let shape = Shape {
            workers: 2,
            steps: 10,
            ..SHAPE
        };
        randomized_model(store, 80, shape).await;
    }
}

#[tokio::test]
async fn embedded_ttl_purge() {
    use savedwallet_functions::store::RecordStore;
    let s = common::memory_store();
    s.begin_notification("n1", "t", suite::at(0), suite::at(60))
        .await
        .unwrap();
    assert_eq!(s.purge_expired(suite::at(30)).await.unwrap(), 0);
    assert_eq!(s.purge_expired(suite::at(120)).await.unwrap(), 1);
}

/// Races: embedded rounds are cheap; on moto every request is serialised, so fewer rounds.
macro_rules! races {
    ($($module:ident :: $name:ident: $embedded_rounds:expr, $dynamo_rounds:expr;)+) => {
        mod races {
            use super::*;
            $(
                mod $name {
                    use super::*;
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn embedded_memory() {
                        let s = Arc::new(crate::common::memory_store());
                        crate::suite::$module::$name(s, $embedded_rounds).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn embedded_file() {
                        let (s, _dir) = crate::common::file_store();
                        crate::suite::$module::$name(Arc::new(s), 3).await;
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn dynamodb() {
                        let s = Arc::new(crate::common::dynamo_store().await);
                        crate::suite::$module::$name(s, $dynamo_rounds).await;
                    }
                }
            )+
        }
    };
}

races! {
    billing::race_claim: 20, 3;
    billing::race_monthly_cap: 20, 2;
    records::race_idempotency: 50, 5;
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
