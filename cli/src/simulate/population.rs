//! The simulated merchant's buyers: a realistic mix of sandbox wallet presets, each with
//! one subscription imported at period 2 (period 1 paid before the run), due times spread
//! over the first days, and what the buyers do on Amazon during the run (update a declined
//! card, close the wallet).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use savedwallet_app::ids::{CustomerId, PlanId, SubscriptionId, WalletId};
use savedwallet_app::store::{BillingInterval, IntervalUnit, Plan, Store};
use savedwallet_app::usecases::ImportSubscription;
use savedwallet_app::Service;
use savedwallet_sandbox::{PendingOutcome, Preset, SandboxHandle, WalletOptions};
use savedwallet_shared::money::{Currency, Price};
use savedwallet_shared::region::Region;

/// The kinds of buyer in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Every charge approved.
    Approve,
    /// The next one or two charges soft-decline; dunning recovers.
    SoftDecline,
    /// Hard-declines until the buyer updates the card some days later.
    HardDeclineThenUpdate,
    /// Authorizations resolve later (approved), by IPN.
    AsyncApprove,
    /// Authorizations resolve later (declined, then the buyer never updates).
    AsyncDecline,
    /// A weekly plan on a wallet whose monthly limit fits two charges.
    LowLimit,
    /// The buyer closes the wallet on Amazon during the run.
    BuyerCloses,
    /// A card that asks for MFA on customer-initiated charges (MITR must never be asked).
    MfaCard,
}

impl Kind {
    /// Name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Approve => "approve",
            Kind::SoftDecline => "soft decline",
            Kind::HardDeclineThenUpdate => "hard decline, then update",
            Kind::AsyncApprove => "async approve",
            Kind::AsyncDecline => "async decline",
            Kind::LowLimit => "low monthly limit",
            Kind::BuyerCloses => "buyer closes",
            Kind::MfaCard => "MFA card",
        }
    }

    /// Every charge of this kind should succeed on time (the exact-count check).
    pub fn always_pays(self) -> bool {
        matches!(self, Kind::Approve | Kind::MfaCard)
    }
}

/// The share of each kind, per thousand (the default mix).
const MIX: [(Kind, u32); 8] = [
    (Kind::Approve, 700),
    (Kind::SoftDecline, 80),
    (Kind::HardDeclineThenUpdate, 50),
    (Kind::AsyncApprove, 50),
    (Kind::AsyncDecline, 20),
    (Kind::LowLimit, 50),
    (Kind::BuyerCloses, 30),
    (Kind::MfaCard, 20),
];

/// Something a buyer does on Amazon at a time.
#[derive(Debug, Clone)]
pub enum BuyerAct {
    /// Updates the payment method on the Update page (a good card).
    Update(WalletId),
    /// Closes the wallet.
    Close(WalletId),
}

/// One buyer.
#[derive(Debug, Clone)]
pub struct Member {
    /// Which kind.
    pub kind: Kind,
    /// The subscription.
    pub subscription: SubscriptionId,
}

/// The seeded population.
pub struct Population {
    /// Every buyer.
    pub members: Vec<Member>,
    /// Buyer acts by time.
    pub acts: BTreeMap<DateTime<Utc>, Vec<BuyerAct>>,
}

/// The plans: monthly for most, weekly for the low-limit wallets.
pub const MONTHLY: &str = "sim-monthly";
/// The weekly plan.
pub const WEEKLY: &str = "sim-weekly";

fn kind_of(rng: &mut StdRng, mix: &[(Kind, u32)]) -> Kind {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (k, w) in mix {
        if roll < *w {
            return *k;
        }
        roll -= w;
    }
    Kind::Approve
}

