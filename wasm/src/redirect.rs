//! Where the helper may send the buyer: Amazon's MFA page (`redirectUrl`), the setup consent
//! page and the payment-method update link (`buyerAction.url`). A URL is followed only when the
//! browser's own URL parser reads it as https on a host of the allow list — compared exactly,
//! so `payments.amazon.com.evil.example`, `payments-amazon.com` and homographs (which the
//! parser turns into `xn--…`) never match — with no user name or password; plain http only
//! for a loopback host (the local sandbox).

use web_sys::Url;

use crate::error::{code, Error};

/// Amazon Pay's hosts for buyer pages: the documented update-link hosts
/// (`payments.amazon.com`, JP `pay.amazon.com`) and the regional checkout hosts.
pub const AMAZON_HOSTS: [&str; 8] = [
    "payments.amazon.com",
    "pay.amazon.com",
    "payments.amazon.co.uk",
    "payments.amazon.de",
    "payments.amazon.fr",
    "payments.amazon.it",
    "payments.amazon.es",
    "payments.amazon.co.jp",
];

/// The hosts the helper redirects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    /// Lower-case `host` (default port only) or `host:port` entries.
    hosts: Vec<String>,
}

/// Whether `hostname` (as the URL parser gives it: lower case, IPv4 normalised) is this
/// machine: `localhost`, `[::1]` or `127.x.x.x` (not a name like `127.example.com`).
pub fn is_loopback(hostname: &str) -> bool {
    hostname == "localhost"
        || hostname == "[::1]"
        || (hostname.starts_with("127.")
            && hostname.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

impl AllowList {
    /// Amazon Pay's hosts.
    pub fn amazon() -> AllowList {
        AllowList {
            hosts: AMAZON_HOSTS.iter().map(|h| h.to_string()).collect(),
        }
    }

    /// Exactly these entries (`host` or `host:port`); refuses empty entries and entries with
    /// a scheme, path or user info.
    pub fn of(entries: &[String]) -> Result<AllowList, Error> {
        let mut hosts = Vec::with_capacity(entries.len());
        for e in entries {
            let e = e.trim().to_ascii_lowercase();
            let bad = e.is_empty() || e.contains(['/', '@', '?', '#', ' ']) || e.ends_with(':');
            if bad {
                return Err(Error::new(
                    code::CONFIG_INVALID,
                    "allowedRedirectHosts entries are host names, optionally with :port",
                ));
            }
            hosts.push(e);
        }
        Ok(AllowList { hosts })
    }

    /// Adds the host (and port) of a local sandbox base URL, e.g. `http://127.0.0.1:8085`.
    pub fn with_sandbox(mut self, base_url: &str) -> Result<AllowList, Error> {
        let bad = || {
            Error::new(
                code::CONFIG_INVALID,
                "sandboxUrl must be an absolute http(s) URL",
            )
        };
        let u = Url::new(base_url).map_err(|_| bad())?;
        if u.protocol() != "https:" && u.protocol() != "http:" {
            return Err(bad());
        }
        self.hosts.push(u.host().to_ascii_lowercase());
        Ok(self)
    }

    /// The entries.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The URL to go to when `raw` may be followed, else `redirect_not_allowed`.
    pub fn check(&self, raw: &str) -> Result<String, Error> {
        let refuse = |why: &str| Error::new(code::REDIRECT_NOT_ALLOWED, why);
        // Absolute URLs only: no base, so "/x" or "//evil.example" cannot resolve anywhere.
        let u = Url::new(raw).map_err(|_| refuse("the redirect is not an absolute URL"))?;
        if !u.username().is_empty() || !u.password().is_empty() {
            return Err(refuse("the redirect carries a user name or password"));
        }
        let hostname = u.hostname();
        match u.protocol().as_str() {
            "https:" => {}
            "http:" if is_loopback(&hostname) => {}
            "http:" => return Err(refuse("the redirect is not https")),
            _ => return Err(refuse("the redirect is not an https URL")),
        }
        let host = u.host();
        let listed = self.hosts.iter().any(|h| {
            if h.contains(':') && !h.ends_with(']') {
                *h == host
            } else {
                *h == hostname && u.port().is_empty()
            }
        });
        if !listed {
            return Err(refuse(
                "the redirect's host is not an allowed Amazon Pay host",
            ));
        }
        Ok(u.href())
    }
}
