//! The merchant's payments: unscheduled charges (MITU), capture, cancel, refunds, reading.

use axum::extract::State;

use savedwallet_app::ids::{CustomerId, PaymentId, RefundId};
use savedwallet_app::usecases::{MerchantCharge, NewRefund};
use savedwallet_app::Caller;

use crate::http::auth::Admin;
use crate::http::buyer::payments_page;
use crate::http::dto::input::{CaptureBody, EmptyBody, MerchantChargeBody, RefundBody};
use crate::http::dto::{AdminPayment, AdminPaymentList, ErrorBody, PaymentResult, RefundDto};
use crate::http::error::AppError;
use crate::http::extract::{JsonBody, ListParams, OptionalJson, PathId, Query};
use crate::http::idempotency::{Answer, Idem, OptionalKey, RequiredKey};
use crate::http::request::{note, note_payment, Note};
use crate::http::AppState;

/// A merchant-initiated unscheduled charge (MITU) of a wallet: its own logical charge,
/// named by the Idempotency-Key.
#[utoipa::path(post, path = "/admin/v1/payments", tag = "admin",
    security(("admin" = [])), request_body = MerchantChargeBody,
    params(RequiredKey),
    responses(
        (status = 201, description = "An attempt was made (see status)", body = PaymentResult),
        (status = 200, description = "The payment this key made earlier", body = PaymentResult),
        (status = "4XX", description = "404: wallet; 422: refused before any attempt", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn charge(
    State(st): State<AppState>,
    _admin: Admin,
    idem: Idem,
    body: JsonBody<MerchantChargeBody>,
) -> Result<Answer, AppError> {
    idem.require()?;
    let wallet_id = body.value.check()?;
    idem.keyed(&st, &Caller::Merchant, &body.hash, |scope| async {
        let req = MerchantCharge {
            wallet_id,
            amount: body.value.amount.input(),
            reason: body.value.reason.clone(),
            scope,
        };
        let (payment, made) = st.service().merchant_charge(req).await?;
        note_payment(&payment);
        Answer::made(made, PaymentResult::from(&payment))
    })
    .await
}

/// Any payment with its attempts, whole.
#[utoipa::path(get, path = "/admin/v1/payments/{paymentId}", tag = "admin",
    security(("admin" = [])),
    params(("paymentId" = String, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = AdminPayment),
        (status = "4XX", description = "404", body = ErrorBody),
    ))]
pub(crate) async fn get(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(id): PathId<PaymentId>,
) -> Result<Answer, AppError> {
    let d = st.service().get_payment(&Caller::Merchant, &id).await?;
    note_payment(&d.payment);
    Answer::ok(AdminPayment::new(&d.payment, &d.attempts))
}

/// Captures an authorized payment (once).
#[utoipa::path(post, path = "/admin/v1/payments/{paymentId}/capture", tag = "admin",
    security(("admin" = [])), request_body(content = CaptureBody, description = "Optional"),
    params(("paymentId" = String, Path, description = "Payment id"),
        OptionalKey),
    responses(
        (status = 200, description = "The payment", body = PaymentResult),
        (status = "4XX", description = "404; 422 payment_not_capturable", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn capture(
    State(st): State<AppState>,
    _admin: Admin,
    idem: Idem,
    PathId(id): PathId<PaymentId>,
    OptionalJson(body): OptionalJson<CaptureBody>,
) -> Result<Answer, AppError> {
    body.value.check()?;
    let amount = body.value.amount.as_ref().map(|m| m.input());
    idem.optional(&st, &Caller::Merchant, &body.hash, || async {
        let payment = st.service().capture_payment(&id, amount.as_ref()).await?;
        note_payment(&payment);
        Answer::ok(PaymentResult::from(&payment))
    })
    .await
}

/// Cancels an authorized or pending payment (Cancel Charge); an MFA payment is voided.
#[utoipa::path(post, path = "/admin/v1/payments/{paymentId}/cancel", tag = "admin",
    security(("admin" = [])), request_body(content = EmptyBody, description = "Optional"),
    params(("paymentId" = String, Path, description = "Payment id"),
        OptionalKey),
    responses(
        (status = 200, description = "The payment, canceled", body = PaymentResult),
        (status = "4XX", description = "404; 409 conflict (not cancelable)", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn cancel(
    State(st): State<AppState>,
    _admin: Admin,
    idem: Idem,
    PathId(id): PathId<PaymentId>,
    OptionalJson(body): OptionalJson<EmptyBody>,
) -> Result<Answer, AppError> {
    idem.optional(&st, &Caller::Merchant, &body.hash, || async {
        let payment = st.service().cancel_payment(&Caller::Merchant, &id).await?;
        note_payment(&payment);
        Answer::ok(PaymentResult::from(&payment))
    })
    .await
}

/// Refunds part or all of a captured payment (the total stays within the captured amount).
#[utoipa::path(post, path = "/admin/v1/payments/{paymentId}/refunds", tag = "admin",
    security(("admin" = [])), request_body = RefundBody,
    params(("paymentId" = String, Path, description = "Payment id"),
        RequiredKey),
    responses(
        (status = 201, description = "The refund", body = RefundDto),
        (status = "4XX", description = "404; 422 refund_exceeds_captured, payment_not_capturable, currency_mismatch", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn refund(
    State(st): State<AppState>,
    _admin: Admin,
    idem: Idem,
    PathId(payment_id): PathId<PaymentId>,
    body: JsonBody<RefundBody>,
) -> Result<Answer, AppError> {
    idem.require()?;
    body.value.check()?;
    idem.keyed(&st, &Caller::Merchant, &body.hash, |scope| async {
        let req = NewRefund {
            payment_id,
            amount: body.value.amount.input(),
            reason: body.value.reason.clone(),
            scope,
        };
        let refund = st.service().refund_payment(req).await?;
        note(Note {
            payment_id: Some(refund.payment_id.as_str()),
            refund_id: Some(refund.refund_id.as_str()),
            ..Note::default()
        });
        Answer::created(RefundDto::from(&refund))
    })
    .await
}

/// A refund.
#[utoipa::path(get, path = "/admin/v1/refunds/{refundId}", tag = "admin",
    security(("admin" = [])),
    params(("refundId" = String, Path, description = "Refund id")),
    responses(
        (status = 200, description = "The refund", body = RefundDto),
        (status = "4XX", description = "404", body = ErrorBody),
    ))]
pub(crate) async fn get_refund(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(id): PathId<RefundId>,
) -> Result<Answer, AppError> {
    let refund = st.service().get_refund(&id).await?;
    Answer::ok(RefundDto::from(&refund))
}

/// A customer's payments with their attempts, newest first.
#[utoipa::path(get, path = "/admin/v1/customers/{customerId}/payments", tag = "admin",
    security(("admin" = [])),
    params(("customerId" = String, Path, description = "The merchant's customer id"), ListParams),
    responses(
        (status = 200, description = "The payments", body = AdminPaymentList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn customer_payments(
    State(st): State<AppState>,
    _admin: Admin,
    PathId(customer): PathId<CustomerId>,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    let (details, next_cursor) = payments_page(&st, &customer, &Caller::Merchant, &q).await?;
    Answer::ok(AdminPaymentList {
        payments: details
            .iter()
            .map(|d| AdminPayment::new(&d.payment, &d.attempts))
            .collect(),
        next_cursor,
    })
}
