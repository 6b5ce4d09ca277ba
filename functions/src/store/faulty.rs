//! A [`Backend`] wrapper that injects the failures real DynamoDB produces, so tests (and
//! `savedwallet simulate`) can prove the store's invariants under them:
//!
//! - **lost answers**: the write commits, then the caller gets "outcome unknown";
//! - **refusals before anything is written**: a transaction conflict, throttling, a timeout
//!   that never reached the server;
//! - **stale index reads**: index queries see the items as they were when the index was
//!   frozen (DynamoDB's GSIs are eventually consistent).
//!
//! Faults are scripted (the next matching request fails) or random (seeded).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::item::{
    Backend, BackendError, Item, Key, Page, Query, RequestCounter, SortCond, Val, Write, WriteOp,
};
use super::schema::Index;

/// Which requests a scripted fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Any single-item write.
    Write,
    /// Any transaction.
    Transact,
    /// A single write or transaction touching an item whose partition key starts with
    /// this prefix (e.g. `"SUB#"`, `"PAY#"`, `"NOTIF#"`).
    Touching(String),
    /// Any query.
    Query,
}

/// What happens to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Applied by the server, but the answer is lost: the caller sees `Unknown`.
    AppliedThenLost,
    /// Not applied: the caller sees this error.
    Refuse(BackendError),
}

/// Random faults (per request, each a probability in `0.0..=1.0`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RandomFaults {
    /// A write or transaction commits but its answer is lost.
    pub lost_answer: f64,
    /// A write or transaction is refused as contention / throttling (not applied).
    pub refused: f64,
}

#[derive(Debug, Default)]
struct Plan {
    scripted: VecDeque<(Target, Fault)>,
    random: RandomFaults,
    /// Pre-images of items written since the index froze (`None`: absent then).
    frozen: Option<HashMap<(String, String), Option<Item>>>,
    injected: u64,
}

/// The fault-injecting wrapper.
#[derive(Debug, Clone)]
pub struct FaultBackend<B> {
    inner: B,
    plan: Arc<Mutex<Plan>>,
    rng: Arc<Mutex<StdRng>>,
}

impl<B: Backend> FaultBackend<B> {
    /// Wraps `inner` with no faults.
    pub fn new(inner: B, seed: u64) -> Self {
        FaultBackend {
            inner,
            plan: Arc::default(),
            rng: Arc::new(Mutex::new(StdRng::seed_from_u64(seed))),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// The next request matching `target` gets `fault` (faults queue in order).
    pub fn fail_next(&self, target: Target, fault: Fault) {
        self.plan.lock().scripted.push_back((target, fault));
    }

    /// Scripted faults not yet used.
    pub fn pending_faults(&self) -> usize {
        self.plan.lock().scripted.len()
    }

    /// Faults injected so far (scripted and random).
    pub fn injected(&self) -> u64 {
        self.plan.lock().injected
    }

    /// Sets the random fault rates.
    pub fn set_random(&self, random: RandomFaults) {
        self.plan.lock().random = random;
    }

    /// From now on, index queries answer as of this moment until [`thaw_index`].
    ///
    /// [`thaw_index`]: FaultBackend::thaw_index
    pub fn freeze_index(&self) {
        self.plan.lock().frozen = Some(HashMap::new());
    }

    /// Index queries see the current items again.
    pub fn thaw_index(&self) {
        self.plan.lock().frozen = None;
    }

    fn touches(write: &Write, prefix: &str) -> bool {
        write.key.pk.starts_with(prefix)
    }

    /// The fault for a write request (scripted first, then random).
    fn fault_for(&self, writes: &[&Write], transact: bool) -> Option<Fault> {
        let mut plan = self.plan.lock();
        let pos = plan.scripted.iter().position(|(t, _)| match t {
            Target::Write => !transact,
            Target::Transact => transact,
            Target::Touching(p) => writes.iter().any(|w| Self::touches(w, p)),
            Target::Query => false,
        });
        if let Some(i) = pos {
            plan.injected += 1;
            return plan.scripted.remove(i).map(|(_, f)| f);
        }
        let random = plan.random;
        let mut rng = self.rng.lock();
        let fault = if random.lost_answer > 0.0 && rng.random_bool(random.lost_answer.min(1.0)) {
            Some(Fault::AppliedThenLost)
        } else if random.refused > 0.0 && rng.random_bool(random.refused.min(1.0)) {
            Some(Fault::Refuse(if rng.random_bool(0.5) {
                BackendError::Contention
            } else {
                BackendError::Throttled
            }))
        } else {
            None
        };
        if fault.is_some() {
            plan.injected += 1;
        }
        fault
    }

    /// Remembers the pre-images of items about to be written while the index is frozen.
    async fn remember(&self, keys: &[&Key]) -> Result<(), BackendError> {
        if self.plan.lock().frozen.is_none() {
            return Ok(());
        }
        for key in keys {
            let id = (key.pk.clone(), key.sk.clone());
            let known = self
                .plan
                .lock()
                .frozen
                .as_ref()
                .is_some_and(|f| f.contains_key(&id));
            if !known {
                let old = self.inner.get(key, true).await?;
                if let Some(f) = self.plan.lock().frozen.as_mut() {
                    f.entry(id).or_insert(old);
                }
            }
        }
        Ok(())
    }
}

/// Whether an item belongs to an index query's result (partition and sort condition).
fn matches_query(item: &Item, q: &Query) -> bool {
    let (pa, sa) = q.index.key_attrs();
    if item.get(pa) != Some(&Val::S(q.partition.clone())) {
        return false;
    }
    match (&q.sort, item.get(sa)) {
        (SortCond::Any, Some(_)) => true,
        (SortCond::LeN(n), Some(Val::N(v))) => v <= n,
        (SortCond::BeginsWith(p), Some(Val::S(v))) => v.starts_with(p.as_str()),
        _ => false,
    }
}

fn sort_value(item: &Item, q: &Query) -> Option<Val> {
    item.get(q.index.key_attrs().1).cloned()
}

fn compare_sort(a: &Option<Val>, b: &Option<Val>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Val::N(x)), Some(Val::N(y))) => x.cmp(y),
        (Some(Val::S(x)), Some(Val::S(y))) => x.cmp(y),
        _ => std::cmp::Ordering::Equal,
    }
}

