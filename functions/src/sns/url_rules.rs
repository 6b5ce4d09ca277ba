//! The `SigningCertURL` and `SubscribeURL` rules (SPEC §12.3.2), checked on the URL as the
//! `url` crate parses it *and* on the text as written, before anything is fetched:
//! `https`, no userinfo, no explicit port (`:443` too), host
//! `sns.<region>.amazonaws.com[.cn]`, written canonically, then per kind a `.pem` path
//! without query (certificate) or an `Action=ConfirmSubscription` query for the envelope's
//! topic (SubscribeURL). With the `local-sns` feature a configured sandbox origin is
//! accepted in place of the SNS host.

use super::config::SnsConfig;
use super::refusal::UrlRule;
use url::{Host, Url};

/// Which URL of the envelope is checked.
#[derive(Debug, Clone, Copy)]
enum UrlKind<'a> {
    /// `SigningCertURL`.
    Cert,
    /// `SubscribeURL` of a confirmation for this topic.
    Subscribe { topic_arn: &'a str },
}

/// Checks a `SigningCertURL`; the parsed URL is what may be fetched.
pub(crate) fn check_cert_url(raw: &str, config: &SnsConfig) -> Result<Url, UrlRule> {
    check(raw, UrlKind::Cert, config)
}

/// Checks a `SubscribeURL` of a confirmation for `topic_arn`.
pub(crate) fn check_subscribe_url(
    raw: &str,
    topic_arn: &str,
    config: &SnsConfig,
) -> Result<Url, UrlRule> {
    check(raw, UrlKind::Subscribe { topic_arn }, config)
}

fn check(raw: &str, kind: UrlKind<'_>, config: &SnsConfig) -> Result<Url, UrlRule> {
    let url = Url::parse(raw).map_err(|_| UrlRule::Unparseable)?;
    let real = real_sns_origin(&url, raw).and_then(|()| kind_rules(&url, kind, ""));
    #[cfg(feature = "local-sns")]
    if real.is_err() {
        if let Some(sandbox) = config.sandbox() {
            let local = sandbox
                .accepts_origin(&url, raw)
                .and_then(|()| kind_rules(&url, kind, &sandbox.prefix));
            if local.is_ok() {
                return Ok(url);
            }
        }
    }
    #[cfg(not(feature = "local-sns"))]
    let _ = config;
    real.map(|()| url)
}

/// `https://sns.<region>.amazonaws.com[.cn]` with nothing else in the authority, canonical.
fn real_sns_origin(url: &Url, raw: &str) -> Result<(), UrlRule> {
    if url.scheme() != "https" {
        return Err(UrlRule::NotHttps);
    }
    authority_is_bare(raw, url, true)?;
    match url.host() {
        Some(Host::Domain(domain)) if is_sns_host(domain) => {}
        _ => return Err(UrlRule::Host),
    }
    canonical(url, raw)
}

/// No userinfo (and, when `no_port`, no port) in the parsed URL nor in the text as written:
/// the parser drops `:443` on https and an empty `@`, so the text is checked too.
fn authority_is_bare(raw: &str, url: &Url, no_port: bool) -> Result<(), UrlRule> {
    // `https:host/…` parses like `https://host/…`; it is not what the parser writes.
    let Some((_, after_scheme)) = raw.split_once("://") else {
        return Err(UrlRule::NotCanonical);
    };
    let end = after_scheme
        .find(['/', '?', '#', '\\'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    if authority.contains('@') || !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRule::Userinfo);
    }
    // The part after an IPv6 literal's brackets, if any, is where a port would be.
    let host_and_port = authority.rsplit_once(']').map_or(authority, |(_, p)| p);
    if no_port && (host_and_port.contains(':') || url.port().is_some()) {
        return Err(UrlRule::ExplicitPort);
    }
    Ok(())
}

/// The text must be what the parser writes back: no case, whitespace, escape or
/// backslash tricks that two parsers could read differently.
fn canonical(url: &Url, raw: &str) -> Result<(), UrlRule> {
    if url.as_str() == raw {
        Ok(())
    } else {
        Err(UrlRule::NotCanonical)
    }
}

