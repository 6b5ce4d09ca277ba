//! The Amazon Pay message inside an SNS notification (SPEC §12.4, §16).
//!
//! Written with Amazon's PascalCase keys (`MerchantID`, `ObjectType`, …); read with keys
//! compared case-insensitively, because the docs' parameter table writes them camelCase
//! while the schema is PascalCase. Unknown keys are ignored; a key given twice (in any
//! case) is refused.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::enums::{IpnNotificationType, IpnObjectType};

/// The Amazon Pay message inside an SNS notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpnMessage {
    /// Merchant id.
    #[serde(rename = "MerchantID")]
    pub merchant_id: String,
    /// Object type.
    pub object_type: IpnObjectType,
    /// Object id.
    pub object_id: String,
    /// Parent permission.
    pub charge_permission_id: Option<String>,
    /// STATE_CHANGE / ATTRIBUTE_CHANGE.
    pub notification_type: IpnNotificationType,
    /// Random id for dedupe.
    pub notification_id: String,
    /// `V2`.
    pub notification_version: Option<String>,
}

/// The keys, lower-cased, in field order.
const KEYS: [&str; 7] = [
    "merchantid",
    "objecttype",
    "objectid",
    "chargepermissionid",
    "notificationtype",
    "notificationid",
    "notificationversion",
];

/// Amazon's spelling of each key, for error messages.
const NAMES: [&str; 7] = [
    "MerchantID",
    "ObjectType",
    "ObjectId",
    "ChargePermissionId",
    "NotificationType",
    "NotificationId",
    "NotificationVersion",
];

impl<'de> Deserialize<'de> for IpnMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = IpnMessage;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Amazon Pay IPN message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IpnMessage, A::Error> {
        let mut texts: [Option<Option<String>>; 7] = Default::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let lower = key.to_ascii_lowercase();
            let Some(i) = KEYS.iter().position(|k| *k == lower) else {
                map.next_value::<de::IgnoredAny>()?;
                continue;
            };
            if texts[i].is_some() {
                return Err(de::Error::duplicate_field(NAMES[i]));
            }
            texts[i] = Some(map.next_value::<Option<String>>()?);
        }
        let [merchant, object_type, object_id, cp, notification_type, notification_id, version] =
            texts;
        let required = |v: Option<Option<String>>, i: usize| -> Result<String, A::Error> {
            v.flatten()
                .ok_or_else(|| de::Error::missing_field(NAMES[i]))
        };
        Ok(IpnMessage {
            merchant_id: required(merchant, 0)?,
            object_type: IpnObjectType::parse(&required(object_type, 1)?),
            object_id: required(object_id, 2)?,
            charge_permission_id: cp.flatten(),
            notification_type: IpnNotificationType::parse(&required(notification_type, 4)?),
            notification_id: required(notification_id, 5)?,
            notification_version: version.flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASCAL: &str = r#"{"MerchantID":"A1B2","ObjectType":"CHARGE","ObjectId":"S01-5105180-3221187-C056351","ChargePermissionId":"S01-5105180-3221187","NotificationType":"STATE_CHANGE","NotificationId":"8e3b","NotificationVersion":"V2"}"#;

    fn expected() -> IpnMessage {
        IpnMessage {
            merchant_id: "A1B2".into(),
            object_type: IpnObjectType::Charge,
            object_id: "S01-5105180-3221187-C056351".into(),
            charge_permission_id: Some("S01-5105180-3221187".into()),
            notification_type: IpnNotificationType::StateChange,
            notification_id: "8e3b".into(),
            notification_version: Some("V2".into()),
        }
    }

    #[test]
    fn pascal_and_camel_case_keys_parse_the_same() {
        let camel = r#"{"merchantId":"A1B2","objectType":"CHARGE","objectId":"S01-5105180-3221187-C056351","chargePermissionId":"S01-5105180-3221187","notificationType":"STATE_CHANGE","notificationId":"8e3b","notificationVersion":"V2","releaseEnvironment":"Sandbox"}"#;
        let lower = r#"{"merchantid":"A1B2","objecttype":"CHARGE","objectid":"S01-5105180-3221187-C056351","chargepermissionid":"S01-5105180-3221187","notificationtype":"STATE_CHANGE","notificationid":"8e3b","notificationversion":"V2"}"#;
        for text in [PASCAL, camel, lower] {
            let m: IpnMessage = serde_json::from_str(text).unwrap();
            assert_eq!(m, expected(), "{text}");
        }
        // Written back with Amazon's own keys.
        assert_eq!(serde_json::to_string(&expected()).unwrap(), PASCAL);
    }

    #[test]
    fn optional_missing_and_duplicate_keys() {
        let minimal = r#"{"MerchantID":"M","ObjectType":"CHARGE_PERMISSION","ObjectId":"S01-1","NotificationType":"ATTRIBUTE_CHANGE","NotificationId":"n","ChargePermissionId":null}"#;
        let m: IpnMessage = serde_json::from_str(minimal).unwrap();
        assert_eq!(m.charge_permission_id, None);
        assert_eq!(m.notification_version, None);
        assert_eq!(m.notification_type, IpnNotificationType::AttributeChange);

        let missing = minimal.replace(r#""ObjectId":"S01-1","#, "");
        let e = serde_json::from_str::<IpnMessage>(&missing).unwrap_err();
        assert!(e.to_string().starts_with("missing field `ObjectId`"), "{e}");
        let twice = minimal.replace(r#""ObjectId""#, r#""objectId":"x","OBJECTID""#);
        let e = serde_json::from_str::<IpnMessage>(&twice).unwrap_err();
        assert!(
            e.to_string().starts_with("duplicate field `ObjectId`"),
            "{e}"
        );
    }
}
