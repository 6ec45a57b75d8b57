//! The storage conformance suite: every `Store` method, against every backend.
//!
//! Each story takes a freshly opened, empty store; `backends()` lists the stores to run it on.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::sync::Arc;
use std::time::Duration;

use partner_center_domain::catalog::Catalog;
use partner_center_domain::purchase::{
    CartOutcome, CheckoutOutcome, LineError, LineRequest, OrderIds, OrderOutcome, OrderStatus,
};
use partner_center_domain::{
    ActivateOutcome, CustomerKey, Lookup, Partner, RegisterOutcome, Settled, SubscriptionKey,
    Upserted,
};
use partner_center_model::catalog::{CatalogItem, PurchaseKind};
use partner_center_model::fixture::{
    FixtureApplication, FixtureCustomer, FixturePartner, FixtureSubscription,
};
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationEnding, RegistrationState, SubscriptionId,
    SubscriptionKind, SubscriptionStatus, TenantId, Timestamp,
};
use partner_center_store::testing::{self, PostgresSchema};
use partner_center_store::{
    Idempotency, PostgresStore, Recorded, Saved, SigningKey, SqliteStore, Store, StoreOptions,
    secret,
};

const PARTNER: &str = "b1e5d2a0-0000-4000-8000-000000000001";
const CLIENT: &str = "f1f1f1f1-0000-4000-8000-000000000001";
const OTHER_PARTNER: &str = "b1e5d2a0-0000-4000-8000-0000000000ff";
const CUSTOMER: &str = "c2f6e3b1-0000-4000-8000-000000000002";
const AZURE_PLAN: &str = "d3a7f4c2-0000-4000-8000-000000000003";
const SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000004";
const LEGACY_AZURE: &str = "d3a7f4c2-0000-4000-8000-000000000005";
const SUSPENDED_AZURE: &str = "d3a7f4c2-0000-4000-8000-000000000006";
const LICENSE: &str = "d3a7f4c2-0000-4000-8000-000000000007";
const DELETED_SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000008";
const ACTIVE_SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000009";

fn sub(id: &str, kind: SubscriptionKind, status: SubscriptionStatus) -> FixtureSubscription {
    FixtureSubscription {
        id: id.parse().unwrap(),
        kind,
        status,
        offer_name: format!("offer {kind}"),
        offer_id: None,
        friendly_name: None,
        quantity: None,
    }
}

fn fixture() -> Fixture {
    use SubscriptionKind::*;
    use SubscriptionStatus::*;
    Fixture {
        partners: vec![
            FixturePartner {
                applications: vec![FixtureApplication {
                    client_id: CLIENT.parse().unwrap(),
                    name: "Contoso integration".into(),
                    client_secret: "first-secret".into(),
                }],
                tenant_id: PARTNER.parse().unwrap(),
                name: "Contoso CSP".into(),
                sandbox: true,
                customers: vec![FixtureCustomer {
                    id: CUSTOMER.parse().unwrap(),
                    company_name: "Fabrikam".into(),
                    domain: None,
                    subscriptions: vec![
                        sub(AZURE_PLAN, AzurePlan, Active),
                        sub(SAAS, Saas, Pending),
                        sub(LEGACY_AZURE, Azure, Active),
                        sub(SUSPENDED_AZURE, AzurePlan, Suspended),
                        sub(LICENSE, License, Active),
                        sub(DELETED_SAAS, Saas, Deleted),
                        sub(ACTIVE_SAAS, Saas, Active),
                    ],
                }],
            },
            // Another partner with no customers: it must not see the first partner's customer.
            FixturePartner {
                applications: vec![],
                tenant_id: OTHER_PARTNER.parse().unwrap(),
                name: "Northwind".into(),
                sandbox: false,
                customers: vec![],
            },
        ],
        catalog: None,
    }
}

fn key(subscription: &str) -> SubscriptionKey {
    SubscriptionKey {
        partner: PARTNER.parse().unwrap(),
        customer: CUSTOMER.parse().unwrap(),
        subscription: subscription.parse().unwrap(),
    }
}

async fn seeded(store: &Arc<dyn Store>) {
    store.apply_fixture(&fixture()).await.unwrap();
}

struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    // Keeps a file-backed database alive for the story's duration.
    _dir: Option<tempfile::TempDir>,
    // A PostgreSQL schema to drop after the story.
    schema: Option<PostgresSchema>,
}

/// A fresh, empty store of every backend: SQLite on a file and in memory, and PostgreSQL (a schema
/// of its own) when `PC_TEST_POSTGRES_URL` is set.
async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let mut backends = vec![
        Backend {
            name: "sqlite file",
            store: Arc::new(SqliteStore::open(&url).await.unwrap()),
            _dir: Some(dir),
            schema: None,
        },
        Backend {
            name: "sqlite memory",
            store: Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap()),
            _dir: None,
            schema: None,
        },
    ];
    if let Some(base) = testing::postgres_url() {
        let schema = PostgresSchema::create(&base).await;
        let store = PostgresStore::open(&schema.url, StoreOptions::default())
            .await
            .unwrap();
        backends.push(Backend {
            name: "postgres",
            store: Arc::new(store),
            _dir: None,
            schema: Some(schema),
        });
    }
    backends
}

/// Runs `story` on a fresh store of every backend, naming the backend when it fails.
macro_rules! on_every_backend {
    ($story:ident) => {
        #[tokio::test]
        async fn $story() {
            for backend in backends().await {
                eprintln!("backend: {}", backend.name);
                stories::$story(backend.store.clone()).await;
                if let Some(schema) = backend.schema {
                    schema.drop().await;
                }
            }
        }
    };
}

on_every_backend!(applying_a_fixture_twice_changes_nothing);
on_every_backend!(reapplying_a_fixture_updates_descriptions_but_keeps_state);
on_every_backend!(partners_are_found_by_tenant);
on_every_backend!(lookups_are_scoped_to_the_partner);
on_every_backend!(concurrent_status_reads_each_get_their_own_answer);
on_every_backend!(registration_goes_through_the_queue_exactly_once);
on_every_backend!(ineligible_subscriptions_are_not_registered);
on_every_backend!(a_lease_hides_a_claimed_job_until_it_expires);
on_every_backend!(next_due_reflects_delay_and_leases);
on_every_backend!(activation_moves_pending_saas_to_active_once);
on_every_backend!(concurrent_registrations_of_one_subscription_record_one);
on_every_backend!(a_repeat_within_the_window_gets_the_first_outcome_and_changes_nothing);
on_every_backend!(the_same_request_id_elsewhere_is_an_independent_request);
on_every_backend!(a_stored_refusal_replays_even_after_the_state_changed);
on_every_backend!(an_expired_record_executes_anew_and_purging_removes_only_expired_ones);
on_every_backend!(concurrent_repeats_of_one_request_execute_once);
on_every_backend!(concurrent_repeats_and_others_of_one_registration_execute_once);
on_every_backend!(applications_are_stored_with_hashed_secrets);
on_every_backend!(the_first_signing_key_stays);
on_every_backend!(operators_create_list_update_and_delete_partners_customers_and_subscriptions);
on_every_backend!(operators_complete_or_fail_registrations_in_progress);
on_every_backend!(a_registration_accepted_to_fail_ends_in_failure);
on_every_backend!(reset_removes_everything_but_the_signing_key);
on_every_backend!(customers_are_paged_in_the_order_they_were_added_and_scoped_to_their_partner);
on_every_backend!(subscriptions_are_read_with_their_fields_and_by_order);
on_every_backend!(a_fixture_sets_domains_offers_names_and_quantities);
on_every_backend!(the_first_service_key_stays);
on_every_backend!(purchases_are_checked_against_the_catalog_as_it_is_now);
on_every_backend!(what_a_purchase_saved_is_handed_back_as_stored);
on_every_backend!(a_batch_of_claimed_orders_is_provisioned_each_once_in_claim_order);

fn foreign_key(subscription: &str) -> SubscriptionKey {
    SubscriptionKey {
        partner: OTHER_PARTNER.parse().unwrap(),
        ..key(subscription)
    }
}

