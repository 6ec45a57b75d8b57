//! The operator surface: the admin API, fault injection, the request journal, throttling, metrics.

use std::time::{Duration, Instant};

use partner_center_model::Timestamp;
use partner_center_server::RegistrationDelay;
use serde_json::{Value, json};

use crate::helpers::*;

fn subscription_path(partner: &str, customer: &str, subscription: &str) -> String {
    format!("/partners/{partner}/customers/{customer}/subscriptions/{subscription}")
}

/// Every admin route, with a body where it takes one.
fn admin_routes() -> Vec<(reqwest::Method, String)> {
    use reqwest::Method;
    let sub = subscription_path(SANDBOX_PARTNER, CUSTOMER, AZURE_PLAN);
    vec![
        (Method::GET, "/partners".into()),
        (Method::PUT, format!("/partners/{SANDBOX_PARTNER}")),
        (Method::DELETE, format!("/partners/{SANDBOX_PARTNER}")),
        (
            Method::GET,
            format!("/partners/{SANDBOX_PARTNER}/customers"),
        ),
        (
            Method::PUT,
            format!("/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}"),
        ),
        (
            Method::DELETE,
            format!("/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}"),
        ),
        (
            Method::GET,
            format!("/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}/subscriptions"),
        ),
        (Method::GET, sub.clone()),
        (Method::PUT, sub.clone()),
        (Method::DELETE, sub.clone()),
        (Method::POST, format!("{sub}/registration/advance")),
        (Method::POST, format!("{sub}/registration/fail")),
        (Method::POST, "/reset".into()),
        (Method::POST, "/fixtures".into()),
        (Method::GET, "/faults".into()),
        (Method::POST, "/faults".into()),
        (Method::DELETE, "/faults".into()),
        (Method::DELETE, "/faults/1".into()),
        (Method::GET, "/requests".into()),
    ]
}

e2e! {
    async fn without_an_admin_token_the_admin_surface_does_not_exist() {
        let app = TestApp::spawn().await;
        for (method, path) in admin_routes() {
            let response = app.http.request(method.clone(), app.url(&format!("/admin/v1{path}"))).bearer_auth(ADMIN).send().await.unwrap();
            assert!(matches!(response.status().as_u16(), 404 | 405), "{method} {path}: {}", response.status());
        }
        // Nothing was deleted or reset.
        assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
    }
}

e2e! {
    async fn partner_tokens_and_wrong_tokens_never_reach_the_admin_api() {
        let app = with_admin().await;
        for (method, path) in admin_routes() {
            let url = app.url(&format!("/admin/v1{path}"));
            let none = app.http.request(method.clone(), &url).send().await.unwrap();
            assert_eq!(fault(none, 401).await["code"], 800_001, "{method} {path}");
            let partner = app.http.request(method.clone(), &url).bearer_auth(token(SANDBOX_PARTNER)).send().await.unwrap();
            assert_eq!(fault(partner, 403).await["code"], 2032, "{method} {path}");
            let wrong = app.http.request(method.clone(), &url).bearer_auth(format!("{ADMIN}x")).send().await.unwrap();
            assert_eq!(wrong.status(), 403, "{method} {path}");
        }
        // None of them did anything.
        assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
        app.activated(SAAS).await;
    }
}

