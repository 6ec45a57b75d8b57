//! Idempotency by `MS-RequestId` (CONTRACT.md section 9).

use std::time::Duration;

use partner_center_client::{PartnerCenter, RequestContext, RetryPolicy};
use partner_center_model::{ActivationStatus, SubscriptionActivationResult, XmlForm};

use crate::helpers::*;

/// One POST with `MS-RequestId: request_id`, as `partner` on `customer`'s `subscription`.
async fn post_once(
    app: &TestApp,
    partner: &str,
    customer: &str,
    subscription: &str,
    action: &str,
    request_id: &str,
) -> reqwest::Response {
    let url = app.url(&TestApp::subscription_path(customer, subscription, action));
    app.http
        .post(url)
        .bearer_auth(token(partner))
        .header("ms-requestid", request_id)
        .send()
        .await
        .unwrap()
}

/// What a client can see of an outcome: status, `Location` and body.
async fn outcome(response: reqwest::Response) -> (u16, Option<String>, String) {
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, response.text().await.unwrap())
}

/// The SDK as the sandbox partner, without retries (a retry would hide a failure), sending
/// `MS-RequestId: request_id` on every call.
fn with_request_id(app: &TestApp, request_id: &str) -> PartnerCenter {
    app.sdk()
        .retry(RetryPolicy::none())
        .token(token(SANDBOX_PARTNER))
        .build()
        .unwrap()
        .with(RequestContext::new().request_id(request_id))
}

e2e! {
    multi_thread async fn fifty_concurrent_identical_registrations_register_once_and_answer_alike() {
        let app = TestApp::spawn().await;
        let partner = with_request_id(&app, "3b1f3c52-6f5e-4d0e-9f57-1f4f3a1e0001");
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let partner = partner.clone();
                tokio::spawn(async move {
                    let customer = partner.customers().by_id(CUSTOMER.parse().unwrap());
                    customer.subscriptions().by_id(AZURE_PLAN.parse().unwrap()).registration().register().await
                })
            })
            .collect();
        let expected = format!("/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus");
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), expected);
        }
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
    }
}

e2e! {
    multi_thread async fn fifty_concurrent_identical_activations_activate_once_and_all_succeed() {
        let app = TestApp::spawn().await;
        let partner = with_request_id(&app, "3b1f3c52-6f5e-4d0e-9f57-1f4f3a1e0002");
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let partner = partner.clone();
                tokio::spawn(async move {
                    let customer = partner.customers().by_id(CUSTOMER.parse().unwrap());
                    customer.subscriptions().by_id(SAAS.parse().unwrap()).activate().await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().status, ActivationStatus::Success);
        }
        // A new request (another id) sees the one activation.
        let again = post_once(&app, SANDBOX_PARTNER, CUSTOMER, SAAS, "activate", "another").await;
        assert_eq!(fault(again, 400).await["code"], 800_041);
    }
}