fn idem(request_id: &str, subscription: &str, action: &str, expires_at: Timestamp) -> Idempotency {
    Idempotency {
        request_id: request_id.to_owned(),
        method: "POST".to_owned(),
        path: format!("/v1/customers/{CUSTOMER}/subscriptions/{subscription}/{action}"),
        expires_at,
    }
}

mod stories {
    use super::*;

    /// A purchase hands back the carts and orders it saved, as they are stored; a repeat, none.
    pub(super) async fn what_a_purchase_saved_is_handed_back_as_stored(store: Arc<dyn Store>) {
        let buyer = CustomerKey {
            partner: OTHER_PARTNER.parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-0000000000ab".parse().unwrap(),
        };
        store
            .apply_fixture(&Fixture {
                partners: vec![FixturePartner {
                    applications: vec![],
                    tenant_id: buyer.partner,
                    name: "Northwind".into(),
                    sandbox: true,
                    customers: vec![FixtureCustomer {
                        id: buyer.customer,
                        company_name: "Buyer".into(),
                        domain: None,
                        subscriptions: vec![],
                    }],
                }],
                catalog: None,
            })
            .await
            .unwrap();
        let saas = Catalog::builtin()
            .items()
            .iter()
            .find(|item| item.kind == PurchaseKind::Saas)
            .cloned()
            .unwrap();
        let line = LineRequest {
            id: 0,
            catalog_item_id: saas.id.clone(),
            quantity: 1,
            ..LineRequest::default()
        };
        let lines = [line];
        let (now, lifetime) = (Timestamp::now(), Duration::from_secs(600));
        let request = |id: &str| Idempotency {
            request_id: id.to_owned(),
            method: "POST".to_owned(),
            path: format!("/v1/customers/{}/carts", buyer.customer),
            expires_at: now.saturating_add(Duration::from_secs(60)),
        };
        let cart_id = "0a1b2c3d-0000-7000-8000-000000000001";
        let created = store
            .create_cart(buyer, cart_id, &lines, now, lifetime, Some(&request("r1")))
            .await
            .unwrap();
        assert_eq!(created.outcome, CartOutcome::Saved(cart_id.into()));
        let stored = store.cart(buyer, cart_id).await.unwrap().unwrap();
        assert_eq!(
            created.saved.cart(cart_id),
            Some(&stored),
            "the cart it saved is handed back"
        );
        let repeat = store
            .create_cart(buyer, cart_id, &lines, now, lifetime, Some(&request("r1")))
            .await
            .unwrap();
        assert!(repeat.replayed);
        assert_eq!(repeat.saved, Saved::default(), "a repeat saved nothing");

        let order_ids = OrderIds::starting_at(0x0190_0000_0000_7000_8000_0000_0000_0000);
        let checked_out = store
            .checkout(buyer, cart_id, order_ids, now, None)
            .await
            .unwrap();
        let CheckoutOutcome::Ordered(placed) = &checked_out.outcome else {
            panic!("{:?}", checked_out.outcome);
        };
        assert_eq!(placed, &[order_ids.nth(0)]);
        let order = store.order(buyer, &placed[0]).await.unwrap().unwrap();
        assert_eq!(
            checked_out.saved.order(&placed[0]),
            Some(&order),
            "the order it placed is handed back"
        );
        let ordered = store.cart(buyer, cart_id).await.unwrap().unwrap();
        assert_eq!(
            checked_out.saved.cart(cart_id),
            Some(&ordered),
            "the cart it checked out is handed back"
        );
        assert_ne!(ordered, stored, "the checkout changed the cart");
    }

    /// The worker's batch: orders of several customers, claimed together, are each provisioned once
    /// (PostgreSQL provisions several at once, each in a transaction of its own), and handed back in
    /// the order they were claimed.
    pub(super) async fn a_batch_of_claimed_orders_is_provisioned_each_once_in_claim_order(
        store: Arc<dyn Store>,
    ) {
        let partner: TenantId = OTHER_PARTNER.parse().unwrap();
        let customers: Vec<CustomerId> = (1..=4)
            .map(|n| {
                format!("c2f6e3b1-0000-4000-8000-0000000001{n:02}")
                    .parse()
                    .unwrap()
            })
            .collect();
        let plan = |n: usize| format!("d3a7f4c2-0000-4000-8000-0000000001{n:02}");
        store
            .apply_fixture(&Fixture {
                partners: vec![FixturePartner {
                    applications: vec![],
                    tenant_id: partner,
                    name: "Northwind".into(),
                    sandbox: false,
                    customers: customers
                        .iter()
                        .enumerate()
                        .map(|(n, id)| FixtureCustomer {
                            id: *id,
                            company_name: format!("Buyer {n}"),
                            domain: None,
                            subscriptions: vec![sub(
                                &plan(n),
                                SubscriptionKind::AzurePlan,
                                SubscriptionStatus::Active,
                            )],
                        })
                        .collect(),
                }],
                catalog: None,
            })
            .await
            .unwrap();
        // A reservation needs its customer's Azure plan registered.
        let t0 = Timestamp::from_millis(1_000_000);
        for (n, customer) in customers.iter().enumerate() {
            let key = SubscriptionKey {
                partner,
                customer: *customer,
                subscription: plan(n).parse().unwrap(),
            };
            store
                .register(&key, t0, None, RegistrationEnding::Registered)
                .await
                .unwrap();
        }
        let lease = Duration::from_secs(30);
        let claimed = store.claim_registrations(t0, t0, lease, 10).await.unwrap();
        assert_eq!(
            store
                .complete_registrations(&claimed, t0)
                .await
                .unwrap()
                .len(),
            4
        );

        let reservation = Catalog::builtin()
            .items()
            .iter()
            .find(|item| item.kind == PurchaseKind::Reservation)
            .cloned()
            .unwrap();
        let now = Timestamp::now();
        let mut placed = Vec::new();
        for round in 0..3 {
            for (n, customer) in customers.iter().enumerate() {
                let line = LineRequest {
                    id: 0,
                    catalog_item_id: reservation.id.clone(),
                    quantity: 1,
                    provisioning_context: [
                        ("subscriptionId".to_owned(), plan(n)),
                        ("scope".to_owned(), "single".to_owned()),
                    ]
                    .into(),
                    ..LineRequest::default()
                };
                let id = format!("order-{round}-{n}");
                let outcome = store
                    .place_order(
                        CustomerKey {
                            partner,
                            customer: *customer,
                        },
                        &id,
                        &[line],
                        now,
                        None,
                    )
                    .await
                    .unwrap()
                    .outcome;
                assert!(matches!(outcome, OrderOutcome::Placed(_)), "{outcome:?}");
                placed.push(id);
            }
        }

        let later = now.saturating_add(Duration::from_secs(1));
        let claimed = store.claim_orders(later, later, lease, 100).await.unwrap();
        let mut expected = placed.clone();
        expected.sort();
        let mut got = claimed.clone();
        got.sort();
        assert_eq!(got, expected, "every order placed is claimed");
        let provisioned = store.provision_orders(&claimed, later).await.unwrap();
        assert_eq!(
            provisioned.iter().map(|o| o.id.clone()).collect::<Vec<_>>(),
            claimed,
            "each provisioned once, handed back in claim order"
        );
        let mut made = std::collections::HashSet::new();
        for order in &provisioned {
            assert_eq!(order.status, OrderStatus::Completed, "{order:?}");
            assert!(made.insert(order.lines[0].subscription_id.unwrap()));
        }
        let counts = store.order_counts().await.unwrap();
        assert!(counts.contains(&(OrderStatus::Completed, 12)), "{counts:?}");
        assert!(
            !counts
                .iter()
                .any(|(status, n)| *status == OrderStatus::Pending && *n > 0),
            "{counts:?}"
        );
        assert!(
            store
                .claim_orders(later, later, lease, 100)
                .await
                .unwrap()
                .is_empty(),
            "nothing left to claim"
        );
        assert!(
            store
                .provision_orders(&claimed, later)
                .await
                .unwrap()
                .is_empty(),
            "provisioning the same claims again provisions nothing"
        );
    }

