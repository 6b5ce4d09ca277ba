//! The DynamoDB adapter: the [`Backend`] primitives as single DynamoDB requests
//! (GetItem, PutItem, UpdateItem, DeleteItem, TransactWriteItems, Query), with
//! `ReturnValuesOnConditionCheckFailure = ALL_OLD` on every conditional write so a failed
//! condition reports the current item without a second read.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType as DdbKeyType, Projection, ProjectionType, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update as DdbUpdate,
};
use aws_sdk_dynamodb::Client;

use super::item::{
    Backend, BackendError, BackendOp, Cond, Item, Key, Page, Query, RequestCounter, SortCond,
    Update, Val, Write, WriteOp,
};
use super::schema::{KeyType, SCHEMA};
use super::table::TableStore;

/// The DynamoDB store.
pub type DynamoStore = TableStore<DynamoBackend>;

impl DynamoStore {
    /// A store on `table` using `client` (production: `aws_config::load_from_env()`).
    pub fn from_client(client: Client, table: impl Into<String>) -> DynamoStore {
        TableStore::new(DynamoBackend::new(client, table))
    }
}

/// DynamoDB-backed [`Backend`]; the table name is configuration.
#[derive(Debug, Clone)]
pub struct DynamoBackend {
    client: Client,
    table: String,
    counter: Arc<RequestCounter>,
}

impl DynamoBackend {
    /// A backend on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoBackend {
            client,
            table: table.into(),
            counter: Arc::default(),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

fn sdk_err<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    format!("dynamodb: {}", DisplayErrorContext(e))
}

/// Splits an SDK error into the service's error (for the caller to match) or a
/// [`BackendError`]: a request that may have reached DynamoDB (timeout, I/O, unreadable
/// response) is `Unknown`, never "not applied".
fn classify<E, R>(e: SdkError<E, R>) -> Result<E, BackendError>
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(s) => Ok(s.into_err()),
        SdkError::ConstructionFailure(_) => Err(BackendError::Other(sdk_err(e))),
        SdkError::DispatchFailure(ref d) if d.is_user() => Err(BackendError::Other(sdk_err(e))),
        other => Err(BackendError::Unknown(sdk_err(other))),
    }
}

/// The kind of a service error by its code (shared by every operation).
fn service_failure<E: ProvideErrorMetadata + std::fmt::Display>(e: &E) -> BackendError {
    match e.code() {
        Some("TransactionConflictException") | Some("TransactionInProgressException") => {
            BackendError::Contention
        }
        Some("ProvisionedThroughputExceededException")
        | Some("ThrottlingException")
        | Some("RequestLimitExceeded") => BackendError::Throttled,
        // DynamoDB documents that a 500 may or may not have applied the request.
        Some("InternalServerError") | Some("ServiceUnavailable") => {
            BackendError::Unknown(service_msg(e))
        }
        Some("ItemCollectionSizeLimitExceededException") => BackendError::TooLarge(service_msg(e)),
        // No error code: the answer could not be read (a garbled or cut body), so the
        // request may well have been applied.
        None => BackendError::Unknown(service_msg(e)),
        Some("ValidationException") if e.message().is_some_and(|m| m.contains("size")) => {
            BackendError::TooLarge(service_msg(e))
        }
        _ => BackendError::Other(service_msg(e)),
    }
}

