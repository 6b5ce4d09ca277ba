//! An independent model of how each official Amazon Pay SDK builds the canonical request
//! (SPEC §2.3), written from the SDKs' own source and sharing no code with
//! `savedwallet_shared::signing`:
//!
//! - **Node** 2.3.x `clientHelper.signHeaders`: path `'/' + urlFragment` as given; query names
//!   sorted (`Array.sort`), names raw, values `encodeURIComponent`; header names sorted by
//!   lower case, values raw; the SignedHeaders line keeps the caller's name case.
//! - **PHP** 2.x `Client::createSignature`: path from `parse_url` as given; query `ksort`ed,
//!   names raw, values `rawurlencode` with `%7E`→`~`, empty values dropped; header names
//!   lower-cased and `ksort`ed, values raw.
//! - **Java** 2.6 `SignatureHelper`: path `URI.getPath()` (decoded), `//`→`/`, re-encoded by
//!   `URLEncoder` with `+`→`%20`, `*`→`%2A`, `%7E`→`~`, `%2F`→`/`; query names and values
//!   encoded the same way, a `TreeMap` by encoded name, values sorted; header values
//!   `trim()`med with each whitespace character turned into a space.
//! - **.NET** 2.7 `CanonicalBuilder`: path `Uri.AbsolutePath` (escapes kept), `//`→`/`,
//!   every UTF-8 byte outside `A-Z a-z 0-9 - _ . ~ /` percent-encoded (so `%` → `%25`);
//!   query names and values encoded the same way (without `/`) in a `SortedDictionary`
//!   with the culture-aware default comparer (modelled for ASCII letters and digits:
//!   case-insensitive first, lower case first on ties), values sorted ordinally; header
//!   values trimmed with whitespace runs collapsed to one space.
//!
//! [`Sdk::wire`] is what a server receives for the same call: the path as the SDK put it in
//! the URL, the query pairs (encoded neutrally, a server decodes them anyway), and header
//! values with the leading and trailing whitespace HTTP strips.

use sha2::{Digest, Sha256};

/// One of the four official SDKs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sdk {
    Node,
    Php,
    Java,
    DotNet,
}

pub const ALL: [Sdk; 4] = [Sdk::Node, Sdk::Php, Sdk::Java, Sdk::DotNet];

/// A call as a merchant's code hands it to an SDK.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The path as written into the URL (may contain escapes).
    pub path: String,
    /// Query parameters, decoded, in the caller's order.
    pub query: Vec<(String, String)>,
    /// The headers the SDK signs, as the caller (or the SDK) names and fills them.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What the server receives.
#[derive(Debug, Clone)]
pub struct Wire {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// The `SignedHeaders` value of the `authorization` header.
    pub signed_headers: String,
}

impl Sdk {
    /// The canonical request this SDK signs, or `None` when it cannot express the call
    /// (Node and PHP take the query as a map: no repeated names).
    pub fn canonical_request(self, call: &Call) -> Option<String> {
        let query = self.query(call)?;
        let names = self.sorted_header_names(call);
        let mut out = format!("{}\n{}\n{}\n", call.method, self.path(&call.path), query);
        for name in &names {
            let value = header(call, name);
            out.push_str(&name.to_ascii_lowercase());
            out.push(':');
            out.push_str(&self.header_value(value));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.signed_headers(&names));
        out.push('\n');
        out.push_str(&hex::encode(Sha256::digest(call.body.as_bytes())));
        Some(out)
    }

