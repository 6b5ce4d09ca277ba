//! The single source of truth for the table layout: key attributes, indexes, TTL
//! attribute and the key patterns of every record type. The DynamoDB adapter creates
//! tables from [`SCHEMA`]; `infra/template.yaml` must match it (a test checks).

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

impl Key {
    /// A key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Key {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// Timer GSI partition key, sparse: `DUE#<shard>` (subscriptions to bill), `WAKE#<shard>`
/// (payments for the reconciler), `DELIVER#<shard>` (undelivered merchant events).
pub const GSI1PK: &str = "gsi1pk";
/// Timer GSI sort key: epoch millis when the item is next due.
pub const GSI1SK: &str = "gsi1sk";
/// Lookup GSI partition key (customer → wallets/subscriptions/payments, charge id →
/// attempt, Amazon refund id → refund, all plans).
pub const GSI2PK: &str = "gsi2pk";
/// Lookup GSI sort key.
pub const GSI2SK: &str = "gsi2sk";
/// Merchant-view GSI partition key: `PAYMENTS` (every payment), `SUBS#<status>` (the
/// subscriptions in one status), `WALLETS#UPDATE` (sparse: wallets waiting for the buyer's
/// payment-method update). One partition each: their writes follow Amazon's charge quota
/// (tens per second), far below a GSI partition's ~1,000 writes a second.
pub const GSI3PK: &str = "gsi3pk";
/// Merchant-view GSI sort key: `<millis:013>#<id>` (creation, or the flag's time), newest last.
pub const GSI3SK: &str = "gsi3sk";
/// TTL attribute: epoch seconds after which DynamoDB may delete the item.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// Name of the timer GSI.
pub const GSI_DUE: &str = "gsi1";
/// Name of the lookup GSI.
pub const GSI_LOOKUP: &str = "gsi2";
/// Name of the merchant-view GSI.
pub const GSI_MERCHANT: &str = "gsi3";
pub use savedwallet_app::store::{DELIVERY_SHARDS, DUE_SHARDS, WAKE_SHARDS};

/// The DynamoDB scalar type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// String (`S`).
    S,
    /// Number (`N`).
    N,
}

impl KeyType {
    /// The CloudFormation/DynamoDB spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
        }
    }
}

/// A key attribute: name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: &'static str,
    /// Attribute type.
    pub kind: KeyType,
}

/// A global secondary index (projection ALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsiDef {
    /// Index name.
    pub name: &'static str,
    /// Partition key.
    pub partition: KeyAttr,
    /// Sort key.
    pub sort: KeyAttr,
}

/// The whole table layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSchema {
    /// Table partition key.
    pub partition: KeyAttr,
    /// Table sort key.
    pub sort: KeyAttr,
    /// GSIs.
    pub indexes: &'static [GsiDef],
    /// TTL attribute name.
    pub ttl_attribute: &'static str,
}

impl TableSchema {
    /// Every key attribute (table and indexes) with its type, for AttributeDefinitions.
    pub fn attribute_definitions(&self) -> Vec<KeyAttr> {
        let mut out = vec![self.partition, self.sort];
        for g in self.indexes {
            out.push(g.partition);
            out.push(g.sort);
        }
        out
    }
}

/// The table layout.
pub const SCHEMA: TableSchema = TableSchema {
    partition: KeyAttr {
        name: PK,
        kind: KeyType::S,
    },
    sort: KeyAttr {
        name: SK,
        kind: KeyType::S,
    },
    indexes: &[
        GsiDef {
            name: GSI_DUE,
            partition: KeyAttr {
                name: GSI1PK,
                kind: KeyType::S,
            },
            sort: KeyAttr {
                name: GSI1SK,
                kind: KeyType::N,
            },
        },
        GsiDef {
            name: GSI_LOOKUP,
            partition: KeyAttr {
                name: GSI2PK,
                kind: KeyType::S,
            },
            sort: KeyAttr {
                name: GSI2SK,
                kind: KeyType::S,
            },
        },
        GsiDef {
            name: GSI_MERCHANT,
            partition: KeyAttr {
                name: GSI3PK,
                kind: KeyType::S,
            },
            sort: KeyAttr {
                name: GSI3SK,
                kind: KeyType::S,
            },
        },
    ],
    ttl_attribute: TTL_ATTRIBUTE,
};

/// Where a query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// The table itself (pk/sk).
    Table,
    /// The timer GSI (due subscriptions, payments to wake, deliveries).
    Due,
    /// The lookup GSI.
    Lookup,
    /// The merchant-view GSI (all payments, subscriptions by status, wallets to update).
    Merchant,
}

impl Index {
    /// GSI name, `None` for the table.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Table => None,
            Index::Due => Some(GSI_DUE),
            Index::Lookup => Some(GSI_LOOKUP),
            Index::Merchant => Some(GSI_MERCHANT),
        }
    }

    /// Partition and sort attribute names.
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Table => (PK, SK),
            Index::Due => (GSI1PK, GSI1SK),
            Index::Lookup => (GSI2PK, GSI2SK),
            Index::Merchant => (GSI3PK, GSI3SK),
        }
    }
}

