//! CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout, the way Powertools
//! for AWS Lambda does it: the use cases report [`Measure`]s, the client counts Amazon's
//! 429s and its resends, and each invocation ends with one flush that prints a JSON
//! document per metric and dimension value. CloudWatch Logs turns those lines into metrics;
//! no PutMetricData call, no extra latency, no IAM permission.
//!
//! Every metric carries the `Service` dimension (the stack, so two deployments in one
//! account stay apart) and is published twice: with `Service` alone (the total the alarms
//! watch) and with its own dimension (`Outcome`, `ReasonCode`, `Operation`, `ObjectType`,
//! `Reason`). Names and dimensions are a contract with `infra/template.yaml`'s alarms.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use savedwallet_amazon_pay::{CallCounters, Operation, OperationCounts};
use savedwallet_app::ports::{Measure, Metrics};

/// The metrics' CloudWatch namespace.
pub const NAMESPACE: &str = "Savedwallet";
/// EMF allows at most 100 values of one metric in a document.
const MAX_VALUES: usize = 100;

/// Metric names (the template's alarms use them).
pub mod name {
    /// Payments that reached a new status, by `Outcome`.
    pub const PAYMENTS: &str = "Payments";
    /// Declined charges, by Amazon's `ReasonCode`.
    pub const DECLINES: &str = "Declines";
    /// Amazon Pay answers with 429, by `Operation` (kebab-case, `create-charge`).
    pub const THROTTLED: &str = "AmazonPayThrottled";
    /// Amazon Pay resends, by `Operation`.
    pub const RETRIES: &str = "AmazonPayRetries";
    /// Seconds from a period's billing time to its payment.
    pub const BILLING_LAG: &str = "BillingLag";
    /// IPNs processed, by `ObjectType`.
    pub const IPNS: &str = "Ipns";
    /// IPNs refused by the verifier, by `Reason`.
    pub const IPNS_REFUSED: &str = "IpnsRefused";
}

/// (metric, dimension name, dimension value).
type Key = (&'static str, &'static str, String);

/// The client's counters and their values at the last flush.
type Watched = (Arc<CallCounters>, Vec<(Operation, OperationCounts)>);

/// Counts gathered since the last flush, and the client's counters as last seen.
#[derive(Default)]
struct Pending {
    counts: BTreeMap<Key, f64>,
    lags: Vec<f64>,
    amazon: Option<Watched>,
}

/// The EMF sink of one Lambda instance.
pub struct EmfMetrics {
    service: String,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for EmfMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmfMetrics")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl EmfMetrics {
    /// A sink whose metrics carry `Service = service`.
    pub fn new(service: impl Into<String>) -> EmfMetrics {
        EmfMetrics {
            service: service.into(),
            pending: Mutex::new(Pending::default()),
        }
    }

    /// Reports the Amazon Pay client's 429s and resends from now on (deltas per flush).
    pub fn watch_amazon(&self, counters: Arc<CallCounters>) {
        let seen = counters.snapshot();
        self.pending.lock().amazon = Some((counters, seen));
    }

    fn count(&self, metric: &'static str, dimension: &'static str, value: &str, n: f64) {
        *self
            .pending
            .lock()
            .counts
            .entry((metric, dimension, value.to_string()))
            .or_default() += n;
    }

    /// The EMF documents of everything since the last call, which starts a new interval.
    pub fn drain(&self, timestamp_ms: i64) -> Vec<Value> {
        let mut p = self.pending.lock();
        if let Some((counters, seen)) = p.amazon.as_mut() {
            let now = counters.snapshot();
            let mut deltas = Vec::new();
            for ((op, was), (_, is)) in seen.iter().zip(now.iter()) {
                deltas.push((*op, is.throttled - was.throttled, is.resends - was.resends));
            }
            *seen = now;
            for (op, throttled, resends) in deltas {
                for (metric, n) in [(name::THROTTLED, throttled), (name::RETRIES, resends)] {
                    if n > 0 {
                        *p.counts
                            .entry((metric, "Operation", op.name().to_string()))
                            .or_default() += n as f64;
                    }
                }
            }
        }
        let mut docs = Vec::new();
        for ((metric, dim, value), n) in std::mem::take(&mut p.counts) {
            let mut doc = self.document(timestamp_ms, metric, "Count", Some(dim));
            doc.insert(dim.to_string(), json!(value));
            doc.insert(metric.to_string(), json!(n));
            docs.push(Value::Object(doc));
        }
        let lags = std::mem::take(&mut p.lags);
        for chunk in lags.chunks(MAX_VALUES) {
            let mut doc = self.document(timestamp_ms, name::BILLING_LAG, "Seconds", None);
            doc.insert(name::BILLING_LAG.to_string(), json!(chunk));
            docs.push(Value::Object(doc));
        }
        docs
    }