/// `^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$` (the parser has lower-cased the host).
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    matches!(region, Some(r) if r.len() >= 3
        && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Path and query rules; `prefix` is the sandbox's SNS route prefix in local mode, else "".
fn kind_rules(url: &Url, kind: UrlKind<'_>, prefix: &str) -> Result<(), UrlRule> {
    if !url.path().starts_with(prefix) {
        return Err(UrlRule::Path);
    }
    if url.fragment().is_some() {
        return Err(UrlRule::Query);
    }
    match kind {
        UrlKind::Cert => {
            if !url.path().ends_with(".pem") {
                return Err(UrlRule::Path);
            }
            if url.query().is_some() {
                return Err(UrlRule::Query);
            }
        }
        UrlKind::Subscribe { topic_arn } => {
            let (mut action, mut topic) = (Vec::new(), Vec::new());
            for (key, value) in url.query_pairs() {
                match key.as_ref() {
                    "Action" => action.push(value),
                    "TopicArn" => topic.push(value),
                    _ => {}
                }
            }
            if action.len() != 1
                || action[0] != "ConfirmSubscription"
                || topic.len() != 1
                || topic[0] != topic_arn
            {
                return Err(UrlRule::ConfirmQuery);
            }
        }
    }
    Ok(())
}

/// The one sandbox origin local mode accepts, and its SNS route prefix.
#[cfg(feature = "local-sns")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SandboxOrigin {
    origin: url::Origin,
    /// `<base path>/_sandbox/sns/`, where the sandbox serves its certificate and SubscribeURL.
    prefix: String,
}

#[cfg(feature = "local-sns")]
impl SandboxOrigin {
    /// The sandbox's SNS routes below its base URL (the sandbox's `SNS_ROUTE_PREFIX`).
    const ROUTES: &'static str = "/_sandbox/sns/";

