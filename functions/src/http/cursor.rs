//! List cursors as the API hands them out: the store's cursor with an HMAC tag that binds it
//! to one list (e.g. one customer's wallets). A cursor that was altered, or comes from
//! another list or customer, is 400 `invalid_request` (`param: cursor`) before the store
//! sees it. The key is the service's binding secret (stable across Lambda instances) under
//! its own label.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use savedwallet_app::store::Cursor;

use super::error::AppError;
use super::AppState;

const TAG: usize = 16;

fn tag(state: &AppState, list: &str, cursor: &[u8]) -> Option<[u8; TAG]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.service().config().binding_secret).ok()?;
    mac.update(b"savedwallet api cursor v1\0");
    mac.update(&(list.len() as u64).to_be_bytes());
    mac.update(list.as_bytes());
    mac.update(cursor);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TAG];
    out.copy_from_slice(&full[..TAG]);
    Some(out)
}

/// The API's `nextCursor` for the store's.
pub(crate) fn encode(state: &AppState, list: &str, next: Option<&Cursor>) -> Option<String> {
    let c = next?;
    let t = tag(state, list, c.0.as_bytes())?;
    let mut bytes = t.to_vec();
    bytes.extend_from_slice(c.0.as_bytes());
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The store's cursor for the API's `?cursor=` of `list`.
pub(crate) fn decode(
    state: &AppState,
    list: &str,
    raw: Option<&str>,
) -> Result<Option<Cursor>, AppError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = || AppError::invalid("cursor", "cursor is not a nextCursor of this list");
    let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).map_err(|_| bad())?;
    if bytes.len() <= TAG {
        return Err(bad());
    }
    let (t, c) = bytes.split_at(TAG);
    let expected = tag(state, list, c).ok_or_else(bad)?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(t, &expected[..])) {
        return Err(bad());
    }
    let text = String::from_utf8(c.to_vec()).map_err(|_| bad())?;
    Ok(Some(Cursor(text)))
}