/// Creates the table described by [`SCHEMA`] (on-demand billing) and enables TTL on its
/// TTL attribute. Used by tests and the local stack; production uses `infra/template.yaml`.
pub async fn create_table(client: &Client, table: &str) -> Result<(), String> {
    let key = |name: &str, kind: DdbKeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    let mut defs = Vec::new();
    for a in SCHEMA.attribute_definitions() {
        defs.push(
            AttributeDefinition::builder()
                .attribute_name(a.name)
                .attribute_type(match a.kind {
                    KeyType::S => ScalarAttributeType::S,
                    KeyType::N => ScalarAttributeType::N,
                })
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    let mut gsis = Vec::new();
    for g in SCHEMA.indexes {
        gsis.push(
            GlobalSecondaryIndex::builder()
                .index_name(g.name)
                .key_schema(key(g.partition.name, DdbKeyType::Hash)?)
                .key_schema(key(g.sort.name, DdbKeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(defs))
        .key_schema(key(SCHEMA.partition.name, DdbKeyType::Hash)?)
        .key_schema(key(SCHEMA.sort.name, DdbKeyType::Range)?)
        .set_global_secondary_indexes(Some(gsis))
        .send()
        .await
        .map_err(sdk_err)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(SCHEMA.ttl_attribute)
                .enabled(true)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(sdk_err)?;
    Ok(())
}

fn to_av(v: &Val) -> AttributeValue {
    match v {
        Val::S(s) => AttributeValue::S(s.clone()),
        Val::N(n) => AttributeValue::N(n.to_string()),
        Val::B(b) => AttributeValue::Bool(*b),
    }
}

fn to_map(item: &Item) -> HashMap<String, AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), to_av(v))).collect()
}

fn from_map(map: &HashMap<String, AttributeValue>) -> Result<Item, String> {
    let mut item = Item::new();
    for (k, v) in map {
        let val = match v {
            AttributeValue::S(s) => Val::S(s.clone()),
            AttributeValue::N(n) => Val::N(
                n.parse()
                    .map_err(|_| format!("attribute {k}: number {n:?} is not an integer"))?,
            ),
            AttributeValue::Bool(b) => Val::B(*b),
            _ => return Err(format!("attribute {k}: unsupported type")),
        };
        item.insert(k.clone(), val);
    }
    Ok(item)
}

fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    to_map(&key.to_item())
}

