//! Amazon Pay string enums. Every enum keeps an `Unknown(String)` fallback so a code Amazon
//! adds tomorrow never breaks parsing of a response (it is handled as "unknown" instead).

/// Declares a string enum with exact Amazon spellings, extra accepted aliases, and an
/// `Unknown(String)` fallback.
macro_rules! amazon_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know; kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every known variant.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// Amazon's exact spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )+
                    $name::Unknown(s) => s.as_str(),
                }
            }

            /// Parses Amazon's spelling (or an accepted alias); anything else is `Unknown`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $( $text $(| $alias)* => $name::$variant, )+
                    other => $name::Unknown(other.to_string()),
                }
            }

            /// Parses strictly: `None` for values outside the known set (edge validation).
            pub fn parse_known(s: &str) -> Option<Self> {
                match Self::parse(s) {
                    $name::Unknown(_) => None,
                    v => Some(v),
                }
            }

            /// True for the `Unknown` fallback.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Ok(Self::parse(&s))
            }
        }
    };
}

amazon_enum! {
    /// `statusDetails.state` of a Charge (SPEC §5.3).
    ChargeState {
        /// Async authorization in progress; the final state arrives by IPN.
        AuthorizationInitiated = "AuthorizationInitiated",
        /// Authorized; capture within 30 days.
        Authorized = "Authorized",
        /// Async capture in progress.
        CaptureInitiated = "CaptureInitiated",
        /// Captured: money taken.
        Captured = "Captured",
        /// The buyer must complete an MFA challenge (EU/UK CIT).
        ActionRequired = "ActionRequired",
        /// Declined (asynchronously).
        Declined = "Declined",
        /// Canceled.
        Canceled = "Canceled",
    }
}

amazon_enum! {
    /// `statusDetails.state` of a Charge Permission (SPEC §5.2).
    ChargePermissionState {
        /// Create Charge allowed.
        Chargeable = "Chargeable",
        /// Not chargeable until the buyer fixes the payment method.
        NonChargeable = "NonChargeable",
        /// Terminal.
        Closed = "Closed",
    }
}

amazon_enum! {
    /// `statusDetails.state` of a Checkout Session (SPEC §5.1).
    CheckoutSessionState {
        /// Created, not yet completed.
        Open = "Open",
        /// Complete Checkout Session succeeded.
        Completed = "Completed",
        /// Canceled (expired, buyer, Amazon, declined).
        Canceled = "Canceled",
    }
}

amazon_enum! {
    /// `statusDetails.state` of a Refund (SPEC §5.4).
    RefundState {
        /// Initial, always async.
        RefundInitiated = "RefundInitiated",
        /// Money returned.
        Refunded = "Refunded",
        /// Refund declined.
        Declined = "Declined",
    }
}

