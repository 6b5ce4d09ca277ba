//! The Amazon Pay v2 operations this project uses (SPEC §1 table) and their throttling
//! quotas (SPEC §9) — one table for the client's pacer and the sandbox's throttle.

use crate::region::Environment;
use std::fmt;
use std::str::FromStr;

/// HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// GET, no body.
    Get,
    /// POST with JSON body and idempotency key.
    Post,
    /// PATCH with JSON body.
    Patch,
    /// DELETE with JSON body.
    Delete,
}

impl HttpMethod {
    /// Upper-case method name.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// One Amazon Pay API v2 operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// POST /v2/checkoutSessions
    CreateCheckoutSession,
    /// GET /v2/checkoutSessions/{id}
    GetCheckoutSession,
    /// PATCH /v2/checkoutSessions/{id}
    UpdateCheckoutSession,
    /// POST /v2/checkoutSessions/{id}/complete
    CompleteCheckoutSession,
    /// GET /v2/chargePermissions/{id}
    GetChargePermission,
    /// PATCH /v2/chargePermissions/{id}
    UpdateChargePermission,
    /// DELETE /v2/chargePermissions/{id}/close
    CloseChargePermission,
    /// POST /v2/charges
    CreateCharge,
    /// GET /v2/charges/{id}
    GetCharge,
    /// POST /v2/charges/{id}/capture
    CaptureCharge,
    /// DELETE /v2/charges/{id}/cancel
    CancelCharge,
    /// POST /v2/refunds
    CreateRefund,
    /// GET /v2/refunds/{id}
    GetRefund,
}

/// Token-bucket size for one operation: burst (max quota) and restore rate per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Maximum tokens (requests that may be sent back to back).
    pub burst: u32,
    /// Tokens restored per second.
    pub per_second: f64,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 13] = [
        Operation::CreateCheckoutSession,
        Operation::GetCheckoutSession,
        Operation::UpdateCheckoutSession,
        Operation::CompleteCheckoutSession,
        Operation::GetChargePermission,
        Operation::UpdateChargePermission,
        Operation::CloseChargePermission,
        Operation::CreateCharge,
        Operation::GetCharge,
        Operation::CaptureCharge,
        Operation::CancelCharge,
        Operation::CreateRefund,
        Operation::GetRefund,
    ];

    /// Kebab-case name (CLI and logs), e.g. `create-charge`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateCheckoutSession => "create-checkout-session",
            Operation::GetCheckoutSession => "get-checkout-session",
            Operation::UpdateCheckoutSession => "update-checkout-session",
            Operation::CompleteCheckoutSession => "complete-checkout-session",
            Operation::GetChargePermission => "get-charge-permission",
            Operation::UpdateChargePermission => "update-charge-permission",
            Operation::CloseChargePermission => "close-charge-permission",
            Operation::CreateCharge => "create-charge",
            Operation::GetCharge => "get-charge",
            Operation::CaptureCharge => "capture-charge",
            Operation::CancelCharge => "cancel-charge",
            Operation::CreateRefund => "create-refund",
            Operation::GetRefund => "get-refund",
        }
    }

    /// HTTP method.
    pub fn method(self) -> HttpMethod {
        use Operation::*;
        match self {
            GetCheckoutSession | GetChargePermission | GetCharge | GetRefund => HttpMethod::Get,
            CreateCheckoutSession
            | CompleteCheckoutSession
            | CreateCharge
            | CaptureCharge
            | CreateRefund => HttpMethod::Post,
            UpdateCheckoutSession | UpdateChargePermission => HttpMethod::Patch,
            CloseChargePermission | CancelCharge => HttpMethod::Delete,
        }
    }

    /// True when the path carries a resource id.
    pub fn needs_id(self) -> bool {
        !matches!(
            self,
            Operation::CreateCheckoutSession | Operation::CreateCharge | Operation::CreateRefund
        )
    }

    /// True when the request carries a JSON body (all but GET).
    pub fn has_body(self) -> bool {
        self.method() != HttpMethod::Get
    }

    /// True when Amazon enforces idempotency (POST only, SPEC §8).
    pub fn takes_idempotency_key(self) -> bool {
        self.method() == HttpMethod::Post
    }

    /// The path after `v2/`, with the id substituted (ids are validated by the caller).
    pub fn resource_path(self, id: &str) -> String {
        use Operation::*;
        match self {
            CreateCheckoutSession => "checkoutSessions".into(),
            GetCheckoutSession | UpdateCheckoutSession => format!("checkoutSessions/{id}"),
            CompleteCheckoutSession => format!("checkoutSessions/{id}/complete"),
            GetChargePermission | UpdateChargePermission => format!("chargePermissions/{id}"),
            CloseChargePermission => format!("chargePermissions/{id}/close"),
            CreateCharge => "charges".into(),
            GetCharge => format!("charges/{id}"),
            CaptureCharge => format!("charges/{id}/capture"),
            CancelCharge => format!("charges/{id}/cancel"),
            CreateRefund => "refunds".into(),
            GetRefund => format!("refunds/{id}"),
        }
    }

    /// Amazon's documented throttling limits (SPEC §9) for the environment.
    pub fn rate_limit(self, env: Environment) -> RateLimit {
        use Operation::*;
        let (live_burst, live_rate, sandbox_burst) = match self {
            CreateCharge => (10, 4.0, 2),
            GetCharge => (20, 4.0, 5),
            CaptureCharge => (20, 4.0, 2),
            CancelCharge => (10, 2.0, 2),
            GetChargePermission => (20, 4.0, 10),
            UpdateChargePermission => (10, 2.0, 5),
            CloseChargePermission => (10, 2.0, 2),
            CreateCheckoutSession => (40, 16.0, 5),
            GetCheckoutSession => (40, 8.0, 10),
            UpdateCheckoutSession => (20, 8.0, 5),
            CompleteCheckoutSession => (20, 4.0, 2),
            CreateRefund => (10, 4.0, 2),
            GetRefund => (20, 4.0, 5),
        };
        match env {
            Environment::Live => RateLimit {
                burst: live_burst,
                per_second: live_rate,
            },
            // Every sandbox restore rate in the table is 1/s.
            Environment::Sandbox => RateLimit {
                burst: sandbox_burst,
                per_second: 1.0,
            },
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Unknown operation name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Amazon Pay operation {0:?}")]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.name() == s)
            .ok_or_else(|| UnknownOperation(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_paths() {
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>().unwrap(), op);
            let p = op.resource_path("X1");
            assert_eq!(p.contains("X1"), op.needs_id(), "{op}");
            assert_eq!(op.takes_idempotency_key(), op.method() == HttpMethod::Post);
        }
        assert_eq!(
            Operation::CloseChargePermission.resource_path("S01-1"),
            "chargePermissions/S01-1/close"
        );
        assert_eq!(
            Operation::CloseChargePermission.method(),
            HttpMethod::Delete
        );
        assert_eq!(
            "nope".parse::<Operation>(),
            Err(UnknownOperation("nope".into()))
        );
    }

    #[test]
    fn limits_follow_the_table() {
        let l = Operation::CreateCharge.rate_limit(Environment::Live);
        assert_eq!((l.burst, l.per_second), (10, 4.0));
        let s = Operation::GetChargePermission.rate_limit(Environment::Sandbox);
        assert_eq!((s.burst, s.per_second), (10, 1.0));
        let l = Operation::CreateCheckoutSession.rate_limit(Environment::Live);
        assert_eq!((l.burst, l.per_second), (40, 16.0));
    }
}