/// A stable 32-bit FNV-1a hash: shard numbers must not change between processes or
/// releases (std's hasher is randomly seeded).
pub fn stable_hash(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Key patterns of every record type (`PK` / `SK`) and of the index partitions.
pub mod keys {
    use super::{stable_hash, Key, DELIVERY_SHARDS, DUE_SHARDS, WAKE_SHARDS};

    /// Wallet: `WALLET#<walletId>` / `WALLET`.
    pub fn wallet(id: &str) -> Key {
        Key::new(format!("WALLET#{id}"), "WALLET")
    }
    /// Monthly usage: `WALLET#<walletId>` / `USAGE#<YYYY-MM>` (its wallet's partition).
    pub fn usage(wallet: &str, month: &str) -> Key {
        Key::new(format!("WALLET#{wallet}"), format!("USAGE#{month}"))
    }
    /// Plan: `PLAN#<planId>` / `PLAN`.
    pub fn plan(id: &str) -> Key {
        Key::new(format!("PLAN#{id}"), "PLAN")
    }
    /// Order: `ORDER#<orderId>` / `ORDER`.
    pub fn order(id: &str) -> Key {
        Key::new(format!("ORDER#{id}"), "ORDER")
    }
    /// Checkout binding: `CHECKOUT#<sessionId>` / `CHECKOUT`.
    pub fn checkout(id: &str) -> Key {
        Key::new(format!("CHECKOUT#{id}"), "CHECKOUT")
    }
    /// Subscription: `SUB#<subscriptionId>` / `SUB`.
    pub fn subscription(id: &str) -> Key {
        Key::new(format!("SUB#{id}"), "SUB")
    }
    /// Payment: `PAY#<paymentId>` / `PAY`.
    pub fn payment(id: &str) -> Key {
        Key::new(payment_partition(id), "PAY")
    }
    /// The partition of a payment and its attempts.
    pub fn payment_partition(id: &str) -> String {
        format!("PAY#{id}")
    }
    /// Charge attempt: `PAY#<paymentId>` / `ATTEMPT#<nnnnnn>` (its payment's partition).
    pub fn attempt(payment: &str, n: u32) -> Key {
        Key::new(payment_partition(payment), format!("ATTEMPT#{n:06}"))
    }
    /// Refund: `REFUND#<refundId>` / `REFUND`.
    pub fn refund(id: &str) -> Key {
        Key::new(format!("REFUND#{id}"), "REFUND")
    }
    /// Processed notification: `NOTIF#<id>` / `NOTIF`.
    pub fn notification(id: &str) -> Key {
        Key::new(format!("NOTIF#{id}"), "NOTIF")
    }
    /// API idempotency record: `IDEM#<key>` / `IDEM`.
    pub fn idempotency(key: &str) -> Key {
        Key::new(format!("IDEM#{key}"), "IDEM")
    }
    /// The merchant-event log partition (time-ordered; a few events per charge fit one
    /// partition far above Amazon's charge quota).
    pub const EVENTS: &str = "EVENTS";
    /// Merchant event: `EVENTS` / `<createdMillis:013>#<eventId>`.
    pub fn event(id: &str, created_millis: i64) -> Key {
        Key::new(EVENTS, format!("{created_millis:013}#{id}"))
    }

    /// Timer index: due-subscriptions shard of a subscription.
    pub fn due_shard(subscription_id: &str) -> u32 {
        stable_hash(subscription_id) % DUE_SHARDS
    }
    /// Timer index partition `DUE#<nn>`.
    pub fn due_partition(shard: u32) -> String {
        format!("DUE#{shard:02}")
    }
    /// Timer index: payments-to-wake shard of a payment.
    pub fn wake_shard(payment_id: &str) -> u32 {
        stable_hash(payment_id) % WAKE_SHARDS
    }
    /// Timer index partition `WAKE#<nn>`.
    pub fn wake_partition(shard: u32) -> String {
        format!("WAKE#{shard:02}")
    }
    /// Timer index: delivery shard of an event.
    pub fn delivery_shard(event_id: &str) -> u32 {
        stable_hash(event_id) % DELIVERY_SHARDS
    }
    /// Timer index partition `DELIVER#<nn>`.
    pub fn delivery_partition(shard: u32) -> String {
        format!("DELIVER#{shard:02}")
    }

    /// Lookup index: a customer's records (`W#`, `S#`, `P#` sort-key prefixes).
    pub fn customer(owner: &str) -> String {
        format!("CUST#{owner}")
    }
    /// Lookup sort key of a customer's record: prefix, creation millis, id (newest last).
    pub fn customer_sort(prefix: &str, created_millis: i64, id: &str) -> String {
        format!("{prefix}#{created_millis:013}#{id}")
    }
    /// Lookup index: every plan.
    pub const PLANS: &str = "PLANS";
    /// Merchant-view index: every payment.
    pub const ALL_PAYMENTS: &str = "PAYMENTS";
    /// Merchant-view index: the subscriptions in `status`.
    pub fn subscriptions_in(status: &str) -> String {
        format!("SUBS#{status}")
    }
    /// Merchant-view index: wallets waiting for a payment-method update.
    pub const WALLETS_TO_UPDATE: &str = "WALLETS#UPDATE";
    /// Merchant-view sort key: millis, id (newest last).
    pub fn merchant_sort(millis: i64, id: &str) -> String {
        format!("{millis:013}#{id}")
    }
    /// Lookup index: the attempt that created an Amazon charge.
    pub fn amazon_charge(charge_id: &str) -> String {
        format!("AMZCHARGE#{charge_id}")
    }
    /// Lookup index: the refund Amazon knows by this id.
    pub fn amazon_refund(refund_id: &str) -> String {
        format!("AMZREFUND#{refund_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        // Fixed values: changing the hash would move live subscriptions between shards.
        assert_eq!(stable_hash(""), 0x811c_9dc5);
        assert_eq!(stable_hash("a"), 0xe40c_292c);
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            seen.insert(keys::due_shard(&format!("sub-{i}")));
        }
        assert_eq!(seen.len(), DUE_SHARDS as usize);
    }
}
