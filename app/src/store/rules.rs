//! The state rules the store enforces on every write, whatever the use cases do: which
//! attempt transitions exist, and which payment fields must agree with the attempt.

use super::model::{AttemptState, Payment};

/// Whether an attempt may move from `from` to `to`.
///
/// - Nothing leaves a final state, so a captured charge can never be "declined" later
///   (which would release the usage of real money) and a closed attempt never reopens.
/// - `Unknown` (replays exhausted) stays open and may still learn any answer: Amazon may
///   have charged, and a later replay of the same key returns that charge.
/// - `Sending` is only ever the initial state.
pub fn attempt_transition(from: AttemptState, to: AttemptState) -> bool {
    use AttemptState::*;
    if from == to {
        // Re-recording the same state (e.g. another replay of a Sending attempt) is allowed
        // for open states only.
        return !from.is_final();
    }
    match from {
        Sending | Unknown => to != Sending,
        Pending => matches!(to, Authorized | Captured | Declined | Canceled),
        ActionRequired => matches!(to, Pending | Authorized | Captured | Declined | Canceled),
        Authorized => matches!(to, Captured | Canceled | Declined),
        Captured | Declined | Failed | Canceled => false,
    }
}

/// What a payment record must say about its attempt `n` in state `state` (checked before
/// any write, so a caller cannot leave a payment and its attempt disagreeing).
pub fn payment_matches_attempt(payment: &Payment, n: u32, state: AttemptState) -> bool {
    let open_ok = if state.is_final() {
        payment.open_attempt.is_none()
    } else {
        payment.open_attempt == Some(n)
    };
    open_ok && payment.attempt_count == n
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttemptState::*;

    #[test]
    fn transition_table() {
        // (from, to) pairs that are allowed; everything else is refused.
        let allowed: &[(AttemptState, &[AttemptState])] = &[
            (
                Sending,
                &[
                    Sending,
                    Unknown,
                    Pending,
                    ActionRequired,
                    Authorized,
                    Captured,
                    Declined,
                    Failed,
                    Canceled,
                ],
            ),
            (
                Unknown,
                &[
                    Unknown,
                    Pending,
                    ActionRequired,
                    Authorized,
                    Captured,
                    Declined,
                    Failed,
                    Canceled,
                ],
            ),
            (
                Pending,
                &[Pending, Authorized, Captured, Declined, Canceled],
            ),
            (
                ActionRequired,
                &[
                    ActionRequired,
                    Pending,
                    Authorized,
                    Captured,
                    Declined,
                    Canceled,
                ],
            ),
            (Authorized, &[Authorized, Captured, Canceled, Declined]),
            (Captured, &[]),
            (Declined, &[]),
            (Failed, &[]),
            (Canceled, &[]),
        ];
        for (from, tos) in allowed {
            for to in AttemptState::ALL {
                assert_eq!(
                    attempt_transition(*from, to),
                    tos.contains(&to),
                    "{from:?} -> {to:?}"
                );
            }
        }
        assert_eq!(allowed.len(), AttemptState::ALL.len());
    }

    #[test]
    fn only_moneyless_final_states_release_usage() {
        for s in AttemptState::ALL {
            assert_eq!(
                s.releases_usage(),
                matches!(s, Declined | Failed | Canceled),
                "{s:?}"
            );
            if s.releases_usage() {
                assert!(s.is_final());
            }
        }
    }
}
