//! `POST .../activate`.

use partner_center_model::ActivationStatus;

use crate::helpers::*;

e2e! {
    async fn a_pending_saas_subscription_of_a_sandbox_partner_is_activated() {
        let app = TestApp::spawn().await;
        let result = app.activated(SAAS).await;
        assert_eq!(result.status, ActivationStatus::Success);
        // Another partner's sandbox activates its own.
        let other = app.partner(OTHER_SANDBOX_PARTNER);
        let subscription = other.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).subscriptions().by_id(OTHER_SAAS.parse().unwrap());
        assert_eq!(subscription.activate().await.unwrap().status, ActivationStatus::Success);
    }
}

e2e! {
    async fn the_activation_answer_is_exactly_the_contract_shape() {
        let app = TestApp::spawn().await;
        let response = app.activate(SAAS).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
        assert!(response.headers().get("location").is_none());
        assert_eq!(response.text().await.unwrap(), format!(r#"{{"subscriptionId":"{SAAS}","status":"Success"}}"#));
    }
}

e2e! {
    async fn activating_twice_is_refused_with_800041() {
    let app = TestApp::spawn().await;
    app.activated(SAAS).await;
    let body = fault(app.activate(SAAS).await, 400).await;
    assert_eq!(body["code"], 800_041);
    assert_eq!(body["description"], "This item has already been activated.");
    assert_eq!(body["source"], "PartnerFD");
    // A subscription that was active from the start answers the same.
    assert_eq!(
        fault(app.activate(ACTIVE_SAAS).await, 400).await["code"],
        800_041
    );
}
}

e2e! {
    async fn a_partner_that_is_not_a_sandbox_cannot_activate() {
    let app = TestApp::spawn().await;
    let response = app
        .post(
            PRODUCTION_CUSTOMER,
            PRODUCTION_SAAS,
            "activate",
            &token(PRODUCTION_PARTNER),
        )
        .await;
    let body = fault(response, 400).await;
    assert_eq!(body["code"], 900_127);
    assert_eq!(
        body["description"],
        "This operation is not supported in this environment."
    );
    // It stays pending: the same request from a sandbox would have worked.
}
}

e2e! {
    async fn only_saas_subscriptions_can_be_activated() {
    let app = TestApp::spawn().await;
    for subscription in [AZURE_PLAN, LICENSE] {
        let body = fault(app.activate(subscription).await, 400).await;
        assert_eq!(body["code"], 800_021, "{subscription}");
    }
    // Nothing happened to the Azure plan: it can still be registered.
    app.registered(AZURE_PLAN).await;
}
}

e2e! {
    async fn a_suspended_saas_subscription_cannot_be_activated() {
    let app = TestApp::spawn().await;
    let body = fault(app.activate(SUSPENDED_SAAS).await, 400).await;
    assert_eq!(body["code"], 900_141);
    assert!(body["description"].as_str().unwrap().contains("suspended"));
}
}

e2e! {
    async fn an_unknown_subscription_cannot_be_activated() {
    let app = TestApp::spawn().await;
    let body = fault(
        app.activate("00000000-1111-4000-8000-000000000000").await,
        404,
    )
    .await;
    assert_eq!(body["code"], 20_003);
}
}
