//! `POST .../registrations` and `GET .../registrationstatus`.

use std::time::Duration;

use partner_center_model::{RegistrationStatus, Timestamp};
use partner_center_server::RegistrationDelay;
use serde_json::{Value, json};

use crate::helpers::*;

fn location(subscription: &str) -> String {
    format!("/customers/{CUSTOMER}/subscriptions/{subscription}/registrationstatus")
}

e2e! {
    async fn a_registration_is_accepted_then_completes_and_then_answers_200_with_the_status() {
        let app = TestApp::spawn().await;
        let partner = app.partner(SANDBOX_PARTNER);
        let subscription = app.subscription(&partner, AZURE_PLAN);
        let status = || async { subscription.registration_status().get().await.unwrap().status };
        assert_eq!(status().await, RegistrationStatus::NotRegistered);

        assert_eq!(subscription.registration().register().await.unwrap(), location(AZURE_PLAN));
        assert_eq!(status().await, RegistrationStatus::Registering);

        // A repeat while registering is accepted again, with no second registration.
        assert_eq!(subscription.registration().register().await.unwrap(), location(AZURE_PLAN));
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
        assert_eq!(status().await, RegistrationStatus::Registering);

        // Nothing is due before the delay; everything is after it.
        assert_eq!(app.app.worker().run_due(Timestamp::now()).await.unwrap(), 0);
        let later = Timestamp::now().saturating_add(Duration::from_secs(3600));
        assert_eq!(app.app.worker().run_due(later).await.unwrap(), 1);
        assert_eq!(status().await, RegistrationStatus::Registered);

        // Registering a registered subscription says where its status is, and registers nothing.
        assert_eq!(subscription.registration().register().await.unwrap(), location(AZURE_PLAN));
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
    }
}

e2e! {
    async fn the_registration_answers_are_exactly_the_contract_shape() {
        let app = TestApp::spawn().await;
        let accepted = app.register(AZURE_PLAN).await;
        assert_eq!(accepted.status(), 202);
        assert_eq!(accepted.headers()["location"], location(AZURE_PLAN).as_str());
        assert_eq!(accepted.headers()["content-length"], "0");
        assert!(accepted.headers().get("content-type").is_none());
        assert!(accepted.bytes().await.unwrap().is_empty());

        let later = Timestamp::now().saturating_add(Duration::from_secs(3600));
        assert_eq!(app.app.worker().run_due(later).await.unwrap(), 1);
        let registered = app.register(AZURE_PLAN).await;
        assert_eq!(registered.status(), 200);
        assert_eq!(registered.headers()["location"], location(AZURE_PLAN).as_str());
        assert_eq!(registered.headers()["content-type"], "application/json; charset=utf-8");
        let body: Value = registered.json().await.unwrap();
        assert_eq!(
            body,
            json!({"subscriptionId": AZURE_PLAN, "status": "Registered", "attributes": {"objectType": "SubscriptionRegistrationStatus"}})
        );
    }
}

e2e! {
    async fn the_background_worker_completes_registrations_by_itself() {
    let mut app = TestApp::spawn_with(TestOptions {
        delay: RegistrationDelay::After(Duration::ZERO),
        ..TestOptions::default()
    })
    .await;
    app.registered(LEGACY_AZURE).await;
    let completed = app.next_completion().await;
    assert_eq!(completed.key.subscription.to_string(), LEGACY_AZURE);
    assert_eq!(completed.key.customer.to_string(), CUSTOMER);
    assert!(completed.completed_at >= completed.requested_at);
    assert_eq!(app.status(LEGACY_AZURE).await, "Registered");
}
}

e2e! {
    async fn the_status_body_is_exactly_the_contract_shape() {
    let app = TestApp::spawn().await;
    let response = app
        .status_with(CUSTOMER, AZURE_PLAN, &token(SANDBOX_PARTNER))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        response.text().await.unwrap(),
        format!(
            r#"{{"subscriptionId":"{AZURE_PLAN}","status":"NotRegistered","attributes":{{"objectType":"SubscriptionRegistrationStatus"}}}}"#
        )
    );
}
}

e2e! {
    async fn every_subscription_of_the_customer_has_a_status_whatever_its_kind() {
    let app = TestApp::spawn().await;
    for subscription in [SAAS, LICENSE, SUSPENDED_AZURE_PLAN] {
        assert_eq!(
            app.status(subscription).await,
            "NotRegistered",
            "{subscription}"
        );
    }
}
}

e2e! {
    async fn subscriptions_that_are_not_azure_are_refused_with_800011() {
    let app = TestApp::spawn().await;
    for subscription in [SAAS, LICENSE] {
        let body = fault(app.register(subscription).await, 400).await;
        assert_eq!(body["code"], 800_011, "{subscription}");
        assert_eq!(
            body["description"],
            "This subscription is not a valid Azure subscription."
        );
        assert_eq!(app.status(subscription).await, "NotRegistered");
        assert_eq!(app.registrations_of(subscription).await, 0);
    }
}
}

e2e! {
    async fn subscriptions_that_are_not_active_are_refused_with_800012() {
    let app = TestApp::spawn().await;
    let body = fault(app.register(SUSPENDED_AZURE_PLAN).await, 400).await;
    assert_eq!(body["code"], 800_012);
    assert_eq!(
        body["description"],
        "This subscription is not an active subscription."
    );
    assert_eq!(app.status(SUSPENDED_AZURE_PLAN).await, "NotRegistered");
}
}

e2e! {
    async fn an_unknown_subscription_is_404_with_code_20003() {
    let app = TestApp::spawn().await;
    let unknown = "00000000-1111-4000-8000-000000000000";
    let body = fault(app.register(unknown).await, 404).await;
    assert_eq!(body["code"], 20_003);
    assert_eq!(
        body["description"],
        format!("Subscription with id {unknown} not found.")
    );
    let body = fault(
        app.status_with(CUSTOMER, unknown, &token(SANDBOX_PARTNER))
            .await,
        404,
    )
    .await;
    assert_eq!(body["code"], 20_003);
}
}

e2e! {
    async fn the_location_names_the_normalised_ids_whatever_the_request_spelt() {
    let app = TestApp::spawn().await;
    let customer = format!("{{{}}}", CUSTOMER.to_uppercase());
    let subscription = AZURE_PLAN.to_uppercase();
    let response = app
        .post(
            &customer,
            &subscription,
            "registrations",
            &token(SANDBOX_PARTNER),
        )
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.headers()["location"],
        location(AZURE_PLAN).as_str()
    );
    let status: Value = app
        .status_with(&customer, &subscription, &token(SANDBOX_PARTNER))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["subscriptionId"], AZURE_PLAN);
    assert_eq!(status["status"], "Registering");
}
}