amazon_enum! {
    /// Every reasonCode this project knows: error-body codes (SPEC §6) and
    /// `statusDetails` reason codes (SPEC §5).
    ReasonCode {
        // --- 400 ---
        /// Bad header value.
        InvalidHeaderValue = "InvalidHeaderValue",
        /// Invalid request.
        InvalidRequest = "InvalidRequest",
        /// Bad body/path value.
        InvalidParameterValue = "InvalidParameterValue",
        /// Body is not valid JSON.
        InvalidRequestFormat = "InvalidRequestFormat",
        /// Required header absent.
        MissingHeader = "MissingHeader",
        /// Required header empty/absent.
        MissingHeaderValue = "MissingHeaderValue",
        /// Required field missing.
        MissingParameterValue = "MissingParameterValue",
        /// Unknown field in body.
        UnrecognizedField = "UnrecognizedField",
        /// Simulation code not valid for this call.
        InvalidSandboxSimulationSpecified = "InvalidSandboxSimulationSpecified",
        /// Idempotency key reused with different parameters.
        DuplicateIdempotencyKey = "DuplicateIdempotencyKey",
        /// Invalid combination of parameters.
        InvalidParameterCombination = "InvalidParameterCombination",
        /// Currency differs from the permission's.
        CurrencyMismatch = "CurrencyMismatch",
        /// Unsupported API version.
        InvalidAPIVersion = "InvalidAPIVersion",
        /// Amount above what is allowed.
        TransactionAmountExceeded = "TransactionAmountExceeded",
        /// Monthly Saved Wallet limit reached.
        PeriodicAmountExceeded = "PeriodicAmountExceeded",
        // --- 401/403/404/405/408 ---
        /// Merchant not authorized.
        UnauthorizedAccess = "UnauthorizedAccess",
        /// Merchant account not in good standing.
        InvalidAccountStatus = "InvalidAccountStatus",
        /// Signature invalid.
        InvalidRequestSignature = "InvalidRequestSignature",
        /// Bad credentials.
        InvalidAuthentication = "InvalidAuthentication",
        /// Bad auth token.
        InvalidAuthorizationToken = "InvalidAuthorizationToken",
        /// Unknown id.
        ResourceNotFound = "ResourceNotFound",
        /// Method not supported.
        UnsupportedOperation = "UnsupportedOperation",
        /// Method not supported (alternative spelling).
        RequestNotSupported = "RequestNotSupported",
        /// Request timed out.
        RequestTimeout = "RequestTimeout",
        // --- 409/422 ---
        /// Complete amount differs from the session's.
        AmountMismatch = "AmountMismatch",
        /// Checkout session not Open.
        InvalidCheckoutSessionStatus = "InvalidCheckoutSessionStatus",
        /// Buyer canceled / payment declined in checkout.
        CheckoutSessionCanceled = "CheckoutSessionCanceled",
        /// Update Charge Permission not allowed.
        ChargePermissionNotModifiable = "ChargePermissionNotModifiable",
        /// Permission not Chargeable/closable.
        InvalidChargePermissionStatus = "InvalidChargePermissionStatus",
        /// Charge not in a state that allows the operation.
        InvalidChargeStatus = "InvalidChargeStatus",
        /// Temporary decline.
        SoftDeclined = "SoftDeclined",
        /// Permanent decline.
        HardDeclined = "HardDeclined",
        /// Method not allowed for this permission.
        PaymentMethodNotAllowed = "PaymentMethodNotAllowed",
        /// Amazon rejected the transaction.
        AmazonRejected = "AmazonRejected",
        /// Too many charges/captures/refunds.
        TransactionCountExceeded = "TransactionCountExceeded",
        /// Authorization not processed in time.
        TransactionTimedOut = "TransactionTimedOut",
        /// The buyer must complete MFA.
        MFANotCompleted = "MFANotCompleted",
        // --- 426/429/5xx ---
        /// Old TLS.
        TLSVersionNotSupported = "TLSVersionNotSupported",
        /// Throttled.
        TooManyRequests = "TooManyRequests",
        /// Throttled (alternative spelling seen in plugin maps).
        RequestThrottled = "RequestThrottled",
        /// Amazon internal error.
        InternalServerError = "InternalServerError",
        /// Internal processing error.
        ProcessingFailure = "ProcessingFailure",
        /// Temporarily unavailable.
        ServiceUnavailable = "ServiceUnavailable",
        // --- state reason codes ---
        /// Charge waits for the buyer's MFA.
        BuyerActionRequired = "BuyerActionRequired",
        /// Checkout session expired (24 h).
        Expired = "Expired",
        /// Buyer canceled.
        BuyerCanceled = "BuyerCanceled",
        /// Amazon canceled.
        AmazonCanceled = "AmazonCanceled",
        /// Payment declined in checkout.
        Declined = "Declined",
        /// Charge authorized but never captured for 30 days.
        ExpiredUnused = "ExpiredUnused",
        /// Merchant canceled the charge.
        MerchantCanceled = "MerchantCanceled",
        /// Charge canceled because its permission was closed.
        ChargePermissionCanceled = "ChargePermissionCanceled",
        /// Merchant closed the permission.
        MerchantClosed = "MerchantClosed",
        /// Buyer closed the permission on Amazon's site.
        BuyerClosed = "BuyerClosed",
        /// Amazon closed the permission.
        AmazonClosed = "AmazonClosed",
        /// Payment method invalid.
        PaymentMethodInvalid = "PaymentMethodInvalid",
        /// Payment method deleted.
        PaymentMethodDeleted = "PaymentMethodDeleted",
        /// Billing address deleted.
        BillingAddressDeleted = "BillingAddressDeleted",
        /// Payment method expired.
        PaymentMethodExpired = "PaymentMethodExpired",
        /// No payment method set.
        PaymentMethodNotSet = "PaymentMethodNotSet",
        /// Buyer failed MFA.
        MFAFailed = "MFAFailed",
        /// A charge is being processed (transient).
        ChargeInProgress = "ChargeInProgress",
    }
}

