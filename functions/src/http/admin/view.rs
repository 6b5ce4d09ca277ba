//! The merchant view's lists across customers: recent payments with their attempts,
//! subscriptions by status, wallets waiting for a payment-method update. What an operator
//! reads instead of logs (the local demo's merchant page is built on them).

use axum::extract::State;

use savedwallet_app::store::SubscriptionStatus;
use savedwallet_app::{validate, Caller};

use crate::http::auth::Admin;
use crate::http::cursor;
use crate::http::dto::{
    AdminPayment, AdminPaymentList, AdminSubscription, AdminSubscriptionList, AdminWallet,
    AdminWalletList, ErrorBody, SubscriptionDto, WalletDto,
};
use crate::http::error::AppError;
use crate::http::extract::{ListParams, Query};
use crate::http::idempotency::Answer;
use crate::http::AppState;

/// `?status=&limit=&cursor=` of the subscriptions list.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusListParams {
    /// `incomplete`, `active`, `past_due` or `canceled`.
    pub status: String,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// Every customer's payments with their attempts, newest first.
#[utoipa::path(get, path = "/admin/v1/payments", tag = "admin",
    security(("admin" = [])), params(ListParams),
    responses(
        (status = 200, description = "The payments", body = AdminPaymentList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn recent_payments(
    State(st): State<AppState>,
    _admin: Admin,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    let limit = validate::limit(q.limit)?;
    let list = "payments:*";
    let c = cursor::decode(&st, list, q.cursor.as_deref())?;
    let page = st.service().recent_payments(limit, c.as_ref()).await?;
    let mut payments = Vec::with_capacity(page.items.len());
    for p in &page.items {
        let d = st
            .service()
            .get_payment(&Caller::Merchant, &p.payment_id)
            .await?;
        payments.push(AdminPayment::new(&d.payment, &d.attempts));
    }
    Answer::ok(AdminPaymentList {
        payments,
        next_cursor: cursor::encode(&st, list, page.next.as_ref()),
    })
}

/// Every customer's subscriptions in one status, newest first.
#[utoipa::path(get, path = "/admin/v1/subscriptions", tag = "admin",
    security(("admin" = [])), params(StatusListParams),
    responses(
        (status = 200, description = "The subscriptions", body = AdminSubscriptionList),
        (status = "4XX", description = "Refused (400: status)", body = ErrorBody),
    ))]
pub(crate) async fn subscriptions_by_status(
    State(st): State<AppState>,
    _admin: Admin,
    Query(q): Query<StatusListParams>,
) -> Result<Answer, AppError> {
    let status = SubscriptionStatus::parse(&q.status).ok_or_else(|| {
        AppError::invalid(
            "status",
            "status is one of incomplete, active, past_due, canceled",
        )
    })?;
    let limit = validate::limit(q.limit)?;
    // One cursor space per status: a page of `active` never continues `canceled`.
    let list = format!("subscriptions:status:{}", status.as_str());
    let c = cursor::decode(&st, &list, q.cursor.as_deref())?;
    let page = st
        .service()
        .subscriptions_in(status, limit, c.as_ref())
        .await?;
    let mut subscriptions = Vec::with_capacity(page.items.len());
    for s in &page.items {
        let (sub, latest) = st
            .service()
            .get_subscription(&Caller::Merchant, &s.subscription_id)
            .await?;
        subscriptions.push(AdminSubscription {
            customer_id: sub.owner.to_string(),
            subscription: SubscriptionDto::new(&sub, latest.as_ref()),
        });
    }
    Answer::ok(AdminSubscriptionList {
        subscriptions,
        next_cursor: cursor::encode(&st, &list, page.next.as_ref()),
    })
}

/// Every customer's wallets waiting for the buyer's payment-method update (HardDeclined,
/// NonChargeable), most recently flagged first.
#[utoipa::path(get, path = "/admin/v1/wallets/update-required", tag = "admin",
    security(("admin" = [])), params(ListParams),
    responses(
        (status = 200, description = "The wallets", body = AdminWalletList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn wallets_to_update(
    State(st): State<AppState>,
    _admin: Admin,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    let limit = validate::limit(q.limit)?;
    let list = "wallets:update-required";
    let c = cursor::decode(&st, list, q.cursor.as_deref())?;
    let page = st.service().wallets_to_update(limit, c.as_ref()).await?;
    Answer::ok(AdminWalletList {
        wallets: page
            .items
            .iter()
            .map(|w| AdminWallet {
                customer_id: w.wallet.owner.to_string(),
                wallet: WalletDto::from(w),
            })
            .collect(),
        next_cursor: cursor::encode(&st, list, page.next.as_ref()),
    })
}
