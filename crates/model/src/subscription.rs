//! Subscription kinds and statuses, and the registration states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