amazon_enum! {
    /// Who initiated a charge (seed: CITU, MITU, CITR, MITR).
    ChargeInitiator {
        /// Customer-initiated, unscheduled.
        Citu = "CITU",
        /// Merchant-initiated, unscheduled.
        Mitu = "MITU",
        /// Customer-initiated, first of a recurring series.
        Citr = "CITR",
        /// Merchant-initiated, recurring.
        Mitr = "MITR",
    }
}

impl ChargeInitiator {
    /// True for customer-initiated charges (the only ones that can get an MFA challenge).
    pub fn is_customer_initiated(&self) -> bool {
        matches!(self, ChargeInitiator::Citu | ChargeInitiator::Citr)
    }
}

amazon_enum! {
    /// The channel of a charge: exactly the values Amazon's Saved Wallet page lists. The page
    /// spells `Firetv` (written so), the .NET SDK `FireTv` (also parsed). The .NET SDK's
    /// `Amazon` is not on the page, so it parses as `Unknown` and is never sent.
    Channel {
        /// Desktop or mobile browser.
        Web = "Web",
        /// Phone call.
        Phone = "Phone",
        /// Mobile app.
        App = "App",
        /// Alexa.
        Alexa = "Alexa",
        /// Point of sale.
        PointOfSale = "PointOfSale",
        /// Fire TV.
        FireTv = "Firetv" | "FireTv",
        /// Buyer not present.
        Offline = "Offline",
    }
}

amazon_enum! {
    /// Kind of charge permission.
    ChargePermissionType {
        /// One-time.
        OneTime = "OneTime",
        /// Recurring.
        Recurring = "Recurring",
        /// Saved Wallet.
        PaymentMethodOnFile = "PaymentMethodOnFile",
    }
}

amazon_enum! {
    /// Checkout session payment intent.
    PaymentIntent {
        /// Only confirm (set up the wallet).
        Confirm = "Confirm",
        /// Authorize.
        Authorize = "Authorize",
        /// Authorize and capture.
        AuthorizeWithCapture = "AuthorizeWithCapture",
    }
}

amazon_enum! {
    /// Amazon Pay IPN object types (SPEC §12.4).
    IpnObjectType {
        /// A Charge Permission changed.
        ChargePermission = "CHARGE_PERMISSION",
        /// A Charge changed.
        Charge = "CHARGE",
        /// A Refund changed.
        Refund = "REFUND",
        /// A chargeback.
        Chargeback = "CHARGEBACK",
    }
}

amazon_enum! {
    /// Amazon Pay IPN notification types.
    IpnNotificationType {
        /// The object's state changed.
        StateChange = "STATE_CHANGE",
        /// An attribute (address, payment method) changed.
        AttributeChange = "ATTRIBUTE_CHANGE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_survive_a_round_trip() {
        let r: ReasonCode = serde_json::from_str("\"BrandNewCode\"").unwrap();
        assert_eq!(r, ReasonCode::Unknown("BrandNewCode".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"BrandNewCode\"");
        assert!(ReasonCode::parse_known("BrandNewCode").is_none());
    }

    #[test]
    fn every_known_value_round_trips() {
        for v in ReasonCode::KNOWN {
            assert_eq!(&ReasonCode::parse(v.as_str()), v);
        }
        for v in ChargeState::KNOWN {
            assert_eq!(&ChargeState::parse(v.as_str()), v);
        }
    }

    #[test]
    fn channel_writes_amazons_spelling_and_parses_both() {
        assert_eq!(Channel::parse("Firetv"), Channel::FireTv);
        assert_eq!(Channel::parse("FireTv"), Channel::FireTv);
        assert_eq!(Channel::FireTv.as_str(), "Firetv");
        assert_eq!(
            serde_json::to_string(&Channel::FireTv).unwrap(),
            "\"Firetv\""
        );
        // Exactly the page's list: Web, Phone, App, Alexa, PointOfSale, Firetv, Offline.
        let written: Vec<&str> = Channel::KNOWN.iter().map(Channel::as_str).collect();
        assert_eq!(
            written,
            [
                "Web",
                "Phone",
                "App",
                "Alexa",
                "PointOfSale",
                "Firetv",
                "Offline"
            ]
        );
        assert_eq!(Channel::parse("Amazon"), Channel::Unknown("Amazon".into()));
        assert_eq!(ChargeInitiator::parse("MITR"), ChargeInitiator::Mitr);
        assert!(ChargeInitiator::Citr.is_customer_initiated());
        assert!(!ChargeInitiator::Mitu.is_customer_initiated());
    }
}
