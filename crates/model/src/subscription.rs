//! Subscription kinds and statuses, and the registration states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::collection::Link;
use crate::ids::SubscriptionId;
use crate::resources::ResourceAttributes;

/// A value that is not one of an enumeration's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of: {expected}")]
pub struct UnknownVariant {
    what: &'static str,
    value: String,
    expected: &'static str,
}

/// Declares a closed string enumeration with its wire names, `as_str`, `FromStr`, `Display` and serde.
macro_rules! wire_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $what:literal, case_insensitive = $ci:literal {
            $($(#[$vdoc:meta])* $variant:ident => $wire:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The wire (and storage) name.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(
                    if s == $wire || ($ci && s.eq_ignore_ascii_case($wire)) {
                        return Ok(Self::$variant);
                    }
                )+
                Err(UnknownVariant {
                    what: $what,
                    value: s.to_owned(),
                    expected: concat!($("`", $wire, "` "),+),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

wire_enum!(
    /// What a subscription is (which kinds may be registered or activated is the domain core's
    /// rule).
    SubscriptionKind, "subscription kind", case_insensitive = true {
        /// A legacy CSP Azure subscription (offer MS-AZR-0145P).
        Azure => "azure",
        /// An Azure plan subscription.
        AzurePlan => "azurePlan",
        /// A third-party commercial-marketplace SaaS subscription.
        Saas => "saas",
        /// A license-based subscription (Microsoft 365 and the like).
        License => "license",
        /// An Azure reservation, made by a reservation purchase.
        Reservation => "reservation",
    }
);

wire_enum!(
    /// A subscription's lifecycle status.
    SubscriptionStatus, "subscription status", case_insensitive = true {
        /// In use.
        Active => "active",
        /// Bought but not yet activated (a SaaS subscription awaiting activation).
        Pending => "pending",
        /// Suspended by the partner or for non-payment.
        Suspended => "suspended",
        /// Cancelled.
        Deleted => "deleted",
        /// Past its term.
        Expired => "expired",
        /// Disabled by Microsoft.
        Disabled => "disabled",
    }
);

wire_enum!(
    /// Where a subscription stands in its registration for Reserved Instance purchase: the one
    /// spelling of the registration state, used by the service's domain rules, both stores and the
    /// wire. PascalCase, as Partner Center's only wire example writes it; read in any case (the
    /// reference documentation spells the values in lower case).
    RegistrationState, "registration state", case_insensitive = true {
        /// No registration was ever accepted for the subscription (or the last one failed).
        NotRegistered => "NotRegistered",
        /// A registration was accepted and is being completed.
        Registering => "Registering",
        /// The subscription is registered.
        Registered => "Registered",
    }
);

wire_enum!(
    /// How one accepted registration ends: decided when it is accepted (a fault rule may make it
    /// fail), recorded when it is settled.
    RegistrationEnding, "registration ending", case_insensitive = false {
        /// It completes: the subscription becomes `Registered`.
        Registered => "Registered",
        /// It fails: the subscription goes back to `NotRegistered`.
        Failed => "Failed",
    }
);

impl RegistrationEnding {
    /// The state the subscription is left in.
    #[must_use]
    pub const fn state(self) -> RegistrationState {
        match self {
            Self::Registered => RegistrationState::Registered,
            Self::Failed => RegistrationState::NotRegistered,
        }
    }
}

/// A registration status as read off the wire: a [`RegistrationState`], or a value this version
/// does not know, kept as it was received rather than refused (as clients of a service that may
/// grow new states must be). The service itself only ever writes a [`RegistrationState`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RegistrationStatus {
    /// [`RegistrationState::NotRegistered`].
    NotRegistered,
    /// [`RegistrationState::Registering`].
    Registering,
    /// [`RegistrationState::Registered`].
    Registered,
    /// A value this version does not know, as it was received.
    Unknown(String),
}

impl RegistrationStatus {
    /// The known state, if it is one.
    #[must_use]
    pub const fn state(&self) -> Option<RegistrationState> {
        match self {
            Self::NotRegistered => Some(RegistrationState::NotRegistered),
            Self::Registering => Some(RegistrationState::Registering),
            Self::Registered => Some(RegistrationState::Registered),
            Self::Unknown(_) => None,
        }
    }

    /// The wire name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match (self.state(), self) {
            (Some(state), _) => state.as_str(),
            (None, Self::Unknown(value)) => value,
            (None, _) => "",
        }
    }

    /// Reads a value from the wire: any case; an unknown value is kept.
    #[must_use]
    pub fn parse_lenient(value: &str) -> Self {
        value
            .parse::<RegistrationState>()
            .map_or_else(|_| Self::Unknown(value.to_owned()), Self::from)
    }
}

impl From<RegistrationState> for RegistrationStatus {
    fn from(state: RegistrationState) -> Self {
        match state {
            RegistrationState::NotRegistered => Self::NotRegistered,
            RegistrationState::Registering => Self::Registering,
            RegistrationState::Registered => Self::Registered,
        }
    }
}

impl PartialEq<RegistrationState> for RegistrationStatus {
    fn eq(&self, other: &RegistrationState) -> bool {
        self.state() == Some(*other)
    }
}

/// Lenient, as [`RegistrationStatus::parse_lenient`]: never fails.
impl FromStr for RegistrationStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse_lenient(s))
    }
}

