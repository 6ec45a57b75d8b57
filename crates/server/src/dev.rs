//! Development conveniences: HS256 tokens signed with the development secret, and the demo fixture
//! `partner-center serve --demo` seeds.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use partner_center_model::fixture::{FixtureCustomer, FixturePartner, FixtureSubscription};
use partner_center_model::{
    ClientId, CustomerId, Fixture, SubscriptionId, SubscriptionKind, SubscriptionStatus, TenantId,
};
use uuid::uuid;

use crate::config::{AuthConfig, Secret};
use crate::idp::{UserToken, app_claims, user_claims};

/// The demo sandbox partner.
pub const DEMO_PARTNER: TenantId =
    TenantId::from_uuid(uuid!("b1e5d2a0-0000-4000-8000-000000000001"));
/// The demo partner's customer.
pub const DEMO_CUSTOMER: CustomerId =
    CustomerId::from_uuid(uuid!("c2f6e3b1-0000-4000-8000-000000000002"));
/// The demo customer's active Azure plan (registrable).
pub const DEMO_AZURE_PLAN: SubscriptionId =
    SubscriptionId::from_uuid(uuid!("d3a7f4c2-0000-4000-8000-000000000003"));
/// The demo customer's pending SaaS subscription (activatable).
pub const DEMO_SAAS: SubscriptionId =
    SubscriptionId::from_uuid(uuid!("e4b8a5d3-0000-4000-8000-000000000004"));

/// The demo fixture: one sandbox partner, one customer, an `azurePlan` and a `saas` subscription,
/// and the built-in sandbox catalog.
#[must_use]
pub fn demo_fixture() -> Fixture {
    Fixture {
        partners: vec![FixturePartner {
            applications: vec![],
            tenant_id: DEMO_PARTNER,
            name: "Contoso Sandbox".into(),
            sandbox: true,
            customers: vec![FixtureCustomer {
                id: DEMO_CUSTOMER,
                company_name: "Fabrikam".into(),
                domain: None,
                subscriptions: vec![
                    FixtureSubscription {
                        id: DEMO_AZURE_PLAN,
                        kind: SubscriptionKind::AzurePlan,
                        status: SubscriptionStatus::Active,
                        offer_name: "Azure plan".into(),
                        offer_id: None,
                        friendly_name: None,
                        quantity: None,
                    },
                    FixtureSubscription {
                        id: DEMO_SAAS,
                        kind: SubscriptionKind::Saas,
                        status: SubscriptionStatus::Pending,
                        offer_name: "Contoso SaaS".into(),
                        offer_id: None,
                        friendly_name: None,
                        quantity: None,
                    },
                ],
            }],
        }],
        catalog: Some(
            partner_center_domain::catalog::Catalog::builtin()
                .items()
                .to_vec(),
        ),
    }
}

/// A random development secret (256 bits, hexadecimal).
#[must_use]
pub fn random_secret() -> Secret {
    Secret::new(format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    ))
}

/// The application id of development tokens.
pub const DEV_CLIENT: ClientId = ClientId::from_uuid(uuid!("0de0de0d-0000-4000-8000-000000000001"));

fn sign_hs256(
    secret: &Secret,
    claims: &serde_json::Value,
) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
}

fn dev_issuer(tenant: TenantId) -> String {
    AuthConfig::ISSUERS[0].replace("{tid}", &tenant.to_string())
}

/// An App-only token for `tenant`, signed with the development secret (HS256), shaped like an Entra
/// ID token for the Partner Center API, valid for `lifetime`.
///
/// # Errors
///
/// When signing fails.
pub fn dev_token(
    secret: &Secret,
    tenant: TenantId,
    lifetime: Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    sign_hs256(
        secret,
        &app_claims(&dev_issuer(tenant), tenant, DEV_CLIENT, lifetime),
    )
}

/// An App+User token for `tenant`, signed with the development secret (HS256).
///
/// # Errors
///
/// When signing fails.
pub fn dev_user_token(
    secret: &Secret,
    tenant: TenantId,
    user: &UserToken,
) -> Result<String, jsonwebtoken::errors::Error> {
    sign_hs256(secret, &user_claims(&dev_issuer(tenant), tenant, user))
}