/// Builds expression text with `#nN` / `:vN` placeholders.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), attr.to_string());
        p
    }

    fn value(&mut self, v: &Val) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), to_av(v));
        p
    }

    fn cond(&mut self, c: &Cond) -> String {
        let cmp =
            |e: &mut Expr, a: &str, op: &str, v: &Val| format!("{} {op} {}", e.name(a), e.value(v));
        match c {
            Cond::ItemExists => format!("attribute_exists({})", self.name(SCHEMA.partition.name)),
            Cond::ItemNotExists => {
                format!("attribute_not_exists({})", self.name(SCHEMA.partition.name))
            }
            Cond::AttrExists(a) => format!("attribute_exists({})", self.name(a)),
            Cond::AttrNotExists(a) => format!("attribute_not_exists({})", self.name(a)),
            Cond::Eq(a, v) => cmp(self, a, "=", v),
            Cond::Lt(a, v) => cmp(self, a, "<", v),
            Cond::Le(a, v) => cmp(self, a, "<=", v),
            Cond::Gt(a, v) => cmp(self, a, ">", v),
            Cond::And(cs) | Cond::Or(cs) if cs.is_empty() => {
                // Neutral element: And() is true, Or() is false.
                let pk = self.name(SCHEMA.partition.name);
                if matches!(c, Cond::And(_)) {
                    format!("(attribute_exists({pk}) OR attribute_not_exists({pk}))")
                } else {
                    format!("(attribute_exists({pk}) AND attribute_not_exists({pk}))")
                }
            }
            Cond::And(cs) => self.join(cs, " AND "),
            Cond::Or(cs) => self.join(cs, " OR "),
        }
    }

    fn join(&mut self, cs: &[Cond], sep: &str) -> String {
        let parts: Vec<String> = cs.iter().map(|c| self.cond(c)).collect();
        format!("({})", parts.join(sep))
    }

    fn update(&mut self, updates: &[Update]) -> String {
        let (mut set, mut remove, mut add) = (Vec::new(), Vec::new(), Vec::new());
        for u in updates {
            match u {
                Update::Set(a, v) => set.push(format!("{} = {}", self.name(a), self.value(v))),
                Update::Remove(a) => remove.push(self.name(a)),
                Update::Add(a, n) => {
                    add.push(format!("{} {}", self.name(a), self.value(&Val::N(*n))))
                }
            }
        }
        let mut out = Vec::new();
        for (kw, parts) in [("SET", set), ("REMOVE", remove), ("ADD", add)] {
            if !parts.is_empty() {
                out.push(format!("{kw} {}", parts.join(", ")));
            }
        }
        out.join(" ")
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Condition-failure item from a single-item error, if the service returned it.
fn ccf_item(item: Option<&HashMap<String, AttributeValue>>) -> Result<BackendError, BackendError> {
    let current = item
        .map(from_map)
        .transpose()
        .map_err(BackendError::Other)?;
    Ok(BackendError::Condition { index: 0, current })
}

/// Sets the condition, its placeholders and `ReturnValuesOnConditionCheckFailure=ALL_OLD`
/// on any SDK write builder (they share these setters, but no trait).
macro_rules! conditional {
    ($builder:expr, $cond:expr, $expr:expr) => {
        $builder
            .set_condition_expression($cond)
            .set_expression_attribute_names($expr.names())
            .set_expression_attribute_values($expr.values())
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    };
}

/// Sends a single-item write with `ReturnValues=ALL_OLD`; a failed condition returns the
/// current item from the error (`$error` is the operation's error enum).
macro_rules! send_write {
    ($request:expr, $error:ident) => {
        match $request.return_values(ReturnValue::AllOld).send().await {
            Ok(out) => Ok(out.attributes().cloned()),
            Err(err) => match classify(err)? {
                $error::ConditionalCheckFailedException(c) => Err(ccf_item(c.item())?),
                other => Err(service_failure(&other)),
            },
        }
    };
}

fn transact_item(table: &str, w: &Write) -> Result<TransactWriteItem, String> {
    let mut e = Expr::default();
    let cond = w.cond.as_ref().map(|c| e.cond(c));
    let b = TransactWriteItem::builder();
    let key = Some(key_map(&w.key));
    let item = match &w.op {
        WriteOp::Put(item) => {
            let mut item = item.clone();
            item.extend(w.key.to_item());
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(to_map(&item)));
            b.put(
                conditional!(put, cond, e)
                    .build()
                    .map_err(|x| x.to_string())?,
            )
        }
        WriteOp::Update(u) => {
            let update = DdbUpdate::builder()
                .table_name(table)
                .set_key(key)
                .update_expression(e.update(u));
            b.update(
                conditional!(update, cond, e)
                    .build()
                    .map_err(|x| x.to_string())?,
            )
        }
        WriteOp::Delete => {
            let delete = Delete::builder().table_name(table).set_key(key);
            b.delete(
                conditional!(delete, cond, e)
                    .build()
                    .map_err(|x| x.to_string())?,
            )
        }
        WriteOp::Check => {
            let cond = Some(cond.ok_or("a condition check needs a condition")?);
            let check = ConditionCheck::builder().table_name(table).set_key(key);
            b.condition_check(
                conditional!(check, cond, e)
                    .build()
                    .map_err(|x| x.to_string())?,
            )
        }
    };
    Ok(item.build())
}

