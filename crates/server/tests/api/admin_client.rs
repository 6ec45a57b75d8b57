//! The admin API through the SDK's typed admin client: every route, against a live service, with
//! the Partner Center routes driven by the SDK in between.

use partner_center_client::admin::AdminClient;
use partner_center_client::model::admin::{
    Customer, FaultEffect, FaultRule, Partner, PutCustomer, PutPartner, PutSubscription,
    RequestsQuery,
};
use partner_center_client::model::fault::codes;
use partner_center_client::model::{
    CustomerId, RegistrationState, SubscriptionId, SubscriptionKind, SubscriptionStatus, TenantId,
    paths,
};
use partner_center_client::{Error, RequestContext};
use partner_center_server::RegistrationDelay;

use crate::helpers::*;

/// The status and ServiceFault code of an error answer.
#[track_caller]
fn refused<T: std::fmt::Debug>(result: Result<T, Error>) -> (u16, Option<i64>) {
    match result {
        Err(Error::Api(api)) => (api.status, api.code()),
        other => panic!("expected an error answer, got {other:?}"),
    }
}

e2e! {
    async fn the_sdk_admin_client_drives_every_admin_route() {
        let app = TestApp::spawn_with(TestOptions {
            admin_token: Some(ADMIN),
            delay: RegistrationDelay::Manual,
            ..TestOptions::default()
        })
        .await;
        let admin = AdminClient::new(format!("http://{}", app.addr), ADMIN).unwrap();
        let tenant: TenantId = "a0a0a0a0-0000-4000-8000-0000000000a0".parse().unwrap();
        let customer: CustomerId = "a1a1a1a1-0000-4000-8000-0000000000a1".parse().unwrap();
        let plan: SubscriptionId = "a2a2a2a2-0000-4000-8000-0000000000a2".parse().unwrap();
        let other_plan: SubscriptionId = "a3a3a3a3-0000-4000-8000-0000000000a3".parse().unwrap();
        let saas: SubscriptionId = "a4a4a4a4-0000-4000-8000-0000000000a4".parse().unwrap();

        // Partners.
        let put = PutPartner { name: "New".into(), sandbox: true };
        let created = admin.put_partner(tenant, &put).await.unwrap();
        assert!(created.created);
        assert_eq!(created.value, Partner { tenant_id: tenant, name: "New".into(), sandbox: true });
        let renamed = PutPartner { name: "Renamed".into(), sandbox: true };
        let updated = admin.put_partner(tenant, &renamed).await.unwrap();
        assert!(!updated.created);
        assert_eq!(updated.value.name, "Renamed");
        let partners = admin.partners().await.unwrap();
        assert_eq!(partners.len(), 4, "the fixture's three and the new one");
        assert!(partners.contains(&updated.value));

        // Customers.
        let put = PutCustomer { company_name: "Co".into(), domain: Some("co.example.com".into()) };
        assert!(admin.put_customer(tenant, customer, &put).await.unwrap().created);
        assert_eq!(
            admin.customers(tenant).await.unwrap(),
            [Customer { id: customer, company_name: "Co".into(), domain: Some("co.example.com".into()) }]
        );
        let unknown: TenantId = "a9a9a9a9-0000-4000-8000-0000000000a9".parse().unwrap();
        assert_eq!(refused(admin.customers(unknown).await), (404, Some(codes::NOT_FOUND)));

        // Subscriptions.
        let azure_plan = PutSubscription {
            kind: SubscriptionKind::AzurePlan,
            status: SubscriptionStatus::Active,
            offer_name: "Azure plan".into(),
            offer_id: None,
            friendly_name: Some("Production".into()),
            quantity: None,
        };
        let put = admin.put_subscription(tenant, customer, plan, &azure_plan).await.unwrap();
        assert!(put.created);
        assert_eq!(put.value.registration_status, RegistrationState::NotRegistered);
        assert_eq!(put.value.activated_at, None);
        assert_eq!(put.value.friendly_name.as_deref(), Some("Production"));
        admin.put_subscription(tenant, customer, other_plan, &azure_plan).await.unwrap();
        let pending_saas = PutSubscription {
            kind: SubscriptionKind::Saas,
            status: SubscriptionStatus::Pending,
            offer_name: String::new(),
            offer_id: None,
            friendly_name: None,
            quantity: std::num::NonZeroU32::new(3),
        };
        admin.put_subscription(tenant, customer, saas, &pending_saas).await.unwrap();
        assert_eq!(admin.subscriptions(tenant, customer).await.unwrap().len(), 3);

        // The new partner registers and activates through the SDK, with ids the journal keeps.
        let partner = app.partner(&tenant.to_string());
        let subscriptions = partner.customers().by_id(customer).subscriptions();
        let traced = partner.with(RequestContext::new().request_id("admin-client-register"));
        let location = traced
            .customers()
            .by_id(customer)
            .subscriptions()
            .by_id(plan)
            .registration()
            .register()
            .await
            .unwrap();
        assert_eq!(format!("/v1{location}"), paths::registration_status(customer, plan));
        let detail = admin.subscription(tenant, customer, plan).await.unwrap();
        assert_eq!(detail.subscription.registration_status, RegistrationState::Registering);
        assert_eq!(detail.registrations.len(), 1);
        assert_eq!(detail.registrations[0].state, "Registering");
        assert!(detail.registrations[0].requested_at.ends_with('Z'));
        assert_eq!(detail.registrations[0].completed_at, None);
        let request = &detail.requests[0];
        assert_eq!(
            (request.method.as_str(), request.request_id.as_str(), request.status),
            ("POST", "admin-client-register", 202)
        );
        assert_eq!(request.route.as_deref(), Some(paths::REGISTRATIONS));
        assert_eq!((request.partner, request.subscription), (Some(tenant), Some(plan)));
        assert_eq!(request.fault, None);

        // Settling registrations.
        let advanced = admin.advance_registration(tenant, customer, plan).await.unwrap();
        assert_eq!(advanced.registration_status, RegistrationState::Registered);
        let status = subscriptions.by_id(plan).registration_status().get().await.unwrap();
        assert_eq!(status.status, RegistrationState::Registered);
        assert_eq!(refused(admin.advance_registration(tenant, customer, plan).await).0, 409);
        subscriptions.by_id(other_plan).registration().register().await.unwrap();
        let failed = admin.fail_registration(tenant, customer, other_plan).await.unwrap();
        assert_eq!(failed.registration_status, RegistrationState::NotRegistered);
        let detail = admin.subscription(tenant, customer, other_plan).await.unwrap();
        assert_eq!(detail.registrations[0].state, "Failed");
        assert!(detail.registrations[0].completed_at.as_deref().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(refused(admin.fail_registration(tenant, customer, other_plan).await).0, 409);

        subscriptions.by_id(saas).activate().await.unwrap();
        let listed = admin.subscriptions(tenant, customer).await.unwrap();
        let activated = listed.iter().find(|s| s.id == saas).unwrap();
        assert_eq!(activated.status, SubscriptionStatus::Active);
        assert!(activated.activated_at.as_deref().is_some_and(|t| t.ends_with('Z')));

        // Fault rules: listed, applied (and seen in the journal), deleted, cleared.
        let rule = FaultRule {
            route: "registrationstatus".into(),
            partner: Some(tenant),
            subscription: None,
            probability: None,
            count: Some(1),
            effect: FaultEffect::Status { status: 503, code: codes::UNEXPECTED, description: "Busy.".into() },
        };
        let active = admin.add_fault(&rule).await.unwrap();
        assert_eq!((active.rule.clone(), active.remaining), (rule.clone(), Some(1)));
        let slow = FaultRule {
            count: None,
            effect: FaultEffect::Latency { ms: 1 },
            ..rule.clone()
        };
        let second = admin.add_fault(&slow).await.unwrap();
        assert_eq!(second.remaining, None);
        assert_eq!(admin.faults().await.unwrap(), [active.clone(), second.clone()]);
        admin.delete_fault(second.id).await.unwrap();
        assert_eq!(refused(admin.delete_fault(second.id).await), (404, Some(codes::NOT_FOUND)));
        let invalid = FaultRule { route: "nowhere".into(), ..rule.clone() };
        assert_eq!(refused(admin.add_fault(&invalid).await), (400, Some(codes::INVALID_INPUT)));

        let retried = partner.with(RequestContext::new().request_id("admin-client-status"));
        let status = retried
            .customers()
            .by_id(customer)
            .subscriptions()
            .by_id(plan)
            .registration_status()
            .get()
            .await
            .unwrap();
        assert_eq!(status.status, RegistrationState::Registered, "the SDK retried the 503");
        assert!(admin.faults().await.unwrap().is_empty(), "the rule is used up");
        admin.add_fault(&rule).await.unwrap();
        admin.clear_faults().await.unwrap();
        assert!(admin.faults().await.unwrap().is_empty());

        // The journal.
        let query = RequestsQuery { request_id: Some("admin-client-status".into()), ..RequestsQuery::default() };
        let attempts = admin.requests(&query).await.unwrap();
        let outcomes: Vec<_> = attempts.iter().map(|e| (e.status, e.fault.as_deref())).collect();
        assert_eq!(outcomes, [(200, None), (503, Some("status"))], "newest first");
        let on_saas = admin.requests(&RequestsQuery::default().with_subscription(saas)).await.unwrap();
        assert_eq!(on_saas.len(), 1);
        assert!(on_saas[0].path.ends_with("/activate"));
        let newest = RequestsQuery { limit: Some(2), ..RequestsQuery::default() };
        assert_eq!(admin.requests(&newest).await.unwrap(), attempts);
        let not_a_guid = RequestsQuery { subscription: Some("nope".into()), ..RequestsQuery::default() };
        assert_eq!(refused(admin.requests(&not_a_guid).await), (400, Some(codes::INVALID_INPUT)));

        // Deleting.
        admin.delete_subscription(tenant, customer, saas).await.unwrap();
        assert_eq!(refused(admin.subscription(tenant, customer, saas).await).0, 404);
        assert_eq!(refused(admin.delete_subscription(tenant, customer, saas).await).0, 404);
        admin.delete_customer(tenant, customer).await.unwrap();
        assert_eq!(refused(admin.delete_customer(tenant, customer).await).0, 404);
        admin.delete_partner(tenant).await.unwrap();
        assert_eq!(refused(admin.delete_partner(tenant).await).0, 404);
        assert_eq!(refused(subscriptions.by_id(plan).registration_status().get().await).0, 403, "the partner is gone");

        // Reset, then a fixture, twice.
        admin.reset().await.unwrap();
        assert!(admin.partners().await.unwrap().is_empty());
        assert!(admin.requests(&RequestsQuery::default()).await.unwrap().is_empty(), "the journal is reset too");
        let report = admin.load_fixture(&fixture()).await.unwrap();
        assert_eq!((report.partners, report.customers, report.subscriptions), (3, 3, 10));
        assert!(report.changed > 0);
        assert_eq!(admin.load_fixture(&fixture()).await.unwrap().changed, 0, "applied already");
        assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");

        // The wrong token gets nowhere.
        let stranger = AdminClient::new(format!("http://{}", app.addr), "not-the-admin-token").unwrap();
        assert_eq!(refused(stranger.partners().await), (403, Some(codes::FORBIDDEN)));
    }
}