e2e! {
    async fn operators_manage_partners_customers_and_subscriptions() {
        use reqwest::Method;
        let app = with_admin().await;
        let partner = "a0a0a0a0-0000-4000-8000-0000000000a0";
        let customer = "a1a1a1a1-0000-4000-8000-0000000000a1";
        let subscription = "a2a2a2a2-0000-4000-8000-0000000000a2";
        let created = admin_json(&app, Method::PUT, &format!("/partners/{partner}"), Some(json!({"name": "New", "sandbox": true})), 201).await;
        assert_eq!(created, json!({"tenantId": partner, "name": "New", "sandbox": true}));
        admin_json(&app, Method::PUT, &format!("/partners/{partner}"), Some(json!({"name": "Renamed", "sandbox": true})), 200).await;
        let partners = admin_json(&app, Method::GET, "/partners", None, 200).await;
        assert!(partners.as_array().unwrap().iter().any(|p| p["tenantId"] == partner && p["name"] == "Renamed"));
        admin_json(&app, Method::PUT, &format!("/partners/{partner}/customers/{customer}"), Some(json!({"companyName": "Co"})), 201).await;
        let customers = admin_json(&app, Method::GET, &format!("/partners/{partner}/customers"), None, 200).await;
        assert_eq!(customers, json!([{"id": customer, "companyName": "Co"}]));
        let sub = subscription_path(partner, customer, subscription);
        let put = admin_json(&app, Method::PUT, &sub, Some(json!({"kind": "saas", "status": "pending", "offerName": "SaaS"})), 201).await;
        assert_eq!(put["registrationStatus"], "NotRegistered");
        assert_eq!(put["activatedAt"], Value::Null);

        // The new partner's data is live on the Partner Center routes.
        let activated = app.post(customer, subscription, "activate", &token(partner)).await;
        assert_eq!(activated.status(), 200);
        let listed = admin_json(&app, Method::GET, &format!("/partners/{partner}/customers/{customer}/subscriptions"), None, 200).await;
        assert_eq!(listed[0]["status"], "active");
        assert!(listed[0]["activatedAt"].as_str().unwrap().ends_with('Z'));

        // Bad input is a ServiceFault.
        let bad = admin(&app, Method::PUT, &sub, Some(json!({"kind": "vm", "status": "pending"}))).await;
        assert!(fault(bad, 400).await["description"].as_str().unwrap().contains("vm"));
        let bad = admin(&app, Method::PUT, "/partners/not-a-guid", Some(json!({"name": "x"}))).await;
        assert_eq!(fault(bad, 400).await["code"], 2000);
        let missing = admin(&app, Method::GET, "/partners/a9a9a9a9-0000-4000-8000-0000000000a9/customers", None).await;
        assert_eq!(fault(missing, 404).await["code"], 1000);

        admin_json(&app, Method::DELETE, &sub, None, 204).await;
        assert_eq!(admin(&app, Method::DELETE, &sub, None).await.status(), 404);
        admin_json(&app, Method::DELETE, &format!("/partners/{partner}/customers/{customer}"), None, 204).await;
        admin_json(&app, Method::DELETE, &format!("/partners/{partner}"), None, 204).await;
        assert_eq!(app.post(customer, subscription, "activate", &token(partner)).await.status(), 403, "the partner is gone");
    }
}

e2e! {
    async fn operators_inspect_advance_and_fail_registrations() {
        use reqwest::Method;
        let app = TestApp::spawn_with(TestOptions { admin_token: Some(ADMIN), delay: RegistrationDelay::Manual, ..TestOptions::default() }).await;
        let url = app.url(&TestApp::subscription_path(CUSTOMER, AZURE_PLAN, "registrations"));
        let response = app.http.post(url).bearer_auth(token(SANDBOX_PARTNER)).header("ms-requestid", "inspect-me").send().await.unwrap();
        assert_eq!(response.status(), 202);
        let sub = subscription_path(SANDBOX_PARTNER, CUSTOMER, AZURE_PLAN);
        let shown = admin_json(&app, Method::GET, &sub, None, 200).await;
        assert_eq!(shown["registrationStatus"], "Registering");
        assert_eq!(shown["registrations"][0]["state"], "Registering");
        assert_eq!(shown["registrations"][0]["completedAt"], Value::Null);
        assert_eq!(shown["requests"][0]["requestId"], "inspect-me");
        assert_eq!(shown["requests"][0]["status"], 202);
        assert_eq!(shown["requests"][0]["partner"], SANDBOX_PARTNER);

        let advanced = admin_json(&app, Method::POST, &format!("{sub}/registration/advance"), None, 200).await;
        assert_eq!(advanced["registrationStatus"], "Registered");
        assert_eq!(app.status(AZURE_PLAN).await, "Registered");
        let again = admin(&app, Method::POST, &format!("{sub}/registration/advance"), None).await;
        assert!(fault(again, 409).await["description"].as_str().unwrap().contains("Registered"));

        app.registered(LEGACY_AZURE).await;
        let legacy = subscription_path(SANDBOX_PARTNER, CUSTOMER, LEGACY_AZURE);
        let failed = admin_json(&app, Method::POST, &format!("{legacy}/registration/fail"), None, 200).await;
        assert_eq!(failed["registrationStatus"], "NotRegistered");
        let shown = admin_json(&app, Method::GET, &legacy, None, 200).await;
        assert_eq!(shown["registrations"][0]["state"], "Failed");
        assert_eq!(app.status(LEGACY_AZURE).await, "NotRegistered");
    }
}

