//! `savedwallet simulate` in small: two months of renewals for a realistic mix of buyers
//! under every fault at once, and the invariant check against the sandbox's ledger.

use savedwallet_cli::simulate::{simulate, Fault, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_months_under_every_fault_double_nothing_and_lose_nothing() {
    let cfg = SimConfig {
        subscriptions: 120,
        months: 2,
        faults: Fault::ALL.to_vec(),
        seed: 7,
        // The sandbox's injected 429s stand for throttling; the wall-clock quota is
        // the benchmark's business.
        throttling: false,
        ..SimConfig::default()
    };
    let report = simulate(cfg, |_, _, _| {}).await.expect("simulate");
    let f = &report.findings;
    assert!(report.holds(), "{report}");
    assert_eq!((f.double_charges, f.lost_periods), (0, 0));
    // The faults happened: workers died after sending, jobs ran twice, so did the scheduler.
    assert!(report.crashes > 0, "{report}");
    assert!(report.duplicate_jobs > 0, "{report}");
    assert!(report.scheduler_runs >= 2 * report.days, "{report}");
    // Two months of renewals were billed, declines recovered by dunning and by updates.
    assert!(f.periods_paid >= 200, "{report}");
    assert!(f.recoveries > 0, "{report}");
    assert!(
        report.events_by_type.contains_key("wallet.chargeable"),
        "{report}"
    );
    // Buyers who closed their wallet on Amazon: the subscription ended, nothing billed after.
    assert!(
        report.events_by_type.contains_key("wallet.closed"),
        "{report}"
    );
    assert!(
        f.subscriptions_by_status.contains_key("canceled"),
        "{report}"
    );
    // MITR is never asked for MFA (the MFA cards pay like any other).
    assert!(
        !f.payments_by_status.contains_key("action_required"),
        "{report}"
    );
    // Every charge Amazon took is a payment the service recorded as paid, once.
    assert_eq!(
        f.charges_by_state.get("Captured").copied(),
        Some(f.periods_paid)
    );
}