#[async_trait]
impl<B: Backend> Backend for FaultBackend<B> {
    async fn get(&self, key: &Key, consistent: bool) -> Result<Option<Item>, BackendError> {
        self.inner.get(key, consistent).await
    }

    async fn write(&self, write: Write) -> Result<Option<Item>, BackendError> {
        match self.fault_for(&[&write], false) {
            Some(Fault::Refuse(e)) => Err(e),
            Some(Fault::AppliedThenLost) => {
                self.remember(&[&write.key]).await?;
                self.inner.write(write).await?;
                Err(BackendError::Unknown(
                    "injected: answer lost after commit".into(),
                ))
            }
            None => {
                self.remember(&[&write.key]).await?;
                self.inner.write(write).await
            }
        }
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        token: Option<String>,
    ) -> Result<(), BackendError> {
        let refs: Vec<&Write> = writes.iter().collect();
        let fault = self.fault_for(&refs, true);
        if let Some(Fault::Refuse(e)) = fault {
            return Err(e);
        }
        let keys: Vec<&Key> = writes
            .iter()
            .filter(|w| w.op != WriteOp::Check)
            .map(|w| &w.key)
            .collect();
        self.remember(&keys).await?;
        self.inner.transact(writes, token).await?;
        match fault {
            Some(Fault::AppliedThenLost) => Err(BackendError::Unknown(
                "injected: answer lost after commit".into(),
            )),
            _ => Ok(()),
        }
    }

    async fn query(&self, query: Query) -> Result<Page, BackendError> {
        {
            let mut plan = self.plan.lock();
            let pos = plan.scripted.iter().position(|(t, _)| *t == Target::Query);
            if let Some(i) = pos {
                plan.injected += 1;
                if let Some((_, Fault::Refuse(e))) = plan.scripted.remove(i) {
                    return Err(e);
                }
            }
        }
        let frozen = self.plan.lock().frozen.clone();
        let frozen = match (&query.index, frozen) {
            (Index::Table, _) | (_, None) => return self.inner.query(query).await,
            (_, Some(f)) => f,
        };
        // A stale index: items written since the freeze appear as they were then.
        let page = self.inner.query(query.clone()).await?;
        let mut items: Vec<Item> = page
            .items
            .into_iter()
            .filter_map(|item| {
                let id = match (item.get("pk"), item.get("sk")) {
                    (Some(Val::S(p)), Some(Val::S(s))) => (p.clone(), s.clone()),
                    _ => return Some(item),
                };
                match frozen.get(&id) {
                    None => Some(item),
                    Some(old) => old.clone().filter(|o| matches_query(o, &query)),
                }
            })
            .collect();
        for old in frozen.values().flatten() {
            let id = (old.get("pk").cloned(), old.get("sk").cloned());
            let present = items
                .iter()
                .any(|i| (i.get("pk").cloned(), i.get("sk").cloned()) == id);
            if !present && matches_query(old, &query) {
                items.push(old.clone());
            }
        }
        items.sort_by(|a, b| compare_sort(&sort_value(a, &query), &sort_value(b, &query)));
        if query.descending {
            items.reverse();
        }
        Ok(Page {
            items,
            last_key: page.last_key,
        })
    }

    fn counter(&self) -> &RequestCounter {
        self.inner.counter()
    }
}
