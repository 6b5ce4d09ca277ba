//! Amazon API paths: `/v2/…` with an optional `/sandbox` or `/live` prefix and one
//! tolerated trailing slash, matched against the shared operation table.

use savedwallet_shared::api::{Operation, ReasonCode};
use savedwallet_shared::region::Environment;

use crate::error::ApiError;

/// A parsed API path: the environment prefix (if any), the operation and its normalized path.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// `/sandbox` or `/live` prefix.
    pub(crate) path_env: Option<Environment>,
    /// The operation.
    pub(crate) op: Operation,
    /// The resource id of the path (`""` for the create operations).
    pub(crate) id: String,
    /// Path without prefix and trailing slash (idempotency fingerprint).
    pub(crate) op_path: String,
}

/// The environment named by the path prefix, if any.
fn path_environment(raw_path: &str) -> Option<Environment> {
    if raw_path.starts_with("/sandbox/") {
        Some(Environment::Sandbox)
    } else if raw_path.starts_with("/live/") {
        Some(Environment::Live)
    } else {
        None
    }
}

/// True when `segs` fits an operation's path shape (`{id}` matches any one segment).
fn shape_matches(op: Operation, segs: &[&str]) -> bool {
    let shape = op.resource_path("{id}");
    let pattern: Vec<&str> = shape.split('/').collect();
    pattern.len() == segs.len()
        && pattern
            .iter()
            .zip(segs)
            .all(|(p, s)| *p == "{id}" || p == s)
}

/// Parses method + raw path into an operation.
pub(crate) fn parse_route(method: &str, raw_path: &str) -> Result<Route, ApiError> {
    let path_env = path_environment(raw_path);
    let rest = match path_env {
        Some(Environment::Sandbox) => &raw_path["/sandbox/".len()..],
        Some(Environment::Live) => &raw_path["/live/".len()..],
        None => raw_path.trim_start_matches('/'),
    };
    let not_found =
        || ApiError::not_found("resource", &raw_path.chars().take(200).collect::<String>());
    let Some(rest) = rest.strip_prefix("v2/") else {
        if rest.starts_with('v') && rest.contains('/') {
            return Err(ApiError::bad_request(
                ReasonCode::InvalidAPIVersion,
                "only API version v2 is supported",
            ));
        }
        return Err(not_found());
    };
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = trimmed.split('/').collect();
    if segs.iter().any(|s| s.is_empty()) {
        return Err(not_found());
    }
    let mut shapes = Operation::ALL
        .into_iter()
        .filter(|op| shape_matches(*op, &segs))
        .peekable();
    if shapes.peek().is_none() {
        return Err(not_found());
    }
    let op = shapes
        .find(|op| op.method().as_str() == method)
        .ok_or_else(|| {
            ApiError::new(
                405,
                ReasonCode::UnsupportedOperation,
                format!("{method} is not supported on this resource"),
            )
        })?;
    Ok(Route {
        path_env,
        op,
        id: if op.needs_id() {
            segs[1].to_string()
        } else {
            String::new()
        },
        op_path: format!("/v2/{trimmed}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_operations() {
        let r = parse_route("DELETE", "/sandbox/v2/chargePermissions/S01-1/close/").unwrap();
        assert_eq!(r.op, Operation::CloseChargePermission);
        assert_eq!(r.id, "S01-1");
        assert_eq!(r.path_env, Some(Environment::Sandbox));
        assert_eq!(r.op_path, "/v2/chargePermissions/S01-1/close");
        let r = parse_route("POST", "/v2/charges").unwrap();
        assert_eq!((r.op, r.id.as_str()), (Operation::CreateCharge, ""));
        assert_eq!(
            parse_route("PATCH", "/v2/checkoutSessions/x").unwrap().op,
            Operation::UpdateCheckoutSession
        );
        let e = parse_route("GET", "/v2/charges").unwrap_err();
        assert_eq!(
            (e.status, e.reason),
            (405, ReasonCode::UnsupportedOperation)
        );
        for p in ["/v2/nothing", "/v2/charges//capture", "/v2/charges/a/b/c"] {
            assert_eq!(parse_route("GET", p).unwrap_err().status, 404, "{p}");
        }
        let e = parse_route("GET", "/v1/charges/x").unwrap_err();
        assert_eq!(e.reason, ReasonCode::InvalidAPIVersion);
    }
}