    /// A purchase is checked against the catalog as it is when it is made: the one a fixture
    /// declared since the last purchase, and the built-in one again after a reset.
    pub(super) async fn purchases_are_checked_against_the_catalog_as_it_is_now(
        store: Arc<dyn Store>,
    ) {
        let buyer = CustomerKey {
            partner: OTHER_PARTNER.parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-0000000000aa".parse().unwrap(),
        };
        let with_catalog = |catalog: Option<Vec<CatalogItem>>| Fixture {
            partners: vec![FixturePartner {
                applications: vec![],
                tenant_id: buyer.partner,
                name: "Northwind".into(),
                sandbox: false,
                customers: vec![FixtureCustomer {
                    id: buyer.customer,
                    company_name: "Buyer".into(),
                    domain: None,
                    subscriptions: vec![],
                }],
            }],
            catalog,
        };
        let builtin = Catalog::builtin()
            .items()
            .iter()
            .find(|item| item.kind == PurchaseKind::Saas)
            .cloned()
            .unwrap();
        let declared = CatalogItem {
            id: "DZH318Z0TEST:0001:DZH318Z0TEST".into(),
            ..builtin.clone()
        };
        let mut orders = 0;
        let mut buy = async |item: &CatalogItem| {
            orders += 1;
            let line = LineRequest {
                id: 1,
                catalog_item_id: item.id.clone(),
                quantity: 1,
                ..LineRequest::default()
            };
            store
                .place_order(
                    buyer,
                    &format!("order-{orders}"),
                    &[line],
                    Timestamp::now(),
                    None,
                )
                .await
                .unwrap()
                .outcome
        };
        store.apply_fixture(&with_catalog(None)).await.unwrap();
        assert!(matches!(buy(&builtin).await, OrderOutcome::Placed(_)));
        store
            .apply_fixture(&with_catalog(Some(vec![declared.clone()])))
            .await
            .unwrap();
        assert!(
            matches!(
                buy(&builtin).await,
                OrderOutcome::Refused(1, LineError::CatalogItemNotFound)
            ),
            "the declared catalog replaced the built-in one"
        );
        assert!(matches!(buy(&declared).await, OrderOutcome::Placed(_)));
        store.reset().await.unwrap();
        store.apply_fixture(&with_catalog(None)).await.unwrap();
        assert!(
            matches!(
                buy(&declared).await,
                OrderOutcome::Refused(1, LineError::CatalogItemNotFound)
            ),
            "a reset brings the built-in catalog back"
        );
        assert!(matches!(buy(&builtin).await, OrderOutcome::Placed(_)));
    }

    pub(super) async fn applying_a_fixture_twice_changes_nothing(store: Arc<dyn Store>) {
        let first = store.apply_fixture(&fixture()).await.unwrap();
        assert_eq!(
            (first.partners, first.customers, first.subscriptions),
            (2, 1, 7)
        );
        assert_eq!(
            first.changed,
            2 + 1 + 1 + 7,
            "partners, application, customer, subscriptions"
        );
        let second = store.apply_fixture(&fixture()).await.unwrap();
        assert_eq!(second.changed, 0, "{second:?}");
    }