e2e! {
    async fn operators_reset_everything_and_load_fixtures() {
        use reqwest::Method;
        let app = with_admin().await;
        app.registered(AZURE_PLAN).await;
        admin_json(&app, Method::POST, "/reset", None, 204).await;
        assert_eq!(admin_json(&app, Method::GET, "/partners", None, 200).await, json!([]));
        assert_eq!(admin_json(&app, Method::GET, "/requests", None, 200).await, json!([]), "the journal is reset too");
        assert_eq!(app.status_with(CUSTOMER, AZURE_PLAN, &token(SANDBOX_PARTNER)).await.status(), 403);
        let report = admin_json(&app, Method::POST, "/fixtures", Some(serde_json::to_value(fixture()).unwrap()), 200).await;
        assert_eq!(report["partners"], 3);
        assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
        let bad = admin(&app, Method::POST, "/fixtures", Some(json!({"partners": [{"tenantId": "x"}]}))).await;
        assert_eq!(fault(bad, 400).await["code"], 2000);
    }
}

e2e! {
    async fn an_injected_500_on_register_is_retried_with_the_same_request_id_and_registers_once() {
        use reqwest::Method;
        let app = with_admin().await;
        let rule = json!({"route": "registrations", "count": 1, "effect": {"type": "status", "status": 500}});
        let added = admin_json(&app, Method::POST, "/faults", Some(rule), 201).await;
        assert_eq!(added["remaining"], 1);
        let url = app.url(&TestApp::subscription_path(CUSTOMER, AZURE_PLAN, "registrations"));
        let attempt = || app.http.post(&url).bearer_auth(token(SANDBOX_PARTNER)).header("ms-requestid", "retried").send();
        let first = attempt().await.unwrap();
        assert_eq!(fault(first, 500).await["code"], 800_003);
        let retry = attempt().await.unwrap();
        assert_eq!(retry.status(), 202);
        assert_eq!(attempt().await.unwrap().status(), 202);
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);
        // The journal shows the fault, and the rule is used up.
        let requests = admin_json(&app, Method::GET, "/requests?requestId=retried", None, 200).await;
        let faults: Vec<&Value> = requests.as_array().unwrap().iter().map(|r| &r["fault"]).collect();
        assert_eq!(faults, [&Value::Null, &Value::Null, &json!("status")]);
        assert_eq!(admin_json(&app, Method::GET, "/faults", None, 200).await, json!([]));
    }
}

