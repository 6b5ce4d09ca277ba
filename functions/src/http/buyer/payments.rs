//! `/v1/orders…` and `/v1/payments…`: paying an order (CITU), reading payments, a buyer's
//! retry and the MFA return.

use axum::extract::State;

use savedwallet_app::ids::{CustomerId, OrderId, PaymentId};
use savedwallet_app::usecases::{PayOrder, PaymentDetail, RetryPayment};
use savedwallet_app::{validate, Caller};

use super::{rate_limit, Buyer};
use crate::http::cursor;
use crate::http::dto::input::{CheckoutSessionBody, PayOrderBody, RetryBody};
use crate::http::dto::{BuyerPayment, BuyerPaymentList, ErrorBody, OrderDto, PaymentResult};
use crate::http::error::AppError;
use crate::http::extract::{JsonBody, ListParams, OptionalJson, PathId, Query};
use crate::http::idempotency::{Answer, Idem, OptionalKey};
use crate::http::request::{note_id, note_payment};
use crate::http::AppState;

/// An owned order and its payment.
#[utoipa::path(get, path = "/v1/orders/{orderId}", tag = "payments",
    security(("buyer" = [])),
    params(("orderId" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderDto),
        (status = "4XX", description = "404: missing or not the caller's", body = ErrorBody),
    ))]
pub(crate) async fn get_order(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<OrderId>,
) -> Result<Answer, AppError> {
    order_as(&st, &buyer.caller(), &id).await
}

/// An order as a buyer or the merchant sees it.
pub(crate) async fn order_as(
    st: &AppState,
    caller: &Caller,
    id: &OrderId,
) -> Result<Answer, AppError> {
    note_id("order_id", id.as_str());
    let (order, payment) = st.service().get_order(caller, id).await?;
    Answer::ok(OrderDto::new(&order, payment.as_ref()))
}

/// Pays an owned order with an owned wallet (CITU), once per order.
#[utoipa::path(post, path = "/v1/orders/{orderId}/pay", tag = "payments",
    security(("buyer" = [])), request_body = PayOrderBody,
    params(("orderId" = String, Path, description = "Order id"),
        OptionalKey),
    responses(
        (status = 201, description = "An attempt was made (see status)", body = PaymentResult),
        (status = "4XX", description = "404: order or wallet; 409 order_has_payment (with paymentId); 422: refused before any attempt", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn pay_order(
    State(st): State<AppState>,
    buyer: Buyer,
    idem: Idem,
    PathId(order_id): PathId<OrderId>,
    body: JsonBody<PayOrderBody>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    let wallet_id = body.value.check(&st)?;
    note_id("order_id", order_id.as_str());
    let caller = buyer.caller();
    idem.optional(&st, &caller, &body.hash, || async {
        let req = PayOrder {
            order_id,
            wallet_id,
            return_url: body.value.checkout_result_return_url.clone(),
        };
        let (payment, made) = st.service().pay_order(&buyer.0, req).await?;
        note_payment(&payment);
        Answer::made(made, PaymentResult::from(&payment))
    })
    .await
}

/// A customer's payments with their attempts, newest first.
pub(crate) async fn payments_page(
    st: &AppState,
    owner: &CustomerId,
    caller: &Caller,
    q: &ListParams,
) -> Result<(Vec<PaymentDetail>, Option<String>), AppError> {
    let limit = validate::limit(q.limit)?;
    let list = format!("payments:{owner}");
    let c = cursor::decode(st, &list, q.cursor.as_deref())?;
    let page = st.service().list_payments(owner, limit, c.as_ref()).await?;
    let mut details = Vec::with_capacity(page.items.len());
    for p in &page.items {
        details.push(st.service().get_payment(caller, &p.payment_id).await?);
    }
    Ok((details, cursor::encode(st, &list, page.next.as_ref())))
}

/// The caller's payments with their attempts, newest first.
#[utoipa::path(get, path = "/v1/payments", tag = "payments",
    security(("buyer" = [])), params(ListParams),
    responses(
        (status = 200, description = "The caller's payments", body = BuyerPaymentList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(st): State<AppState>,
    buyer: Buyer,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    let (details, next_cursor) = payments_page(&st, &buyer.0, &buyer.caller(), &q).await?;
    Answer::ok(BuyerPaymentList {
        payments: details
            .iter()
            .map(|d| BuyerPayment::new(&d.payment, &d.attempts))
            .collect(),
        next_cursor,
    })
}

/// One owned payment with its attempts.
#[utoipa::path(get, path = "/v1/payments/{paymentId}", tag = "payments",
    security(("buyer" = [])),
    params(("paymentId" = String, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = BuyerPayment),
        (status = "4XX", description = "404: missing or not the caller's", body = ErrorBody),
    ))]
pub(crate) async fn get(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<PaymentId>,
) -> Result<Answer, AppError> {
    let d = st.service().get_payment(&buyer.caller(), &id).await?;
    note_payment(&d.payment);
    Answer::ok(BuyerPayment::new(&d.payment, &d.attempts))
}

/// A new attempt of a declined, failed or canceled payment (optionally on another owned
/// wallet).
#[utoipa::path(post, path = "/v1/payments/{paymentId}/retry", tag = "payments",
    security(("buyer" = [])), request_body(content = RetryBody, description = "Optional"),
    params(("paymentId" = String, Path, description = "Payment id"),
        OptionalKey),
    responses(
        (status = 201, description = "An attempt was made (see status)", body = PaymentResult),
        (status = 200, description = "An earlier attempt's outcome", body = PaymentResult),
        (status = "4XX", description = "404: payment or wallet; 409 payment_in_progress; 422: refused before any attempt", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn retry(
    State(st): State<AppState>,
    buyer: Buyer,
    idem: Idem,
    PathId(payment_id): PathId<PaymentId>,
    OptionalJson(body): OptionalJson<RetryBody>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    let wallet_id = body.value.check(&st)?;
    let caller = buyer.caller();
    idem.optional(&st, &caller, &body.hash, || async {
        let req = RetryPayment {
            payment_id,
            wallet_id,
            return_url: body.value.checkout_result_return_url.clone(),
        };
        let (payment, made) = st.service().retry_payment(&caller, req).await?;
        note_payment(&payment);
        Answer::made(made, PaymentResult::from(&payment))
    })
    .await
}

/// The MFA return: completes the payment with the buyer's checkout session, exactly once
/// however often it is called.
#[utoipa::path(post, path = "/v1/payments/{paymentId}/complete", tag = "payments",
    security(("buyer" = [])), request_body = CheckoutSessionBody,
    params(("paymentId" = String, Path, description = "Payment id"),
        OptionalKey),
    responses(
        (status = 200, description = "The payment", body = PaymentResult),
        (status = "4XX", description = "404: payment or session not the caller's; 409 checkout_session_mismatch", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn complete(
    State(st): State<AppState>,
    buyer: Buyer,
    idem: Idem,
    PathId(payment_id): PathId<PaymentId>,
    body: JsonBody<CheckoutSessionBody>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    let session = body.value.check()?;
    let caller = buyer.caller();
    idem.optional(&st, &caller, &body.hash, || async {
        let payment = st
            .service()
            .complete_payment(&buyer.0, &payment_id, &session)
            .await?;
        note_payment(&payment);
        Answer::ok(PaymentResult::from(&payment))
    })
    .await
}
