//! Response bodies of the three routes.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::SubscriptionId;
use crate::subscription::RegistrationStatus;

/// The `attributes` object every Partner Center resource carries (`ResourceAttributes` in the SDKs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceAttributes {
    /// The resource's entity tag; absent on these resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The resource type's name.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "SubscriptionRegistrationStatus")
    )]
    pub object_type: String,
}

impl ResourceAttributes {
    /// The attributes of a resource of type `object_type`, without an etag.
    #[must_use]
    pub fn of(object_type: &str) -> Self {
        Self {
            etag: None,
            object_type: object_type.to_owned(),
        }
    }
}

/// Body of `GET .../registrationstatus`, and of `POST .../registrations` once registered.
///
/// ```json
/// {"subscriptionId":"<sid>","status":"Registered","attributes":{"objectType":"SubscriptionRegistrationStatus"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRegistrationStatus {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// Where its registration stands.
    pub status: RegistrationStatus,
    /// `{"objectType":"SubscriptionRegistrationStatus"}`.
    pub attributes: ResourceAttributes,
}

impl SubscriptionRegistrationStatus {
    /// The resource type name written in `attributes.objectType` (and the XML root element).
    pub const OBJECT_TYPE: &'static str = "SubscriptionRegistrationStatus";

    /// The status of `subscription_id`, with the attributes Partner Center writes.
    #[must_use]
    pub fn new(subscription_id: SubscriptionId, status: RegistrationStatus) -> Self {
        Self {
            subscription_id,
            status,
            attributes: ResourceAttributes {
                etag: None,
                object_type: Self::OBJECT_TYPE.to_owned(),
            },
        }
    }
}

/// The outcome of an activation; Partner Center documents only `Success`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActivationStatus {
    /// The subscription was activated.
    Success,
    /// A value this version does not know; kept as sent, since the SDKs type it as a plain string.
    Other(String),
}

impl ActivationStatus {
    /// The wire form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "Success",
            Self::Other(other) => other,
        }
    }
}

impl fmt::Display for ActivationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActivationStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActivationStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(if s.eq_ignore_ascii_case("Success") {
            Self::Success
        } else {
            Self::Other(s.into_owned())
        })
    }
}

/// Body of `POST .../activate`. Unlike the registration status it has no `attributes`: the SDKs'
/// `SubscriptionActivationResult` does not derive from `ResourceBase`.
///
/// ```json
/// {"subscriptionId":"<sid>","status":"Success"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionActivationResult {
    /// The subscription.
    pub subscription_id: SubscriptionId,
    /// `Success`.
    pub status: ActivationStatus,
}

impl SubscriptionActivationResult {
    /// The resource type name (the XML root element).
    pub const OBJECT_TYPE: &'static str = "SubscriptionActivationResult";
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "d3a7f4c2-0000-4000-8000-000000000003";

    #[test]
    fn registration_status_has_the_exact_contract_json() {
        let body = SubscriptionRegistrationStatus::new(
            SID.parse().unwrap(),
            RegistrationStatus::NotRegistered,
        );
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            format!(
                r#"{{"subscriptionId":"{SID}","status":"NotRegistered","attributes":{{"objectType":"SubscriptionRegistrationStatus"}}}}"#
            )
        );
    }

    #[test]
    fn activation_result_has_the_exact_contract_json_and_no_attributes() {
        let body = SubscriptionActivationResult {
            subscription_id: SID.parse().unwrap(),
            status: ActivationStatus::Success,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            format!(r#"{{"subscriptionId":"{SID}","status":"Success"}}"#)
        );
        let other: SubscriptionActivationResult = serde_json::from_str(&format!(
            r#"{{"subscriptionId":"{SID}","status":"Pending"}}"#
        ))
        .unwrap();
        assert_eq!(other.status, ActivationStatus::Other("Pending".into()));
    }
}
