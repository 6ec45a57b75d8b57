//! Bearer tokens and tenant isolation (CONTRACT.md section 8).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey};
use partner_center_server::{AuthConfig, Authenticator};
use serde_json::{Value, json};

use crate::helpers::*;

/// What a request should get.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Ok,
    Denied { status: u16, code: i64 },
}

fn with(mut claims: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut claims);
    claims
}

fn tamper(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["tid"] = json!(PRODUCTION_PARTNER);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{}.{}", parts[0], payload, parts[2])
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{header}.{payload}.")
}

/// App+User claims: no `idtyp: app`, a user, `scp` and `amr` as given.
fn app_user(scp: &str, amr: &[&str]) -> Value {
    with(claims(SANDBOX_PARTNER), |c| {
        c.as_object_mut().unwrap().remove("idtyp");
        c["scp"] = json!(scp);
        c["amr"] = json!(amr);
        c["oid"] = json!("99999999-0000-4000-8000-000000000000");
        c["upn"] = json!("admin@contoso.example");
    })
}

/// One row of the token table: the `Authorization` header sent (`None`: none), what the service
/// answers with MFA enforcement on, and with it off.
struct Case {
    name: &'static str,
    authorization: Option<String>,
    enforced: Expect,
    not_enforced: Expect,
}

fn case(name: &'static str, authorization: Option<String>, expect: Expect) -> Case {
    Case {
        name,
        authorization,
        enforced: expect,
        not_enforced: expect,
    }
}

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

fn cases() -> Vec<Case> {
    let valid = claims(SANDBOX_PARTNER);
    let now = now_secs();
    // The RSA public key, as an attacker would use it for an HS256 "signature" (the alg-confusion attack).
    let rsa_public_as_secret = serde_json::to_vec(&KEYS.jwks.keys[0]).unwrap();
    let missing = Expect::Denied {
        status: 401,
        code: 800_001,
    };
    let invalid = Expect::Denied {
        status: 401,
        code: 400,
    };
    vec![
        case("no header", None, missing),
        case(
            "not Bearer",
            Some(format!("Basic {}", rs256(&valid))),
            missing,
        ),
        case("Bearer without a token", Some("Bearer ".into()), missing),
        case("garbage", bearer("not-a-jwt".into()), invalid),
        case("alg none", bearer(unsigned(&valid)), invalid),
        case(
            "HS256 signed with the RSA public key as secret",
            bearer(sign(
                Algorithm::HS256,
                Some(RSA_KID),
                &valid,
                &EncodingKey::from_secret(&rsa_public_as_secret),
            )),
            invalid,
        ),
        case(
            "RS256 naming the EC key",
            bearer(sign(Algorithm::RS256, Some(EC_KID), &valid, &KEYS.rsa)),
            invalid,
        ),
        case(
            "unknown kid",
            bearer(sign(Algorithm::RS256, Some("nobody"), &valid, &KEYS.rsa)),
            invalid,
        ),
        case(
            "wrong signature",
            bearer(sign(
                Algorithm::RS256,
                Some(RSA_KID),
                &valid,
                &KEYS.rogue_rsa,
            )),
            invalid,
        ),
        case("tampered payload", bearer(tamper(&rs256(&valid))), invalid),
        case(
            "expired",
            bearer(rs256(&with(valid.clone(), |c| {
                c["exp"] = json!(now - 3600)
            }))),
            invalid,
        ),
        case(
            "expired within the skew",
            bearer(rs256(&with(valid.clone(), |c| c["exp"] = json!(now - 120)))),
            Expect::Ok,
        ),
        case(
            "no exp",
            bearer(rs256(&with(valid.clone(), |c| {
                c.as_object_mut().unwrap().remove("exp");
            }))),
            invalid,
        ),
        case(
            "nbf in the future",
            bearer(rs256(&with(valid.clone(), |c| {
                c["nbf"] = json!(now + 3600)
            }))),
            invalid,
        ),
        case(
            "nbf within the skew",
            bearer(rs256(&with(valid.clone(), |c| c["nbf"] = json!(now + 120)))),
            Expect::Ok,
        ),
        case(
            "wrong aud",
            bearer(rs256(&with(valid.clone(), |c| {
                c["aud"] = json!("https://graph.windows.net")
            }))),
            invalid,
        ),
        case(
            "iss of another tenant than tid",
            bearer(rs256(&with(valid.clone(), |c| {
                c["iss"] = json!(format!("https://sts.windows.net/{PRODUCTION_PARTNER}/"))
            }))),
            invalid,
        ),
        case(
            "foreign issuer",
            bearer(rs256(&with(valid.clone(), |c| {
                c["iss"] = json!(format!("https://evil.example/{SANDBOX_PARTNER}/"))
            }))),
            invalid,
        ),
        case(
            "tid not a GUID",
            bearer(rs256(&with(valid.clone(), |c| {
                c["tid"] = json!("contoso");
                c["iss"] = json!("https://sts.windows.net/contoso/");
            }))),
            invalid,
        ),
        case(
            "unknown partner tid",
            bearer(token(STRANGER)),
            Expect::Denied {
                status: 403,
                code: 2032,
            },
        ),
        case(
            "App+User without user_impersonation",
            bearer(rs256(&app_user("Directory.Read.All", &["pwd", "mfa"]))),
            Expect::Denied {
                status: 403,
                code: 900_150,
            },
        ),
        Case {
            name: "App+User without mfa",
            authorization: bearer(rs256(&app_user("user_impersonation", &["pwd"]))),
            enforced: Expect::Denied {
                status: 401,
                code: 900_421,
            },
            not_enforced: Expect::Ok,
        },
        case("App-only (RS256)", bearer(rs256(&valid)), Expect::Ok),
        case(
            "App-only (ES256)",
            bearer(sign(Algorithm::ES256, Some(EC_KID), &valid, &KEYS.ec)),
            Expect::Ok,
        ),
        case(
            "App-only (HS256 with the development secret)",
            bearer(sign(
                Algorithm::HS256,
                None,
                &valid,
                &EncodingKey::from_secret(DEV_SECRET.as_bytes()),
            )),
            Expect::Ok,
        ),
        case(
            "v2 issuer and application-id audience",
            bearer(rs256(&with(valid.clone(), |c| {
                c["iss"] = json!(format!(
                    "https://login.microsoftonline.com/{SANDBOX_PARTNER}/v2.0"
                ));
                c["aud"] = json!("fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd");
            }))),
            Expect::Ok,
        ),
        case(
            "valid App+User",
            bearer(rs256(&app_user("user_impersonation", &["pwd", "mfa"]))),
            Expect::Ok,
        ),
        case(
            "bearer scheme in lower case",
            Some(format!("bearer {}", rs256(&valid))),
            Expect::Ok,
        ),
    ]
}