/// Creates the plans, `n` wallets (at the sandbox, no API quota spent) and their
/// subscriptions, due over `spread` from `start`.
#[allow(clippy::too_many_arguments)]
pub async fn seed(
    service: &Service,
    store: &dyn Store,
    sandbox: &SandboxHandle,
    region: Region,
    n: usize,
    all_approve: bool,
    spread: TimeDelta,
    seed: u64,
    mut progress: impl FnMut(),
) -> Result<Population, String> {
    let currency = Currency::ledger_for(region);
    let now = sandbox.now();
    for (id, price, unit) in [
        (MONTHLY, 999, IntervalUnit::Month),
        (WEEKLY, 499, IntervalUnit::Week),
    ] {
        let plan = Plan {
            plan_id: PlanId::parse(id).map_err(|e| e.to_string())?,
            name: id.into(),
            price: Price::from_minor(price, currency),
            interval: BillingInterval { unit, count: 1 },
            active: true,
            created_at: now,
            updated_at: now,
            version: 0,
        };
        store.put_plan(&plan).await.map_err(|e| e.to_string())?;
    }
    let mix: &[(Kind, u32)] = if all_approve {
        &[(Kind::Approve, 1)]
    } else {
        &MIX
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut members = Vec::with_capacity(n);
    let mut acts: BTreeMap<DateTime<Utc>, Vec<BuyerAct>> = BTreeMap::new();
    let spread_s = spread.num_seconds().max(1);
    for i in 0..n {
        let kind = kind_of(&mut rng, mix);
        let mut opts = WalletOptions {
            region,
            currency: Some(currency),
            ..WalletOptions::default()
        };
        opts.preset = match kind {
            Kind::Approve | Kind::BuyerCloses => Preset::AlwaysApprove,
            Kind::SoftDecline => {
                opts.soft_declines = Some(rng.random_range(1..=2));
                Preset::SoftDecline
            }
            Kind::HardDeclineThenUpdate => Preset::HardDeclineUntilUpdated,
            Kind::AsyncApprove => Preset::AsyncApprove,
            Kind::AsyncDecline => {
                // A pending authorization declined as SoftDeclined: dunning retries it
                // (and the card's later charges stay asynchronous).
                opts.async_decline = Some(PendingOutcome::SoftDecline);
                Preset::AsyncDecline
            }
            Kind::LowLimit => {
                opts.monthly_limit = Some(Price::from_minor(1200, currency));
                Preset::LowLimit
            }
            Kind::MfaCard => Preset::MfaRequired,
        };
        let permission = sandbox
            .create_charge_permission(opts)
            .map_err(|e| format!("sandbox wallet: {e}"))?;
        let customer = CustomerId::parse(&format!("sim_{i}")).map_err(|e| e.to_string())?;
        let wallet = service
            .adopt_wallet(&customer, &permission)
            .await
            .map_err(|e| format!("adopt wallet: {e}"))?;
        let (plan, interval) = if kind == Kind::LowLimit {
            (WEEKLY, TimeDelta::weeks(1))
        } else {
            (MONTHLY, TimeDelta::days(30))
        };
        // Period 2 begins somewhere in [start, start + spread): period 1 began an interval
        // before (roughly; the schedule itself follows the calendar from the anchor).
        let due = now + TimeDelta::seconds(rng.random_range(0..spread_s));
        let sid = SubscriptionId::parse(&format!("sub_sim_{i}")).map_err(|e| e.to_string())?;
        service
            .import_subscription(
                &sid,
                &ImportSubscription {
                    owner: customer.clone(),
                    wallet_id: wallet.wallet_id.clone(),
                    plan_id: PlanId::parse(plan).map_err(|e| e.to_string())?,
                    anchor: due - interval,
                    next_period: 2,
                },
            )
            .await
            .map_err(|e| format!("import subscription: {e}"))?;
        match kind {
            Kind::HardDeclineThenUpdate => {
                let after = TimeDelta::hours(rng.random_range(24..=24 * 6));
                acts.entry(due + after)
                    .or_default()
                    .push(BuyerAct::Update(wallet.wallet_id.clone()));
            }
            Kind::BuyerCloses => {
                let after = TimeDelta::hours(rng.random_range(24..=24 * 45));
                acts.entry(due + after)
                    .or_default()
                    .push(BuyerAct::Close(wallet.wallet_id.clone()));
            }
            _ => {}
        }
        members.push(Member {
            kind,
            subscription: sid,
        });
        progress();
    }
    Ok(Population { members, acts })
}
