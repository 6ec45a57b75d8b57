//! The built-in identity provider, and keeping secrets out of logs, errors and debug output.

use partner_center_client::ClientCredentials;
use partner_center_model::{ActivationStatus, RegistrationStatus};
use serde_json::Value;

use crate::helpers::*;

const SCOPE: &str = "https://api.partnercenter.microsoft.com/.default";

async fn with_identity_provider() -> TestApp {
    TestApp::spawn_with(TestOptions {
        identity_provider: true,
        ..TestOptions::default()
    })
    .await
}

async fn request_token(app: &TestApp, tenant: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/{tenant}/oauth2/v2.0/token")))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn client_credentials<'a>(secret: &'a str, scope: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

async fn access_token(app: &TestApp) -> String {
    let response = request_token(
        app,
        SANDBOX_PARTNER,
        &client_credentials(CLIENT_SECRET, SCOPE),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    body["access_token"].as_str().unwrap().to_owned()
}

e2e! {
    async fn a_token_obtained_by_client_credentials_calls_all_three_routes() {
    let app = with_identity_provider().await;
    // Discovery, as a client library starts.
    let discovery: Value = app
        .http
        .get(app.url(&format!(
            "/{SANDBOX_PARTNER}/v2.0/.well-known/openid-configuration"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = format!("http://{}", app.addr);
    assert_eq!(
        discovery["issuer"],
        format!("{base}/{SANDBOX_PARTNER}/v2.0")
    );
    assert_eq!(
        discovery["token_endpoint"],
        format!("{base}/{SANDBOX_PARTNER}/oauth2/v2.0/token")
    );

    // The SDK's client-credentials flow, with this service as its authority.
    let credentials = ClientCredentials::new(SANDBOX_PARTNER, CLIENT_ID, CLIENT_SECRET).authority(&base);
    assert_eq!(credentials.token_endpoint(), discovery["token_endpoint"]);
    let partner = app.sdk().token_provider(credentials).build().unwrap();
    let subscription = app.subscription(&partner, AZURE_PLAN);
    subscription.registration().register().await.unwrap();
    let status = subscription.registration_status().get().await.unwrap();
    assert_eq!(status.status, RegistrationStatus::Registering);
    let activated = app.subscription(&partner, SAAS).activate().await.unwrap();
    assert_eq!(activated.status, ActivationStatus::Success);

    let token = access_token(&app).await;
    // The token is Entra-shaped and signed with the key the JWKS document publishes.
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(&token).unwrap();
    assert_eq!(claims.claims["idtyp"], "app");
    assert_eq!(claims.claims["azp"], CLIENT_ID);
    assert_eq!(claims.claims["tid"], SANDBOX_PARTNER);
    assert_eq!(
        claims.claims["aud"],
        "https://api.partnercenter.microsoft.com"
    );
    let jwks: Value = app
        .http
        .get(discovery["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"].as_str(),
        claims.header.kid.as_deref()
    );
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "only the public key is published"
    );
}
}

e2e! {
    async fn the_client_secret_may_come_by_basic_authentication() {
    let app = with_identity_provider().await;
    let response = app
        .http
        .post(app.url(&format!("/{SANDBOX_PARTNER}/oauth2/v2.0/token")))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
}

e2e! {
    async fn bad_token_requests_get_entra_errors_without_the_secret() {
    let app = with_identity_provider().await;
    let unknown_client = "f1f1f1f1-ffff-4000-8000-000000000001";
    // (case, tenant, form, status, error, AADSTS code)
    type Case<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, u16, &'a str, u32);
    let cases: Vec<Case<'_>> = vec![
        (
            "wrong secret",
            SANDBOX_PARTNER.into(),
            client_credentials("not-the-secret", SCOPE),
            401,
            "invalid_client",
            7_000_215,
        ),
        (
            "wrong scope",
            SANDBOX_PARTNER.into(),
            client_credentials(CLIENT_SECRET, "https://graph.microsoft.com/.default"),
            400,
            "invalid_scope",
            1_002_012,
        ),
        (
            "no scope",
            SANDBOX_PARTNER.into(),
            client_credentials(CLIENT_SECRET, ""),
            400,
            "invalid_scope",
            1_002_012,
        ),
        (
            "password grant",
            SANDBOX_PARTNER.into(),
            vec![
                ("grant_type", "password"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", SCOPE),
            ],
            400,
            "unsupported_grant_type",
            70_003,
        ),
        (
            "no client",
            SANDBOX_PARTNER.into(),
            vec![("grant_type", "client_credentials"), ("scope", SCOPE)],
            400,
            "invalid_request",
            900_144,
        ),
        (
            "no secret",
            SANDBOX_PARTNER.into(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", SCOPE),
            ],
            401,
            "invalid_client",
            7_000_218,
        ),
        (
            "unknown client",
            SANDBOX_PARTNER.into(),
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", unknown_client),
                ("client_secret", CLIENT_SECRET),
                ("scope", SCOPE),
            ],
            400,
            "unauthorized_client",
            700_016,
        ),
        (
            "another tenant's application",
            OTHER_SANDBOX_PARTNER.into(),
            client_credentials(CLIENT_SECRET, SCOPE),
            400,
            "unauthorized_client",
            700_016,
        ),
        (
            "unknown tenant",
            STRANGER.into(),
            client_credentials(CLIENT_SECRET, SCOPE),
            400,
            "invalid_request",
            90_002,
        ),
        (
            "tenant not a GUID",
            "contoso.example".into(),
            client_credentials(CLIENT_SECRET, SCOPE),
            400,
            "invalid_request",
            90_002,
        ),
    ];
    for (name, tenant, form, status, error, code) in cases {
        let response = request_token(&app, &tenant, &form).await;
        assert_eq!(response.status(), status, "{name}");
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], error, "{name}: {body}");
        assert_eq!(body["error_codes"][0], code, "{name}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{code}: ")),
            "{name}"
        );
        assert!(
            !text.contains(CLIENT_SECRET) && !text.contains("not-the-secret"),
            "{name}: the secret is echoed"
        );
    }
}
}