async fn check(app: &TestApp, case: &Case, expect: Expect, enforcement: &str) {
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let mut request = app.http.get(&url);
    if let Some(authorization) = &case.authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let name = format!("{} (MFA enforcement {enforcement})", case.name);
    match expect {
        Expect::Ok => assert_eq!(response.status(), 200, "{name}"),
        Expect::Denied { status, code } => {
            assert_eq!(response.status(), status, "{name}");
            if status == 401 {
                assert_eq!(response.headers()["www-authenticate"], "Bearer", "{name}");
            }
            let text = response.text().await.unwrap();
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["code"], code, "{name}: {body}");
            // Nothing of the token comes back.
            for part in case
                .authorization
                .iter()
                .flat_map(|a| a.split(['.', ' ']))
                .filter(|p| p.len() > 8)
            {
                assert!(!text.contains(part), "{name}: the body echoes the token");
            }
        }
    }
}

e2e! {
    async fn every_token_in_the_table_gets_its_status_and_code() {
    let enforced = TestApp::spawn().await;
    let not_enforced = TestApp::spawn_with(TestOptions {
        enforce_mfa: false,
        ..TestOptions::default()
    })
    .await;
    for case in cases() {
        check(&enforced, &case, case.enforced, "on").await;
        check(&not_enforced, &case, case.not_enforced, "off").await;
    }
}
}

e2e! {
    async fn hs256_is_refused_when_no_development_secret_is_configured() {
    let app = TestApp::spawn_with(TestOptions {
        dev_secret: false,
        ..TestOptions::default()
    })
    .await;
    let token = sign(
        Algorithm::HS256,
        None,
        &claims(SANDBOX_PARTNER),
        &EncodingKey::from_secret(DEV_SECRET.as_bytes()),
    );
    assert_eq!(
        fault(app.status_with(CUSTOMER, AZURE_PLAN, &token).await, 401).await["code"],
        400
    );
    assert_eq!(
        app.status_with(CUSTOMER, AZURE_PLAN, &rs256(&claims(SANDBOX_PARTNER)))
            .await
            .status(),
        200
    );
}
}

