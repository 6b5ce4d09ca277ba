//! Saved Wallet setup (a setup-only checkout session, the buyer's consent, Complete Checkout
//! Session), the button and hosted Update page payloads, reading and closing wallets. Every
//! checkout session is bound to the customer who started it.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use savedwallet_shared::api::{
    ChargePermission, ChargePermissionState, ChargePermissionType, CloseChargePermissionRequest,
    CreateCheckoutSessionRequest, MerchantMetadata, PaymentDetails, PaymentIntent,
    PaymentMethodOnFileMetadata, ReasonCode, WebCheckoutDetails,
};
use savedwallet_shared::idempotency::KeyPurpose;
use savedwallet_shared::limits::UsageMonth;
use savedwallet_shared::money::{Currency, Price};

use super::charge::monthly_cap;
use super::events::{self, kind};
use super::{store_retry, Caller, Service};
use crate::error::{ServiceError, ServiceResult, UsageReport};
use crate::ids::*;
use crate::ports::GatewayError;
use crate::store::*;
use crate::validate;

/// A wallet as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletView {
    /// The record.
    pub wallet: Wallet,
    /// This month's usage.
    pub usage: UsageReport,
    /// Amazon's payment-method update link.
    pub update_url: String,
}

/// The answer of `POST /v1/wallets/setup`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStarted {
    /// Amazon's checkout session id.
    pub checkout_session_id: CheckoutSessionId,
    /// Where to send the buyer.
    pub redirect_url: String,
}

/// Amazon Pay button config for Saved Wallet setup or the hosted Update page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonConfig {
    /// The signed Create Checkout Session payload, as the page must pass it.
    pub payload_json: String,
    /// Its signature.
    pub signature: String,
    /// The public key id.
    pub public_key_id: String,
    /// Merchant id.
    pub merchant_id: String,
    /// Ledger currency.
    pub ledger_currency: Currency,
    /// Checkout language.
    pub checkout_language: String,
    /// `PayOnly`.
    pub product_type: String,
    /// `Other`.
    pub placement: String,
    /// Sandbox button.
    pub sandbox: bool,
}

const BINDING_PREFIX: &str = "swb1";
/// How long a button payload's binding is valid (Amazon deletes sessions after 30 days).
const BINDING_TTL: TimeDelta = TimeDelta::days(30);

/// Why a permission was fetched (what may clear a wallet's update flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// A CHARGE_PERMISSION notification published then.
    Notification(DateTime<Utc>),
    /// The buyer came back from Amazon's hosted Update page.
    UpdatePage,
    /// The service looked on its own (a safety net, a closing, a failed challenge).
    Poll,
}