e2e! {
    async fn the_signing_key_outlives_a_restart() {
    let first = with_identity_provider().await;
    let token = access_token(&first).await;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid;
    let database = first.database.clone();
    first.stop().await;
    let second = TestApp::spawn_with(TestOptions {
        identity_provider: true,
        database: Some(database),
        ..TestOptions::default()
    })
    .await;
    let jwks: Value = second
        .http
        .get(second.url(&format!("/{SANDBOX_PARTNER}/discovery/v2.0/keys")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"].as_str(), kid.as_deref());
}
}

e2e! {
    async fn the_identity_provider_is_off_unless_enabled() {
    let app = TestApp::spawn().await;
    let response = request_token(
        &app,
        SANDBOX_PARTNER,
        &client_credentials(CLIENT_SECRET, SCOPE),
    )
    .await;
    assert_eq!(fault(response, 404).await["code"], 1000);
    let keys = app
        .http
        .get(app.url(&format!("/{SANDBOX_PARTNER}/discovery/v2.0/keys")))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 404);
}
}

e2e! {
    async fn no_secret_or_token_appears_in_logs_errors_or_debug_output() {
    // Everything logged on this thread (the service runs on it too) at every level.
    let capture = capture_logs();

    let app = with_identity_provider().await;
    let token = access_token(&app).await;
    let wrong = request_token(
        &app,
        SANDBOX_PARTNER,
        &client_credentials("a-wrong-secret-value", SCOPE),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        app.post(CUSTOMER, AZURE_PLAN, "registrations", &token)
            .await
            .status(),
        202
    );
    let tampered = format!("{token}x");
    assert_eq!(
        app.status_with(CUSTOMER, AZURE_PLAN, &tampered)
            .await
            .status(),
        401
    );
    let foreign = crate::helpers::token(STRANGER);
    assert_eq!(
        app.status_with(CUSTOMER, AZURE_PLAN, &foreign)
            .await
            .status(),
        403
    );
    let dev = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims(SANDBOX_PARTNER),
        &jsonwebtoken::EncodingKey::from_secret(DEV_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.status_with(CUSTOMER, AZURE_PLAN, &dev).await.status(),
        200
    );

    let debug = format!(
        "{:?} {:?}",
        app.app,
        partner_center_server::Config::default()
    );
    let logs = capture.contents();
    assert!(
        logs.contains("request served"),
        "the capture works: {}",
        &logs[..logs.len().min(3000)]
    );
    let signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    for secret in [
        CLIENT_SECRET.to_owned(),
        "a-wrong-secret-value".to_owned(),
        DEV_SECRET.to_owned(),
        token.clone(),
        signature(&token),
        signature(&foreign),
        signature(&dev),
    ] {
        assert!(!logs.contains(&secret), "a secret or token is in the logs");
        assert!(
            !debug.contains(&secret),
            "a secret or token is in debug output"
        );
    }
}
}

e2e! {
    async fn guessing_a_client_secret_is_locked_out_for_a_while_and_other_clients_are_unaffected() {
    const OTHER_CLIENT: &str = "f1f1f1f1-0000-4000-8000-000000000002";
    const OTHER_SECRET: &str = "another-client-secret";
    let mut fixture = fixture();
    fixture.partners[1]
        .applications
        .push(partner_center_model::fixture::FixtureApplication {
            client_id: OTHER_CLIENT.parse().unwrap(),
            name: "Adatum integration".into(),
            client_secret: OTHER_SECRET.into(),
        });
    let window = std::time::Duration::from_secs(2);
    let app = TestApp::spawn_with(TestOptions {
        identity_provider: true,
        fixture,
        lockout: window,
        ..TestOptions::default()
    })
    .await;
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for n in 0..20 {
        let guess = format!("guess-{n}");
        let response = request_token(&app, SANDBOX_PARTNER, &client_credentials(&guess, SCOPE)).await;
        let status = response.status().as_u16();
        if status == 429 {
            let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=window.as_secs()).contains(&retry_after), "{retry_after}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"], "invalid_client");
            assert_eq!(body["error_codes"][0], 50_053);
            assert!(!body.to_string().contains(&guess));
        }
        statuses.push(status);
    }
    assert!(started.elapsed() < window, "the guesses ran within the window");
    assert_eq!(&statuses[..5], [401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // The right secret is refused too while the application is locked out.
    let right = request_token(&app, SANDBOX_PARTNER, &client_credentials(CLIENT_SECRET, SCOPE)).await;
    assert_eq!(right.status(), 429);
    // Another application is unaffected.
    let other = request_token(
        &app,
        OTHER_SANDBOX_PARTNER,
        &[("grant_type", "client_credentials"), ("client_id", OTHER_CLIENT), ("client_secret", OTHER_SECRET), ("scope", SCOPE)],
    )
    .await;
    assert_eq!(other.status(), 200);
    // Once the window has passed, the right secret gets a token again.
    let deadline = std::time::Instant::now() + window * 5;
    loop {
        let response = request_token(&app, SANDBOX_PARTNER, &client_credentials(CLIENT_SECRET, SCOPE)).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(std::time::Instant::now() < deadline, "still locked out long after the window");
        tokio::time::sleep(window / 8).await;
    }
    assert!(started.elapsed() >= window);
}
}