    /// An http(s) base URL on a loopback host, without userinfo, query or fragment.
    pub(crate) fn new(base: &Url) -> Result<Self, super::config::SnsConfigError> {
        use super::config::SnsConfigError::BadSandboxUrl;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(BadSandboxUrl("not an http(s) URL"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(BadSandboxUrl("userinfo"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(BadSandboxUrl("query or fragment"));
        }
        let loopback = match base.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d == "localhost",
            None => false,
        };
        if !loopback {
            return Err(BadSandboxUrl("not a loopback host"));
        }
        Ok(SandboxOrigin {
            origin: base.origin(),
            prefix: format!("{}{}", base.path().trim_end_matches('/'), Self::ROUTES),
        })
    }

    /// Same origin as the sandbox (scheme, host, port), no userinfo, canonical.
    fn accepts_origin(&self, url: &Url, raw: &str) -> Result<(), UrlRule> {
        if url.origin() != self.origin {
            return Err(UrlRule::Host);
        }
        authority_is_bare(raw, url, false)?;
        canonical(url, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:t";

    fn cert(raw: &str) -> Result<Url, UrlRule> {
        check_cert_url(raw, &SnsConfig::new())
    }

    #[test]
    fn real_sns_certificate_urls_pass() {
        for ok in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcd.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
            "https://sns.us-gov-west-1.amazonaws.com/a/b.pem",
        ] {
            assert_eq!(cert(ok).map(String::from).as_deref(), Ok(ok));
        }
    }

    #[test]
    fn each_certificate_url_attack_fails_its_rule() {
        let p = "/SimpleNotificationService-1.pem";
        let cases: &[(&str, UrlRule)] = &[
            ("not a url", UrlRule::Unparseable),
            (
                "http://sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::NotHttps,
            ),
            ("file:///etc/x.pem", UrlRule::NotHttps),
            (
                "https://user@sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::Userinfo,
            ),
            (
                "https://@sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::Userinfo,
            ),
            (
                "https://:@sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::Userinfo,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:443/x.pem",
                UrlRule::ExplicitPort,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/x.pem",
                UrlRule::ExplicitPort,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:/x.pem",
                UrlRule::ExplicitPort,
            ),
            (
                "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
                UrlRule::Host,
            ),
            (
                "https://evil-sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::Host,
            ),
            ("https://sns..amazonaws.com/x.pem", UrlRule::Host),
            ("https://sns.us.amazonaws.com/x.pem", UrlRule::Host),
            (
                "https://sns.evil.example.amazonaws.com/x.pem",
                UrlRule::Host,
            ),
            ("https://sns.us-east-1.amazonaws.com./x.pem", UrlRule::Host),
            ("https://s3.amazonaws.com/x.pem", UrlRule::Host),
            ("https://52.94.0.1/x.pem", UrlRule::Host),
            (
                "https://SNS.us-east-1.amazonaws.com/x.pem",
                UrlRule::NotCanonical,
            ),
            (
                "https://sns.us-east-1.amazon\naws.com/x.pem",
                UrlRule::NotCanonical,
            ),
            (
                " https://sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::NotCanonical,
            ),
            (
                "https://sns.us-east-1.amazonaws.com\\x.pem",
                UrlRule::NotCanonical,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/a/../x.pem",
                UrlRule::NotCanonical,
            ),
            (
                "https:sns.us-east-1.amazonaws.com/x.pem",
                UrlRule::NotCanonical,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/x.pem.txt",
                UrlRule::Path,
            ),
            ("https://sns.us-east-1.amazonaws.com/", UrlRule::Path),
            (
                "https://sns.us-east-1.amazonaws.com/x.pem?a=b",
                UrlRule::Query,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/x.pem#f",
                UrlRule::Query,
            ),
        ];
        for (raw, rule) in cases {
            assert_eq!(cert(raw), Err(*rule), "{raw}");
        }
        assert!(cert(&format!("https://sns.eu-west-1.amazonaws.com{p}")).is_ok());
    }

    #[test]
    fn subscribe_url_needs_the_confirm_action_for_the_topic() {
        let c = SnsConfig::new();
        let good = format!(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={}&Token=t",
            TOPIC.replace(':', "%3A")
        );
        assert!(check_subscribe_url(&good, TOPIC, &c).is_ok());
        let other = "arn:aws:sns:us-east-1:123456789012:other";
        for (raw, topic, rule) in [
            (good.clone(), other, UrlRule::ConfirmQuery),
            (
                good.replace("ConfirmSubscription", "Unsubscribe"),
                TOPIC,
                UrlRule::ConfirmQuery,
            ),
            (
                format!("{good}&Action=ConfirmSubscription"),
                TOPIC,
                UrlRule::ConfirmQuery,
            ),
            (format!("{good}#f"), TOPIC, UrlRule::Query),
            (good.replace("https:", "http:"), TOPIC, UrlRule::NotHttps),
            (
                good.replace(".com/", ".com:443/"),
                TOPIC,
                UrlRule::ExplicitPort,
            ),
        ] {
            assert_eq!(check_subscribe_url(&raw, topic, &c), Err(rule), "{raw}");
        }
    }

    #[test]
    fn a_sandbox_url_is_refused_without_local_mode() {
        let raw = "http://127.0.0.1:8080/_sandbox/sns/SimpleNotificationService-1.pem";
        assert_eq!(cert(raw), Err(UrlRule::NotHttps));
        let https = raw.replace("http:", "https:");
        assert_eq!(cert(&https), Err(UrlRule::ExplicitPort));
    }

    #[cfg(feature = "local-sns")]
    mod local {
        use super::*;

        fn local(base: &str) -> SnsConfig {
            SnsConfig::local_sandbox(&Url::parse(base).unwrap()).unwrap()
        }

        #[test]
        fn exactly_the_sandbox_origin_and_routes_pass() {
            let c = local("http://127.0.0.1:8080");
            let ok = "http://127.0.0.1:8080/_sandbox/sns/SimpleNotificationService-1.pem";
            assert!(check_cert_url(ok, &c).is_ok());
            let real = "https://sns.us-east-1.amazonaws.com/x.pem";
            assert!(
                check_cert_url(real, &c).is_ok(),
                "the real rule still holds"
            );
            for (raw, rule) in [
                (
                    "http://127.0.0.1:8081/_sandbox/sns/x.pem",
                    UrlRule::NotHttps,
                ),
                (
                    "http://localhost:8080/_sandbox/sns/x.pem",
                    UrlRule::NotHttps,
                ),
                (
                    "https://127.0.0.1:8080/_sandbox/sns/x.pem",
                    UrlRule::ExplicitPort,
                ),
                (
                    "http://u@127.0.0.1:8080/_sandbox/sns/x.pem",
                    UrlRule::NotHttps,
                ),
                ("http://127.0.0.1:8080/other/x.pem", UrlRule::NotHttps),
            ] {
                // The real rule's failure is reported when the sandbox rule fails too.
                assert_eq!(check_cert_url(raw, &c), Err(rule), "{raw}");
            }
            let prefixed = local("http://127.0.0.1:9/base/");
            assert!(
                check_cert_url("http://127.0.0.1:9/base/_sandbox/sns/a.pem", &prefixed).is_ok()
            );
            assert!(check_cert_url("http://127.0.0.1:9/_sandbox/sns/a.pem", &prefixed).is_err());
            let confirm = format!(
                "http://127.0.0.1:8080/_sandbox/sns/confirm?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=t"
            );
            assert!(check_subscribe_url(&confirm, TOPIC, &c).is_ok());
        }

        #[test]
        fn only_loopback_sandboxes() {
            for bad in [
                "http://sandbox.example:8080",
                "http://10.0.0.1:8080",
                "http://u:p@127.0.0.1:1",
                "http://127.0.0.1:1/?q",
                "ftp://127.0.0.1/",
            ] {
                let url = Url::parse(bad).unwrap();
                assert!(SnsConfig::local_sandbox(&url).is_err(), "{bad}");
            }
            assert!(local("http://[::1]:1").accepts_local_sandbox());
            assert!(local("http://localhost:1").accepts_local_sandbox());
        }
    }
}
