//! The service's settings: who the merchant is at Amazon, where buyers may be sent back to,
//! and the timing rules of the charging flows.

use std::time::Duration;

use savedwallet_shared::dunning::RetryPolicy;
use savedwallet_shared::idempotency::KeyScope;
use url::Url;

/// An origin (scheme, host, port) buyers may be sent back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Parses `https://shop.example` (no path, query or userinfo).
    pub fn parse(s: &str) -> Result<Origin, String> {
        let u = Url::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
        if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
            return Err(format!("{s:?}: an origin is http(s)://host[:port]"));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(format!("{s:?}: an origin has no userinfo"));
        }
        if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
            return Err(format!("{s:?}: an origin has no path, query or fragment"));
        }
        Ok(Origin(u.origin().ascii_serialization()))
    }

    /// `scheme://host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Idempotency-key scope at Amazon (merchant id, environment, data namespace).
    pub key_scope: KeyScope,
    /// Amazon's `storeId` (client id of the merchant's store) for checkout sessions.
    pub store_id: String,
    /// Origins `returnUrl` and `checkoutResultReturnUrl` may use.
    pub return_origins: Vec<Origin>,
    /// Secret for the button payload's session binding (HMAC-SHA256).
    pub binding_secret: Vec<u8>,
    /// A charging request answers within this (under API Gateway's 30 s).
    pub charge_deadline: Duration,
    /// A scheduled (MITR) charge's deadline: no buyer waits, so it may queue for the shared
    /// Amazon quota far longer than a request could, but it ends well inside the billing
    /// lease (`BILLING_LEASE`, 5 min), so no other worker replays the period meanwhile.
    pub billing_charge_deadline: Duration,
    /// Per-attempt timeout of a synchronous Create Charge (Amazon answers within 15 s, JP
    /// 30 s, for `canHandlePendingAuthorization: false`).
    pub charge_attempt_timeout: Duration,
    /// New attempts a customer-initiated charge may make inside one request after a soft
    /// decline (then `declined` with `retry_later`).
    pub cit_immediate_retries: u32,
    /// Whether customer-initiated charges let Amazon answer AuthorizationInitiated.
    pub cit_can_handle_pending: bool,
    /// Dunning and replay policy.
    pub retry: RetryPolicy,
    /// How long after AuthorizationInitiated the reconciler asks Get Charge.
    pub pending_check_after: Duration,
    /// How long after an unanswered send the reconciler replays it.
    pub unknown_replay_after: Duration,
    /// Local mode: http return URLs on loopback hosts are allowed (sandbox only).
    pub allow_loopback_http: bool,
    /// Minute-long plan intervals are accepted (local mode's demo plan only).
    pub allow_minute_plans: bool,
    /// What a subscription becomes when dunning gives up: canceled (default) or left
    /// past due for the merchant to reach out.
    pub final_dunning: crate::usecases::periods::FinalDunning,
    /// How long before a renewal an uncharged wallet raises `subscription.at_risk`.
    pub at_risk_window: chrono::TimeDelta,
    /// How long a period waiting for a payment-method update goes before billing re-reads
    /// the wallet with Get Charge Permission (the safety net for a lost IPN).
    pub wallet_recheck_after: chrono::TimeDelta,
}

impl ServiceConfig {
    /// The dunning settings periods are applied with.
    pub fn period_policy(&self) -> crate::usecases::periods::PeriodPolicy {
        crate::usecases::periods::PeriodPolicy {
            final_dunning: self.final_dunning,
            wallet_recheck_after: self.wallet_recheck_after,
        }
    }

    /// The defaults around a key scope and store id (origins must still be set).
    pub fn new(key_scope: KeyScope, store_id: impl Into<String>) -> ServiceConfig {
        ServiceConfig {
            key_scope,
            store_id: store_id.into(),
            return_origins: Vec::new(),
            binding_secret: Vec::new(),
            charge_deadline: Duration::from_secs(25),
            billing_charge_deadline: Duration::from_secs(120),
            charge_attempt_timeout: Duration::from_secs(17),
            cit_immediate_retries: 1,
            cit_can_handle_pending: false,
            retry: RetryPolicy::default(),
            pending_check_after: Duration::from_secs(15 * 60),
            unknown_replay_after: Duration::from_secs(60),
            allow_loopback_http: false,
            allow_minute_plans: false,
            final_dunning: Default::default(),
            at_risk_window: chrono::TimeDelta::days(3),
            wallet_recheck_after: chrono::TimeDelta::days(1),
        }
    }
}