    /// Prints the pending documents to stdout, one line each (CloudWatch Logs reads them).
    pub fn flush(&self) {
        let docs = self.drain(chrono::Utc::now().timestamp_millis());
        if docs.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        for d in docs {
            // A lost metric line must never fail an invocation.
            let _ = writeln!(out, "{d}");
        }
        let _ = out.flush();
    }

    fn document(
        &self,
        timestamp_ms: i64,
        metric: &str,
        unit: &str,
        dimension: Option<&str>,
    ) -> Map<String, Value> {
        let mut sets = vec![json!(["Service"])];
        if let Some(d) = dimension {
            sets.push(json!(["Service", d]));
        }
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": sets,
                    "Metrics": [{ "Name": metric, "Unit": unit }],
                }],
            }),
        );
        doc.insert("Service".into(), json!(self.service));
        doc
    }
}

impl Metrics for EmfMetrics {
    fn record(&self, m: Measure<'_>) {
        match m {
            Measure::Payment { outcome } => self.count(name::PAYMENTS, "Outcome", outcome, 1.0),
            Measure::Decline { reason_code } => {
                self.count(name::DECLINES, "ReasonCode", reason_code, 1.0)
            }
            Measure::BillingLag { seconds } => self.pending.lock().lags.push(seconds),
            Measure::Ipn { object_type } => self.count(name::IPNS, "ObjectType", object_type, 1.0),
            Measure::IpnRefused { reason } => self.count(name::IPNS_REFUSED, "Reason", reason, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks a document against the EMF specification's rules and returns its metrics
    /// as (name, unit, dimension sets, value).
    fn parse(doc: &Value) -> Vec<(String, String, Vec<Vec<String>>, Value)> {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_i64().is_some(), "Timestamp in ms");
        let mut out = Vec::new();
        for directive in aws["CloudWatchMetrics"].as_array().expect("directives") {
            assert_eq!(directive["Namespace"], NAMESPACE);
            let sets: Vec<Vec<String>> =
                serde_json::from_value(directive["Dimensions"].clone()).expect("dimension sets");
            for set in &sets {
                assert!(!set.is_empty() && set.len() <= 30);
                for key in set {
                    // Every dimension is a string member of the root node.
                    assert!(doc[key].is_string(), "dimension {key} missing in {doc}");
                }
            }
            for m in directive["Metrics"].as_array().expect("metrics") {
                let name = m["Name"].as_str().expect("name").to_string();
                let value = doc[&name].clone();
                assert!(
                    value.is_number()
                        || value.as_array().is_some_and(
                            |a| a.len() <= MAX_VALUES && a.iter().all(Value::is_number)
                        ),
                    "{name} value {value}"
                );
                out.push((
                    name,
                    m["Unit"].as_str().expect("unit").to_string(),
                    sets.clone(),
                    value,
                ));
            }
        }
        out
    }

    #[test]
    fn measures_become_emf_documents_with_totals_and_dimensions() {
        let emf = EmfMetrics::new("shop-prod");
        emf.record(Measure::Payment {
            outcome: "succeeded",
        });
        emf.record(Measure::Payment {
            outcome: "succeeded",
        });
        emf.record(Measure::Payment {
            outcome: "declined",
        });
        emf.record(Measure::Decline {
            reason_code: "SoftDeclined",
        });
        emf.record(Measure::BillingLag { seconds: 1.5 });
        emf.record(Measure::BillingLag { seconds: 30.0 });
        emf.record(Measure::Ipn {
            object_type: "CHARGE",
        });
        emf.record(Measure::IpnRefused {
            reason: "bad_signature",
        });
        let docs = emf.drain(1_700_000_000_000);
        let lines: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
        // One JSON object per line, as CloudWatch Logs reads them.
        assert!(lines.iter().all(|l| !l.contains('\n')));
        let parsed: Vec<_> = docs
            .iter()
            .map(|d| {
                (
                    d.clone(),
                    parse(&serde_json::from_str(&d.to_string()).unwrap()),
                )
            })
            .collect();
        let find = |metric: &str, dim: &str, value: &str| {
            parsed
                .iter()
                .find(|(d, ms)| ms[0].0 == metric && d[dim] == value)
                .map(|(d, ms)| (d["Service"].clone(), ms[0].clone()))
        };
        let (service, (_, unit, sets, n)) = find("Payments", "Outcome", "succeeded").unwrap();
        assert_eq!(service, "shop-prod");
        assert_eq!(unit, "Count");
        assert_eq!(n, 2.0);
        assert_eq!(
            sets,
            vec![
                vec!["Service".to_string()],
                vec!["Service".into(), "Outcome".into()]
            ]
        );
        assert_eq!(find("Payments", "Outcome", "declined").unwrap().1 .3, 1.0);
        assert_eq!(
            find("Declines", "ReasonCode", "SoftDeclined").unwrap().1 .3,
            1.0
        );
        assert_eq!(find("Ipns", "ObjectType", "CHARGE").unwrap().1 .3, 1.0);
        assert_eq!(
            find("IpnsRefused", "Reason", "bad_signature").unwrap().1 .3,
            1.0
        );
        let lag = parsed
            .iter()
            .find(|(_, ms)| ms[0].0 == "BillingLag")
            .expect("lag document");
        assert_eq!(lag.1[0].1, "Seconds");
        assert_eq!(lag.1[0].2, vec![vec!["Service".to_string()]]);
        assert_eq!(lag.1[0].3, json!([1.5, 30.0]));
        // A flush starts a new interval: nothing is counted twice.
        assert!(emf.drain(1_700_000_060_000).is_empty());
    }

    #[test]
    fn the_clients_429s_and_resends_are_reported_as_deltas() {
        let counters = Arc::new(CallCounters::default());
        counters.throttled(Operation::CreateCharge); // before watching: not reported
        let emf = EmfMetrics::new("s");
        emf.watch_amazon(counters.clone());
        assert!(emf.drain(0).is_empty(), "no traffic, no documents");
        counters.throttled(Operation::CreateCharge);
        counters.resent(Operation::CreateCharge);
        counters.resent(Operation::CreateCharge);
        counters.resent(Operation::GetCharge);
        let docs = emf.drain(0);
        let value = |metric: &str, op: &str| {
            docs.iter()
                .find(|d| d["Operation"] == op && d.get(metric).is_some())
                .map(|d| {
                    parse(d);
                    d[metric].as_f64().unwrap()
                })
        };
        assert_eq!(value("AmazonPayThrottled", "create-charge"), Some(1.0));
        assert_eq!(value("AmazonPayRetries", "create-charge"), Some(2.0));
        assert_eq!(value("AmazonPayRetries", "get-charge"), Some(1.0));
        assert_eq!(value("AmazonPayThrottled", "get-charge"), None);
        assert_eq!(docs.len(), 3);
        assert!(emf.drain(0).is_empty(), "deltas: reported once");
    }

    #[test]
    fn billing_lag_values_are_split_in_documents_of_at_most_100() {
        let emf = EmfMetrics::new("s");
        many_lines_bounded(&emf);
    }

    fn many_lines_bounded(emf: &EmfMetrics) {
        for i in 0..250 {
            emf.record(Measure::BillingLag { seconds: i as f64 });
        }
        let docs = emf.drain(0);
        assert_eq!(docs.len(), 3, "250 values in documents of at most 100");
        let total: usize = docs
            .iter()
            .map(|d| d["BillingLag"].as_array().map_or(0, |a| a.len()))
            .sum();
        assert_eq!(total, 250);
    }
}