    pub(super) async fn reapplying_a_fixture_updates_descriptions_but_keeps_state(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        assert_eq!(
            store
                .activate(&key(SAAS), Timestamp::now(), None)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::Activated)
        );
        let mut changed = fixture();
        changed.partners[0].name = "Contoso Renamed".into();
        changed.partners[0].sandbox = false;
        changed.partners[0].customers[0].subscriptions[1].offer_name = "Renamed SaaS".into();
        let report = store.apply_fixture(&changed).await.unwrap();
        assert_eq!(
            report.changed, 2,
            "partner and one subscription changed: {report:?}"
        );
        let partner = store
            .partner(PARTNER.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (partner.name.as_str(), partner.sandbox),
            ("Contoso Renamed", false)
        );
        assert_eq!(
            store
                .activate(&key(SAAS), Timestamp::now(), None)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::NotSandbox)
        );
        // Back to a sandbox: the fixture still says `pending`, but the activation is kept.
        store.apply_fixture(&fixture()).await.unwrap();
        assert_eq!(
            store
                .activate(&key(SAAS), Timestamp::now(), None)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::AlreadyActive)
        );
    }

    pub(super) async fn partners_are_found_by_tenant(store: Arc<dyn Store>) {
        seeded(&store).await;
        let partner = store
            .partner(PARTNER.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(partner.tenant_id.to_string(), PARTNER);
        assert_eq!(partner.name, "Contoso CSP");
        assert!(partner.sandbox);
        assert!(
            !store
                .partner(OTHER_PARTNER.parse().unwrap())
                .await
                .unwrap()
                .unwrap()
                .sandbox
        );
        assert_eq!(store.partner(TenantId::new_random()).await.unwrap(), None);
        store.ping().await.unwrap();
    }

    /// Many reads at once (PostgreSQL answers them together, in batches): each gets the answer
    /// for its own key, whatever else its batch holds, and sees the write made just before it.
    pub(super) async fn concurrent_status_reads_each_get_their_own_answer(store: Arc<dyn Store>) {
        seeded(&store).await;
        store
            .register(
                &key(AZURE_PLAN),
                Timestamp::now(),
                None,
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        let cases = [
            (
                key(AZURE_PLAN),
                Lookup::Found(RegistrationState::Registering),
            ),
            (key(SAAS), Lookup::Found(RegistrationState::NotRegistered)),
            (
                SubscriptionKey {
                    partner: OTHER_PARTNER.parse().unwrap(),
                    ..key(AZURE_PLAN)
                },
                Lookup::CustomerNotFound,
            ),
            (
                SubscriptionKey {
                    customer: CustomerId::new_random(),
                    ..key(AZURE_PLAN)
                },
                Lookup::CustomerNotFound,
            ),
            (
                SubscriptionKey {
                    subscription: SubscriptionId::new_random(),
                    ..key(AZURE_PLAN)
                },
                Lookup::SubscriptionNotFound,
            ),
        ];
        let mut reads = tokio::task::JoinSet::new();
        for n in 0..1_000 {
            let (key, expected) = cases[n % cases.len()];
            let store = store.clone();
            reads.spawn(
                async move { (n, store.registration_status(&key).await.unwrap(), expected) },
            );
        }
        while let Some(read) = reads.join_next().await {
            let (n, found, expected) = read.unwrap();
            assert_eq!(found, expected, "read {n}");
        }
    }

    pub(super) async fn lookups_are_scoped_to_the_partner(store: Arc<dyn Store>) {
        seeded(&store).await;
        let foreign = SubscriptionKey {
            partner: OTHER_PARTNER.parse().unwrap(),
            ..key(AZURE_PLAN)
        };
        let now = Timestamp::now();
        assert_eq!(
            store.registration_status(&foreign).await.unwrap(),
            Lookup::CustomerNotFound
        );
        assert_eq!(
            store
                .register(&foreign, now, None, RegistrationEnding::Registered)
                .await
                .unwrap()
                .outcome,
            Lookup::CustomerNotFound
        );
        // The foreign partner is no sandbox: that is answered before its customers are looked up.
        assert_eq!(
            store.activate(&foreign, now, None).await.unwrap().outcome,
            Lookup::Found(ActivateOutcome::NotSandbox)
        );
        assert_eq!(
            store.registration_history(&foreign).await.unwrap(),
            Lookup::CustomerNotFound
        );
        let unknown_customer = SubscriptionKey {
            customer: CustomerId::new_random(),
            ..key(AZURE_PLAN)
        };
        assert_eq!(
            store.registration_status(&unknown_customer).await.unwrap(),
            Lookup::CustomerNotFound
        );
        let unknown = SubscriptionKey {
            subscription: SubscriptionId::new_random(),
            ..key(AZURE_PLAN)
        };
        assert_eq!(
            store.registration_status(&unknown).await.unwrap(),
            Lookup::SubscriptionNotFound
        );
        assert_eq!(
            store
                .register(&unknown, now, None, RegistrationEnding::Registered)
                .await
                .unwrap()
                .outcome,
            Lookup::SubscriptionNotFound
        );
        assert_eq!(
            store.activate(&unknown, now, None).await.unwrap().outcome,
            Lookup::SubscriptionNotFound
        );
        assert_eq!(
            store.registration_history(&unknown).await.unwrap(),
            Lookup::SubscriptionNotFound
        );
        // The foreign attempts above changed nothing.
        assert_eq!(
            store.registration_status(&key(AZURE_PLAN)).await.unwrap(),
            Lookup::Found(RegistrationState::NotRegistered)
        );
    }

    pub(super) async fn registration_goes_through_the_queue_exactly_once(store: Arc<dyn Store>) {
        seeded(&store).await;
        let k = key(AZURE_PLAN);
        let t0 = Timestamp::from_millis(1_000_000);
        let delay = Duration::from_secs(2);
        let lease = Duration::from_secs(30);
        assert_eq!(
            store
                .register(&k, t0, None, RegistrationEnding::Registered)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(RegisterOutcome::Accepted)
        );
        assert_eq!(
            store
                .register(
                    &k,
                    t0.saturating_add(Duration::from_millis(1)),
                    None,
                    RegistrationEnding::Registered
                )
                .await
                .unwrap()
                .outcome,
            Lookup::Found(RegisterOutcome::AlreadyRegistering)
        );
        assert_eq!(
            store.registration_status(&k).await.unwrap(),
            Lookup::Found(RegistrationState::Registering)
        );

        // Not due before the delay has passed.
        let early = t0.saturating_add(Duration::from_secs(1));
        assert!(
            store
                .claim_registrations(early.saturating_sub(delay), early, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let due = t0.saturating_add(delay);
        let claimed = store
            .claim_registrations(due.saturating_sub(delay), due, lease, 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 1);
        let completed = store.complete_registrations(&claimed, due).await.unwrap();
        assert_eq!(completed.len(), 1);
        assert_eq!(completed[0].key, k);
        assert_eq!(
            (completed[0].requested_at, completed[0].completed_at),
            (t0, due)
        );
        // A second completion of the same claim (a retried job) completes nothing.
        assert!(
            store
                .complete_registrations(&claimed, due)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .claim_registrations(due, due, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.next_registration_due(delay).await.unwrap(), None);

        assert_eq!(
            store.registration_status(&k).await.unwrap(),
            Lookup::Found(RegistrationState::Registered)
        );
        assert_eq!(
            store
                .register(&k, due, None, RegistrationEnding::Registered)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(RegisterOutcome::AlreadyRegistered)
        );
        let Lookup::Found(history) = store.registration_history(&k).await.unwrap() else {
            panic!()
        };
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].ending, Some(RegistrationEnding::Registered));
        assert_eq!(
            (history[0].requested_at, history[0].completed_at),
            (t0, Some(due))
        );
    }

    pub(super) async fn ineligible_subscriptions_are_not_registered(store: Arc<dyn Store>) {
        seeded(&store).await;
        let now = Timestamp::now();
        assert_eq!(
            store
                .register(
                    &key(LEGACY_AZURE),
                    now,
                    None,
                    RegistrationEnding::Registered
                )
                .await
                .unwrap()
                .outcome,
            Lookup::Found(RegisterOutcome::Accepted),
            "legacy CSP Azure subscriptions are eligible"
        );
        for (id, expected) in [
            (
                SAAS,
                RegisterOutcome::IneligibleKind(SubscriptionKind::Saas),
            ),
            (
                LICENSE,
                RegisterOutcome::IneligibleKind(SubscriptionKind::License),
            ),
            (
                SUSPENDED_AZURE,
                RegisterOutcome::IneligibleStatus(SubscriptionStatus::Suspended),
            ),
        ] {
            assert_eq!(
                store
                    .register(&key(id), now, None, RegistrationEnding::Registered)
                    .await
                    .unwrap()
                    .outcome,
                Lookup::Found(expected),
                "{id}"
            );
            assert_eq!(
                store.registration_status(&key(id)).await.unwrap(),
                Lookup::Found(RegistrationState::NotRegistered)
            );
            assert_eq!(
                store.registration_history(&key(id)).await.unwrap(),
                Lookup::Found(vec![])
            );
        }
        // Only the eligible one was queued.
        let far = now.saturating_add(Duration::from_secs(3600));
        assert_eq!(
            store
                .claim_registrations(far, far, Duration::from_secs(1), 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    pub(super) async fn a_lease_hides_a_claimed_job_until_it_expires(store: Arc<dyn Store>) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(5_000_000);
        store
            .register(&key(AZURE_PLAN), t0, None, RegistrationEnding::Registered)
            .await
            .unwrap();
        let lease = Duration::from_secs(30);
        let first = store.claim_registrations(t0, t0, lease, 10).await.unwrap();
        assert_eq!(first.len(), 1);
        let during = t0.saturating_add(Duration::from_secs(29));
        assert!(
            store
                .claim_registrations(during, during, lease, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let after = t0.saturating_add(lease);
        let second = store
            .claim_registrations(after, after, lease, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].registration, first[0].registration);
        assert_eq!(second[0].attempts, 2);
        // Both holders complete; the registration completes once.
        assert_eq!(
            store
                .complete_registrations(&second, after)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .complete_registrations(&first, after)
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub(super) async fn next_due_reflects_delay_and_leases(store: Arc<dyn Store>) {
        seeded(&store).await;
        let delay = Duration::from_secs(2);
        assert_eq!(store.next_registration_due(delay).await.unwrap(), None);
        let t0 = Timestamp::from_millis(9_000_000);
        store
            .register(&key(AZURE_PLAN), t0, None, RegistrationEnding::Registered)
            .await
            .unwrap();
        store
            .register(
                &key(LEGACY_AZURE),
                t0.saturating_add(Duration::from_secs(1)),
                None,
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        assert_eq!(
            store.next_registration_due(delay).await.unwrap(),
            Some(t0.saturating_add(delay))
        );
        // Claim only the first; the earliest claimable is then the second, unless the lease ends later.
        let claimed = store
            .claim_registrations(t0, t0, Duration::from_secs(60), 1)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            store.next_registration_due(delay).await.unwrap(),
            Some(t0.saturating_add(Duration::from_secs(3)))
        );
    }

    pub(super) async fn activation_moves_pending_saas_to_active_once(store: Arc<dyn Store>) {
        seeded(&store).await;
        let now = Timestamp::now();
        assert_eq!(
            store.activate(&key(SAAS), now, None).await.unwrap().outcome,
            Lookup::Found(ActivateOutcome::Activated)
        );
        assert_eq!(
            store.activate(&key(SAAS), now, None).await.unwrap().outcome,
            Lookup::Found(ActivateOutcome::AlreadyActive)
        );
        assert_eq!(
            store
                .activate(&key(ACTIVE_SAAS), now, None)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::AlreadyActive)
        );
        assert_eq!(
            store
                .activate(&key(DELETED_SAAS), now, None)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::NotActivatable(SubscriptionStatus::Deleted))
        );
        assert_eq!(
            store
                .activate(&key(AZURE_PLAN), now, None)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::NotSaas(SubscriptionKind::AzurePlan))
        );
        // Activation does not register anything, and a SaaS subscription still has a status.
        assert_eq!(
            store.registration_status(&key(SAAS)).await.unwrap(),
            Lookup::Found(RegistrationState::NotRegistered)
        );
    }

    pub(super) async fn concurrent_registrations_of_one_subscription_record_one(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let now = Timestamp::now();
        let attempts = (0..20).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .register(&key(AZURE_PLAN), now, None, RegistrationEnding::Registered)
                    .await
                    .unwrap()
                    .outcome
            })
        });
        let mut accepted = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Lookup::Found(RegisterOutcome::Accepted) => accepted += 1,
                Lookup::Found(RegisterOutcome::AlreadyRegistering) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(accepted, 1);
        let Lookup::Found(history) = store.registration_history(&key(AZURE_PLAN)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(history.len(), 1);
    }

    pub(super) async fn a_repeat_within_the_window_gets_the_first_outcome_and_changes_nothing(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(10_000_000);
        let hour = Duration::from_secs(3600);
        let key_a = idem(
            "req-1",
            AZURE_PLAN,
            "registrations",
            t0.saturating_add(hour),
        );
        let first = store
            .register(
                &key(AZURE_PLAN),
                t0,
                Some(&key_a),
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        assert_eq!(
            first,
            Recorded::fresh(Lookup::Found(RegisterOutcome::Accepted), Saved::default())
        );
        let later = t0.saturating_add(Duration::from_secs(60));
        let repeat = store
            .register(
                &key(AZURE_PLAN),
                later,
                Some(&key_a),
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        assert_eq!(
            repeat,
            Recorded::repeat(Lookup::Found(RegisterOutcome::Accepted))
        );
        // Completing the registration does not change what a repeat gets; a new request sees it.
        let claimed = store
            .claim_registrations(later, later, hour, 10)
            .await
            .unwrap();
        store.complete_registrations(&claimed, later).await.unwrap();
        let repeat = store
            .register(
                &key(AZURE_PLAN),
                later,
                Some(&key_a),
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        assert_eq!(repeat.outcome, Lookup::Found(RegisterOutcome::Accepted));
        assert!(repeat.replayed);
        let fresh = store
            .register(
                &key(AZURE_PLAN),
                later,
                None,
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        assert_eq!(
            fresh,
            Recorded::fresh(
                Lookup::Found(RegisterOutcome::AlreadyRegistered),
                Saved::default()
            )
        );
        let Lookup::Found(history) = store.registration_history(&key(AZURE_PLAN)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(history.len(), 1);

        // Activation likewise: a repeat is the first 200, never "already activated".
        let key_b = idem("req-2", SAAS, "activate", t0.saturating_add(hour));
        let first = store.activate(&key(SAAS), t0, Some(&key_b)).await.unwrap();
        assert_eq!(first.outcome, Lookup::Found(ActivateOutcome::Activated));
        let repeat = store
            .activate(&key(SAAS), later, Some(&key_b))
            .await
            .unwrap();
        assert_eq!(
            repeat,
            Recorded::repeat(Lookup::Found(ActivateOutcome::Activated))
        );
    }

    pub(super) async fn the_same_request_id_elsewhere_is_an_independent_request(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(10_000_000);
        let expires = t0.saturating_add(Duration::from_secs(3600));
        let on_plan = idem("shared", AZURE_PLAN, "registrations", expires);
        assert!(
            !store
                .register(
                    &key(AZURE_PLAN),
                    t0,
                    Some(&on_plan),
                    RegistrationEnding::Registered
                )
                .await
                .unwrap()
                .replayed
        );
        // Another subscription: another path.
        let on_legacy = idem("shared", LEGACY_AZURE, "registrations", expires);
        let other = store
            .register(
                &key(LEGACY_AZURE),
                t0,
                Some(&on_legacy),
                RegistrationEnding::Registered,
            )
            .await
            .unwrap();
        assert_eq!(
            other,
            Recorded::fresh(Lookup::Found(RegisterOutcome::Accepted), Saved::default())
        );
        // Another operation on the same subscription: another path.
        let activate = idem("shared", AZURE_PLAN, "activate", expires);
        let other = store
            .activate(&key(AZURE_PLAN), t0, Some(&activate))
            .await
            .unwrap();
        assert_eq!(
            other.outcome,
            Lookup::Found(ActivateOutcome::NotSaas(SubscriptionKind::AzurePlan))
        );
        assert!(!other.replayed);
        // Another partner: its own key space.
        let foreign = SubscriptionKey {
            partner: OTHER_PARTNER.parse().unwrap(),
            ..key(AZURE_PLAN)
        };
        let other = store
            .register(&foreign, t0, Some(&on_plan), RegistrationEnding::Registered)
            .await
            .unwrap();
        assert_eq!(
            other,
            Recorded::fresh(Lookup::CustomerNotFound, Saved::default())
        );
    }

    pub(super) async fn a_stored_refusal_replays_even_after_the_state_changed(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(10_000_000);
        let expires = t0.saturating_add(Duration::from_secs(3600));
        let mut not_sandbox = fixture();
        not_sandbox.partners[0].sandbox = false;
        store.apply_fixture(&not_sandbox).await.unwrap();
        let request = idem("refused", SAAS, "activate", expires);
        let first = store
            .activate(&key(SAAS), t0, Some(&request))
            .await
            .unwrap();
        assert_eq!(first.outcome, Lookup::Found(ActivateOutcome::NotSandbox));
        store.apply_fixture(&fixture()).await.unwrap();
        let repeat = store
            .activate(&key(SAAS), t0, Some(&request))
            .await
            .unwrap();
        assert_eq!(
            repeat,
            Recorded::repeat(Lookup::Found(ActivateOutcome::NotSandbox))
        );
        // A not-found is kept too.
        let unknown = SubscriptionKey {
            subscription: SubscriptionId::new_random(),
            ..key(AZURE_PLAN)
        };
        let request = idem(
            "missing",
            &unknown.subscription.to_string(),
            "registrations",
            expires,
        );
        assert_eq!(
            store
                .register(&unknown, t0, Some(&request), RegistrationEnding::Registered)
                .await
                .unwrap()
                .outcome,
            Lookup::SubscriptionNotFound
        );
        let repeat = store
            .register(&unknown, t0, Some(&request), RegistrationEnding::Registered)
            .await
            .unwrap();
        assert_eq!(repeat, Recorded::repeat(Lookup::SubscriptionNotFound));
    }

    pub(super) async fn an_expired_record_executes_anew_and_purging_removes_only_expired_ones(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(10_000_000);
        let hour = Duration::from_secs(3600);
        let request = idem("old", SAAS, "activate", t0.saturating_add(hour));
        assert_eq!(
            store
                .activate(&key(SAAS), t0, Some(&request))
                .await
                .unwrap()
                .outcome,
            Lookup::Found(ActivateOutcome::Activated)
        );
        let after = t0.saturating_add(hour);
        let anew = store
            .activate(
                &key(SAAS),
                after,
                Some(&idem("old", SAAS, "activate", after.saturating_add(hour))),
            )
            .await
            .unwrap();
        assert_eq!(
            anew,
            Recorded::fresh(
                Lookup::Found(ActivateOutcome::AlreadyActive),
                Saved::default()
            )
        );
        // The new record replaced the old one and lives for its own window.
        let repeat = store
            .activate(&key(SAAS), after, Some(&request))
            .await
            .unwrap();
        assert_eq!(
            repeat,
            Recorded::repeat(Lookup::Found(ActivateOutcome::AlreadyActive))
        );

        for (i, ttl) in [1_u64, 2, 3, 10].iter().enumerate() {
            let request = idem(
                &format!("purge-{i}"),
                LICENSE,
                "registrations",
                t0.saturating_add(Duration::from_secs(ttl * 60)),
            );
            store
                .register(
                    &key(LICENSE),
                    t0,
                    Some(&request),
                    RegistrationEnding::Registered,
                )
                .await
                .unwrap();
        }
        let at = t0.saturating_add(Duration::from_secs(3 * 60));
        assert_eq!(
            store.purge_idempotency(at, 2).await.unwrap(),
            2,
            "bounded by the limit"
        );
        assert_eq!(store.purge_idempotency(at, 100).await.unwrap(), 1);
        assert_eq!(store.purge_idempotency(at, 100).await.unwrap(), 0);
        // The unexpired one is still there.
        let survivor = idem("purge-3", LICENSE, "registrations", at);
        assert!(
            store
                .register(
                    &key(LICENSE),
                    at,
                    Some(&survivor),
                    RegistrationEnding::Registered
                )
                .await
                .unwrap()
                .replayed
        );
    }

    pub(super) async fn concurrent_repeats_of_one_request_execute_once(store: Arc<dyn Store>) {
        seeded(&store).await;
        let now = Timestamp::now();
        let request = idem(
            "burst",
            SAAS,
            "activate",
            now.saturating_add(Duration::from_secs(3600)),
        );
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (store, request) = (store.clone(), request.clone());
                tokio::spawn(async move {
                    store
                        .activate(&key(SAAS), now, Some(&request))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut executed = 0;
        for task in tasks {
            let recorded = task.await.unwrap();
            assert_eq!(recorded.outcome, Lookup::Found(ActivateOutcome::Activated));
            executed += usize::from(!recorded.replayed);
        }
        assert_eq!(executed, 1);
    }

    /// Repeats of one registration request race each other and other requests for the same
    /// subscription: whichever wins, one registration is made, and every repeat answers what the
    /// one of them that executed answered.
    pub(super) async fn concurrent_repeats_and_others_of_one_registration_execute_once(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let now = Timestamp::now();
        let expires = now.saturating_add(Duration::from_secs(3600));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let store = store.clone();
                // Three in four are repeats of one request; the others each have a key of their own.
                let request_id = if i % 4 == 3 {
                    format!("other-{i}")
                } else {
                    "burst".to_owned()
                };
                let request = idem(&request_id, AZURE_PLAN, "registrations", expires);
                tokio::spawn(async move {
                    let recorded = store
                        .register(
                            &key(AZURE_PLAN),
                            now,
                            Some(&request),
                            RegistrationEnding::Registered,
                        )
                        .await
                        .unwrap();
                    (request_id, recorded)
                })
            })
            .collect();
        let (mut accepted, mut burst) = (0, Vec::new());
        for task in tasks {
            let (request_id, recorded) = task.await.unwrap();
            match recorded.outcome {
                Lookup::Found(RegisterOutcome::Accepted) if !recorded.replayed => accepted += 1,
                Lookup::Found(RegisterOutcome::Accepted | RegisterOutcome::AlreadyRegistering) => {}
                other => panic!("unexpected {other:?}"),
            }
            if request_id == "burst" {
                burst.push(recorded);
            }
        }
        assert_eq!(accepted, 1, "one registration is accepted");
        assert_eq!(burst.iter().filter(|r| !r.replayed).count(), 1);
        assert!(burst.iter().all(|r| r.outcome == burst[0].outcome));
        let Lookup::Found(history) = store.registration_history(&key(AZURE_PLAN)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(history.len(), 1);
    }

    pub(super) async fn applications_are_stored_with_hashed_secrets(store: Arc<dyn Store>) {
        seeded(&store).await;
        let tenant: TenantId = PARTNER.parse().unwrap();
        let client: ClientId = CLIENT.parse().unwrap();
        let application = store.application(tenant, client).await.unwrap().unwrap();
        assert_eq!(application.name, "Contoso integration");
        assert!(!application.secret_hash.contains("first-secret"));
        assert!(secret::verify(&application.secret_hash, "first-secret"));
        assert!(!format!("{application:?}").contains(&application.secret_hash));
        assert_eq!(
            store
                .application(tenant, ClientId::new_random())
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .application(OTHER_PARTNER.parse().unwrap(), client)
                .await
                .unwrap(),
            None
        );
        // Re-applying the same secret changes nothing; a new secret replaces the old one.
        assert_eq!(store.apply_fixture(&fixture()).await.unwrap().changed, 0);
        let mut rotated = fixture();
        rotated.partners[0].applications[0].client_secret = "second-secret".into();
        assert_eq!(store.apply_fixture(&rotated).await.unwrap().changed, 1);
        let application = store.application(tenant, client).await.unwrap().unwrap();
        assert!(secret::verify(&application.secret_hash, "second-secret"));
        assert!(!secret::verify(&application.secret_hash, "first-secret"));
    }

    pub(super) async fn the_first_signing_key_stays(store: Arc<dyn Store>) {
        let first = SigningKey {
            kid: "k1".into(),
            private_key_pkcs8: vec![1, 2, 3],
            created_at: Timestamp::from_millis(5),
        };
        let second = SigningKey {
            kid: "k2".into(),
            private_key_pkcs8: vec![4, 5, 6],
            created_at: Timestamp::from_millis(6),
        };
        assert_eq!(store.signing_key(first.clone()).await.unwrap(), first);
        assert_eq!(store.signing_key(second).await.unwrap(), first);
        assert!(!format!("{first:?}").contains("[1, 2, 3]"));
    }

    pub(super) async fn operators_create_list_update_and_delete_partners_customers_and_subscriptions(
        store: Arc<dyn Store>,
    ) {
        let now = Timestamp::from_millis(1_000);
        let tenant: TenantId = PARTNER.parse().unwrap();
        let partner = Partner {
            tenant_id: tenant,
            name: "Contoso".into(),
            sandbox: false,
        };
        assert_eq!(
            store.put_partner(&partner, now).await.unwrap(),
            Upserted::Created
        );
        // Read (and so cached, where the store caches partners) before each change: the change is
        // seen at once all the same.
        assert_eq!(store.partner(tenant).await.unwrap(), Some(partner.clone()));
        let renamed = Partner {
            name: "Contoso Renamed".into(),
            sandbox: true,
            ..partner.clone()
        };
        assert_eq!(
            store.put_partner(&renamed, now).await.unwrap(),
            Upserted::Updated
        );
        assert_eq!(store.list_partners().await.unwrap(), vec![renamed.clone()]);
        assert_eq!(store.partner(tenant).await.unwrap(), Some(renamed.clone()));

        let customer_id: CustomerId = CUSTOMER.parse().unwrap();
        let customer = CustomerKey {
            partner: tenant,
            customer: customer_id,
        };
        assert_eq!(
            store
                .put_customer(customer, "Fabrikam", None, now)
                .await
                .unwrap(),
            Some(Upserted::Created)
        );
        assert_eq!(
            store
                .put_customer(customer, "Fabrikam", Some("fabrikam.example.com"), now)
                .await
                .unwrap(),
            Some(Upserted::Updated)
        );
        let elsewhere = CustomerKey {
            partner: TenantId::new_random(),
            ..customer
        };
        assert_eq!(
            store
                .put_customer(elsewhere, "Fabrikam", None, now)
                .await
                .unwrap(),
            None
        );
        let listed = store.customers(tenant, None, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (
                listed[0].1.id,
                listed[0].1.company_name.as_str(),
                listed[0].1.domain.as_deref()
            ),
            (customer_id, "Fabrikam", Some("fabrikam.example.com"))
        );

        let saas = sub(SAAS, SubscriptionKind::Saas, SubscriptionStatus::Pending);
        assert_eq!(
            store
                .put_subscription(tenant, customer_id, &saas, now)
                .await
                .unwrap(),
            Lookup::Found(Upserted::Created)
        );
        assert_eq!(
            store
                .put_subscription(tenant, CustomerId::new_random(), &saas, now)
                .await
                .unwrap(),
            Lookup::CustomerNotFound
        );
        assert_eq!(
            store.activate(&key(SAAS), now, None).await.unwrap().outcome,
            Lookup::Found(ActivateOutcome::Activated)
        );
        // An operator may set any status, unlike a fixture: the subscription can be activated again.
        assert_eq!(
            store
                .put_subscription(tenant, customer_id, &saas, now)
                .await
                .unwrap(),
            Lookup::Found(Upserted::Updated)
        );
        let Some(listed) = store.subscriptions(customer, None).await.unwrap() else {
            panic!()
        };
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (listed[0].status, listed[0].registration),
            (
                SubscriptionStatus::Pending,
                RegistrationState::NotRegistered
            )
        );
        assert_eq!(
            listed[0].activated_at,
            Some(now),
            "the activation time is kept"
        );
        assert_eq!(
            store.activate(&key(SAAS), now, None).await.unwrap().outcome,
            Lookup::Found(ActivateOutcome::Activated)
        );

        assert!(store.delete_subscription(&key(SAAS)).await.unwrap());
        assert!(!store.delete_subscription(&key(SAAS)).await.unwrap());
        assert_eq!(
            store.subscriptions(customer, None).await.unwrap(),
            Some(vec![])
        );
        assert!(store.delete_customer(tenant, customer_id).await.unwrap());
        assert!(!store.delete_customer(tenant, customer_id).await.unwrap());
        assert_eq!(store.subscriptions(customer, None).await.unwrap(), None);
        // Deleting a partner takes all that is its.
        store
            .put_customer(customer, "Fabrikam", None, now)
            .await
            .unwrap();
        store
            .put_subscription(tenant, customer_id, &saas, now)
            .await
            .unwrap();
        assert_eq!(store.partner(tenant).await.unwrap(), Some(renamed.clone()));
        assert!(store.delete_partner(tenant).await.unwrap());
        assert!(!store.delete_partner(tenant).await.unwrap());
        assert_eq!(store.partner(tenant).await.unwrap(), None);
        assert_eq!(
            store.registration_status(&key(SAAS)).await.unwrap(),
            Lookup::CustomerNotFound
        );
    }

    pub(super) async fn operators_complete_or_fail_registrations_in_progress(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(10_000);
        let t1 = Timestamp::from_millis(20_000);
        store
            .register(&key(AZURE_PLAN), t0, None, RegistrationEnding::Registered)
            .await
            .unwrap();
        store
            .register(&key(LEGACY_AZURE), t0, None, RegistrationEnding::Registered)
            .await
            .unwrap();
        assert_eq!(store.queue_depth().await.unwrap(), 2);
        assert_eq!(
            store
                .settle_registration(&key(AZURE_PLAN), RegistrationEnding::Registered, t1)
                .await
                .unwrap(),
            Lookup::Found(Settled::Done)
        );
        assert_eq!(
            store
                .settle_registration(&key(LEGACY_AZURE), RegistrationEnding::Failed, t1)
                .await
                .unwrap(),
            Lookup::Found(Settled::Done)
        );
        assert_eq!(
            store.queue_depth().await.unwrap(),
            0,
            "settled registrations leave the queue"
        );
        assert_eq!(
            store
                .settle_registration(&key(AZURE_PLAN), RegistrationEnding::Failed, t1)
                .await
                .unwrap(),
            Lookup::Found(Settled::NotRegistering(RegistrationState::Registered))
        );
        assert_eq!(
            store
                .settle_registration(&key(SAAS), RegistrationEnding::Registered, t1)
                .await
                .unwrap(),
            Lookup::Found(Settled::NotRegistering(RegistrationState::NotRegistered))
        );
        let Lookup::Found(registered) = store.subscription(&key(AZURE_PLAN)).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            registered.subscription.registration,
            RegistrationState::Registered
        );
        assert_eq!(registered.registrations.len(), 1);
        assert_eq!(
            registered.registrations[0].ending,
            Some(RegistrationEnding::Registered)
        );
        assert_eq!(
            (
                registered.registrations[0].requested_at,
                registered.registrations[0].completed_at
            ),
            (t0, Some(t1))
        );
        let Lookup::Found(failed) = store.subscription(&key(LEGACY_AZURE)).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            failed.subscription.registration,
            RegistrationState::NotRegistered
        );
        assert_eq!(
            failed.registrations[0].ending,
            Some(RegistrationEnding::Failed)
        );
        // A failed subscription can be registered again.
        assert_eq!(
            store
                .register(&key(LEGACY_AZURE), t1, None, RegistrationEnding::Registered)
                .await
                .unwrap()
                .outcome,
            Lookup::Found(RegisterOutcome::Accepted)
        );
        assert_eq!(
            store.subscription(&foreign_key(AZURE_PLAN)).await.unwrap(),
            Lookup::CustomerNotFound
        );
        let missing = SubscriptionKey {
            subscription: SubscriptionId::new_random(),
            ..key(AZURE_PLAN)
        };
        assert_eq!(
            store.subscription(&missing).await.unwrap(),
            Lookup::SubscriptionNotFound
        );
        assert_eq!(
            store
                .settle_registration(&missing, RegistrationEnding::Failed, t1)
                .await
                .unwrap(),
            Lookup::SubscriptionNotFound
        );
    }

    pub(super) async fn a_registration_accepted_to_fail_ends_in_failure(store: Arc<dyn Store>) {
        seeded(&store).await;
        let t0 = Timestamp::from_millis(10_000);
        store
            .register(&key(AZURE_PLAN), t0, None, RegistrationEnding::Failed)
            .await
            .unwrap();
        let claimed = store
            .claim_registrations(t0, t0, Duration::from_secs(30), 10)
            .await
            .unwrap();
        assert_eq!(claimed[0].ending, RegistrationEnding::Failed);
        let completed = store.complete_registrations(&claimed, t0).await.unwrap();
        assert_eq!(completed[0].ending, RegistrationEnding::Failed);
        assert_eq!(
            store.registration_status(&key(AZURE_PLAN)).await.unwrap(),
            Lookup::Found(RegistrationState::NotRegistered)
        );
        let Lookup::Found(history) = store.registration_history(&key(AZURE_PLAN)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(history[0].ending, Some(RegistrationEnding::Failed));
    }

    pub(super) async fn reset_removes_everything_but_the_signing_key(store: Arc<dyn Store>) {
        seeded(&store).await;
        let now = Timestamp::now();
        let request = idem(
            "before-reset",
            SAAS,
            "activate",
            now.saturating_add(Duration::from_secs(3600)),
        );
        store
            .activate(&key(SAAS), now, Some(&request))
            .await
            .unwrap();
        store
            .register(&key(AZURE_PLAN), now, None, RegistrationEnding::Registered)
            .await
            .unwrap();
        let key_before = SigningKey {
            kid: "k".into(),
            private_key_pkcs8: vec![1],
            created_at: now,
        };
        store.signing_key(key_before.clone()).await.unwrap();
        store.reset().await.unwrap();
        assert_eq!(store.list_partners().await.unwrap(), vec![]);
        assert_eq!(store.queue_depth().await.unwrap(), 0);
        // After re-seeding, the earlier request id is a new request: its record went too.
        seeded(&store).await;
        let again = store
            .activate(&key(SAAS), now, Some(&request))
            .await
            .unwrap();
        assert_eq!(
            again,
            Recorded::fresh(Lookup::Found(ActivateOutcome::Activated), Saved::default())
        );
        let other = SigningKey {
            kid: "other".into(),
            ..key_before.clone()
        };
        assert_eq!(store.signing_key(other).await.unwrap().kid, "k");
    }

    pub(super) async fn customers_are_paged_in_the_order_they_were_added_and_scoped_to_their_partner(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let partner: TenantId = PARTNER.parse().unwrap();
        let now = Timestamp::now();
        let mut added = vec![CUSTOMER.parse::<CustomerId>().unwrap()];
        for _ in 0..6 {
            let id = CustomerId::new_random();
            let key = CustomerKey {
                partner,
                customer: id,
            };
            store.put_customer(key, "More", None, now).await.unwrap();
            added.push(id);
        }
        // Three pages of three, in the order the customers were added.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.customers(partner, after, 3).await.unwrap();
            assert!(page.len() <= 3);
            if let Some((position, _)) = page.last() {
                after = Some(*position);
            }
            let positions: Vec<i64> = page.iter().map(|(p, _)| *p).collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
            let done = page.len() < 3;
            seen.extend(page.into_iter().map(|(_, c)| c.id));
            if done {
                break;
            }
        }
        assert_eq!(seen, added);
        // A customer added while paging comes after the others.
        let late = CustomerId::new_random();
        store
            .put_customer(
                CustomerKey {
                    partner,
                    customer: late,
                },
                "Late",
                None,
                now,
            )
            .await
            .unwrap();
        let rest = store.customers(partner, after, 3).await.unwrap();
        assert_eq!(rest.iter().map(|(_, c)| c.id).collect::<Vec<_>>(), [late]);
        // Another partner sees none of them, by list or by id.
        let other: TenantId = OTHER_PARTNER.parse().unwrap();
        assert!(store.customers(other, None, 100).await.unwrap().is_empty());
        let theirs = CustomerKey {
            partner: other,
            customer: CUSTOMER.parse().unwrap(),
        };
        assert_eq!(store.customer(theirs).await.unwrap(), None);
        let ours = CustomerKey { partner, ..theirs };
        let found = store.customer(ours).await.unwrap().unwrap();
        assert_eq!(
            (found.company_name.as_str(), found.domain),
            ("Fabrikam", None)
        );
    }

    pub(super) async fn subscriptions_are_read_with_their_fields_and_by_order(
        store: Arc<dyn Store>,
    ) {
        seeded(&store).await;
        let customer = CustomerKey {
            partner: PARTNER.parse().unwrap(),
            customer: CUSTOMER.parse().unwrap(),
        };
        let all = store.subscriptions(customer, None).await.unwrap().unwrap();
        assert_eq!(all.len(), 7);
        let ids: Vec<String> = all.iter().map(|s| s.id.to_string()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "by id");
        let plan = all.iter().find(|s| s.id.to_string() == AZURE_PLAN).unwrap();
        assert_eq!(
            (
                plan.kind,
                plan.status,
                plan.quantity,
                plan.offer_id.as_deref(),
                plan.order_id.as_deref()
            ),
            (
                SubscriptionKind::AzurePlan,
                SubscriptionStatus::Active,
                1,
                None,
                None
            )
        );
        assert!(plan.created_at.as_millis() > 0);
        // No subscription came from an order yet.
        assert_eq!(
            store
                .subscriptions(customer, Some("an-order"))
                .await
                .unwrap(),
            Some(vec![])
        );
        assert_eq!(
            store.find_subscription(&key(AZURE_PLAN)).await.unwrap(),
            Lookup::Found(plan.clone())
        );
        assert_eq!(
            store
                .find_subscription(&foreign_key(AZURE_PLAN))
                .await
                .unwrap(),
            Lookup::CustomerNotFound
        );
        assert_eq!(
            store
                .find_subscription(&key("d3a7f4c2-0000-4000-8000-0000000000aa"))
                .await
                .unwrap(),
            Lookup::SubscriptionNotFound
        );
        let unknown = CustomerKey {
            customer: CustomerId::new_random(),
            ..customer
        };
        assert_eq!(store.subscriptions(unknown, None).await.unwrap(), None);
    }

    pub(super) async fn a_fixture_sets_domains_offers_names_and_quantities(store: Arc<dyn Store>) {
        let mut described = fixture();
        let customer = &mut described.partners[0].customers[0];
        customer.domain = Some("fabrikam.example.com".into());
        customer.subscriptions[0].offer_id = Some("MS-AZR-0145P".into());
        customer.subscriptions[0].friendly_name = Some("Dev plan".into());
        customer.subscriptions[1].quantity = std::num::NonZeroU32::new(5);
        store.apply_fixture(&described).await.unwrap();
        let key_of = CustomerKey {
            partner: PARTNER.parse().unwrap(),
            customer: CUSTOMER.parse().unwrap(),
        };
        assert_eq!(
            store
                .customer(key_of)
                .await
                .unwrap()
                .unwrap()
                .domain
                .as_deref(),
            Some("fabrikam.example.com")
        );
        let Lookup::Found(plan) = store.find_subscription(&key(AZURE_PLAN)).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (plan.offer_id.as_deref(), plan.friendly_name.as_deref()),
            (Some("MS-AZR-0145P"), Some("Dev plan"))
        );
        let Lookup::Found(saas) = store.find_subscription(&key(SAAS)).await.unwrap() else {
            panic!()
        };
        assert_eq!(saas.quantity, 5);
        assert_eq!(store.apply_fixture(&described).await.unwrap().changed, 0);
        // Back to the plain fixture: the fields are cleared, one change per row.
        assert_eq!(store.apply_fixture(&fixture()).await.unwrap().changed, 3);
    }

    pub(super) async fn the_first_service_key_stays(store: Arc<dyn Store>) {
        let first = store.service_key("paging", vec![1; 32]).await.unwrap();
        assert_eq!(first, vec![1; 32]);
        let again = store.service_key("paging", vec![2; 32]).await.unwrap();
        assert_eq!(again, first);
        let other = store.service_key("other", vec![3; 32]).await.unwrap();
        assert_eq!(other, vec![3; 32]);
    }
}

#[tokio::test]
async fn a_file_database_keeps_state_and_queue_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("reopen.db").display());
    let t0 = Timestamp::from_millis(1_000);
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
        seeded(&store).await;
        store
            .register(&key(AZURE_PLAN), t0, None, RegistrationEnding::Registered)
            .await
            .unwrap();
        // A claim whose holder then dies: its lease must not outlive the process.
        let claimed = store
            .claim_registrations(t0, t0, Duration::from_secs(3600), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
    assert_eq!(
        store.registration_status(&key(AZURE_PLAN)).await.unwrap(),
        Lookup::Found(RegistrationState::Registering)
    );
    // Opening alone (as `partner-center token` does) leaves the claim alone; the service's start
    // releases it.
    assert!(
        store
            .claim_registrations(t0, t0, Duration::from_secs(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.release_orphaned_claims().await.unwrap();
    let claimed = store
        .claim_registrations(t0, t0, Duration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "the dead process's lease was released at start"
    );
    assert_eq!(
        store
            .complete_registrations(&claimed, t0)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_unsupported_url_is_refused_with_the_password_redacted() {
    let err =
        partner_center_store::open("mysql://user:hunter2@localhost/db", StoreOptions::default())
            .await
            .unwrap_err()
            .to_string();
    assert!(err.contains("mysql://user:***@localhost/db"), "{err}");
    assert!(!err.contains("hunter2"));
}

/// PostgreSQL claims an idempotency key only once its request has been executed again, so a
/// repeat whose execution fails (here its subscription's row is locked past `lock_timeout`) must
/// still be answered with the stored outcome, while a new request fails.
#[tokio::test]
async fn postgres_answers_a_repeat_whose_execution_fails_with_the_stored_outcome() {
    let Some(base) = testing::postgres_url() else {
        return;
    };
    let schema = PostgresSchema::create(&base).await;
    let options = StoreOptions {
        statement_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&schema.url, options).await.unwrap());
    seeded(&store).await;
    let now = Timestamp::now();
    let expires = now.saturating_add(Duration::from_secs(3600));
    let request = idem("held", SAAS, "activate", expires);
    let first = store
        .activate(&key(SAAS), now, Some(&request))
        .await
        .unwrap();
    assert_eq!(first.outcome, Lookup::Found(ActivateOutcome::Activated));

    let mut holder = <sqlx::PgConnection as sqlx::Connection>::connect(&schema.url)
        .await
        .unwrap();
    sqlx::raw_sql("begin").execute(&mut holder).await.unwrap();
    sqlx::query("select 1 from subscriptions where subscription_id = $1 for update")
        .bind(SAAS)
        .fetch_one(&mut holder)
        .await
        .unwrap();
    let repeat = store
        .activate(&key(SAAS), now, Some(&request))
        .await
        .unwrap();
    assert_eq!(
        repeat,
        Recorded::repeat(Lookup::Found(ActivateOutcome::Activated))
    );
    let other = idem("new", SAAS, "activate", expires);
    let refused = store.activate(&key(SAAS), now, Some(&other)).await;
    assert!(refused.is_err(), "the lock was held: {refused:?}");
    drop(holder);
    drop(store);
    schema.drop().await;
}

/// A managed PostgreSQL (Azure's, Amazon's, Google's) takes only encrypted connections:
/// `sslmode=require` in the URL must give a store whose connections are encrypted, not an error
/// that the build has no TLS. The local server of `PC_TEST_POSTGRES_URL` has to offer TLS (Debian's
/// does, with its own certificate, which `require` does not verify).
#[tokio::test]
async fn postgres_connects_over_tls_when_the_url_requires_it() {
    let Some(base) = testing::postgres_url() else {
        return;
    };
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap();
    let offered: String = sqlx::query_scalar("show ssl")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    drop(admin);
    if offered != "on" {
        assert!(
            std::env::var_os("CI").is_none(),
            "the PostgreSQL server of PC_TEST_POSTGRES_URL must offer TLS (ssl = on) in CI"
        );
        eprintln!("skipped: the PostgreSQL server does not offer TLS (ssl = off)");
        return;
    }
    let schema = PostgresSchema::create(&base).await;
    let url = format!("{}&sslmode=require", schema.url);
    let store: Arc<dyn Store> = Arc::new(
        PostgresStore::open(&url, StoreOptions::default())
            .await
            .unwrap(),
    );
    seeded(&store).await;
    assert!(matches!(
        store.registration_status(&key(AZURE_PLAN)).await.unwrap(),
        Lookup::Found(_)
    ));
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(encrypted, "a connection of {url} is not encrypted");
    drop(conn);
    drop(store);
    schema.drop().await;
}
