//! `/v1/wallets…`: the button config, setup, completing setup, reading and closing wallets.

use axum::extract::State;
use serde::Deserialize;

use savedwallet_app::ids::{CustomerId, WalletId};
use savedwallet_app::validate;

use super::{rate_limit, Buyer};
use crate::http::cursor;
use crate::http::dto::input::{body_id, return_url, CheckoutSessionBody, SetupBody};
use crate::http::dto::{ButtonConfigDto, ErrorBody, SetupStartedDto, WalletDto, WalletList};
use crate::http::error::AppError;
use crate::http::extract::{JsonBody, ListParams, PathId, Query};
use crate::http::idempotency::{Answer, Idem, OptionalKey};
use crate::http::request::note_id;
use crate::http::AppState;

/// `?walletId=&returnUrl=` of the button config.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ButtonParams {
    /// An owned wallet: the hosted Update page payload for it (not offered in JP).
    pub wallet_id: Option<String>,
    /// Where Amazon sends the buyer back (default: the first allowed return origin).
    pub return_url: Option<String>,
}

/// Amazon Pay button config for Saved Wallet setup, or the Update page of an owned wallet.
#[utoipa::path(get, path = "/v1/wallets/button", tag = "wallets",
    security(("buyer" = [])), params(ButtonParams),
    responses(
        (status = 200, description = "Signed button config", body = ButtonConfigDto),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn button(
    State(st): State<AppState>,
    buyer: Buyer,
    Query(q): Query<ButtonParams>,
) -> Result<Answer, AppError> {
    let wallet: Option<WalletId> = q
        .wallet_id
        .as_deref()
        .map(|w| body_id("walletId", w))
        .transpose()?;
    let url = match q.return_url {
        Some(u) => u,
        None => st
            .service()
            .config()
            .return_origins
            .first()
            .map(|o| format!("{}/", o.as_str()))
            .ok_or_else(|| AppError::invalid("returnUrl", "returnUrl is required"))?,
    };
    return_url(&st, "returnUrl", &url, false)?;
    let cfg = st
        .service()
        .button_config(&buyer.0, &url, wallet.as_ref())
        .await?;
    Answer::ok(ButtonConfigDto::from(&cfg))
}

/// Starts Saved Wallet setup: a setup-only Checkout Session bound to the caller.
#[utoipa::path(post, path = "/v1/wallets/setup", tag = "wallets",
    security(("buyer" = [])), request_body = SetupBody,
    params(OptionalKey),
    responses(
        (status = 201, description = "Send the buyer to redirectUrl", body = SetupStartedDto),
        (status = "4XX", description = "Refused", body = ErrorBody),
        (status = "5XX", description = "Failed (503: Amazon Pay unavailable)", body = ErrorBody),
    ))]
pub(crate) async fn setup(
    State(st): State<AppState>,
    buyer: Buyer,
    idem: Idem,
    body: JsonBody<SetupBody>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    body.value.check(&st)?;
    let caller = buyer.caller();
    idem.optional(&st, &caller, &body.hash, || async {
        let s = st
            .service()
            .start_wallet_setup(&buyer.0, &body.value.return_url)
            .await?;
        Answer::created(SetupStartedDto::from(&s))
    })
    .await
}

/// Completes setup (or an Update page return) and stores the wallet as the caller's.
#[utoipa::path(post, path = "/v1/wallets", tag = "wallets",
    security(("buyer" = [])), request_body = CheckoutSessionBody,
    params(OptionalKey),
    responses(
        (status = 201, description = "A new wallet", body = WalletDto),
        (status = 200, description = "An owned wallet (Update page return, or a repeat)", body = WalletDto),
        (status = "4XX", description = "404: not the caller's session; 422: wallet_not_saved, checkout_session_canceled", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn complete(
    State(st): State<AppState>,
    buyer: Buyer,
    idem: Idem,
    body: JsonBody<CheckoutSessionBody>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    let session = body.value.check()?;
    let caller = buyer.caller();
    idem.optional(&st, &caller, &body.hash, || async {
        let (view, new) = st
            .service()
            .complete_wallet_setup(&buyer.0, &session)
            .await?;
        note_id("wallet_id", view.wallet.wallet_id.as_str());
        Answer::made(new, WalletDto::from(&view))
    })
    .await
}

/// A customer's wallets, newest first (buyers: their own; the merchant: any customer's).
pub(crate) async fn wallets_page(
    st: &AppState,
    owner: &CustomerId,
    q: &ListParams,
) -> Result<WalletList, AppError> {
    let limit = validate::limit(q.limit)?;
    let list = format!("wallets:{owner}");
    let c = cursor::decode(st, &list, q.cursor.as_deref())?;
    let page = st.service().list_wallets(owner, limit, c.as_ref()).await?;
    Ok(WalletList {
        wallets: page.items.iter().map(WalletDto::from).collect(),
        next_cursor: cursor::encode(st, &list, page.next.as_ref()),
    })
}

/// The caller's wallets, newest first.
#[utoipa::path(get, path = "/v1/wallets", tag = "wallets",
    security(("buyer" = [])), params(ListParams),
    responses(
        (status = 200, description = "The caller's wallets", body = WalletList),
        (status = "4XX", description = "Refused", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(st): State<AppState>,
    buyer: Buyer,
    Query(q): Query<ListParams>,
) -> Result<Answer, AppError> {
    Answer::ok(wallets_page(&st, &buyer.0, &q).await?)
}

/// One owned wallet.
#[utoipa::path(get, path = "/v1/wallets/{walletId}", tag = "wallets",
    security(("buyer" = [])),
    params(("walletId" = String, Path, description = "Amazon's chargePermissionId")),
    responses(
        (status = 200, description = "The wallet", body = WalletDto),
        (status = "4XX", description = "404: missing or not the caller's", body = ErrorBody),
    ))]
pub(crate) async fn get(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<WalletId>,
) -> Result<Answer, AppError> {
    note_id("wallet_id", id.as_str());
    let view = st.service().get_wallet(&buyer.caller(), &id).await?;
    Answer::ok(WalletDto::from(&view))
}

/// Closes an owned wallet (Close Charge Permission); its subscriptions end. A repeat
/// answers the closed wallet again.
#[utoipa::path(delete, path = "/v1/wallets/{walletId}", tag = "wallets",
    security(("buyer" = [])),
    params(("walletId" = String, Path, description = "Amazon's chargePermissionId")),
    responses(
        (status = 200, description = "The wallet, Closed", body = WalletDto),
        (status = "4XX", description = "404: missing or not the caller's", body = ErrorBody),
        (status = "5XX", description = "Failed", body = ErrorBody),
    ))]
pub(crate) async fn close(
    State(st): State<AppState>,
    buyer: Buyer,
    PathId(id): PathId<WalletId>,
) -> Result<Answer, AppError> {
    rate_limit(&st, &buyer)?;
    note_id("wallet_id", id.as_str());
    let view = st.service().close_wallet(&buyer.caller(), &id).await?;
    Answer::ok(WalletDto::from(&view))
}
