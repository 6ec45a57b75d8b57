//! What applying a fixture changes.
//!
//! A fixture creates what it declares and is missing, and brings the descriptive fields of what
//! exists in line with it: a partner's name and sandbox flag, an application's name and secret, a
//! customer's company name and domain, a subscription's kind, offer name, offer id, friendly name
//! and quantity. A subscription's status is set
//! only when the fixture creates it, and its registration is never touched, so that re-applying a
//! fixture at every start keeps what clients did (activations, registrations). What already
//! matches is left alone: applying the same fixture twice changes nothing. A fixture that declares
//! a catalog replaces the catalog (one change); one that declares none leaves it as it is.

use crate::change::{ApplicationValues, SubscriptionValues};
use std::collections::HashMap;

use partner_center_model::catalog::CatalogItem;
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, Fixture, SubscriptionKind, SubscriptionStatus, TenantId, Timestamp,
};

use crate::{Change, CustomerKey, Decision, Partner, SubscriptionKey};

/// How much of a fixture was applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Partners in the fixture.
    pub partners: u64,
    /// Customers in the fixture.
    pub customers: u64,
    /// Subscriptions in the fixture.
    pub subscriptions: u64,
    /// Rows created or changed; zero when the fixture was already applied.
    pub changed: u64,
}

/// What an existing subscription's descriptive fields are, and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingSubscription {
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its status.
    pub status: SubscriptionStatus,
    /// The offer's display name.
    pub offer_name: String,
    /// The offer or catalog item, if it has its own.
    pub offer_id: Option<String>,
    /// The name the partner gave it, if any.
    pub friendly_name: Option<String>,
    /// How many.
    pub quantity: u32,
}

/// What an existing customer's descriptive fields are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingCustomer {
    /// Its company name.
    pub company_name: String,
    /// Its domain, if it was given one.
    pub domain: Option<String>,
}

/// A stored application of the built-in identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApplication {
    /// Display name.
    pub name: String,
    /// The client secret's hash.
    pub secret_hash: String,
}

/// What the store holds of what a fixture names, loaded (in the write's transaction) before
/// deciding. What is absent does not exist.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// The fixture's partners that exist.
    pub partners: HashMap<TenantId, Partner>,
    /// The fixture's applications that exist.
    pub applications: HashMap<(TenantId, ClientId), StoredApplication>,
    /// The fixture's customers that exist.
    pub customers: HashMap<CustomerKey, ExistingCustomer>,
    /// Every subscription of the fixture's customers.
    pub subscriptions: HashMap<SubscriptionKey, ExistingSubscription>,
    /// The catalog the store holds (empty: the built-in one is offered).
    pub catalog: Vec<CatalogItem>,
}

/// A fixture application's secret, checked and hashed before the write (PBKDF2 is slow by design,
/// so it never runs inside a write transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedSecret {
    /// The stored hash the fixture's secret was found to match, if it matched the one stored then.
    pub matched: Option<String>,
    /// A fresh hash of the fixture's secret, written if the application changes.
    pub hash: String,
}

/// The partners a fixture names.
pub fn partners(fixture: &Fixture) -> impl Iterator<Item = TenantId> + '_ {
    fixture.partners.iter().map(|p| p.tenant_id)
}

/// The applications a fixture names, with their secrets.
pub fn applications(fixture: &Fixture) -> impl Iterator<Item = ((TenantId, ClientId), &str)> + '_ {
    fixture.partners.iter().flat_map(|p| {
        p.applications
            .iter()
            .map(|a| ((p.tenant_id, a.client_id), a.client_secret.as_str()))
    })
}

/// The customers a fixture names.
pub fn customers(fixture: &Fixture) -> impl Iterator<Item = CustomerKey> + '_ {
    fixture.partners.iter().flat_map(|p| {
        p.customers.iter().map(|c| CustomerKey {
            partner: p.tenant_id,
            customer: c.id,
        })
    })
}