    /// What the server receives for `call` (see the module docs).
    pub fn wire(self, call: &Call) -> Wire {
        let names = self.sorted_header_names(call);
        let pairs: Vec<String> = call
            .query
            .iter()
            .map(|(n, v)| format!("{}={}", rfc3986(n, false), rfc3986(v, false)))
            .collect();
        Wire {
            path: call.path.clone(),
            query: pairs.join("&"),
            headers: call
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.trim_matches([' ', '\t']).to_string()))
                .collect(),
            signed_headers: self.signed_headers(&names),
        }
    }

    fn path(self, path: &str) -> String {
        match self {
            Sdk::Node | Sdk::Php => path.to_string(),
            Sdk::Java => java_url_encode(&collapse_slashes(&percent_decode(path)), true),
            Sdk::DotNet => rfc3986(&collapse_slashes(path), true),
        }
    }

    fn query(self, call: &Call) -> Option<String> {
        let mut names: Vec<&str> = call.query.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let repeated = names.windows(2).any(|w| w[0] == w[1]);
        let pairs: Vec<(String, String)> = match self {
            Sdk::Node | Sdk::Php if repeated => return None,
            Sdk::Node => {
                let mut p: Vec<(&str, &str)> = call
                    .query
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                p.sort_by_key(|a| utf16(a.0));
                p.iter()
                    .map(|(n, v)| (n.to_string(), encode_uri_component(v)))
                    .collect()
            }
            Sdk::Php => {
                let mut p: Vec<(&str, &str)> = call
                    .query
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                p.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                p.iter()
                    .map(|(n, v)| (n.to_string(), rfc3986(v, false)))
                    .collect()
            }
            Sdk::Java => encoded_sorted(
                call,
                |s| java_url_encode(s, false),
                |a, b| utf16(a).cmp(&utf16(b)),
            ),
            Sdk::DotNet => encoded_sorted(call, |s| rfc3986(s, false), culture_compare),
        };
        Some(
            pairs
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
        )
    }

    /// Header names in the SDK's order (as the caller spelled them).
    fn sorted_header_names(self, call: &Call) -> Vec<String> {
        let mut names: Vec<String> = call.headers.iter().map(|(n, _)| n.clone()).collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names
    }

    fn signed_headers(self, names: &[String]) -> String {
        let shown: Vec<String> = match self {
            // `Object.keys(headers).sort(…).join(';')`: the caller's spelling survives.
            Sdk::Node => names.to_vec(),
            Sdk::Php | Sdk::Java | Sdk::DotNet => {
                names.iter().map(|n| n.to_ascii_lowercase()).collect()
            }
        };
        shown.join(";")
    }

    fn header_value(self, value: &str) -> String {
        match self {
            Sdk::Node | Sdk::Php => value.to_string(),
            Sdk::Java => value
                .trim_matches(|c: char| c <= ' ')
                .chars()
                .map(|c| if is_java_space(c) { ' ' } else { c })
                .collect(),
            Sdk::DotNet => value.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

fn header<'a>(call: &'a Call, name: &str) -> &'a str {
    call.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Java and .NET: encode names and values, sort values per name, order names by `cmp`.
fn encoded_sorted(
    call: &Call,
    encode: impl Fn(&str) -> String,
    cmp: impl Fn(&str, &str) -> std::cmp::Ordering,
) -> Vec<(String, String)> {
    let mut names: Vec<String> = Vec::new();
    for (n, _) in &call.query {
        let e = encode(n);
        if !names.contains(&e) {
            names.push(e);
        }
    }
    names.sort_by(|a, b| cmp(a, b));
    let mut out = Vec::new();
    for name in names {
        let mut values: Vec<String> = call
            .query
            .iter()
            .filter(|(n, _)| encode(n) == name)
            .map(|(_, v)| encode(v))
            .collect();
        values.sort();
        out.extend(values.into_iter().map(|v| (name.clone(), v)));
    }
    out
}

/// .NET's culture-aware order for ASCII letters and digits: case-insensitive, then lower
/// case before upper case.
fn culture_compare(a: &str, b: &str) -> std::cmp::Ordering {
    let fold = |s: &str| s.to_ascii_lowercase();
    fold(a).cmp(&fold(b)).then_with(|| {
        let swap = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect()
        };
        swap(a).cmp(&swap(b))
    })
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn collapse_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

fn hex_byte(out: &mut String, b: u8) {
    out.push_str(&format!("%{b:02X}"));
}

/// RFC 3986: only `A-Z a-z 0-9 - _ . ~` (and `/` for a path) stay; every other UTF-8
/// byte is `%XX` (PHP `rawurlencode`, .NET `Util.UrlEncode`).
fn rfc3986(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            hex_byte(&mut out, b);
        }
    }
    out
}

/// JavaScript `encodeURIComponent`: also keeps `! ' ( ) *`.
fn encode_uri_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            hex_byte(&mut out, b);
        }
    }
    out
}

/// Java `URLEncoder.encode(s, UTF-8)` (keeps `. - * _`, space → `+`), then the SDK's
/// fix-ups `+`→`%20`, `*`→`%2A`, `%7E`→`~` and, for a path, `%2F`→`/`.
fn java_url_encode(s: &str, path: bool) -> String {
    let mut form = String::new();
    for b in s.bytes() {
        match b {
            b' ' => form.push('+'),
            b if b.is_ascii_alphanumeric() || b".-*_".contains(&b) => form.push(b as char),
            b => hex_byte(&mut form, b),
        }
    }
    let fixed = form
        .replace('+', "%20")
        .replace('*', "%2A")
        .replace("%7E", "~");
    if path {
        fixed.replace("%2F", "/")
    } else {
        fixed
    }
}

/// `java.net.URI.getPath()`: `%XX` escapes decoded as UTF-8.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Java regex `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r')
}

/// Decodes a raw query (`a=1&b=%2C`) into pairs, for feeding recorded requests to a model.
pub fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (percent_decode(n), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}