/// Sends `method` to `path` with `token`.
async fn send(
    app: &TestApp,
    method: &reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::Response {
    app.http
        .request(method.clone(), app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

e2e! {
    async fn on_every_route_another_partners_data_is_a_404_like_data_that_does_not_exist() {
    let app = TestApp::spawn().await;
    // Partner B is a sandbox too, so that activation gets as far as the lookup.
    let intruder = token(OTHER_SANDBOX_PARTNER);
    let missing_customer = "c2f6e3b1-ffff-4000-8000-0000000000ff";
    let missing_subscription = "d3a7f4c2-ffff-4000-8000-0000000000ff";
    let routes = [
        (reqwest::Method::GET, "registrationstatus", AZURE_PLAN),
        (reqwest::Method::POST, "registrations", AZURE_PLAN),
        (reqwest::Method::POST, "activate", SAAS),
    ];
    for (method, action, subscription) in &routes {
        // Partner A's customer and subscription, as partner B.
        let foreign = send(
            &app,
            method,
            &TestApp::subscription_path(CUSTOMER, subscription, action),
            &intruder,
        )
        .await;
        // A customer that exists nowhere, with the same subscription id.
        let nowhere = send(
            &app,
            method,
            &TestApp::subscription_path(missing_customer, subscription, action),
            &intruder,
        )
        .await;
        let (foreign_headers, nowhere_headers) =
            (foreign.headers().clone(), nowhere.headers().clone());
        let foreign = fault(foreign, 404).await;
        let nowhere = fault(nowhere, 404).await;
        assert_eq!(foreign["code"], 60_003, "{action}");
        let expected = serde_json::to_string(&nowhere)
            .unwrap()
            .replace(missing_customer, CUSTOMER);
        assert_eq!(
            serde_json::to_string(&foreign).unwrap(),
            expected,
            "{action}: the bodies differ"
        );
        assert_eq!(
            foreign_headers["content-length"], nowhere_headers["content-length"],
            "{action}"
        );
        let names = |h: &reqwest::header::HeaderMap| {
            let mut names: Vec<String> = h.keys().map(|k| k.to_string()).collect();
            names.sort();
            names
        };
        assert_eq!(names(&foreign_headers), names(&nowhere_headers), "{action}");

        // Partner A's subscription id under partner B's own customer: a subscription that does not exist.
        let under_own = send(
            &app,
            method,
            &TestApp::subscription_path(OTHER_CUSTOMER, subscription, action),
            &intruder,
        )
        .await;
        let under_own = fault(under_own, 404).await;
        let nonexistent = send(
            &app,
            method,
            &TestApp::subscription_path(OTHER_CUSTOMER, missing_subscription, action),
            &intruder,
        )
        .await;
        let nonexistent = fault(nonexistent, 404).await;
        assert_eq!(under_own["code"], 20_003, "{action}");
        assert_eq!(
            serde_json::to_string(&under_own).unwrap(),
            serde_json::to_string(&nonexistent)
                .unwrap()
                .replace(missing_subscription, subscription),
            "{action}"
        );
    }
    // Nothing changed for partner A: its subscriptions are as they were.
    assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
    assert_eq!(app.registrations_of(AZURE_PLAN).await, 0);
    // The SaaS subscription was still pending.
    app.activated(SAAS).await;
    // And partner B can of course use its own.
    let other = app.partner(OTHER_SANDBOX_PARTNER);
    let own = other.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).subscriptions().by_id(OTHER_SAAS.parse().unwrap());
    own.activate().await.unwrap();
}
}

/// A stand-in for Entra ID's keys endpoint: serves `jwks` and counts the fetches.
async fn jwks_server(jwks: Arc<std::sync::Mutex<JwkSet>>) -> (String, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = serde_json::to_string(&*jwks.lock().unwrap()).unwrap();
            async move { body }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/keys"), fetches)
}

e2e! {
    async fn keys_come_from_a_jwks_url_and_unknown_kids_refresh_them_at_most_once_an_interval() {
    // At first the URL serves only the EC key.
    let served = Arc::new(std::sync::Mutex::new(JwkSet {
        keys: vec![KEYS.jwks.keys[1].clone()],
    }));
    let (url, fetches) = jwks_server(served.clone()).await;
    let config = AuthConfig {
        jwks_url: Some(url.clone()),
        ..AuthConfig::default()
    };
    let auth = Authenticator::from_config(&config, Vec::new())
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "fetched at start");
    let es256 = sign(
        Algorithm::ES256,
        Some(EC_KID),
        &claims(SANDBOX_PARTNER),
        &KEYS.ec,
    );
    assert!(auth.verify(&es256).await.is_ok());
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "a known kid fetches nothing"
    );

    // The issuer rotates in the RSA key: a token naming it triggers one refresh and validates.
    served.lock().unwrap().keys.push(KEYS.jwks.keys[0].clone());
    let verified = auth.verify(&token(SANDBOX_PARTNER)).await.unwrap();
    assert_eq!(verified.tenant.to_string(), SANDBOX_PARTNER);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // Within the interval (a minute by default), no kid, known to nobody, fetches again.
    let stranger = sign(
        Algorithm::RS256,
        Some("rotated-out"),
        &claims(SANDBOX_PARTNER),
        &KEYS.rsa,
    );
    for _ in 0..5 {
        assert_eq!(auth.verify(&stranger).await.unwrap_err().status(), 401);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // A URL that does not answer is named in the start-up error.
    let config = AuthConfig {
        jwks_url: Some("http://127.0.0.1:9/keys".into()),
        ..AuthConfig::default()
    };
    let err = Authenticator::from_config(&config, Vec::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("http://127.0.0.1:9/keys"), "{err}");
}
}

e2e! {
    multi_thread async fn a_flood_of_made_up_kids_fetches_the_keys_at_most_once_an_interval_and_a_rotation_still_lands() {
    let served = Arc::new(std::sync::Mutex::new(JwkSet {
        keys: vec![KEYS.jwks.keys[1].clone()],
    }));
    let (url, fetches) = jwks_server(served.clone()).await;
    let interval = Duration::from_millis(300);
    let config = AuthConfig {
        jwks_url: Some(url),
        jwks_refresh_interval: interval,
        ..AuthConfig::default()
    };
    let auth = Arc::new(Authenticator::from_config(&config, Vec::new()).await.unwrap());
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // 200 tokens, each naming a kid nobody has, all at once.
    let started = std::time::Instant::now();
    let flood: Vec<_> = (0..200)
        .map(|n| {
            let auth = auth.clone();
            let token = sign(Algorithm::RS256, Some(&format!("made-up-{n}")), &claims(SANDBOX_PARTNER), &KEYS.rsa);
            tokio::spawn(async move { auth.verify(&token).await.map(|_| ()).map_err(|e| e.status()) })
        })
        .collect();
    for request in flood {
        assert_eq!(request.await.unwrap(), Err(axum::http::StatusCode::UNAUTHORIZED));
    }
    let refreshes = fetches.load(Ordering::SeqCst) - 1;
    let windows = started.elapsed().as_millis() / interval.as_millis() + 1;
    assert!(
        refreshes as u128 <= windows,
        "{refreshes} refreshes in {} ms: at most one per {} ms",
        started.elapsed().as_millis(),
        interval.as_millis()
    );
    // A real rotation still lands: once the interval has passed, the new kid refreshes the keys.
    served.lock().unwrap().keys.push(KEYS.jwks.keys[0].clone());
    let rotated = token(SANDBOX_PARTNER);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match auth.verify(&rotated).await {
            Ok(verified) => {
                assert_eq!(verified.tenant.to_string(), SANDBOX_PARTNER);
                break;
            }
            Err(err) => {
                assert_eq!(err.status(), axum::http::StatusCode::UNAUTHORIZED);
                assert!(std::time::Instant::now() < deadline, "the rotated key is never picked up");
                tokio::time::sleep(interval / 4).await;
            }
        }
    }
}
}

