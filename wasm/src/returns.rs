//! The merchant's return page: Amazon appends `amazonCheckoutSessionId` to the return URL,
//! and for an MFA payment the service has already put `paymentId` in it
//! (`checkoutResultReturnUrl` as sent to Amazon = the merchant's URL + `paymentId`).

use web_sys::Url;

/// The query parameter Amazon adds on the way back.
pub const SESSION_PARAM: &str = "amazonCheckoutSessionId";
/// The query parameter the service adds to `checkoutResultReturnUrl`.
pub const PAYMENT_PARAM: &str = "paymentId";

/// What a return URL carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnParams {
    /// Amazon's checkout session id.
    pub session: String,
    /// The payment to complete (MFA returns only; a wallet-setup return has none).
    pub payment: Option<String>,
}

/// Which return a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnKind {
    /// Back from an MFA challenge: complete the payment.
    Payment,
    /// Back from the wallet setup (or update) consent: save the wallet.
    Setup,
}

impl ReturnKind {
    /// The JavaScript spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnKind::Payment => "payment",
            ReturnKind::Setup => "setup",
        }
    }
}

impl ReturnParams {
    /// The kind of return.
    pub fn kind(&self) -> ReturnKind {
        if self.payment.is_some() {
            ReturnKind::Payment
        } else {
            ReturnKind::Setup
        }
    }
}

/// Whether `s` looks like an id of the API or of Amazon (what goes into a path segment):
/// 1 to 128 characters of ASCII letters, digits, `-`, `_`, `.`.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The return parameters of `href`, when it is a return URL with well-formed ids. A present
/// but malformed `paymentId` makes it no return at all (never guess which payment to complete).
pub fn read(href: &str) -> Option<ReturnParams> {
    let u = Url::new(href).ok()?;
    let q = u.search_params();
    let session = q.get(SESSION_PARAM).filter(|s| is_id(s))?;
    let payment = match q.get(PAYMENT_PARAM) {
        Some(p) if is_id(&p) => Some(p),
        Some(_) => return None,
        None => None,
    };
    Some(ReturnParams { session, payment })
}

/// `href` without the two return parameters, as a same-document path (`/path?rest#hash`) for
/// `history.replaceState`: other query parameters and the fragment stay.
pub fn strip(href: &str) -> Option<String> {
    let u = Url::new(href).ok()?;
    let q = u.search_params();
    q.delete(SESSION_PARAM);
    q.delete(PAYMENT_PARAM);
    let rest = q.to_string().as_string().unwrap_or_default();
    let mut out = u.pathname();
    if !rest.is_empty() {
        out.push('?');
        out.push_str(&rest);
    }
    out.push_str(&u.hash());
    Some(out)
}