impl Service {
    /// A token naming the customer a checkout session belongs to (in its
    /// `merchantMetadata.customInformation`): HMAC-SHA256 of the customer id and an expiry.
    fn binding_token(&self, owner: &CustomerId, expires: DateTime<Utc>) -> ServiceResult<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.config.binding_secret)
            .map_err(|_| ServiceError::Internal("binding secret".into()))?;
        let exp = expires.timestamp();
        mac.update(owner.as_str().as_bytes());
        mac.update(b"|");
        mac.update(exp.to_string().as_bytes());
        let tag = hex::encode(mac.finalize().into_bytes());
        Ok(format!("{BINDING_PREFIX}.{exp}.{tag}"))
    }

    /// True when `token` binds the session to `owner` and has not expired.
    fn binding_valid(&self, token: &str, owner: &CustomerId, now: DateTime<Utc>) -> bool {
        let mut parts = token.split('.');
        let (Some(BINDING_PREFIX), Some(exp), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(exp) = exp.parse::<i64>() else {
            return false;
        };
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.config.binding_secret) else {
            return false;
        };
        mac.update(owner.as_str().as_bytes());
        mac.update(b"|");
        mac.update(exp.to_string().as_bytes());
        mac.verify_slice(&tag).is_ok() && now.timestamp() <= exp
    }

    /// The Create Checkout Session body of a setup (or an Update page for `wallet`).
    fn setup_session(
        &self,
        owner: &CustomerId,
        return_url: &str,
        wallet: Option<&WalletId>,
        now: DateTime<Utc>,
    ) -> ServiceResult<CreateCheckoutSessionRequest> {
        Ok(CreateCheckoutSessionRequest {
            web_checkout_details: Some(WebCheckoutDetails {
                checkout_result_return_url: Some(return_url.to_string()),
                ..Default::default()
            }),
            store_id: Some(self.config.store_id.clone()),
            charge_permission_type: Some(ChargePermissionType::PaymentMethodOnFile),
            payment_method_on_file_metadata: Some(PaymentMethodOnFileMetadata {
                setup_only: Some(true),
            }),
            payment_details: Some(PaymentDetails {
                payment_intent: Some(PaymentIntent::Confirm),
                ..Default::default()
            }),
            merchant_metadata: Some(MerchantMetadata {
                custom_information: Some(self.binding_token(owner, now + BINDING_TTL)?),
                ..Default::default()
            }),
            charge_permission_id: wallet.map(|w| w.to_string()),
            ..Default::default()
        })
    }

    /// `POST /v1/wallets/setup`: a setup-only checkout session bound to the caller.
    pub async fn start_wallet_setup(
        &self,
        owner: &CustomerId,
        return_url: &str,
    ) -> ServiceResult<SetupStarted> {
        let now = self.clock.now();
        let url = validate::return_url(
            "returnUrl",
            return_url,
            &self.config.return_origins,
            self.config.allow_loopback_http,
            &[],
        )?;
        let body = self.setup_session(owner, &url, None, now)?;
        let key =
            self.config
                .key_scope
                .derive_for(KeyPurpose::CreateCheckout, &self.entropy.bytes(), 1);
        let session = self
            .amazon
            .create_checkout_session(&body, &key)
            .await
            .map_err(upstream)?;
        let id = CheckoutSessionId::parse(&session.checkout_session_id)
            .map_err(|_| ServiceError::Internal("Amazon returned a bad session id".into()))?;
        let redirect_url = session
            .web_checkout_details
            .and_then(|w| w.amazon_pay_redirect_url)
            .ok_or_else(|| {
                ServiceError::Internal("the session has no amazonPayRedirectUrl".into())
            })?;
        let binding = CheckoutBinding {
            checkout_session_id: id.clone(),
            owner: owner.clone(),
            purpose: CheckoutPurpose::Setup,
            wallet_id: None,
            created_at: now,
            version: 0,
        };
        store_retry!(self.store.bind_checkout(&binding).await)?;
        Ok(SetupStarted {
            checkout_session_id: id,
            redirect_url,
        })
    }

    /// `GET /v1/wallets/button[?walletId=]`: the signed button config for setup, or for the
    /// hosted Update page of an owned wallet.
    pub async fn button_config(
        &self,
        owner: &CustomerId,
        return_url: &str,
        wallet: Option<&WalletId>,
    ) -> ServiceResult<ButtonConfig> {
        let now = self.clock.now();
        if let Some(w) = wallet {
            let w = self
                .owned_wallet(&Caller::Customer(owner.clone()), w)
                .await?;
            if w.region == savedwallet_shared::region::Region::Jp {
                return Err(ServiceError::invalid(
                    "walletId",
                    "Amazon offers no hosted Update page in Japan: use paymentMethodUpdateUrl",
                ));
            }
        }
        let url = validate::return_url(
            "returnUrl",
            return_url,
            &self.config.return_origins,
            self.config.allow_loopback_http,
            &[],
        )?;
        let body = self.setup_session(owner, &url, wallet, now)?;
        let payload_json =
            serde_json::to_string(&body).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let signature = self
            .amazon
            .sign_button_payload(&payload_json)
            .map_err(|e| ServiceError::Internal(format!("button signature: {e}")))?;
        Ok(ButtonConfig {
            payload_json,
            signature,
            public_key_id: self.amazon.public_key_id().to_string(),
            merchant_id: self.config.key_scope.merchant_id.clone(),
            ledger_currency: Currency::ledger_for(self.amazon.region()),
            checkout_language: match self.amazon.region() {
                savedwallet_shared::region::Region::Na => "en_US",
                savedwallet_shared::region::Region::Eu => "en_GB",
                savedwallet_shared::region::Region::Jp => "ja_JP",
            }
            .into(),
            product_type: "PayOnly".into(),
            placement: "Other".into(),
            sandbox: self.amazon.environment() == savedwallet_shared::region::Environment::Sandbox,
        })
    }

    /// Finds the caller's binding of a session: the stored one, or one proven by the
    /// session's own token (the button flow, where Amazon created the session). Another
    /// customer's session is 404, exactly like a missing one.
    async fn session_binding(
        &self,
        owner: &CustomerId,
        id: &CheckoutSessionId,
        now: DateTime<Utc>,
    ) -> ServiceResult<CheckoutBinding> {
        match self.store.get_checkout(id).await {
            Ok(b) if &b.owner == owner => return Ok(b),
            Ok(_) => {
                return Err(ServiceError::NotFound {
                    kind: "checkout session",
                })
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let session = match self.amazon.get_checkout_session(id).await {
            Ok(s) => s,
            Err(GatewayError::Failed { status: 404, .. }) => {
                return Err(ServiceError::NotFound {
                    kind: "checkout session",
                })
            }
            Err(e) => return Err(upstream(e)),
        };
        let token = session
            .merchant_metadata
            .as_ref()
            .and_then(|m| m.custom_information.as_deref())
            .unwrap_or_default();
        if !self.binding_valid(token, owner, now) {
            return Err(ServiceError::NotFound {
                kind: "checkout session",
            });
        }
        let purpose = match session.charge_permission_id.as_deref().map(WalletId::parse) {
            Some(Ok(w)) => CheckoutPurpose::UpdateWallet { wallet_id: w },
            _ => CheckoutPurpose::Setup,
        };
        let binding = CheckoutBinding {
            checkout_session_id: id.clone(),
            owner: owner.clone(),
            purpose,
            wallet_id: None,
            created_at: now,
            version: 0,
        };
        match store_retry!(self.store.bind_checkout(&binding).await) {
            Ok(b) => Ok(b),
            Err(StoreError::AlreadyExists {
                current: Some(c), ..
            }) => match *c {
                Record::Checkout(b) if &b.owner == owner => Ok(b),
                _ => Err(ServiceError::NotFound {
                    kind: "checkout session",
                }),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v1/wallets`: completes the caller's setup (or Update page) session and
    /// stores the wallet as theirs. Returns the wallet and whether it is new.
    pub async fn complete_wallet_setup(
        &self,
        owner: &CustomerId,
        session_id: &CheckoutSessionId,
    ) -> ServiceResult<(WalletView, bool)> {
        let now = self.clock.now();
        let binding = self.session_binding(owner, session_id, now).await?;
        if let Some(w) = &binding.wallet_id {
            // Completed before: the same wallet again.
            let wallet = self
                .owned_wallet(&Caller::Customer(owner.clone()), w)
                .await?;
            return Ok((self.wallet_view(wallet, now).await?, false));
        }
        let key = self.config.key_scope.derive_for(
            KeyPurpose::CompleteCheckout,
            session_id.as_str().as_bytes(),
            1,
        );
        let completed = match self
            .amazon
            .complete_checkout_session(session_id, b"{}", &key, None)
            .await
        {
            Ok(a) => a.body,
            Err(GatewayError::Declined {
                reason_code: ReasonCode::CheckoutSessionCanceled,
                ..
            }) => return Err(ServiceError::CheckoutSessionCanceled),
            Err(GatewayError::Declined {
                reason_code: ReasonCode::InvalidCheckoutSessionStatus,
                ..
            }) => {
                // Completed by an earlier call whose answer was lost, or canceled.
                let s = self
                    .amazon
                    .get_checkout_session(session_id)
                    .await
                    .map_err(upstream)?;
                if s.status_details.state
                    != savedwallet_shared::api::CheckoutSessionState::Completed
                {
                    return Err(ServiceError::CheckoutSessionCanceled);
                }
                s
            }
            Err(e) => return Err(upstream(e)),
        };
        if completed.charge_permission_type != Some(ChargePermissionType::PaymentMethodOnFile) {
            return Err(ServiceError::WalletNotSaved);
        }
        let wallet_id = completed
            .charge_permission_id
            .as_deref()
            .and_then(|s| WalletId::parse(s).ok())
            .ok_or_else(|| {
                ServiceError::Internal("completed session has no chargePermissionId".into())
            })?;
        let permission = self
            .amazon
            .get_charge_permission(&wallet_id)
            .await
            .map_err(upstream)?;
        let (wallet, new) = match &binding.purpose {
            CheckoutPurpose::UpdateWallet { wallet_id: w } if w == &wallet_id => {
                let current = self
                    .owned_wallet(&Caller::Customer(owner.clone()), w)
                    .await?;
                (
                    self.refresh_wallet(current, &permission, now, Refresh::UpdatePage)
                        .await?,
                    false,
                )
            }
            CheckoutPurpose::UpdateWallet { .. } => {
                return Err(ServiceError::NotFound { kind: "wallet" });
            }
            CheckoutPurpose::Setup => (
                self.save_wallet(owner, &wallet_id, &permission, now)
                    .await?,
                true,
            ),
        };
        let done = CheckoutBinding {
            wallet_id: Some(wallet.wallet_id.clone()),
            ..binding
        };
        // A lost race here only means the next repeat completes it again (idempotent).
        let _ = store_retry!(self.store.complete_checkout(&done).await);
        Ok((self.wallet_view(wallet, now).await?, new))
    }

    /// Stores a newly saved wallet as the owner's (a wallet never changes owner).
    pub(super) async fn save_wallet(
        &self,
        owner: &CustomerId,
        id: &WalletId,
        p: &ChargePermission,
        now: DateTime<Utc>,
    ) -> ServiceResult<Wallet> {
        let currency = p
            .presentment_currency
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| Currency::ledger_for(self.amazon.region()));
        let wallet = Wallet {
            wallet_id: id.clone(),
            owner: owner.clone(),
            region: self.amazon.region(),
            currency,
            state: p.status_details.state.clone(),
            reasons: p.status_details.reason_codes(),
            payment_descriptor: descriptor(p),
            update_required: false,
            update_required_since: None,
            monthly_limit: reported_limit(p, currency),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let ev = events::wallet_event(kind::WALLET_CREATED, &wallet, now, b"created");
        match store_retry!(
            self.store
                .create_wallet(&wallet, std::slice::from_ref(&ev))
                .await
        ) {
            Ok(w) => Ok(w),
            Err(StoreError::AlreadyExists {
                current: Some(c), ..
            }) => match *c {
                Record::Wallet(w) if &w.owner == owner => Ok(w),
                _ => Err(ServiceError::NotFound { kind: "wallet" }),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Applies a fetched permission to a wallet (state, reasons, descriptor). What may
    /// clear the update flag depends on why it was fetched ([`Refresh`]): the seed's rule is
    /// a CHARGE_PERMISSION notification published after the flag was set whose fetch shows
    /// Chargeable.
    pub(crate) async fn refresh_wallet(
        &self,
        wallet: Wallet,
        p: &ChargePermission,
        now: DateTime<Utc>,
        why: Refresh,
    ) -> ServiceResult<Wallet> {
        let mut current = wallet;
        for _ in 0..5 {
            let mut next = current.clone();
            next.state = p.status_details.state.clone();
            next.reasons = p.status_details.reason_codes();
            if let Some(d) = descriptor(p) {
                next.payment_descriptor = Some(d);
            }
            if let Some(l) = reported_limit(p, next.currency) {
                next.monthly_limit = Some(l);
            }
            let chargeable = next.state == ChargePermissionState::Chargeable;
            let fixed = match (why, current.update_required_since) {
                (Refresh::Notification(t), Some(since)) => t > since,
                (Refresh::Notification(_), None) => true,
                // The buyer completed Amazon's hosted Update page with us: that is the fix.
                (Refresh::UpdatePage, _) => true,
                // A poll sees only states: a wallet that was not Chargeable and now is has
                // been fixed; one that stayed Chargeable (Amazon may keep a hard-declined
                // permission Chargeable) waits for the notification.
                (Refresh::Poll, _) => current.state != ChargePermissionState::Chargeable,
            };
            if chargeable && current.update_required && fixed {
                next.update_required = false;
                next.update_required_since = None;
            }
            if next == current {
                return Ok(current);
            }
            next.updated_at = now;
            let mut evs = Vec::new();
            let was_ok = current.is_chargeable();
            if next.is_chargeable() && !was_ok {
                evs.push(events::wallet_event(
                    kind::WALLET_CHARGEABLE,
                    &next,
                    now,
                    &now.timestamp_millis().to_be_bytes(),
                ));
            }
            if next.state == ChargePermissionState::NonChargeable
                && current.state != ChargePermissionState::NonChargeable
            {
                evs.push(events::wallet_event(
                    kind::WALLET_UPDATE_REQUIRED,
                    &next,
                    now,
                    &now.timestamp_millis().to_be_bytes(),
                ));
            }
            let closed = next.state == ChargePermissionState::Closed
                && current.state != ChargePermissionState::Closed;
            if closed {
                evs.push(events::wallet_event(
                    kind::WALLET_CLOSED,
                    &next,
                    now,
                    b"closed",
                ));
            }
            match store_retry!(self.store.update_wallet(&next, &evs).await) {
                Ok(w) => {
                    if closed {
                        self.end_wallet_subscriptions(&w, now).await?;
                    }
                    return Ok(w);
                }
                Err(StoreError::VersionConflict { .. }) => {
                    current = self.store.get_wallet(&current.wallet_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict("the wallet kept changing".into()))
    }

    /// A wallet with its month's usage and update link.
    pub(crate) async fn wallet_view(
        &self,
        wallet: Wallet,
        now: DateTime<Utc>,
    ) -> ServiceResult<WalletView> {
        let month = UsageMonth::of(now);
        let used = self
            .store
            .monthly_usage(&wallet.wallet_id, month)
            .await?
            .map(|u| u.total)
            .unwrap_or(Price::zero(wallet.currency));
        let limit = monthly_cap(&wallet);
        let update_url = self.amazon.payment_method_update_url(&wallet.wallet_id);
        Ok(WalletView {
            wallet,
            usage: UsageReport {
                month: month.to_string(),
                used,
                limit,
            },
            update_url,
        })
    }

    /// `GET /v1/wallets/{id}` (and the admin's).
    pub async fn get_wallet(&self, caller: &Caller, id: &WalletId) -> ServiceResult<WalletView> {
        let w = self.owned_wallet(caller, id).await?;
        self.wallet_view(w, self.clock.now()).await
    }

    /// `GET /v1/wallets`: a customer's wallets, newest first.
    pub async fn list_wallets(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> ServiceResult<Page<WalletView>> {
        let page = self.store.wallets_of(owner, limit, cursor).await?;
        self.wallet_views(page).await
    }

    /// A page of wallets as views (usage and update link), read now.
    async fn wallet_views(&self, page: Page<Wallet>) -> ServiceResult<Page<WalletView>> {
        let now = self.clock.now();
        let mut items = Vec::with_capacity(page.items.len());
        for w in page.items {
            items.push(self.wallet_view(w, now).await?);
        }
        Ok(Page {
            items,
            next: page.next,
        })
    }

    /// The merchant view: every customer's wallets waiting for a payment-method update,
    /// most recently flagged first.
    pub async fn wallets_to_update(
        &self,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> ServiceResult<Page<WalletView>> {
        let page = self.store.wallets_to_update(limit, cursor).await?;
        self.wallet_views(page).await
    }

    /// `DELETE /v1/wallets/{id}`: Close Charge Permission; its subscriptions end and their
    /// pending charges are canceled (an order's authorized payment is not). A repeat
    /// answers the closed wallet again.
    pub async fn close_wallet(&self, caller: &Caller, id: &WalletId) -> ServiceResult<WalletView> {
        let now = self.clock.now();
        let wallet = self.owned_wallet(caller, id).await?;
        if wallet.state == ChargePermissionState::Closed {
            self.end_wallet_subscriptions(&wallet, now).await?;
            return self.wallet_view(wallet, now).await;
        }
        // Subscription charges still pending are canceled with the subscriptions; the
        // merchant keeps an order's authorization (cancelPendingCharges: false).
        self.cancel_subscription_charges(&wallet).await?;
        let body = CloseChargePermissionRequest {
            closure_reason: "Closed by the buyer".into(),
            cancel_pending_charges: Some(false),
        };
        let permission = match self.amazon.close_charge_permission(id, &body).await {
            Ok(p) => p,
            Err(GatewayError::Declined {
                reason_code: ReasonCode::InvalidChargePermissionStatus,
                ..
            }) => self
                .amazon
                .get_charge_permission(id)
                .await
                .map_err(upstream)?,
            Err(e) => return Err(upstream(e)),
        };
        let w = self
            .refresh_wallet(wallet, &permission, now, Refresh::Poll)
            .await?;
        self.end_wallet_subscriptions(&w, now).await?;
        self.wallet_view(w, now).await
    }

    /// Cancels the pending (authorized or AuthorizationInitiated) period charges of a
    /// wallet's subscriptions (all of them, page by page).
    async fn cancel_subscription_charges(&self, wallet: &Wallet) -> ServiceResult<()> {
        for s in self.wallet_subscriptions(wallet).await? {
            let Some(pid) = &s.latest_payment_id else {
                continue;
            };
            if let Ok(p) = self.store.get_payment(pid).await {
                if matches!(p.status, PaymentStatus::Authorized | PaymentStatus::Pending) {
                    let _ = self.cancel_payment(&Caller::Merchant, pid).await;
                }
            }
        }
        Ok(())
    }
}

/// The monthly limit Amazon reports on a Saved Wallet permission, in its currency.
fn reported_limit(p: &ChargePermission, currency: Currency) -> Option<Price> {
    p.limits
        .as_ref()
        .and_then(|l| l.amount_limit)
        .filter(|l| l.currency() == currency && l.is_positive())
}

/// The wallet's payment descriptor (e.g. "Visa ****1111").
fn descriptor(p: &ChargePermission) -> Option<String> {
    p.payment_preferences
        .as_ref()
        .and_then(|v| v.first())
        .and_then(|pp| pp.payment_descriptor.clone())
}

/// An Amazon Pay failure that reaches the caller as 503 (no answer) or 500 (refused).
pub(crate) fn upstream(e: GatewayError) -> ServiceError {
    match e {
        GatewayError::Unknown | GatewayError::NotSent(_) => ServiceError::Unavailable {
            what: "Amazon Pay",
            retry_after_secs: 5,
        },
        GatewayError::Declined {
            status,
            reason_code,
        }
        | GatewayError::Failed {
            status,
            reason_code,
        } => ServiceError::Internal(format!("Amazon Pay answered {status} {reason_code}")),
    }
}
