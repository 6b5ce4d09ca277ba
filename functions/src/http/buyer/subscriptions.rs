//! `/v1/plans` and `/v1/subscriptions…`.

use axum::extract::State;

use savedwallet_app::ids::{CustomerId, SubscriptionId};
use savedwallet_app::store::Cursor;
use savedwallet_app::usecases::Subscribe;
use savedwallet_app::{validate, Caller};

use super::{rate_limit, Buyer};
use crate::http::cursor;
use crate::http::dto::input::{body_id, ChangeWalletBody, SubscribeBody};
use crate::http::dto::{
    ErrorBody, PlanDto, PlanList, SubscriptionCreated, SubscriptionDto, SubscriptionList,
};
use crate::http::error::AppError;
use crate::http::extract::{JsonBody, ListParams, PathId, Query};
use crate::http::idempotency::{Answer, Idem, RequiredKey};
use crate::http::request::{note_id, note_payment};
use crate::http::AppState;

/// The active plans, by id.
#[utoipa::path(get, path = "/v1/plans", tag = "subscriptions",
    security(("buyer" = [])), params(ListParams),
    responses(
        (status = 200, description = "Active plans", body = PlanList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn plans(
    State(st): State<AppState>,
    _buyer: Buyer,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    let limit = validate::limit(q.limit)? as usize;
    let after = cursor::decode(&st, "plans", q.cursor.as_deref())?;
    let all = st.service().active_plans().await?;
    let rest: Vec<_> = all
        .iter()
        .filter(|p| {
            after
                .as_ref()
                .is_none_or(|c| p.plan_id.as_str() > c.0.as_str())
        })
        .collect();
    let page: Vec<PlanDto> = rest.iter().take(limit).map(|p| PlanDto::from(*p)).collect();
    let next = (rest.len() > limit)
        .then(|| page.last().map(|p| Cursor(p.plan_id.clone())))
        .flatten();
    Answer::ok(PlanList {
        plans: page,
        next_cursor: cursor::encode(&st, "plans", next.as_ref()),
    })
}

/// Subscribes the caller to an active plan; the first period is charged now (CITR).
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions",
    security(("buyer" = [])), request_body = SubscribeBody,
    params(RequiredKey),
    responses(
        (status = 201, description = "Subscribed; an attempt was made (see payment.status)", body = SubscriptionCreated),
        (status = 200, description = "The subscription this key made earlier", body = SubscriptionCreated),
        (status = "4XX", description = "404: wallet or plan; 422: refused before any attempt", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn subscribe(
    State(st): State<AppState>,
    buyer: Buyer,
    idem: Idem,
    body: JsonBody<SubscribeBody>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    idem.require()?;
    let (wallet_id, plan_id) = body.value.check(&st)?;
    let caller = buyer.caller();
    idem.keyed(&st, &caller, &body.hash, |scope| async {
        let req = Subscribe {
            wallet_id,
            plan_id,
            return_url: body.value.checkout_result_return_url.clone(),
            scope,
        };
        let (sub, payment, made) = st.service().subscribe(&buyer.0, req).await?;
        note_payment(&payment);
        note_id("subscription_id", sub.subscription_id.as_str());
        Answer::made(
            made,
            SubscriptionCreated {
                subscription: SubscriptionDto::new(&sub, Some(&payment)),
                payment: (&payment).into(),
            },
        )
    })
    .await
}

/// A customer's subscriptions with their latest payments, newest first.
pub(crate) async fn subscriptions_page(
    st: &AppState,
    owner: &CustomerId,
    caller: &Caller,
    q: &ListParams,
) -> Result<SubscriptionList, AppError> {
    let limit = validate::limit(q.limit)?;
    let list = format!("subscriptions:{owner}");
    let c = cursor::decode(st, &list, q.cursor.as_deref())?;
    let page = st
        .service()
        .list_subscriptions(owner, limit, c.as_ref())
        .await?;
    let mut subscriptions = Vec::with_capacity(page.items.len());
    for s in &page.items {
        let (sub, latest) = st
            .service()
            .get_subscription(caller, &s.subscription_id)
            .await?;
        subscriptions.push(SubscriptionDto::new(&sub, latest.as_ref()));
    }
    Ok(SubscriptionList {
        subscriptions,
        next_cursor: cursor::encode(st, &list, page.next.as_ref()),
    })
}

/// The caller's subscriptions, newest first.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions",
    security(("buyer" = [])), params(ListParams),
    responses(
        (status = 200, description = "The caller's subscriptions", body = SubscriptionList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(st): State<AppState>,
    buyer: Buyer,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    Answer::ok(subscriptions_page(&st, &buyer.0, &buyer.caller(), &q).await?)
}

/// One owned subscription with its latest payment.
#[utoipa::path(get, path = "/v1/subscriptions/{subscriptionId}", tag = "subscriptions",
    security(("buyer" = [])),
    params(("subscriptionId" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionDto),
        (status = "4XX", description = "404: missing or not the caller's", body = ErrorBody),
    ))]
pub(crate) async fn get(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<SubscriptionId>,
) -> Result<Answer, AppError> {
    note_id("subscription_id", id.as_str());
    let (sub, latest) = st.service().get_subscription(&buyer.caller(), &id).await?;
    Answer::ok(SubscriptionDto::new(&sub, latest.as_ref()))
}

/// Bills the subscription on another owned wallet from now on (an open past-due period is
/// retried on it).
#[utoipa::path(patch, path = "/v1/subscriptions/{subscriptionId}", tag = "subscriptions",
    security(("buyer" = [])), request_body = ChangeWalletBody,
    params(("subscriptionId" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionDto),
        (status = "4XX", description = "404: subscription or wallet not the caller's", body = ErrorBody),
    ))]
pub(crate) async fn change_wallet(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<SubscriptionId>,
    body: JsonBody<ChangeWalletBody>,
) -> Result<Answer, AppError> {
    let wallet = body_id("walletId", &body.value.wallet_id)?;
    let caller = buyer.caller();
    let sub = st
        .service()
        .change_subscription_wallet(&caller, &id, &wallet)
        .await?;
    let (sub, latest) = st
        .service()
        .get_subscription(&caller, &sub.subscription_id)
        .await?;
    Answer::ok(SubscriptionDto::new(&sub, latest.as_ref()))
}

/// Cancels an owned subscription at once (nothing more is billed). A repeat answers the
/// canceled subscription again.
#[utoipa::path(delete, path = "/v1/subscriptions/{subscriptionId}", tag = "subscriptions",
    security(("buyer" = [])),
    params(("subscriptionId" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription, canceled", body = SubscriptionDto),
        (status = "4XX", description = "404: missing or not the caller's", body = ErrorBody),
    ))]
pub(crate) async fn cancel(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<SubscriptionId>,
) -> Result<Answer, AppError> {
    cancel_as(&st, &buyer.caller(), &id).await
}

/// Cancels a subscription as a buyer or the merchant.
pub(crate) async fn cancel_as(
    st: &AppState,
    caller: &Caller,
    id: &SubscriptionId,
) -> Result<Answer, AppError> {
    note_id("subscription_id", id.as_str());
    let sub = st.service().cancel_subscription(caller, id).await?;
    let (sub, latest) = st
        .service()
        .get_subscription(caller, &sub.subscription_id)
        .await?;
    Answer::ok(SubscriptionDto::new(&sub, latest.as_ref()))
}
