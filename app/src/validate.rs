//! Input validation at the edge (API.md "Formats", "Return URLs"): amounts, currencies,
//! lengths and return URLs. Pure functions; every refusal names the field.

use url::{Host, Url};

use savedwallet_shared::money::{Currency, Price};

use crate::config::Origin;
use crate::error::ServiceError;

/// Amazon's limit on a return URL, after the service appends its own parameters.
pub const MAX_RETURN_URL: usize = 1024;

/// An amount as the API receives it: `{"amount": "14.00", "currencyCode": "EUR"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoneyInput {
    /// Decimal string with exactly the currency's minor digits.
    pub amount: String,
    /// ISO 4217 code.
    pub currency_code: String,
}

/// Parses an API amount: a known currency, exactly its minor digits (`"14.00"`, JPY
/// `"1000"`), more than zero (400 otherwise), at most Amazon's per-charge maximum
/// (`amount_too_large`).
pub fn amount(param: &str, input: &MoneyInput) -> Result<Price, ServiceError> {
    let currency: Currency = input
        .currency_code
        .parse()
        .map_err(|_| ServiceError::invalid(param, "currencyCode is not a supported currency"))?;
    let digits = currency.minor_digits() as usize;
    let text = input.amount.as_str();
    let well_formed = match text.split_once('.') {
        None => digits == 0 && !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        Some((whole, frac)) => {
            digits > 0
                && !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == digits
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
    };
    if !well_formed || text.len() > 20 {
        let example = if digits == 0 { "1000" } else { "14.00" };
        return Err(ServiceError::invalid(
            param,
            format!(
                "amount must be a decimal with exactly {digits} minor digits, e.g. \"{example}\""
            ),
        ));
    }
    let price = Price::parse(text, currency)
        .map_err(|_| ServiceError::invalid(param, "amount is not a valid decimal"))?;
    if !price.is_positive() {
        return Err(ServiceError::invalid(
            param,
            "amount must be greater than zero",
        ));
    }
    if price.validate_charge_amount().is_err() {
        return Err(ServiceError::AmountTooLarge(format!(
            "amount exceeds Amazon's per-charge maximum of {}",
            Price::per_charge_maximum(currency)
        )));
    }
    Ok(price)
}

/// A required text field: trimmed length 1..=`max` characters, no control characters.
pub fn text(param: &str, value: &str, max: usize) -> Result<String, ServiceError> {
    let t = value.trim();
    if t.is_empty() || t.chars().count() > max || t.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            param,
            format!("{param} must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(t.to_string())
}

/// An optional text field (absent stays absent).
pub fn opt_text(
    param: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, ServiceError> {
    value.map(|v| text(param, v, max)).transpose()
}

/// Amazon's `softDescriptor`: 1–16 characters, only with `captureNow: true`.
pub fn soft_descriptor(
    value: Option<&str>,
    capture_now: bool,
) -> Result<Option<String>, ServiceError> {
    let Some(v) = value else {
        return Ok(None);
    };
    if !capture_now {
        return Err(ServiceError::invalid(
            "softDescriptor",
            "softDescriptor is only allowed with captureNow: true",
        ));
    }
    if v.is_empty() || v.chars().count() > 16 || v.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            "softDescriptor",
            "softDescriptor must be 1 to 16 characters",
        ));
    }
    Ok(Some(v.to_string()))
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A return URL (API.md "Return URLs"): parsed; its origin one of `allowed`; https, or http
/// only for a loopback host when `loopback_http` (local sandbox); no userinfo; at most 1024
/// bytes after `extra` query parameters are appended. Returns the URL with them appended.
pub fn return_url(
    param: &str,
    value: &str,
    allowed: &[Origin],
    loopback_http: bool,
    extra: &[(&str, &str)],
) -> Result<String, ServiceError> {
    if value.len() > MAX_RETURN_URL {
        return Err(ServiceError::return_url(
            param,
            format!("{param} is longer than {MAX_RETURN_URL} bytes"),
        ));
    }
    let mut url = Url::parse(value)
        .map_err(|_| ServiceError::return_url(param, format!("{param} is not an absolute URL")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ServiceError::return_url(
            param,
            format!("{param} must not carry userinfo"),
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| ServiceError::return_url(param, format!("{param} has no host")))?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => loopback_http && is_loopback(&host),
        _ => false,
    };
    if !scheme_ok {
        return Err(ServiceError::return_url(
            param,
            format!("{param} must use https (http only for localhost in the sandbox)"),
        ));
    }
    let origin = url.origin().ascii_serialization();
    if !allowed.iter().any(|o| o.as_str() == origin) {
        return Err(ServiceError::return_url(
            param,
            format!("{param}'s origin is not one of the allowed frontend origins"),
        ));
    }
    if url.fragment().is_some() {
        return Err(ServiceError::return_url(
            param,
            format!("{param} must not have a fragment"),
        ));
    }
    if !extra.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    let out = url.to_string();
    if out.len() > MAX_RETURN_URL {
        return Err(ServiceError::return_url(
            param,
            format!("{param} is longer than {MAX_RETURN_URL} bytes with the service's parameters"),
        ));
    }
    Ok(out)
}

/// `?limit=` of a list: 1..=100, default 20.
pub fn limit(value: Option<u32>) -> Result<u32, ServiceError> {
    match value {
        None => Ok(20),
        Some(n) if (1..=100).contains(&n) => Ok(n),
        Some(_) => Err(ServiceError::invalid("limit", "limit must be 1 to 100")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(a: &str, c: &str) -> MoneyInput {
        MoneyInput {
            amount: a.into(),
            currency_code: c.into(),
        }
    }

    #[test]
    fn amounts_take_exactly_the_minor_digits() {
        let ok = [
            ("14.00", "EUR", 1400),
            ("0.01", "USD", 1),
            ("1000", "JPY", 1000),
        ];
        for (a, c, minor) in ok {
            assert_eq!(
                amount("amount", &money(a, c)).unwrap().minor_units(),
                minor,
                "{a} {c}"
            );
        }
        let bad = [
            ("14", "EUR"),
            ("14.0", "EUR"),
            ("14.000", "EUR"),
            ("1000.0", "JPY"),
            ("-1.00", "EUR"),
            ("0.00", "EUR"),
            ("1e3", "EUR"),
            (" 1.00", "EUR"),
            ("1.00", "XXX"),
            ("1.00", "eur"),
            ("", "EUR"),
            (".50", "EUR"),
        ];
        for (a, c) in bad {
            assert!(
                matches!(
                    amount("amount", &money(a, c)),
                    Err(ServiceError::InvalidRequest { .. })
                ),
                "{a:?} {c}"
            );
        }
        assert!(matches!(
            amount("amount", &money("150000.01", "USD")),
            Err(ServiceError::AmountTooLarge(_))
        ));
    }

    #[test]
    fn return_urls_follow_the_contract() {
        let allowed = [
            Origin::parse("https://shop.example").unwrap(),
            Origin::parse("http://localhost:8080").unwrap(),
        ];
        let ok = return_url(
            "u",
            "https://shop.example/done?x=1",
            &allowed,
            false,
            &[("paymentId", "pay_1")],
        )
        .unwrap();
        assert_eq!(ok, "https://shop.example/done?x=1&paymentId=pay_1");
        assert!(return_url("u", "http://localhost:8080/r", &allowed, true, &[]).is_ok());
        let bad = [
            ("http://localhost:8080/r", false),
            ("http://shop.example/r", true),
            ("https://evil.example/r", false),
            ("https://shop.example.evil.example/r", false),
            ("https://user@shop.example/r", false),
            ("javascript:alert(1)", false),
            ("/relative", false),
            ("https://shop.example:8443/r", false),
            ("https://shop.example/r#frag", false),
        ];
        for (u, loopback) in bad {
            assert!(
                matches!(
                    return_url("u", u, &allowed, loopback, &[]),
                    Err(ServiceError::ReturnUrlNotAllowed { .. })
                ),
                "{u}"
            );
        }
        let long = format!("https://shop.example/{}", "a".repeat(1000));
        assert!(return_url("u", &long, &allowed, false, &[]).is_ok());
        assert!(return_url(
            "u",
            &long,
            &allowed,
            false,
            &[("paymentId", "pay_0123456789")]
        )
        .is_err());
    }

    #[test]
    fn soft_descriptors_and_text() {
        assert!(soft_descriptor(Some("ACME"), false).is_err());
        assert!(soft_descriptor(Some(&"x".repeat(17)), true).is_err());
        assert_eq!(
            soft_descriptor(Some("ACME"), true).unwrap(),
            Some("ACME".into())
        );
        assert!(text("d", "  ", 10).is_err());
        assert!(text("d", "a\u{7}", 10).is_err());
        assert_eq!(text("d", " book ", 10).unwrap(), "book");
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
        assert_eq!(limit(None).unwrap(), 20);
    }
}
