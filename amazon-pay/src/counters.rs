//! Counts of what the client met on the wire, per operation: Amazon's 429 answers and the
//! resends the client made. Shared by every handle of one client; an adapter reads them
//! (e.g. as CloudWatch metrics) without parsing logs.

use std::sync::atomic::{AtomicU64, Ordering};

use savedwallet_shared::api::operation::Operation;

const N: usize = Operation::ALL.len();

/// Monotonic counters per operation, from the client's creation.
#[derive(Debug, Default)]
pub struct CallCounters {
    throttled: [AtomicU64; N],
    resends: [AtomicU64; N],
}

/// One operation's counts at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OperationCounts {
    /// Answers with HTTP 429.
    pub throttled: u64,
    /// Sends after the first (same request, same idempotency key).
    pub resends: u64,
}

fn index(op: Operation) -> usize {
    Operation::ALL.iter().position(|o| *o == op).unwrap_or(0)
}

impl CallCounters {
    /// Counts a 429 answer (the client does; public for adapters' tests).
    pub fn throttled(&self, op: Operation) {
        self.throttled[index(op)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a resend (the client does; public for adapters' tests).
    pub fn resent(&self, op: Operation) {
        self.resends[index(op)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts of every operation so far.
    pub fn snapshot(&self) -> Vec<(Operation, OperationCounts)> {
        Operation::ALL
            .iter()
            .enumerate()
            .map(|(i, op)| {
                (
                    *op,
                    OperationCounts {
                        throttled: self.throttled[i].load(Ordering::Relaxed),
                        resends: self.resends[i].load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_operation() {
        let c = CallCounters::default();
        c.throttled(Operation::CreateCharge);
        c.throttled(Operation::CreateCharge);
        c.resent(Operation::GetCharge);
        let s: std::collections::HashMap<_, _> = c.snapshot().into_iter().collect();
        assert_eq!(s[&Operation::CreateCharge].throttled, 2);
        assert_eq!(s[&Operation::CreateCharge].resends, 0);
        assert_eq!(s[&Operation::GetCharge].resends, 1);
        assert_eq!(s.len(), Operation::ALL.len());
    }
}