e2e! {
    async fn a_verified_token_is_served_from_the_cache_until_it_expires() {
    let jwks = Arc::new(std::sync::Mutex::new(KEYS.jwks.clone()));
    let (url, _) = jwks_server(jwks.clone()).await;
    let config = AuthConfig {
        jwks_url: Some(url),
        ..AuthConfig::default()
    };
    let auth = Authenticator::from_config(&config, Vec::new())
        .await
        .unwrap();
    let cached = token(SANDBOX_PARTNER);
    assert!(auth.verify(&cached).await.is_ok());
    // The issuer withdraws every key, and a token naming a new kid makes the service notice.
    jwks.lock().unwrap().keys.clear();
    let trigger = sign(
        Algorithm::RS256,
        Some("new-kid"),
        &claims(SANDBOX_PARTNER),
        &KEYS.rsa,
    );
    assert_eq!(auth.verify(&trigger).await.unwrap_err().status(), 401);
    // The verified token is still served from the cache, without its key.
    assert!(auth.verify(&cached).await.is_ok(), "served from the cache");
    // A token already expired beyond the skew is never cached, and another token needs the key.
    let expired = rs256(&with(claims(SANDBOX_PARTNER), |c| {
        c["exp"] = json!(now_secs() - 3600)
    }));
    assert_eq!(auth.verify(&expired).await.unwrap_err().status(), 401);
    let other = rs256(&with(claims(SANDBOX_PARTNER), |c| {
        c["jti"] = json!("another")
    }));
    assert_eq!(auth.verify(&other).await.unwrap_err().status(), 401);
}
}
