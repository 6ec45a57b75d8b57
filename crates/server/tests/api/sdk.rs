//! The Rust SDK against the live service: retries, throttling, tokens, waiting, and how every
//! failure reaches the caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use partner_center_client::model::fault::codes;
use partner_center_client::model::{ActivationStatus, RegistrationStatus};
use partner_center_client::{
    ClientCredentials, Error, ErrorCategory, RequestContext, RetryPolicy, TokenProvider,
    WaitOptions,
};
use partner_center_server::RegistrationDelay;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Adds a fault rule through the admin API.
async fn inject(app: &TestApp, rule: Value) {
    admin_json(app, Method::POST, "/faults", Some(rule), 201).await;
}

/// The journal's entries for the service's routes on `subscription`, oldest first.
async fn requests_on(app: &TestApp, subscription: &str) -> Vec<Value> {
    let mut entries = journal(app, &format!("subscription={subscription}")).await;
    entries.reverse();
    entries
}

fn field<'a>(entries: &'a [Value], name: &str) -> Vec<&'a Value> {
    entries.iter().map(|e| &e[name]).collect()
}

/// The API error of a failed call, or a panic naming what it was instead.
fn api_error<T: std::fmt::Debug>(result: Result<T, Error>) -> partner_center_client::ApiError {
    match result {
        Err(Error::Api(api)) => *api,
        other => panic!("expected an API error, got {other:?}"),
    }
}

e2e! {
    async fn an_injected_500_is_retried_with_the_same_request_id_and_registers_once() {
        let app = with_admin().await;
        inject(&app, json!({"route": "registrations", "count": 2, "effect": {"type": "status", "status": 500}})).await;
        let partner = app.partner(SANDBOX_PARTNER);
        let location = app.subscription(&partner, AZURE_PLAN).registration().register().await.unwrap();
        assert_eq!(location, format!("/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus"));
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
        let posts = requests_on(&app, AZURE_PLAN).await;
        assert_eq!(field(&posts, "status"), [&json!(500), &json!(500), &json!(202)]);
        assert_eq!(field(&posts, "fault"), [&json!("status"), &json!("status"), &Value::Null]);
        assert!(posts.iter().all(|p| p["requestId"] == posts[0]["requestId"]), "one MS-RequestId: {posts:?}");
        assert!(posts.iter().all(|p| p["correlationId"] == posts[0]["correlationId"]));
    }
}

e2e! {
    async fn a_response_lost_after_the_registration_is_retried_and_replayed_not_repeated() {
        let app = with_admin().await;
        inject(&app, json!({"route": "registrations", "count": 1, "effect": {"type": "dropResponse"}})).await;
        let partner = app.partner(SANDBOX_PARTNER);
        let subscription = app.subscription(&partner, AZURE_PLAN);
        subscription.registration().register().await.unwrap();
        // The first attempt registered; its answer was lost; the retry got the first outcome.
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
        let posts = requests_on(&app, AZURE_PLAN).await;
        assert_eq!(field(&posts, "status"), [&json!(202), &json!(202)]);
        assert_eq!(field(&posts, "fault"), [&json!("dropResponse"), &Value::Null]);
        assert_eq!(field(&posts, "replayed"), [&json!(false), &json!(true)]);
        assert_eq!(posts[0]["requestId"], posts[1]["requestId"]);
        assert_eq!(subscription.registration_status().get().await.unwrap().status, RegistrationStatus::Registering);

        // Activation too: activated once, and the retry is told it succeeded.
        inject(&app, json!({"route": "activate", "count": 1, "effect": {"type": "dropResponse"}})).await;
        let activated = app.subscription(&partner, SAAS).activate().await.unwrap();
        assert_eq!(activated.status, ActivationStatus::Success);
        let posts = requests_on(&app, SAAS).await;
        assert_eq!(field(&posts, "status"), [&json!(200), &json!(200)]);
        assert_eq!(field(&posts, "replayed"), [&json!(false), &json!(true)]);
    }
}