impl fmt::Display for RegistrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RegistrationStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegistrationStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Self::parse_lenient(&s))
    }
}

/// A customer's subscription, as `GET .../subscriptions/{id}` answers it.
///
/// ```json
/// {"id": "<sid>", "offerId": "MS-AZR-0145P", "offerName": "Microsoft Azure", "friendlyName": "Microsoft Azure",
///  "quantity": 1, "unitType": "Usage-based", "creationDate": "2026-11-25T10:00:00.000Z",
///  "effectiveStartDate": "2026-11-25T00:00:00.000Z", "commitmentEndDate": "9999-12-31T00:00:00.000Z",
///  "status": "active", "autoRenewEnabled": false, "billingType": "usage", "billingCycle": "monthly",
///  "termDuration": "P1M", "isTrial": false, "contractType": "subscription", "orderId": "<when bought>",
///  "links": {"self": {"uri": "/customers/<cid>/subscriptions/<sid>", "method": "GET", "headers": []}},
///  "attributes": {"objectType": "Subscription"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// What was bought: an offer id (`MS-AZR-0145P`) or a catalog item (`PRODUCT:SKU:AVAILABILITY`).
    pub offer_id: String,
    /// The offer's name.
    pub offer_name: String,
    /// The name the partner gave it.
    pub friendly_name: String,
    /// How many (licenses, reservation instances).
    pub quantity: u32,
    /// `Usage-based`, `Licenses`, `License(s)`, `Benefit`.
    pub unit_type: String,
    /// When it was created (RFC 3339).
    pub creation_date: String,
    /// When its term started (midnight UTC).
    pub effective_start_date: String,
    /// When its commitment ends (`9999-12-31` for usage-based subscriptions).
    pub commitment_end_date: String,
    /// Its status, lower case.
    pub status: SubscriptionStatus,
    /// Whether it renews by itself.
    pub auto_renew_enabled: bool,
    /// `usage`, `license` or `none`.
    pub billing_type: String,
    /// `monthly`, `one_time`, ...
    pub billing_cycle: String,
    /// `P1M`, `P1Y`, `P3Y`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    /// Whether it is a trial.
    pub is_trial: bool,
    /// `subscription`.
    pub contract_type: String,
    /// The order that created it, when it was bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Where it is, and (a SaaS subscription awaiting activation) its activation links.
    pub links: SubscriptionLinks,
    /// `{"objectType":"Subscription"}`.
    pub attributes: ResourceAttributes,
}

impl Subscription {
    /// The resource type name (the XML root element, and the item name in collections).
    pub const OBJECT_TYPE: &'static str = "Subscription";
}

/// A subscription's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionLinks {
    /// Where it is.
    #[serde(rename = "self")]
    pub self_link: Link,
    /// Where its activation links are (a SaaS subscription awaiting activation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_links: Option<Link>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_use_the_fixture_names() {
        assert_eq!(
            serde_json::to_string(&SubscriptionKind::AzurePlan).unwrap(),
            "\"azurePlan\""
        );
    }

    #[test]
    fn registration_status_writes_pascal_case_and_reads_any_case_and_unknown_values() {
        assert_eq!(
            serde_json::to_string(&RegistrationStatus::NotRegistered).unwrap(),
            "\"NotRegistered\""
        );
        assert_eq!(
            "notregistered".parse(),
            Ok(RegistrationState::NotRegistered)
        );
        assert_eq!("REGISTERED".parse(), Ok(RegistrationState::Registered));
        assert!(
            "Unregistering".parse::<RegistrationState>().is_err(),
            "FromStr is strict"
        );
        assert_eq!(
            RegistrationStatus::parse_lenient("registered"),
            RegistrationState::Registered
        );
        let unknown: RegistrationStatus = serde_json::from_str("\"Unregistering\"").unwrap();
        assert_eq!(unknown, RegistrationStatus::Unknown("Unregistering".into()));
        assert_eq!(
            serde_json::to_string(&unknown).unwrap(),
            "\"Unregistering\""
        );
        let lower: RegistrationStatus = serde_json::from_str("\"registering\"").unwrap();
        assert_eq!(lower, RegistrationStatus::Registering);
    }

    #[test]
    fn unknown_values_name_the_expected_ones() {
        let err = "paused"
            .parse::<SubscriptionStatus>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`paused`") && err.contains("`active`"),
            "{err}"
        );
    }
}
