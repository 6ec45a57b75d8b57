//! Start, stop and restart.

use std::time::Duration;

use partner_center_server::RegistrationDelay;

use crate::helpers::*;

e2e! {
    async fn a_registration_accepted_before_a_restart_completes_after_it() {
    // The first process never completes registrations by itself.
    let first = TestApp::spawn_with(TestOptions {
        delay: RegistrationDelay::Manual,
        ..TestOptions::default()
    })
    .await;
    first.registered(AZURE_PLAN).await;
    assert_eq!(first.status(AZURE_PLAN).await, "Registering");
    let database = first.database.clone();
    first.stop().await;

    // The second process, on the same database file, completes it.
    let mut second = TestApp::spawn_with(TestOptions {
        delay: RegistrationDelay::After(Duration::ZERO),
        database: Some(database),
        ..TestOptions::default()
    })
    .await;
    let completed = second.next_completion().await;
    assert_eq!(completed.key.subscription.to_string(), AZURE_PLAN);
    assert_eq!(second.status(AZURE_PLAN).await, "Registered");
    assert_eq!(second.registrations_of(AZURE_PLAN).await, 1);
    second.stop().await;
}
}

e2e! {
    async fn health_and_readiness_need_no_token() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("ms-requestid"));
    }
    app.stop().await;
}
}

e2e! {
    async fn a_stopped_service_refuses_new_connections() {
    let app = TestApp::spawn().await;
    let addr = app.addr;
    app.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
}

e2e! {
    async fn a_store_failure_is_a_500_that_reveals_nothing_and_changes_nothing() {
    let app = TestApp::spawn().await;
    // Break the database under the service: the registration queue disappears.
    app.database.hide_registration_queue().await;

    let response = app.register(AZURE_PLAN).await;
    assert!(response.headers().contains_key("ms-requestid"));
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], 800_003);
    assert_eq!(
        body["description"],
        "Unexpected service error. Try again later."
    );
    for leak in [
        "registration",
        "sqlite",
        "SQL",
        "table",
        ".rs",
        "database",
    ] {
        assert!(!text.contains(leak), "the 500 body leaks {leak:?}: {text}");
    }
    // The failed registration was rolled back as a whole, and the service still answers.
    app.database.restore_registration_queue().await;
    assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
    assert_eq!(app.registrations_of(AZURE_PLAN).await, 0);
}
}
