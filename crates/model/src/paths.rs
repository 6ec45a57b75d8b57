//! Route templates and the `Location` of a registration.

use crate::ids::{CustomerId, SubscriptionId};

/// `POST`: register a subscription for Reserved Instance purchase.
pub const REGISTRATIONS: &str =
    "/v1/customers/{customer_id}/subscriptions/{subscription_id}/registrations";
/// `GET`: the subscription's registration status.
pub const REGISTRATION_STATUS: &str =
    "/v1/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus";
/// `POST`: activate a third-party SaaS subscription in an integration sandbox.
pub const ACTIVATE: &str = "/v1/customers/{customer_id}/subscriptions/{subscription_id}/activate";

/// The routes as Partner Center's reference documents them, with the version as a parameter
/// (`1` or `1.0`); used by the published OpenAPI description.
pub mod templates {
    /// `POST`: register a subscription.
    pub const REGISTRATIONS: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/registrations";
    /// `GET`: the registration status.
    pub const REGISTRATION_STATUS: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus";
    /// `POST`: activate a sandbox SaaS subscription.
    pub const ACTIVATE: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/activate";
}

/// The normalised path of an action on a subscription (`registrations`, `registrationstatus`,
/// `activate`): `/v1/customers/{customer}/subscriptions/{subscription}/{action}`.
#[must_use]
pub fn subscription_action(
    customer: CustomerId,
    subscription: SubscriptionId,
    action: &str,
) -> String {
    format!("/v1/customers/{customer}/subscriptions/{subscription}/{action}")
}

/// The `Location` a registration answers with: relative, without the version segment, as Partner
/// Center writes it. Clients resolve it against their base URL plus `/v1`.
#[must_use]
pub fn registration_status_location(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("/customers/{customer}/subscriptions/{subscription}/registrationstatus")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_is_relative_unversioned_and_normalised() {
        let c: CustomerId = "{C2F6E3B1-0000-4000-8000-000000000002}".parse().unwrap();
        let s: SubscriptionId = "D3A7F4C2-0000-4000-8000-000000000003".parse().unwrap();
        assert_eq!(
            registration_status_location(c, s),
            "/customers/c2f6e3b1-0000-4000-8000-000000000002/subscriptions/d3a7f4c2-0000-4000-8000-000000000003/registrationstatus"
        );
    }
}