/// What applying `fixture` at `now` changes, given what exists and the checked secrets of its
/// applications (an application missing from `secrets` is written as if its secret changed, with
/// an empty hash: give every one).
pub fn apply(
    fixture: &Fixture,
    mut existing: Existing,
    secrets: &HashMap<(TenantId, ClientId), CheckedSecret>,
    now: Timestamp,
) -> Decision<SeedReport> {
    let mut report = SeedReport::default();
    let mut changes = Vec::new();
    if let Some(catalog) = &fixture.catalog
        && *catalog != existing.catalog
    {
        existing.catalog.clone_from(catalog);
        changes.push(Change::CatalogReplaced(catalog.clone()));
    }
    for partner in &fixture.partners {
        report.partners += 1;
        let tenant = partner.tenant_id;
        let wanted = Partner {
            tenant_id: tenant,
            name: partner.name.clone(),
            sandbox: partner.sandbox,
        };
        if existing.partners.get(&tenant) != Some(&wanted) {
            existing.partners.insert(tenant, wanted.clone());
            changes.push(Change::PartnerPut {
                partner: wanted,
                at: now,
            });
        }
        for application in &partner.applications {
            let id = (tenant, application.client_id);
            let checked = secrets.get(&id);
            let unchanged = existing.applications.get(&id).is_some_and(|stored| {
                stored.name == application.name
                    && checked.and_then(|c| c.matched.as_ref()) == Some(&stored.secret_hash)
            });
            if !unchanged {
                let secret_hash = checked.map(|c| c.hash.clone()).unwrap_or_default();
                existing.applications.insert(
                    id,
                    StoredApplication {
                        name: application.name.clone(),
                        secret_hash: secret_hash.clone(),
                    },
                );
                changes.push(Change::ApplicationPut(ApplicationValues {
                    tenant,
                    client_id: application.client_id,
                    name: application.name.clone(),
                    secret_hash,
                    at: now,
                }));
            }
        }
        for customer in &partner.customers {
            report.customers += 1;
            let key = CustomerKey {
                partner: tenant,
                customer: customer.id,
            };
            let wanted = ExistingCustomer {
                company_name: customer.company_name.clone(),
                domain: customer.domain.clone(),
            };
            if existing.customers.get(&key) != Some(&wanted) {
                existing.customers.insert(key, wanted);
                changes.push(Change::CustomerPut {
                    key,
                    company_name: customer.company_name.clone(),
                    domain: customer.domain.clone(),
                    at: now,
                });
            }
            for subscription in &customer.subscriptions {
                report.subscriptions += 1;
                let key = SubscriptionKey {
                    partner: tenant,
                    customer: customer.id,
                    subscription: subscription.id,
                };
                if let Some(change) = subscription_change(&mut existing, key, subscription, now) {
                    changes.push(change);
                }
            }
        }
    }
    report.changed = u64::try_from(changes.len()).unwrap_or(u64::MAX);
    Decision {
        outcome: report,
        changes,
    }
}

/// A new subscription takes the fixture's status; an existing one keeps its own.
fn subscription_change(
    existing: &mut Existing,
    key: SubscriptionKey,
    spec: &FixtureSubscription,
    now: Timestamp,
) -> Option<Change> {
    let status = existing
        .subscriptions
        .get(&key)
        .map_or(spec.status, |stored| stored.status);
    let wanted = ExistingSubscription {
        kind: spec.kind,
        status,
        offer_name: spec.offer_name.clone(),
        offer_id: spec.offer_id.clone(),
        friendly_name: spec.friendly_name.clone(),
        quantity: spec.quantity(),
    };
    if existing.subscriptions.get(&key) == Some(&wanted) {
        return None;
    }
    existing.subscriptions.insert(key, wanted);
    Some(Change::SubscriptionPut(SubscriptionValues {
        key,
        kind: spec.kind,
        status,
        offer_name: spec.offer_name.clone(),
        offer_id: spec.offer_id.clone(),
        friendly_name: spec.friendly_name.clone(),
        quantity: spec.quantity(),
        order_id: None,
        term_duration: None,
        at: now,
    }))
}

