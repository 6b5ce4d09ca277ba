//! Amazon's timestamps: ISO-8601 basic (`20190714T155300Z`) in bodies and `x-amz-pay-date`,
//! extended (`2019-07-14T15:53:00Z`) from the Node SDK; both parse, basic is written.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A UTC instant written the way Amazon Pay writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmazonTimestamp(pub DateTime<Utc>);

/// The timestamp could not be parsed in either accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp {0:?} is neither yyyyMMddTHHmmssZ nor yyyy-MM-ddTHH:mm:ss[.fff]Z")]
pub struct TimestampError(pub String);

impl AmazonTimestamp {
    /// Parses the basic form `20240601T123456Z` or the extended form
    /// `2024-06-01T12:34:56Z` / `2024-06-01T12:34:56.789Z` (case-insensitive `T`/`Z`).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let err = || TimestampError(s.chars().take(40).collect());
        let upper = s.trim().to_ascii_uppercase();
        let body = upper.strip_suffix('Z').ok_or_else(err)?;
        let naive = if body.contains('-') {
            NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| err())?
        } else {
            NaiveDateTime::parse_from_str(body, "%Y%m%dT%H%M%S").map_err(|_| err())?
        };
        Ok(AmazonTimestamp(Utc.from_utc_datetime(&naive)))
    }

    /// The basic form, `yyyyMMddTHHmmssZ` (seconds precision).
    pub fn to_basic(self) -> String {
        self.0.format("%Y%m%dT%H%M%SZ").to_string()
    }

    /// The extended form without fractional seconds, as the Node SDK sends it.
    pub fn to_extended(self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// From Unix seconds.
    pub fn from_unix(secs: i64) -> Option<Self> {
        Utc.timestamp_opt(secs, 0).single().map(AmazonTimestamp)
    }
}

impl From<DateTime<Utc>> for AmazonTimestamp {
    fn from(d: DateTime<Utc>) -> Self {
        AmazonTimestamp(d)
    }
}

impl fmt::Display for AmazonTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_basic())
    }
}

impl Serialize for AmazonTimestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_basic())
    }
}

impl<'de> Deserialize<'de> for AmazonTimestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AmazonTimestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_the_same_instant() {
        let a = AmazonTimestamp::parse("20240601T123456Z").unwrap();
        let b = AmazonTimestamp::parse("2024-06-01T12:34:56Z").unwrap();
        let c = AmazonTimestamp::parse("2024-06-01T12:34:56.789Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.0.timestamp(), c.0.timestamp());
        assert_eq!(a.to_basic(), "20240601T123456Z");
        assert_eq!(a.to_extended(), "2024-06-01T12:34:56Z");
        assert_eq!(
            AmazonTimestamp::parse("20190714t155300z")
                .unwrap()
                .to_basic(),
            "20190714T155300Z"
        );
    }

    #[test]
    fn garbage_is_refused() {
        for s in [
            "",
            "2024",
            "20240601T123456",
            "2024-13-01T00:00:00Z",
            "20240601 123456Z",
            "x",
        ] {
            assert_eq!(
                AmazonTimestamp::parse(s),
                Err(TimestampError(s.into())),
                "{s}"
            );
        }
    }

    #[test]
    fn serde_writes_basic() {
        let t: AmazonTimestamp = serde_json::from_str("\"2019-07-14T15:53:00Z\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"20190714T155300Z\"");
    }
}
