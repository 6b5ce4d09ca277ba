//! Plans, orders and checkout-session bindings.

use async_trait::async_trait;
use savedwallet_app::ids::{CheckoutSessionId, OrderId, PlanId};
use savedwallet_app::store::*;

use super::{query, with_version, TableStore, MAX_PAGE};
use crate::store::codec::*;
use crate::store::item::{Backend, SortCond};
use crate::store::schema::{keys, Index};

#[async_trait]
impl<B: Backend> CatalogStore for TableStore<B> {
    async fn put_plan(&self, plan: &Plan) -> StoreResult<Plan> {
        let id = plan.plan_id.as_str();
        let next = plan.version.saturating_add(1);
        let stored = Plan {
            version: next,
            ..plan.clone()
        };
        let item = with_version(plan_item(&stored), next);
        if plan.version == 0 {
            self.create("plan", id, item, plan_from, Record::Plan)
                .await?;
        } else {
            self.replace("plan", id, plan.version, item, plan_from, Record::Plan)
                .await?;
        }
        Ok(stored)
    }

    async fn get_plan(&self, id: &PlanId) -> StoreResult<Plan> {
        self.get_record("plan", id.as_str(), keys::plan(id.as_str()), plan_from)
            .await
    }

    async fn list_plans(&self) -> StoreResult<Vec<Plan>> {
        let q = query(
            Index::Lookup,
            keys::PLANS.to_string(),
            SortCond::Any,
            MAX_PAGE,
        );
        self.query_all(q).await?.iter().map(plan_from).collect()
    }

    async fn create_order(&self, order: &Order) -> StoreResult<Order> {
        let stored = Order {
            version: 1,
            payment_id: None,
            ..order.clone()
        };
        self.create(
            "order",
            order.order_id.as_str(),
            order_item(&stored),
            order_from,
            Record::Order,
        )
        .await?;
        Ok(stored)
    }

    async fn get_order(&self, id: &OrderId) -> StoreResult<Order> {
        self.get_record("order", id.as_str(), keys::order(id.as_str()), order_from)
            .await
    }

    async fn bind_checkout(&self, binding: &CheckoutBinding) -> StoreResult<CheckoutBinding> {
        let stored = CheckoutBinding {
            version: 1,
            ..binding.clone()
        };
        self.create(
            "checkout binding",
            binding.checkout_session_id.as_str(),
            checkout_item(&stored)?,
            checkout_from,
            Record::Checkout,
        )
        .await?;
        Ok(stored)
    }

    async fn get_checkout(&self, id: &CheckoutSessionId) -> StoreResult<CheckoutBinding> {
        self.get_record(
            "checkout binding",
            id.as_str(),
            keys::checkout(id.as_str()),
            checkout_from,
        )
        .await
    }

    async fn complete_checkout(&self, binding: &CheckoutBinding) -> StoreResult<CheckoutBinding> {
        let next = binding.version.saturating_add(1);
        let stored = CheckoutBinding {
            version: next,
            ..binding.clone()
        };
        self.replace(
            "checkout binding",
            binding.checkout_session_id.as_str(),
            binding.version,
            checkout_item(&stored)?,
            checkout_from,
            Record::Checkout,
        )
        .await?;
        Ok(stored)
    }
}