e2e! {
    async fn latency_dropped_connections_and_failing_registrations_can_be_injected() {
        let faults = serde_json::from_value(json!([
            {"route": "registrationstatus", "subscription": AZURE_PLAN, "effect": {"type": "latency", "ms": 300}},
            {"route": "activate", "count": 1, "effect": {"type": "drop"}},
            {"route": "registrations", "subscription": LEGACY_AZURE, "effect": {"type": "failRegistration"}},
        ]))
        .unwrap();
        let app = TestApp::spawn_with(TestOptions { faults, admin_token: Some(ADMIN), ..TestOptions::default() }).await;
        let (sent, started) = (std::time::SystemTime::now(), Instant::now());
        assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
        assert!(started.elapsed() >= Duration::from_millis(300));
        // The journal's time is when the request arrived, not when its slow answer went.
        let journaled = admin_json(&app, reqwest::Method::GET, &format!("/requests?subscription={AZURE_PLAN}"), None, 200).await;
        let arrived = humantime::parse_rfc3339(journaled[0]["time"].as_str().unwrap()).unwrap();
        let after_sending = arrived.duration_since(sent - Duration::from_millis(1)).unwrap();
        assert!(after_sending < Duration::from_millis(250), "journaled {after_sending:?} after it was sent");
        let slow_only_there = Instant::now();
        assert_eq!(app.status(SAAS).await, "NotRegistered");
        assert!(slow_only_there.elapsed() < Duration::from_millis(300));

        let dropped = app.http.post(app.url(&TestApp::subscription_path(CUSTOMER, SAAS, "activate"))).bearer_auth(token(SANDBOX_PARTNER)).send().await;
        assert!(dropped.is_err(), "the connection was dropped: {dropped:?}");
        // The drop happened before any effect: the activation is still to be done.
        app.activated(SAAS).await;

        app.registered(LEGACY_AZURE).await;
        let later = Timestamp::now().saturating_add(Duration::from_secs(3600));
        assert_eq!(app.app.worker().run_due(later).await.unwrap(), 1);
        assert_eq!(app.status(LEGACY_AZURE).await, "NotRegistered", "the registration ended in failure");
        let shown = admin_json(&app, reqwest::Method::GET, &subscription_path(SANDBOX_PARTNER, CUSTOMER, LEGACY_AZURE), None, 200).await;
        assert_eq!(shown["registrations"][0]["state"], "Failed");
        let post = shown["requests"].as_array().unwrap().iter().find(|r| r["method"] == "POST").unwrap();
        assert_eq!(post["fault"], "failRegistration");
    }
}

e2e! {
    async fn the_journal_stays_at_its_bound_and_answers_queries() {
        let app = TestApp::spawn_with(TestOptions { admin_token: Some(ADMIN), journal_size: 10, ..TestOptions::default() }).await;
        let url = app.url(&TestApp::subscription_path(CUSTOMER, AZURE_PLAN, "registrationstatus"));
        let t = token(SANDBOX_PARTNER);
        for i in 0..100 {
            let response = app.http.get(&url).bearer_auth(&t).header("ms-correlationid", format!("c-{}", i % 3)).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let all = admin_json(&app, reqwest::Method::GET, "/requests", None, 200).await;
        assert_eq!(all.as_array().unwrap().len(), 10);
        let newest = &all[0];
        assert_eq!(newest["correlationId"], "c-0", "request 99 is the newest");
        assert_eq!(newest["route"], "/v1/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus");
        assert_eq!(newest["subscription"], AZURE_PLAN);
        assert_eq!(newest["partner"], SANDBOX_PARTNER);
        let one_chain = admin_json(&app, reqwest::Method::GET, "/requests?correlationId=c-1&limit=2", None, 200).await;
        assert_eq!(one_chain.as_array().unwrap().len(), 2);
        assert!(one_chain.as_array().unwrap().iter().all(|e| e["correlationId"] == "c-1"));
        let bad = admin(&app, reqwest::Method::GET, "/requests?subscription=nope", None).await;
        assert_eq!(fault(bad, 400).await["code"], 2000);
    }
}

e2e! {
    async fn throttling_answers_429_with_retry_after_then_admits_again() {
        let app = TestApp::spawn_with(TestOptions { throttle: vec!["registrationstatus=2/1s"], ..TestOptions::default() }).await;
        let url = app.url(&TestApp::subscription_path(CUSTOMER, AZURE_PLAN, "registrationstatus"));
        let t = token(SANDBOX_PARTNER);
        assert_eq!(app.http.get(&url).bearer_auth(&t).send().await.unwrap().status(), 200);
        assert_eq!(app.http.get(&url).bearer_auth(&t).send().await.unwrap().status(), 200);
        let throttled = app.http.get(&url).bearer_auth(&t).send().await.unwrap();
        assert_eq!(throttled.status(), 429);
        let retry_after: u64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert_eq!(retry_after, 1);
        assert!(throttled.headers().contains_key("ms-requestid"));
        let body: Value = throttled.json().await.unwrap();
        assert_eq!(body, json!({"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."}));
        // Other routes and other partners are not throttled by this rule.
        app.activated(SAAS).await;
        let other = app.url(&TestApp::subscription_path(OTHER_CUSTOMER, OTHER_SAAS, "registrationstatus"));
        assert_eq!(app.http.get(&other).bearer_auth(token(OTHER_SANDBOX_PARTNER)).send().await.unwrap().status(), 200);
        // After Retry-After, requests are admitted again.
        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        assert_eq!(app.http.get(&url).bearer_auth(&t).send().await.unwrap().status(), 200);
    }
}

/// Checks the Prometheus text exposition format (0.0.4) line by line, and returns the samples.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    let mut typed = std::collections::HashSet::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(_), Some(_)) => {}
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "{line}"
                    );
                    typed.insert(name.to_owned());
                }
                _ => panic!("malformed comment: {line}"),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name: {line}"
        );
        let labels = &series[name.len()..];
        assert!(
            labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
            "bad labels: {line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name, |n, suffix| n.strip_suffix(suffix).unwrap_or(n));
        assert!(
            typed.contains(name) || typed.contains(family),
            "a sample before its TYPE: {line}"
        );
        samples.push((series.to_owned(), value));
    }
    samples
}

