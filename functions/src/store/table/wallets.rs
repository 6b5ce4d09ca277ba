//! Wallets.

use async_trait::async_trait;
use savedwallet_app::ids::{CustomerId, WalletId};
use savedwallet_app::store::*;

use super::{
    event_writes, not_found, query, version_error, versioned_put, with_version, TableStore,
};
use crate::store::codec::{self, wallet_from, wallet_item};
use crate::store::item::{Backend, BackendError, Cond, SortCond, Write, WriteOp};
use crate::store::schema::{keys, Index};

#[async_trait]
impl<B: Backend> WalletStore for TableStore<B> {
    async fn create_wallet(
        &self,
        wallet: &Wallet,
        events: &[MerchantEvent],
    ) -> StoreResult<Wallet> {
        let stored = Wallet {
            version: 1,
            ..wallet.clone()
        };
        let item = wallet_item(&stored)?;
        if events.is_empty() {
            self.create(
                "wallet",
                wallet.wallet_id.as_str(),
                item,
                wallet_from,
                Record::Wallet,
            )
            .await?;
            return Ok(stored);
        }
        let mut writes = vec![Write {
            key: codec::item_key(&item)?,
            op: WriteOp::Put(item),
            cond: Some(Cond::ItemNotExists),
        }];
        writes.extend(event_writes(events)?);
        match self.backend.transact(writes, None).await {
            Ok(()) => Ok(stored),
            Err(BackendError::Condition { index: 0, current }) => Err(StoreError::AlreadyExists {
                kind: "wallet",
                id: wallet.wallet_id.to_string(),
                current: current
                    .as_ref()
                    .and_then(|i| wallet_from(i).ok())
                    .map(|w| Box::new(Record::Wallet(w))),
            }),
            Err(e) => Err(super::backend_err(e)),
        }
    }

    async fn get_wallet(&self, id: &WalletId) -> StoreResult<Wallet> {
        self.get_record(
            "wallet",
            id.as_str(),
            keys::wallet(id.as_str()),
            wallet_from,
        )
        .await
    }

    async fn update_wallet(
        &self,
        wallet: &Wallet,
        events: &[MerchantEvent],
    ) -> StoreResult<Wallet> {
        let next = wallet.version.saturating_add(1);
        let stored = Wallet {
            version: next,
            ..wallet.clone()
        };
        let item = with_version(wallet_item(&stored)?, next);
        let id = wallet.wallet_id.as_str();
        if events.is_empty() {
            self.replace(
                "wallet",
                id,
                wallet.version,
                item,
                wallet_from,
                Record::Wallet,
            )
            .await?;
            return Ok(stored);
        }
        let mut writes = vec![versioned_put(item, wallet.version)?];
        writes.extend(event_writes(events)?);
        match self.backend.transact(writes, None).await {
            Ok(()) => Ok(stored),
            Err(BackendError::Condition { index: 0, current }) => Err(version_error(
                "wallet",
                id,
                wallet.version,
                current,
                wallet_from,
                Record::Wallet,
            )),
            Err(BackendError::Condition { .. }) => Err(StoreError::AlreadyExists {
                kind: "event",
                id: "in this transaction".into(),
                current: None,
            }),
            Err(e) => Err(super::backend_err(e)),
        }
    }

    async fn wallets_of(
        &self,
        owner: &CustomerId,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Wallet>> {
        let mut q = query(
            Index::Lookup,
            keys::customer(owner.as_str()),
            SortCond::BeginsWith("W#".into()),
            limit,
        );
        q.descending = true;
        let page = self.query_page(q, cursor, wallet_from).await?;
        // The index is shared by every customer's records; a record of another owner can
        // never be here, but check anyway: ownership is the one thing never to get wrong.
        if page.items.iter().any(|w| &w.owner != owner) {
            return Err(not_found("wallet page", owner.as_str()));
        }
        Ok(page)
    }

    async fn wallets_to_update(
        &self,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> StoreResult<Page<Wallet>> {
        let mut q = query(
            Index::Merchant,
            keys::WALLETS_TO_UPDATE.to_string(),
            SortCond::Any,
            limit,
        );
        q.descending = true;
        self.query_page(q, cursor, wallet_from).await
    }
}