e2e! {
    async fn a_connection_dropped_before_any_effect_is_retried() {
        let app = with_admin().await;
        inject(&app, json!({"route": "registrations", "count": 1, "effect": {"type": "drop"}})).await;
        let partner = app.partner(SANDBOX_PARTNER);
        app.subscription(&partner, AZURE_PLAN).registration().register().await.unwrap();
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
        let posts = requests_on(&app, AZURE_PLAN).await;
        assert_eq!(field(&posts, "fault"), [&json!("drop"), &Value::Null]);
        assert_eq!(field(&posts, "replayed"), [&json!(false), &json!(false)], "nothing to replay: the drop came first");
        assert_eq!(posts[0]["requestId"], posts[1]["requestId"]);
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let app = TestApp::spawn_with(TestOptions {
        throttle: vec!["registrationstatus=1/1s"],
        admin_token: Some(ADMIN),
        ..TestOptions::default()
    })
    .await;
    let partner = app.partner(SANDBOX_PARTNER);
    let status = app.subscription(&partner, AZURE_PLAN).registration_status();
    status.get().await.unwrap();
    let started = Instant::now();
    assert_eq!(
        status.get().await.unwrap().status,
        RegistrationStatus::NotRegistered
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited for Retry-After, not the policy's zero pause"
    );
    let calls = requests_on(&app, AZURE_PLAN).await;
    assert_eq!(
        field(&calls, "status"),
        [&json!(200), &json!(429), &json!(200)]
    );
    assert_eq!(calls[1]["requestId"], calls[2]["requestId"]);

    // A Retry-After longer than the caller will wait, or no retries at all: the 429 is the answer.
    for policy in [
        RetryPolicy::default().max_retry_after(Duration::ZERO),
        RetryPolicy::none(),
    ] {
        let impatient = app
            .sdk()
            .retry(policy)
            .token(token(SANDBOX_PARTNER))
            .build()
            .unwrap();
        let subscription = app.subscription(&impatient, AZURE_PLAN);
        // Use up this second's one request, then be throttled.
        let mut outcome = subscription.registration_status().get().await;
        if outcome.is_ok() {
            outcome = subscription.registration_status().get().await;
        }
        let error = api_error(outcome);
        assert_eq!(error.status, 429);
        assert_eq!(error.category(), ErrorCategory::TooManyRequests);
        assert_eq!(error.retry_after, Some(Duration::from_secs(1)));
        assert_eq!(error.fault, None, "the gateway's 429 is no ServiceFault");
        assert!(
            error.description().contains("Rate limit is exceeded"),
            "{}",
            error.description()
        );
    }
}

/// A provider whose first token is refused; asked to refresh, it gives a valid one.
struct Rotating {
    calls: AtomicUsize,
    refreshes: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenProvider for Rotating {
    async fn token(&self, refresh: bool) -> Result<String, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if refresh {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            return Ok(token(SANDBOX_PARTNER));
        }
        let mut expired = claims(SANDBOX_PARTNER);
        expired["exp"] = json!(now_secs() - 3600);
        Ok(rs256(&expired))
    }

    fn can_refresh(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_401_makes_a_renewable_provider_refresh_once() {
    let app = with_admin().await;
    let provider = Arc::new(Rotating {
        calls: AtomicUsize::new(0),
        refreshes: AtomicUsize::new(0),
    });
    let partner = app.sdk().token_provider(provider.clone()).build().unwrap();
    let status = app
        .subscription(&partner, AZURE_PLAN)
        .registration_status()
        .get()
        .await
        .unwrap();
    assert_eq!(status.status, RegistrationStatus::NotRegistered);
    assert_eq!(
        (
            provider.calls.load(Ordering::SeqCst),
            provider.refreshes.load(Ordering::SeqCst)
        ),
        (2, 1)
    );
    // A refused request names no subscription (it was refused before its path was read).
    let calls = journal(&app, "").await;
    assert_eq!(
        field(&calls, "status"),
        [&json!(200), &json!(401)],
        "newest first"
    );
    assert_eq!(calls[0]["requestId"], calls[1]["requestId"]);

    // A static token cannot be renewed: its 401 is the answer, at once.
    let mut expired = claims(SANDBOX_PARTNER);
    expired["exp"] = json!(now_secs() - 3600);
    let stale = app.sdk().token(rs256(&expired)).build().unwrap();
    let error = api_error(
        app.subscription(&stale, SAAS)
            .registration_status()
            .get()
            .await,
    );
    assert_eq!(
        (error.status, error.code(), error.category()),
        (401, Some(codes::ACCESS_DENIED), ErrorCategory::Unauthorized)
    );
    let tries = journal(&app, &format!("requestId={}", error.request_id)).await;
    assert_eq!(tries.len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn client_credentials_from_the_built_in_identity_provider_are_cached_and_renewed() {
    let app = TestApp::spawn_with(TestOptions {
        identity_provider: true,
        admin_token: Some(ADMIN),
        token_lifetime: Duration::from_secs(1),
        ..TestOptions::default()
    })
    .await;
    let token_requests = || async {
        journal(&app, "")
            .await
            .iter()
            .filter(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token"))
            .count()
    };
    let credentials =
        ClientCredentials::new(SANDBOX_PARTNER, CLIENT_ID, CLIENT_SECRET).authority(app.url("/"));
    assert_eq!(
        credentials.token_endpoint(),
        app.url(&format!("/{SANDBOX_PARTNER}/oauth2/v2.0/token"))
    );
    let credentials = Arc::new(credentials);
    let partner = app
        .sdk()
        .token_provider(credentials.clone())
        .build()
        .unwrap();
    let subscription = app.subscription(&partner, AZURE_PLAN);
    subscription.registration_status().get().await.unwrap();
    assert_eq!(token_requests().await, 1);
    // A one-second token is renewed halfway through its life.
    tokio::time::sleep(Duration::from_millis(600)).await;
    subscription.registration_status().get().await.unwrap();
    assert_eq!(token_requests().await, 2);
    // Asked to refresh (after a 401), the provider fetches whatever its cache holds.
    credentials.token(true).await.unwrap();
    assert_eq!(token_requests().await, 3);

    // A wrong secret never yields a token; the error says why.
    let wrong =
        ClientCredentials::new(SANDBOX_PARTNER, CLIENT_ID, "not-the-secret").authority(app.url(""));
    let partner = app.sdk().token_provider(wrong).build().unwrap();
    match app
        .subscription(&partner, AZURE_PLAN)
        .registration_status()
        .get()
        .await
    {
        Err(Error::Authentication(reason)) => {
            assert!(reason.contains("invalid_client"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn client_credentials_are_fetched_once_while_valid() {
    let app = TestApp::spawn_with(TestOptions {
        identity_provider: true,
        admin_token: Some(ADMIN),
        ..TestOptions::default()
    })
    .await;
    let credentials =
        ClientCredentials::new(SANDBOX_PARTNER, CLIENT_ID, CLIENT_SECRET).authority(app.url(""));
    let partner = app.sdk().token_provider(credentials).build().unwrap();
    let subscription = app.subscription(&partner, AZURE_PLAN);
    let status = subscription.registration_status();
    let outcomes = tokio::join!(
        status.get(),
        status.get(),
        status.get(),
        status.get(),
        status.get()
    );
    for outcome in [outcomes.0, outcomes.1, outcomes.2, outcomes.3, outcomes.4] {
        outcome.unwrap();
    }
    let token_requests = journal(&app, "")
        .await
        .iter()
        .filter(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(token_requests, 1, "five concurrent calls share one token");
}

e2e! {
    async fn register_and_wait_returns_the_final_status() {
        let faults = serde_json::from_value(json!([
            {"route": "registrations", "subscription": LEGACY_AZURE, "effect": {"type": "failRegistration"}},
        ]))
        .unwrap();
        let app = TestApp::spawn_with(TestOptions {
            delay: RegistrationDelay::After(Duration::ZERO),
            faults,
            ..TestOptions::default()
        })
        .await;
        let partner = app.partner(SANDBOX_PARTNER);
        let options = WaitOptions { interval: Duration::from_millis(50), timeout: Duration::from_secs(30) };
        let done = app.subscription(&partner, AZURE_PLAN).registration().register_and_wait(options).await.unwrap();
        assert_eq!(done.status, RegistrationStatus::Registered);
        assert_eq!(done.subscription_id.to_string(), AZURE_PLAN);
        let failed = app.subscription(&partner, LEGACY_AZURE).registration().register_and_wait(options).await.unwrap();
        assert_eq!(failed.status, RegistrationStatus::NotRegistered, "a failed registration ends where it began");
        // In XML, the same.
        let xml = app.sdk().xml().token(token(SANDBOX_PARTNER)).build().unwrap();
        let other = xml.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap());
        let refused = api_error(other.registration().register_and_wait(options).await);
        assert_eq!((refused.status, refused.code()), (404, Some(codes::CUSTOMER_NOT_FOUND)), "another partner's customer");
    }
}

#[tokio::test]
async fn register_and_wait_gives_up_after_its_timeout() {
    let app = TestApp::spawn_with(TestOptions {
        delay: RegistrationDelay::Manual,
        ..TestOptions::default()
    })
    .await;
    let partner = app.partner(SANDBOX_PARTNER);
    let options = WaitOptions {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(300),
    };
    match app
        .subscription(&partner, AZURE_PLAN)
        .registration()
        .register_and_wait(options)
        .await
    {
        Err(Error::Timeout {
            waited,
            last_status,
        }) => {
            assert_eq!(last_status, RegistrationStatus::Registering);
            assert!(waited <= options.timeout, "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
    // The registration carries on without the caller.
    assert_eq!(app.status(AZURE_PLAN).await, "Registering");
}

#[tokio::test]
async fn every_refusal_reaches_the_caller_with_its_fault_status_and_ids() {
    let app = with_admin().await;
    let partner = app.partner(SANDBOX_PARTNER);
    let cases: Vec<(Result<(), Error>, u16, i64, ErrorCategory)> = vec![
        (
            app.subscription(&partner, SAAS)
                .registration()
                .register()
                .await
                .map(drop),
            400,
            codes::NOT_AZURE_SUBSCRIPTION,
            ErrorCategory::BadInput,
        ),
        (
            app.subscription(&partner, ACTIVE_SAAS)
                .activate()
                .await
                .map(drop),
            400,
            codes::ALREADY_ACTIVATED,
            ErrorCategory::BadInput,
        ),
        (
            app.subscription(&partner, "d3a7f4c2-0000-4000-8000-0000000000aa")
                .registration_status()
                .get()
                .await
                .map(drop),
            404,
            codes::SUBSCRIPTION_NOT_FOUND,
            ErrorCategory::NotFound,
        ),
        (
            app.subscription(&app.partner(STRANGER), AZURE_PLAN)
                .registration_status()
                .get()
                .await
                .map(drop),
            403,
            codes::FORBIDDEN,
            ErrorCategory::Forbidden,
        ),
        (
            app.subscription(&app.sdk().token("not-a-jwt").build().unwrap(), AZURE_PLAN)
                .activate()
                .await
                .map(drop),
            401,
            codes::ACCESS_DENIED,
            ErrorCategory::Unauthorized,
        ),
    ];
    for (outcome, status, code, category) in cases {
        let error = api_error(outcome);
        assert_eq!(
            (error.status, error.code(), error.category()),
            (status, Some(code), category),
            "{error}"
        );
        assert!(!error.description().is_empty());
        // The ids are the call's: the journal has exactly one request with them (none was retried).
        let seen = journal(&app, &format!("requestId={}", error.request_id)).await;
        assert_eq!(seen.len(), 1, "{error}");
        assert_eq!(seen[0]["correlationId"], error.correlation_id.as_str());
        assert_eq!(seen[0]["status"], status);
        let shown = error.to_string();
        assert!(
            shown.contains(&status.to_string())
                && shown.contains(&code.to_string())
                && shown.contains(&error.request_id),
            "{shown}"
        );
    }

    // 5xx: retried (three times), then reported.
    for (status, category) in [
        (500, ErrorCategory::ServerError),
        (503, ErrorCategory::ServerBusy),
    ] {
        inject(&app, json!({"route": "activate", "count": 4, "effect": {"type": "status", "status": status, "code": 800_003}})).await;
        let error = api_error(app.subscription(&partner, SAAS).activate().await);
        assert_eq!(
            (error.status, error.code(), error.category()),
            (status, Some(codes::UNEXPECTED), category)
        );
        assert_eq!(
            journal(&app, &format!("requestId={}", error.request_id))
                .await
                .len(),
            4
        );
    }
    let activated = app.subscription(&partner, SAAS).activate().await.unwrap();
    assert_eq!(
        activated.status,
        ActivationStatus::Success,
        "the faults were used up, nothing else happened"
    );
}

#[tokio::test]
async fn errors_in_xml_carry_the_same_fault() {
    let app = TestApp::spawn().await;
    let partner = app
        .sdk()
        .xml()
        .token(token(SANDBOX_PARTNER))
        .build()
        .unwrap();
    let error = api_error(
        app.subscription(&partner, SUSPENDED_AZURE_PLAN)
            .registration()
            .register()
            .await,
    );
    assert_eq!(
        (error.status, error.code()),
        (400, Some(codes::SUBSCRIPTION_NOT_ACTIVE))
    );
    assert_eq!(
        error.description(),
        "This subscription is not an active subscription."
    );
    assert!(error.body.starts_with("<ServiceFault"), "{}", error.body);
    // And successes decode from XML.
    let activated = app.subscription(&partner, SAAS).activate().await.unwrap();
    assert_eq!(
        (activated.subscription_id.to_string(), activated.status),
        (SAAS.to_owned(), ActivationStatus::Success)
    );
    let status = app
        .subscription(&partner, SAAS)
        .registration_status()
        .get()
        .await
        .unwrap();
    assert_eq!(status.status, RegistrationStatus::NotRegistered);
}

#[tokio::test]
async fn an_unreachable_service_is_a_network_error_after_the_retries() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let partner = partner_center_client::PartnerCenter::builder()
        .base_url(format!("http://{addr}"))
        .token("t")
        .retry(RetryPolicy::with_delays([Duration::ZERO; 2]))
        .build()
        .unwrap();
    let subscription = partner
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(AZURE_PLAN.parse().unwrap());
    match subscription.registration().register().await {
        Err(Error::Network {
            url, request_id, ..
        }) => {
            assert_eq!(
                url,
                format!(
                    "http://{addr}/v1/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrations"
                )
            );
            assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
        }
        other => panic!("{other:?}"),
    }
    // A base URL that is no URL is refused when the client is built.
    let refused = partner_center_client::PartnerCenter::builder()
        .base_url("127.0.0.1:8080")
        .token("t")
        .build();
    assert!(matches!(refused, Err(Error::Config(_))), "{refused:?}");
}

#[tokio::test]
async fn every_call_gets_fresh_ids_unless_the_caller_gives_them() {
    let app = with_admin().await;
    let partner = app.partner(SANDBOX_PARTNER);
    let status = app.subscription(&partner, AZURE_PLAN).registration_status();
    status.get().await.unwrap();
    status.get().await.unwrap();
    let calls = requests_on(&app, AZURE_PLAN).await;
    assert_ne!(calls[0]["correlationId"], calls[1]["correlationId"]);
    assert_ne!(calls[0]["requestId"], calls[1]["requestId"]);

    let context = RequestContext::new()
        .request_id("job-42")
        .correlation_id("batch-7");
    let pinned = partner.with(context);
    app.subscription(&pinned, AZURE_PLAN)
        .registration()
        .register()
        .await
        .unwrap();
    app.subscription(&pinned, AZURE_PLAN)
        .registration()
        .register()
        .await
        .unwrap();
    let posts = journal(&app, "requestId=job-42").await;
    assert_eq!(
        field(&posts, "correlationId"),
        [&json!("batch-7"), &json!("batch-7")]
    );
    assert_eq!(
        field(&posts, "replayed"),
        [&json!(true), &json!(false)],
        "newest first: the repeat was a replay"
    );
    assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
}
