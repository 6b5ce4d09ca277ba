//! The merchant's plans, orders, customer lists, subscriptions, events and billing runs.

use axum::extract::State;

use savedwallet_app::ids::{CustomerId, OrderId, PlanId, SubscriptionId};
use savedwallet_app::usecases::{NewOrder, PlanInput};
use savedwallet_app::{validate, Caller};

use crate::http::auth::Admin;
use crate::http::buyer::{subscriptions_page, wallets_page};
use crate::http::cursor;
use crate::http::dto::input::{EmptyBody, OrderBody, PlanBody};
use crate::http::dto::{
    BillingRunDto, ErrorBody, EventDto, EventList, OrderDto, PlanDto, SubscriptionDto,
    SubscriptionList, WalletList,
};
use crate::http::error::AppError;
use crate::http::extract::{JsonBody, ListParams, OptionalJson, PathId, Query};
use crate::http::idempotency::{Answer, Idem, OptionalKey, RequiredKey};
use crate::http::request::note_id;
use crate::http::AppState;

/// Creates or replaces a plan (a new price applies from each subscription's next period).
#[utoipa::path(put, path = "/admin/v1/plans/{planId}", tag = "admin",
    security(("admin" = [])), request_body = PlanBody,
    params(("planId" = String, Path, description = "Plan id (the merchant's)")),
    responses(
        (status = 200, description = "The plan", body = PlanDto),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn put_plan(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(id): PathId<PlanId>,
    body: JsonBody<PlanBody>,
) -> Result<Answer, AppError> {
    body.value.check(&st)?;
    let b = body.value;
    let input = PlanInput {
        name: b.name,
        price: b.price.input(),
        interval: b.interval,
        interval_count: b.interval_count,
        active: b.active,
    };
    let plan = st.service().put_plan(&id, input).await?;
    Answer::ok(PlanDto::from(&plan))
}

/// Creates an order: an amount the customer pays with `POST /v1/orders/{orderId}/pay`.
#[utoipa::path(post, path = "/admin/v1/orders", tag = "admin",
    security(("admin" = [])), request_body = OrderBody,
    params(RequiredKey),
    responses(
        (status = 201, description = "The order", body = OrderDto),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn create_order(
    State(st): State<AppState>,
    _admin: Admin,
    idem: Idem,
    body: JsonBody<OrderBody>,
) -> Result<Answer, AppError> {
    idem.require()?;
    body.value.check()?;
    idem.keyed(&st, &Caller::Merchant, &body.hash, |scope| async {
        let b = &body.value;
        let input = NewOrder {
            customer_id: b.customer_id.clone(),
            amount: b.amount.input(),
            description: b.description.clone(),
            capture_now: b.capture_now,
            soft_descriptor: b.soft_descriptor.clone(),
            scope,
        };
        let order = st.service().create_order(input).await?;
        note_id("order_id", order.order_id.as_str());
        Answer::created(OrderDto::new(&order, None))
    })
    .await
}

/// Any order and its payment.
#[utoipa::path(get, path = "/admin/v1/orders/{orderId}", tag = "admin",
    security(("admin" = [])),
    params(("orderId" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderDto),
        (status = "4XX", description = "404", body = ErrorBody),
    ))]
pub(crate) async fn get_order(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(id): PathId<OrderId>,
) -> Result<Answer, AppError> {
    crate::http::buyer::order_as(&st, &Caller::Merchant, &id).await
}

/// A customer's wallets, newest first.
#[utoipa::path(get, path = "/admin/v1/customers/{customerId}/wallets", tag = "admin",
    security(("admin" = [])),
    params(("customerId" = String, Path, description = "The merchant's customer id"), ListParams),
    responses(
        (status = 200, description = "The wallets", body = WalletList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn customer_wallets(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(customer): PathId<CustomerId>,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    Answer::ok(wallets_page(&st, &customer, &q).await?)
}

/// A customer's subscriptions, newest first.
#[utoipa::path(get, path = "/admin/v1/customers/{customerId}/subscriptions", tag = "admin",
    security(("admin" = [])),
    params(("customerId" = String, Path, description = "The merchant's customer id"), ListParams),
    responses(
        (status = 200, description = "The subscriptions", body = SubscriptionList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn customer_subscriptions(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(customer): PathId<CustomerId>,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    Answer::ok(subscriptions_page(&st, &customer, &Caller::Merchant, &q).await?)
}

/// Cancels any subscription at once.
#[utoipa::path(delete, path = "/admin/v1/subscriptions/{subscriptionId}", tag = "admin",
    security(("admin" = [])),
    params(("subscriptionId" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription, canceled", body = SubscriptionDto),
        (status = "4XX", description = "404", body = ErrorBody),
    ))]
pub(crate) async fn cancel_subscription(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(id): PathId<SubscriptionId>,
) -> Result<Answer, AppError> {
    crate::http::buyer::cancel_as(&st, &Caller::Merchant, &id).await
}

/// Merchant events, oldest first from `?cursor=`.
#[utoipa::path(get, path = "/admin/v1/events", tag = "admin",
    security(("admin" = [])), params(ListParams),
    responses(
        (status = 200, description = "Events", body = EventList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn events(
    State(st): State<AppState>,
    _admin: Admin,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    let limit = validate::limit(q.limit)?;
    let c = cursor::decode(&st, "events", q.cursor.as_deref())?;
    let page = st.service().events(limit, c.as_ref()).await?;
    Answer::ok(EventList {
        events: page.items.iter().map(EventDto::from).collect(),
        next_cursor: cursor::encode(&st, "events", page.next.as_ref()),
    })
}

/// Runs one billing cycle now.
#[utoipa::path(post, path = "/admin/v1/billing/run", tag = "admin",
    security(("admin" = [])), request_body(content = EmptyBody, description = "Optional"),
    params(OptionalKey),
    responses(
        (status = 200, description = "What the cycle did", body = BillingRunDto),
        (status = "4XX", description = "Refused", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn billing_run(
    State(st): State<AppState>,
    _admin: Admin,
    idem: Idem,
    OptionalJson(body): OptionalJson<EmptyBody>,
) -> Result<Answer, AppError> {
    idem.optional(&st, &Caller::Merchant, &body.hash, || async {
        let run = st.service().bill_due(25).await?;
        Answer::ok(BillingRunDto::from(run))
    })
    .await
}
