//! What the sandbox adds to `shared::api::Operation`: the names tests and docs use for
//! operations (`CreateCharge` as well as `create-charge`) and which ones need a key.

use savedwallet_shared::api::Operation;

/// `create-charge` → `CreateCharge` (the spelling of Amazon's docs and of this sandbox's
/// control API before it used the shared table).
pub(crate) fn pascal_name(op: Operation) -> String {
    op.name()
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Parses an operation name in either spelling.
pub(crate) fn parse_operation(name: &str) -> Option<Operation> {
    Operation::ALL
        .into_iter()
        .find(|op| op.name() == name || pascal_name(*op) == name)
}

/// True where the docs mark `x-amz-pay-idempotency-key` required (SPEC §8); the other POSTs
/// (Complete Checkout Session) accept one.
pub(crate) fn requires_idempotency_key(op: Operation) -> bool {
    matches!(
        op,
        Operation::CreateCheckoutSession
            | Operation::CreateCharge
            | Operation::CaptureCharge
            | Operation::CreateRefund
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse() {
        assert_eq!(pascal_name(Operation::CreateCharge), "CreateCharge");
        for op in Operation::ALL {
            assert_eq!(parse_operation(op.name()), Some(op));
            assert_eq!(parse_operation(&pascal_name(op)), Some(op));
        }
        assert_eq!(parse_operation("Charge"), None);
    }
}