#[cfg(test)]
mod tests {
    use partner_center_model::fixture::{FixtureApplication, FixtureCustomer, FixturePartner};

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);
    const PARTNER: &str = "b1e5d2a0-0000-4000-8000-000000000001";
    const CLIENT: &str = "f1f1f1f1-0000-4000-8000-000000000001";

    fn fixture() -> Fixture {
        Fixture {
            partners: vec![FixturePartner {
                tenant_id: PARTNER.parse().unwrap(),
                name: "Contoso".into(),
                sandbox: true,
                applications: vec![FixtureApplication {
                    client_id: CLIENT.parse().unwrap(),
                    name: "ci".into(),
                    client_secret: "s3cret".into(),
                }],
                customers: vec![FixtureCustomer {
                    id: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
                    company_name: "Fabrikam".into(),
                    domain: None,
                    subscriptions: vec![
                        FixtureSubscription {
                            offer_name: "Azure plan".into(),
                            ..FixtureSubscription::new(
                                "d3a7f4c2-0000-4000-8000-000000000003".parse().unwrap(),
                                SubscriptionKind::AzurePlan,
                                SubscriptionStatus::Active,
                            )
                        },
                        FixtureSubscription {
                            offer_name: "SaaS".into(),
                            ..FixtureSubscription::new(
                                "e4b8a5d3-0000-4000-8000-000000000004".parse().unwrap(),
                                SubscriptionKind::Saas,
                                SubscriptionStatus::Pending,
                            )
                        },
                    ],
                }],
            }],
            catalog: None,
        }
    }

    /// What a store holds after `changes`: the test's model of persisting them.
    fn persist(existing: &mut Existing, changes: &[Change]) {
        for change in changes {
            match change {
                Change::PartnerPut { partner, .. } => {
                    existing.partners.insert(partner.tenant_id, partner.clone());
                }
                Change::ApplicationPut(application) => {
                    existing.applications.insert(
                        (application.tenant, application.client_id),
                        StoredApplication {
                            name: application.name.clone(),
                            secret_hash: application.secret_hash.clone(),
                        },
                    );
                }
                Change::CustomerPut {
                    key,
                    company_name,
                    domain,
                    ..
                } => {
                    existing.customers.insert(
                        *key,
                        ExistingCustomer {
                            company_name: company_name.clone(),
                            domain: domain.clone(),
                        },
                    );
                }
                Change::SubscriptionPut(values) => {
                    existing.subscriptions.insert(
                        values.key,
                        ExistingSubscription {
                            kind: values.kind,
                            status: values.status,
                            offer_name: values.offer_name.clone(),
                            offer_id: values.offer_id.clone(),
                            friendly_name: values.friendly_name.clone(),
                            quantity: values.quantity,
                        },
                    );
                }
                Change::CatalogReplaced(items) => existing.catalog.clone_from(items),
                other => panic!("a fixture does not {other:?}"),
            }
        }
    }

    /// The secrets as the store checks them: `stored` hashes verify a secret when they are
    /// `hash:<secret>` (the test's stand-in for PBKDF2).
    fn checked(
        fixture: &Fixture,
        existing: &Existing,
    ) -> HashMap<(TenantId, ClientId), CheckedSecret> {
        applications(fixture)
            .map(|(id, secret)| {
                let hash = format!("hash:{secret}");
                let matched = existing
                    .applications
                    .get(&id)
                    .map(|stored| stored.secret_hash.clone())
                    .filter(|stored| *stored == hash);
                (id, CheckedSecret { matched, hash })
            })
            .collect()
    }

    fn apply_to(existing: &mut Existing, fixture: &Fixture) -> SeedReport {
        let secrets = checked(fixture, existing);
        let decision = apply(fixture, existing.clone(), &secrets, NOW);
        assert_eq!(decision.outcome.changed, decision.changes.len() as u64);
        persist(existing, &decision.changes);
        decision.outcome
    }

    #[test]
    fn a_fixture_creates_everything_once_and_then_nothing() {
        let mut store = Existing::default();
        let first = apply_to(&mut store, &fixture());
        assert_eq!(
            first,
            SeedReport {
                partners: 1,
                customers: 1,
                subscriptions: 2,
                changed: 1 + 1 + 1 + 2,
            }
        );
        assert_eq!(
            store.applications.values().next().unwrap().secret_hash,
            "hash:s3cret"
        );
        let second = apply_to(&mut store, &fixture());
        assert_eq!(second.changed, 0, "applying twice changes nothing");
    }

    #[test]
    fn descriptions_follow_the_fixture_and_statuses_stay_as_clients_left_them() {
        let mut store = Existing::default();
        apply_to(&mut store, &fixture());
        let saas = fixture().partners[0].customers[0].subscriptions[1].id;
        let saas_key = SubscriptionKey {
            partner: PARTNER.parse().unwrap(),
            customer: fixture().partners[0].customers[0].id,
            subscription: saas,
        };
        // A client activated the SaaS subscription.
        store.subscriptions.get_mut(&saas_key).unwrap().status = SubscriptionStatus::Active;

        let mut changed = fixture();
        changed.partners[0].sandbox = false;
        changed.partners[0].customers[0].company_name = "Fabrikam Ltd".into();
        changed.partners[0].customers[0].subscriptions[1].offer_name = "Renamed".into();
        changed.partners[0].customers[0].subscriptions[1].kind = SubscriptionKind::License;
        let report = apply_to(&mut store, &changed);
        assert_eq!(report.changed, 3, "partner, customer, one subscription");
        // The other descriptive fields are followed too, one change each.
        let mut described = changed.clone();
        described.partners[0].customers[0].domain = Some("fabrikam.example.com".into());
        described.partners[0].customers[0].subscriptions[0].offer_id = Some("MS-AZR-0145P".into());
        described.partners[0].customers[0].subscriptions[0].friendly_name = Some("Dev".into());
        described.partners[0].customers[0].subscriptions[1].quantity = std::num::NonZeroU32::new(5);
        assert_eq!(apply_to(&mut store, &described).changed, 3);
        let plan = &store.subscriptions[&SubscriptionKey {
            subscription: fixture().partners[0].customers[0].subscriptions[0].id,
            ..saas_key
        }];
        assert_eq!(
            (plan.offer_id.as_deref(), plan.friendly_name.as_deref()),
            (Some("MS-AZR-0145P"), Some("Dev"))
        );
        assert_eq!(store.subscriptions[&saas_key].quantity, 5);
        assert_eq!(
            store.customers[&saas_key.customer_key()].domain.as_deref(),
            Some("fabrikam.example.com")
        );
        let changed = described;
        let saas = &store.subscriptions[&saas_key];
        assert_eq!(
            (saas.kind, saas.status, saas.offer_name.as_str()),
            (
                SubscriptionKind::License,
                SubscriptionStatus::Active,
                "Renamed"
            ),
            "the kind and name change, the status a client set stays"
        );
        // A status the fixture changes on an existing subscription is not applied.
        let mut status_only = changed.clone();
        status_only.partners[0].customers[0].subscriptions[0].status =
            SubscriptionStatus::Suspended;
        assert_eq!(apply_to(&mut store, &status_only).changed, 0);
    }

    #[test]
    fn an_application_is_rewritten_only_when_its_name_or_secret_changes() {
        let mut store = Existing::default();
        apply_to(&mut store, &fixture());
        let mut renamed = fixture();
        renamed.partners[0].applications[0].name = "ci-2".into();
        assert_eq!(apply_to(&mut store, &renamed).changed, 1);
        let mut new_secret = renamed.clone();
        new_secret.partners[0].applications[0].client_secret = "rotated".into();
        assert_eq!(apply_to(&mut store, &new_secret).changed, 1);
        assert_eq!(
            store.applications.values().next().unwrap().secret_hash,
            "hash:rotated"
        );
        assert_eq!(apply_to(&mut store, &new_secret).changed, 0);
        // A secret whose check found another hash than the one stored now (it changed between the
        // check and the write) is written again.
        let id = (PARTNER.parse().unwrap(), CLIENT.parse().unwrap());
        let stale = HashMap::from([(
            id,
            CheckedSecret {
                matched: Some("hash:older".into()),
                hash: "hash:rotated".into(),
            },
        )]);
        let decision = apply(&new_secret, store.clone(), &stale, NOW);
        assert_eq!(decision.outcome.changed, 1);
    }

    #[test]
    fn a_fixture_naming_one_subscription_twice_counts_what_it_changes() {
        let mut twice = fixture();
        let first = twice.partners[0].customers[0].subscriptions[0].clone();
        let mut renamed = first.clone();
        renamed.offer_name = "Renamed".into();
        twice.partners[0].customers[0].subscriptions = vec![first.clone(), first, renamed];
        let mut store = Existing::default();
        let report = apply_to(&mut store, &twice);
        assert_eq!(report.subscriptions, 3);
        assert_eq!(
            report.changed,
            1 + 1 + 1 + 2,
            "created, then renamed; the repeat is no change"
        );
        assert_eq!(
            store.subscriptions.values().next().unwrap().offer_name,
            "Renamed"
        );
    }

    #[test]
    fn a_declared_catalog_replaces_the_stored_one_once_and_an_absent_one_keeps_it() {
        let mut store = Existing::default();
        let items = crate::catalog::Catalog::builtin().items()[..2].to_vec();
        let mut with_catalog = fixture();
        with_catalog.catalog = Some(items.clone());
        assert_eq!(
            apply_to(&mut store, &with_catalog).changed,
            1 + 1 + 1 + 2 + 1
        );
        assert_eq!(store.catalog, items);
        assert_eq!(apply_to(&mut store, &with_catalog).changed, 0);
        // A fixture without a catalog leaves it as it is.
        assert_eq!(apply_to(&mut store, &fixture()).changed, 0);
        assert_eq!(store.catalog, items);
        // An empty one empties it: the built-in catalog is offered again.
        with_catalog.catalog = Some(Vec::new());
        assert_eq!(apply_to(&mut store, &with_catalog).changed, 1);
        assert!(store.catalog.is_empty());
    }

    #[test]
    fn what_a_fixture_names_is_listed_for_loading() {
        let fixture = fixture();
        assert_eq!(partners(&fixture).count(), 1);
        assert_eq!(
            applications(&fixture)
                .map(|(_, secret)| secret)
                .collect::<Vec<_>>(),
            ["s3cret"]
        );
        assert_eq!(customers(&fixture).count(), 1);
    }
}
