//! The seed fixture: partners, their customers and subscriptions, as JSON.
//!
//! ```json
//! {"partners": [{"tenantId": "...", "name": "Contoso CSP", "sandbox": true,
//!   "customers": [{"id": "...", "companyName": "Fabrikam",
//!     "subscriptions": [{"id": "...", "kind": "azurePlan", "status": "active", "offerName": "Azure plan"}]}]}]}
//! ```
//!
//! Unknown fields are rejected so that a misspelt field is an error rather than silently ignored.

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogItem;
use crate::ids::{ClientId, CustomerId, SubscriptionId, TenantId};
use crate::subscription::{SubscriptionKind, SubscriptionStatus};

/// A whole fixture.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// The partners to create or update.
    #[serde(default)]
    pub partners: Vec<FixturePartner>,
    /// The catalog, when the fixture declares one: it replaces the catalog the service offers
    /// (without one, the service keeps what it has, or its built-in sandbox catalog).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::catalog::deserialize_checked"
    )]
    pub catalog: Option<Vec<CatalogItem>>,
}

/// A partner: the tenant whose tokens (`tid`) the service accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixturePartner {
    /// The partner's Entra tenant id.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Whether the account is an integration sandbox (required to activate SaaS subscriptions).
    #[serde(default)]
    pub sandbox: bool,
    /// The partner's customers.
    #[serde(default)]
    pub customers: Vec<FixtureCustomer>,
    /// Applications that may obtain tokens for this partner from the built-in identity provider
    /// (client credentials).
    #[serde(default)]
    pub applications: Vec<FixtureApplication>,
}

/// An application registered in a partner's tenant, for the built-in identity provider.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureApplication {
    /// The application (client) id.
    pub client_id: ClientId,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The client secret. Stored hashed; never logged.
    pub client_secret: String,
}

impl std::fmt::Debug for FixtureApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixtureApplication")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("client_secret", &"***")
            .finish()
    }
}

/// A customer of a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureCustomer {
    /// The customer's Entra tenant id.
    pub id: CustomerId,
    /// Display name.
    #[serde(default)]
    pub company_name: String,
    /// Its domain (`fabrikam.onmicrosoft.com`); when absent, one is derived from the company name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The customer's subscriptions.
    #[serde(default)]
    pub subscriptions: Vec<FixtureSubscription>,
}

/// A subscription of a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixtureSubscription {
    /// The Partner Center subscription id.
    pub id: SubscriptionId,
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its status when first created.
    pub status: SubscriptionStatus,
    /// The offer's display name (when empty, the kind's).
    #[serde(default)]
    pub offer_name: String,
    /// The offer or catalog item (when absent, the kind's: `MS-AZR-0145P` for `azure`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    /// The name the partner gave it (when absent, the offer's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// How many (at least 1; 1 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<std::num::NonZeroU32>,
}

impl FixtureSubscription {
    /// A subscription of `kind` in `status`, with nothing else said: every other field takes its
    /// default.
    #[must_use]
    pub fn new(id: SubscriptionId, kind: SubscriptionKind, status: SubscriptionStatus) -> Self {
        Self {
            id,
            kind,
            status,
            offer_name: String::new(),
            offer_id: None,
            friendly_name: None,
            quantity: None,
        }
    }

    /// Its quantity: 1 unless the fixture says otherwise.
    #[must_use]
    pub fn quantity(&self) -> u32 {
        self.quantity.map_or(1, std::num::NonZeroU32::get)
    }
}

impl Fixture {
    /// Parses a fixture from JSON.
    ///
    /// # Errors
    ///
    /// The JSON error, with the line and column of the first problem.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT_EXAMPLE: &str = r#"{
      "partners": [
        {
          "tenantId": "b1e5d2a0-0000-4000-8000-000000000001",
          "name": "Contoso CSP",
          "sandbox": true,
          "customers": [
            {
              "id": "c2f6e3b1-0000-4000-8000-000000000002",
              "companyName": "Fabrikam",
              "subscriptions": [
                { "id": "d3a7f4c2-0000-4000-8000-000000000003", "kind": "azurePlan", "status": "active", "offerName": "Azure plan" },
                { "id": "e4b8a5d3-0000-4000-8000-000000000004", "kind": "saas", "status": "pending", "offerName": "Contoso SaaS" }
              ]
            }
          ]
        }
      ]
    }"#;

    #[test]
    fn parses_the_contract_example() {
        let fixture = Fixture::from_json(CONTRACT_EXAMPLE).unwrap();
        let partner = &fixture.partners[0];
        assert!(partner.sandbox);
        let subs = &partner.customers[0].subscriptions;
        assert_eq!(subs[0].kind, SubscriptionKind::AzurePlan);
        assert_eq!(subs[1].status, SubscriptionStatus::Pending);
    }

    #[test]
    fn applications_are_read_and_their_secrets_never_printed() {
        let fixture = Fixture::from_json(r#"{"partners":[{"tenantId":"b1e5d2a0-0000-4000-8000-000000000001","name":"x",
            "applications":[{"clientId":"f1f1f1f1-0000-4000-8000-000000000001","name":"ci","clientSecret":"hunter2"}]}]}"#)
        .unwrap();
        let app = &fixture.partners[0].applications[0];
        assert_eq!(app.client_secret, "hunter2");
        assert!(!format!("{fixture:?}").contains("hunter2"));
    }

    #[test]
    fn rejects_misspelt_fields_and_unknown_kinds_with_a_position() {
        let err = Fixture::from_json(r#"{"partners":[{"tenantId":"b1e5d2a0-0000-4000-8000-000000000001","name":"x","sandbx":true}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sandbx") && err.contains("column"), "{err}");
        let err = Fixture::from_json(r#"{"partners":[{"tenantId":"b1e5d2a0-0000-4000-8000-000000000001","name":"x","customers":[{"id":"c2f6e3b1-0000-4000-8000-000000000002","subscriptions":[{"id":"d3a7f4c2-0000-4000-8000-000000000003","kind":"vm","status":"active"}]}]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`vm`") && err.contains("azurePlan"), "{err}");
    }
}