#[async_trait]
impl Backend for DynamoBackend {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, BackendError> {
        self.counter.record(BackendOp::GetItem);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| match classify(e) {
                Ok(service) => service_failure(&service),
                Err(b) => b,
            })?;
        out.item()
            .map(from_map)
            .transpose()
            .map_err(BackendError::Other)
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, BackendError> {
        self.counter.record(BackendOp::of_write(&write.op));
        let mut e = Expr::default();
        let cond = write.cond.as_ref().map(|c| e.cond(c));
        let key = Some(key_map(&write.key));
        let old: Result<_, BackendError> = match &write.op {
            WriteOp::Put(item) => {
                let mut item = item.clone();
                item.extend(write.key.to_item());
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_map(&item)));
                send_write!(conditional!(put, cond, e), PutItemError)
            }
            WriteOp::Update(u) => {
                let update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(key)
                    .update_expression(e.update(u));
                send_write!(conditional!(update, cond, e), UpdateItemError)
            }
            WriteOp::Delete => {
                let delete = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(key);
                send_write!(conditional!(delete, cond, e), DeleteItemError)
            }
            WriteOp::Check => Err(BackendError::Other(
                "a condition check is only valid in a transaction".into(),
            )),
        };
        // A write that changed nothing returns no attributes; `ALL_OLD` of an absent
        // item is absent too.
        old?.filter(|m| !m.is_empty())
            .map(|m| from_map(&m))
            .transpose()
            .map_err(BackendError::Other)
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        token: Option<String>,
    ) -> Result<(), BackendError> {
        self.counter.record(BackendOp::TransactWriteItems);
        let items = writes
            .iter()
            .map(|w| transact_item(&self.table, w))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BackendError::Other)?;
        let res = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_client_request_token(token)
            .send()
            .await;
        let Err(err) = res else {
            return Ok(());
        };
        match classify(err)? {
            TransactWriteItemsError::TransactionCanceledException(tc) => {
                cancellation(tc.cancellation_reasons())
            }
            other => Err(service_failure(&other)),
        }
    }

    async fn query(&self, query: Query) -> Result<Page, BackendError> {
        self.counter.record(BackendOp::Query);
        let (pa, sa) = query.index.key_attrs();
        let mut e = Expr::default();
        let p = e.name(pa);
        let pv = e.value(&Val::S(query.partition.clone()));
        let mut kce = format!("{p} = {pv}");
        match &query.sort {
            SortCond::Any => {}
            SortCond::LeN(n) => {
                let s = e.name(sa);
                let v = e.value(&Val::N(*n));
                kce.push_str(&format!(" AND {s} <= {v}"));
            }
            SortCond::BeginsWith(prefix) => {
                let s = e.name(sa);
                let v = e.value(&Val::S(prefix.clone()));
                kce.push_str(&format!(" AND begins_with({s}, {v})"));
            }
        }
        let is_table = query.index.name().is_none();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.name().map(str::to_string))
            .key_condition_expression(kce)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .limit(i32::try_from(query.limit.max(1)).unwrap_or(i32::MAX))
            // GSIs only support eventually consistent reads.
            .consistent_read(query.consistent && is_table)
            .scan_index_forward(!query.descending)
            .set_exclusive_start_key(query.start.as_ref().map(to_map))
            .send()
            .await
            .map_err(|e| match classify(e) {
                Ok(service) => service_failure(&service),
                Err(b) => b,
            })?;
        let items = out
            .items()
            .iter()
            .map(from_map)
            .collect::<Result<Vec<_>, _>>()
            .map_err(BackendError::Other)?;
        let last_key = out
            .last_evaluated_key()
            .filter(|m| !m.is_empty())
            .map(from_map)
            .transpose()
            .map_err(BackendError::Other)?;
        Ok(Page { items, last_key })
    }

    fn counter(&self) -> &RequestCounter {
        &self.counter
    }
}

/// Why DynamoDB cancelled a transaction. A failed condition wins (it is a decision, with
/// the item); a conflict is a race to retry; throttling inside the cancellation is a
/// throttle (retry with backoff), never a permanent error.
fn cancellation(
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
) -> Result<(), BackendError> {
    if let Some((index, r)) = reasons
        .iter()
        .enumerate()
        .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
    {
        let current = r
            .item()
            .filter(|m| !m.is_empty())
            .map(from_map)
            .transpose()
            .map_err(BackendError::Other)?;
        return Err(BackendError::Condition { index, current });
    }
    let has = |code: &str| reasons.iter().any(|r| r.code() == Some(code));
    if has("TransactionConflict") {
        return Err(BackendError::Contention);
    }
    if has("ThrottlingError") || has("ProvisionedThroughputExceeded") {
        return Err(BackendError::Throttled);
    }
    if has("ItemCollectionSizeLimitExceeded") {
        return Err(BackendError::TooLarge("item collection size limit".into()));
    }
    Err(BackendError::Other(format!(
        "transaction canceled: {:?}",
        reasons.iter().map(|r| r.code()).collect::<Vec<_>>()
    )))
}

fn service_msg<E: ProvideErrorMetadata + std::fmt::Display>(e: &E) -> String {
    format!(
        "dynamodb {}: {}",
        e.code().unwrap_or("error"),
        e.message().unwrap_or_default()
    )
}
