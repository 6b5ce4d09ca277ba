//! The merchant view's lists across customers (`GET /admin/v1/payments`,
//! `/admin/v1/subscriptions?status=`, `/admin/v1/wallets/update-required`): the buyer-facing
//! objects with the customer they belong to.

use serde::Serialize;
use utoipa::ToSchema;

use super::{SubscriptionDto, WalletDto};

/// A subscription with its customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSubscription {
    /// The subscription.
    #[serde(flatten)]
    pub subscription: SubscriptionDto,
    /// The customer.
    pub customer_id: String,
}

/// A wallet with its customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminWallet {
    /// The wallet.
    #[serde(flatten)]
    pub wallet: WalletDto,
    /// The customer.
    pub customer_id: String,
}

/// `GET /admin/v1/subscriptions?status=`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminSubscriptionList {
    /// Newest first.
    pub subscriptions: Vec<AdminSubscription>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}

/// `GET /admin/v1/wallets/update-required`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminWalletList {
    /// Most recently flagged first.
    pub wallets: Vec<AdminWallet>,
    /// Null at the end.
    pub next_cursor: Option<String>,
}