e2e! {
    async fn a_repeat_is_rendered_as_it_asks_and_keeps_its_own_correlation() {
    let app = TestApp::spawn().await;
    let url = app.url(&TestApp::subscription_path(CUSTOMER, SAAS, "activate"));
    let first = app
        .http
        .post(&url)
        .bearer_auth(token(SANDBOX_PARTNER))
        .header("ms-requestid", "req-xml")
        .header("ms-correlationid", "first-correlation")
        .header("ms-cv", "iqOqN0FnaE2y0HcD.1")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let repeat = app
        .http
        .post(&url)
        .bearer_auth(token(SANDBOX_PARTNER))
        .header("ms-requestid", "req-xml")
        .header("ms-correlationid", "second-correlation")
        .header("ms-cv", "fc1RI18AXEK3Tdmj.7")
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(repeat.status(), 200);
    assert_eq!(repeat.headers()["ms-requestid"], "req-xml");
    assert_eq!(repeat.headers()["ms-correlationid"], "second-correlation");
    assert_eq!(repeat.headers()["ms-cv"], "fc1RI18AXEK3Tdmj.7.0");
    assert_eq!(
        repeat.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let result = SubscriptionActivationResult::from_xml(&repeat.text().await.unwrap()).unwrap();
    assert_eq!(result.status.as_str(), "Success");
}
}

e2e! {
    async fn a_repeat_after_a_restart_gets_the_stored_outcome() {
        let first = TestApp::spawn().await;
        let partner = with_request_id(&first, "survives");
        let activated = first.subscription(&partner, SAAS).activate().await.unwrap();
        let database = first.database.clone();
        first.stop().await;

        let second = TestApp::spawn_with(TestOptions { database: Some(database), ..TestOptions::default() }).await;
        let partner = with_request_id(&second, "survives");
        assert_eq!(second.subscription(&partner, SAAS).activate().await.unwrap(), activated);
        // Without the same id, the request executes, and the subscription is already active.
        let fresh = post_once(&second, SANDBOX_PARTNER, CUSTOMER, SAAS, "activate", "new").await;
        assert_eq!(fault(fresh, 400).await["code"], 800_041);
    }
}

e2e! {
    async fn stored_400s_and_404s_are_replayed() {
    let app = TestApp::spawn().await;
    let refused = outcome(
        post_once(
            &app,
            SANDBOX_PARTNER,
            CUSTOMER,
            LICENSE,
            "registrations",
            "r400",
        )
        .await,
    )
    .await;
    assert_eq!(refused.0, 400);
    assert_eq!(
        outcome(
            post_once(
                &app,
                SANDBOX_PARTNER,
                CUSTOMER,
                LICENSE,
                "registrations",
                "r400"
            )
            .await
        )
        .await,
        refused
    );
    let unknown = "00000000-1111-4000-8000-000000000000";
    let missing =
        outcome(post_once(&app, SANDBOX_PARTNER, CUSTOMER, unknown, "activate", "r404").await)
            .await;
    assert_eq!(missing.0, 404);
    assert_eq!(
        outcome(post_once(&app, SANDBOX_PARTNER, CUSTOMER, unknown, "activate", "r404").await)
            .await,
        missing
    );
}
}

e2e! {
    async fn a_5xx_is_not_stored_and_its_retry_executes() {
    let app = TestApp::spawn().await;
    // The registration queue disappears from under the service.
    app.database.hide_registration_queue().await;

    let failed = post_once(
        &app,
        SANDBOX_PARTNER,
        CUSTOMER,
        AZURE_PLAN,
        "registrations",
        "retry-me",
    )
    .await;
    assert_eq!(failed.status(), 500);

    // The store is repaired; the client retries with the same id, as the .NET SDK does.
    app.database.restore_registration_queue().await;
    let retried = post_once(
        &app,
        SANDBOX_PARTNER,
        CUSTOMER,
        AZURE_PLAN,
        "registrations",
        "retry-me",
    )
    .await;
    assert_eq!(retried.status(), 202);
    assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
    assert_eq!(app.status(AZURE_PLAN).await, "Registering");
}
}

e2e! {
    async fn the_same_request_id_on_another_subscription_or_from_another_partner_is_independent() {
        let app = TestApp::spawn().await;
        let id = "shared-request-id";
        let partner = with_request_id(&app, id);
        app.subscription(&partner, AZURE_PLAN).registration().register().await.unwrap();
        app.subscription(&partner, LEGACY_AZURE).registration().register().await.unwrap();
        assert_eq!(app.registrations_of(LEGACY_AZURE).await, 1, "the second subscription was registered too");
        app.subscription(&partner, SAAS).activate().await.unwrap();
        // The production partner's own request with the same id executes: it is not a sandbox.
        let other = post_once(&app, PRODUCTION_PARTNER, PRODUCTION_CUSTOMER, PRODUCTION_SAAS, "activate", id).await;
        assert_eq!(fault(other, 400).await["code"], 900_127);
    }
}

e2e! {
    async fn a_repeat_after_the_retention_window_executes_anew() {
        let app = TestApp::spawn_with(TestOptions { idempotency_retention: Duration::ZERO, ..TestOptions::default() }).await;
        let partner = with_request_id(&app, "short-lived");
        app.subscription(&partner, SAAS).activate().await.unwrap();
        let anew = post_once(&app, SANDBOX_PARTNER, CUSTOMER, SAAS, "activate", "short-lived").await;
        assert_eq!(fault(anew, 400).await["code"], 800_041);
    }
}

e2e! {
    async fn requests_without_a_request_id_are_not_deduplicated() {
    let app = TestApp::spawn().await;
    let first = app.activate(SAAS).await;
    assert_eq!(first.status(), 200);
    let generated = first.headers()["ms-requestid"].to_str().unwrap().to_owned();
    let second = app.activate(SAAS).await;
    assert_ne!(
        second.headers()["ms-requestid"].to_str().unwrap(),
        generated
    );
    assert_eq!(fault(second, 400).await["code"], 800_041);
}
}

e2e! {
    async fn a_repeat_answers_as_the_first_did_even_after_the_state_moved_on() {
    let app = TestApp::spawn().await;
    let first = outcome(
        post_once(
            &app,
            SANDBOX_PARTNER,
            CUSTOMER,
            AZURE_PLAN,
            "registrations",
            "moved-on",
        )
        .await,
    )
    .await;
    assert_eq!(first.0, 202);
    let later = partner_center_model::Timestamp::now().saturating_add(Duration::from_secs(3600));
    assert_eq!(app.app.worker().run_due(later).await.unwrap(), 1);
    assert_eq!(app.status(AZURE_PLAN).await, "Registered");
    // The repeat gets the first 202, not the 200 a new request now gets.
    let repeat = outcome(
        post_once(
            &app,
            SANDBOX_PARTNER,
            CUSTOMER,
            AZURE_PLAN,
            "registrations",
            "moved-on",
        )
        .await,
    )
    .await;
    assert_eq!(repeat, first);
    let fresh = post_once(
        &app,
        SANDBOX_PARTNER,
        CUSTOMER,
        AZURE_PLAN,
        "registrations",
        "new-one",
    )
    .await;
    assert_eq!(fresh.status(), 200);
}
}