fn sample(samples: &[(String, f64)], prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| series.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

e2e! {
    async fn metrics_parse_as_prometheus_text_and_move_with_requests() {
        let app = TestApp::spawn().await;
        let scrape = || async {
            let response = app.http.get(app.url("/metrics")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
            parse_prometheus(&response.text().await.unwrap())
        };
        let status_ok = r#"partner_center_requests_total{method="GET",route="/v1/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus",status="200"}"#;
        let before = scrape().await;
        assert_eq!(sample(&before, status_ok), 0.0);
        for _ in 0..3 {
            assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
        }
        app.registered(AZURE_PLAN).await;
        let url = app.url(&TestApp::subscription_path(CUSTOMER, SAAS, "activate"));
        for _ in 0..2 {
            app.http.post(&url).bearer_auth(token(SANDBOX_PARTNER)).header("ms-requestid", "twice").send().await.unwrap();
        }
        let after = scrape().await;
        assert_eq!(sample(&after, status_ok), 3.0);
        assert_eq!(sample(&after, "partner_center_registration_queue_depth"), 1.0);
        assert_eq!(sample(&after, r#"partner_center_idempotent_replays_total{route="activate"}"#), 1.0);
        assert!(sample(&after, "partner_center_request_duration_seconds_count") >= 6.0);
        let later = Timestamp::now().saturating_add(Duration::from_secs(3600));
        app.app.worker().run_due(later).await.unwrap();
        let completed = scrape().await;
        assert_eq!(sample(&completed, r#"partner_center_registration_duration_seconds_count{outcome="registered"}"#), 1.0);
        assert_eq!(sample(&completed, "partner_center_registration_queue_depth"), 0.0);
    }
}

e2e! {
    async fn fault_rules_are_listed_deleted_and_cleared() {
        use reqwest::Method;
        let app = with_admin().await;
        let rule = |status: u16| json!({"route": "*", "probability": 0.0, "effect": {"type": "status", "status": status}});
        let first = admin_json(&app, Method::POST, "/faults", Some(rule(500)), 201).await;
        admin_json(&app, Method::POST, "/faults", Some(rule(503)), 201).await;
        assert_eq!(admin_json(&app, Method::GET, "/faults", None, 200).await.as_array().unwrap().len(), 2);
        let id = first["id"].as_u64().unwrap();
        admin_json(&app, Method::DELETE, &format!("/faults/{id}"), None, 204).await;
        assert_eq!(admin(&app, Method::DELETE, &format!("/faults/{id}"), None).await.status(), 404);
        let left = admin_json(&app, Method::GET, "/faults", None, 200).await;
        assert_eq!(left[0]["effect"]["status"], 503);
        admin_json(&app, Method::DELETE, "/faults", None, 204).await;
        assert_eq!(admin_json(&app, Method::GET, "/faults", None, 200).await, json!([]));
        let invalid = admin(&app, Method::POST, "/faults", Some(json!({"route": "nowhere", "effect": {"type": "drop"}}))).await;
        assert!(fault(invalid, 400).await["description"].as_str().unwrap().contains("unknown route"));
    }
}
