//! Proactive outreach before a renewal (the seed: tell the merchant in time to reach out
//! before the next cycle) and the safety net for IPNs that never arrive: subscriptions
//! billing within the at-risk window whose wallet cannot be charged as stored get one
//! `subscription.at_risk` event per period, and the wallets of those billing within a day
//! are re-read with Get Charge Permission (a few per pass, inside that operation's quota)
//! so a wallet that changed on Amazon's side without an IPN is seen before billing.

use chrono::{DateTime, TimeDelta, Utc};

use super::charge::MAX_LIST;
use super::events::{self, kind};
use super::wallets::Refresh;
use super::{store_retry, Service};
use crate::error::ServiceResult;
use crate::store::*;

/// What one outreach pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outreach {
    /// Upcoming subscriptions looked at.
    pub upcoming: u32,
    /// `subscription.at_risk` events written (each subscription period at most once).
    pub at_risk: u32,
    /// Wallets re-read with Get Charge Permission.
    pub rechecked: u32,
}

/// Wallets billing within this are re-read if their stored state is older than it.
const RECHECK_WITHIN: TimeDelta = TimeDelta::days(1);

impl Service {
    /// One pass over subscriptions billing within the at-risk window (at most `budget`; the
    /// first shard turns with the minute, [`super::dispatch::shards_from`]), re-reading at
    /// most `recheck_budget` wallets.
    pub async fn watch_upcoming(
        &self,
        budget: u32,
        recheck_budget: u32,
    ) -> ServiceResult<Outreach> {
        let now = self.clock.now();
        let until = now + self.config.at_risk_window;
        let mut out = Outreach::default();
        'shards: for shard in super::dispatch::shards_from(now, DUE_SHARDS) {
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .due_subscriptions(shard, until, MAX_LIST, cursor.as_ref())
                    .await?;
                for s in page.subscriptions {
                    if out.upcoming >= budget {
                        break 'shards;
                    }
                    // Due already: billing decides now. Only scheduled renewals count.
                    let upcoming = s.due_at.is_some_and(|d| d > now)
                        && s.status == SubscriptionStatus::Active
                        && s.dunning == Dunning::Current;
                    if !upcoming {
                        continue;
                    }
                    out.upcoming += 1;
                    if let Err(e) = self.watch_one(&s, now, recheck_budget, &mut out).await {
                        tracing::warn!(subscription_id = %s.subscription_id, error = %e, "outreach check failed; the next pass retries");
                    }
                }
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    async fn watch_one(
        &self,
        s: &Subscription,
        now: DateTime<Utc>,
        recheck_budget: u32,
        out: &mut Outreach,
    ) -> ServiceResult<()> {
        let mut wallet = match self.store.get_wallet(&s.wallet_id).await {
            Ok(w) => w,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let soon = s.due_at.is_some_and(|d| d <= now + RECHECK_WITHIN);
        if soon && out.rechecked < recheck_budget && wallet.updated_at < now - RECHECK_WITHIN {
            out.rechecked += 1;
            if let Ok(p) = self.amazon.get_charge_permission(&wallet.wallet_id).await {
                wallet = self.refresh_wallet(wallet, &p, now, Refresh::Poll).await?;
                if wallet.updated_at < now - RECHECK_WITHIN {
                    // Nothing changed: record that it was read now, or every later pass of
                    // the day would read it again.
                    let mut read = wallet.clone();
                    read.updated_at = now;
                    match store_retry!(self.store.update_wallet(&read, &[]).await) {
                        Ok(w) => wallet = w,
                        Err(StoreError::VersionConflict { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if wallet.state == savedwallet_shared::api::ChargePermissionState::Closed {
                    // Closing ended its subscriptions; nothing is at risk any more.
                    return Ok(());
                }
            }
        }
        if wallet.is_chargeable() {
            return Ok(());
        }
        // Once per subscription period: the lock record is kept past the renewal.
        let lock = format!("atrisk#{}#{}", s.subscription_id, s.period);
        let token = self.new_token();
        let keep = s.due_at.unwrap_or(now) + TimeDelta::days(2);
        match store_retry!(
            self.store
                .begin_notification(&lock, &token, now, now + TimeDelta::seconds(60))
                .await
        )? {
            NotificationBegin::Started => {}
            NotificationBegin::InProgress { .. } | NotificationBegin::Done => return Ok(()),
        }
        let ev = events::subscription_event(kind::SUBSCRIPTION_AT_RISK, s, now);
        match store_retry!(self.store.append_events(std::slice::from_ref(&ev)).await) {
            Ok(()) | Err(StoreError::AlreadyExists { .. }) => {
                out.at_risk += 1;
                let _ = store_retry!(self.store.complete_notification(&lock, &token, keep).await);
                Ok(())
            }
            Err(e) => {
                let _ = store_retry!(self.store.release_notification(&lock, &token).await);
                Err(e.into())
            }
        }
    }
}
