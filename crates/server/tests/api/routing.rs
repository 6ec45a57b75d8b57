//! Paths, methods, ids, bodies and the correlation headers (CONTRACT.md sections 1 and 2).

use serde_json::Value;

use crate::helpers::*;

e2e! {
    async fn ids_that_are_not_guids_are_400_with_code_2000_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    for (customer, subscription, parameter) in [
        ("not-a-guid", AZURE_PLAN, "customer_id"),
        (CUSTOMER, "12345", "subscription_id"),
        (
            "c2f6e3b100004000800000000000000a",
            AZURE_PLAN,
            "customer_id",
        ),
        (
            CUSTOMER,
            "{d3a7f4c2-0000-4000-8000-000000000003",
            "subscription_id",
        ),
        ("not-a-guid", "neither", "customer_id"),
        // Not UTF-8 once percent-decoded.
        ("%FF", AZURE_PLAN, "customer_id"),
        (CUSTOMER, "%C3%28", "subscription_id"),
        (
            "%7Bc2f6e3b1-0000-4000-8000-000000000002%7D",
            "%FE%FF",
            "subscription_id",
        ),
        // Far too long.
        (&"a".repeat(4096), AZURE_PLAN, "customer_id"),
    ] {
        let body = fault(app.status_with(customer, subscription, &t).await, 400).await;
        assert_eq!(body["code"], 2000, "{customer} {subscription}");
        assert_eq!(body["description"], format!("{parameter} must be a GUID."));
        assert_eq!(body["source"], "PartnerApiServiceControllers");
        let body = fault(
            app.post(customer, subscription, "registrations", &t).await,
            400,
        )
        .await;
        assert_eq!(body["description"], format!("{parameter} must be a GUID."));
    }
}
}

e2e! {
    async fn guids_in_braces_and_upper_case_are_accepted() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    for (customer, subscription) in [
        (format!("{{{CUSTOMER}}}"), format!("{{{AZURE_PLAN}}}")),
        (CUSTOMER.to_uppercase(), AZURE_PLAN.to_uppercase()),
        // Braces as a client's URL library percent-encodes them.
        (
            format!("%7B{CUSTOMER}%7D"),
            format!("%7b{}%7d", AZURE_PLAN.to_uppercase()),
        ),
    ] {
        let response = app.status_with(&customer, &subscription, &t).await;
        assert_eq!(response.status(), 200, "{customer} {subscription}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["subscriptionId"], AZURE_PLAN);
    }
}
}

e2e! {
    async fn versions_literal_segments_and_trailing_slashes_are_matched_like_aspnet() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    for path in [
        format!("/v1.0/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus"),
        format!("/V1/Customers/{CUSTOMER}/Subscriptions/{AZURE_PLAN}/RegistrationStatus"),
        format!("/v1/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus/"),
    ] {
        let response = app
            .http
            .get(app.url(&path))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let path = format!("/V1.0/CUSTOMERS/{CUSTOMER}/SUBSCRIPTIONS/{SAAS}/ACTIVATE/");
    assert_eq!(
        app.http
            .post(app.url(&path))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
}

e2e! {
    async fn other_versions_and_unknown_paths_are_404_service_faults() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    for path in [
        format!("/v2/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus"),
        format!("/v1.1/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus"),
        format!("/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/registrationstatus"),
        format!("/v1/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}/unknown"),
        "/v1/nothing".to_owned(),
        "/".to_owned(),
    ] {
        let response = app
            .http
            .get(app.url(&path))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        let body = fault(response, 404).await;
        assert_eq!(body["code"], 1000, "{path}");
    }
}
}

e2e! {
    async fn another_method_on_a_known_path_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let cases = [
        (reqwest::Method::GET, "registrations", "POST"),
        (reqwest::Method::DELETE, "activate", "POST"),
        (reqwest::Method::POST, "registrationstatus", "GET,HEAD"),
        (reqwest::Method::PUT, "registrationstatus", "GET,HEAD"),
    ];
    for (method, action, allow) in cases {
        let url = app.url(&TestApp::subscription_path(CUSTOMER, AZURE_PLAN, action));
        let response = app
            .http
            .request(method.clone(), url)
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["allow"], allow, "{method} {action}");
        let body = fault(response, 405).await;
        assert_eq!(
            body["description"],
            format!("The requested resource does not support http method '{method}'.")
        );
    }
}
}

/// A request as one SDK shapes it: its headers and the body it sends (`None`: no body).
struct Shape {
    sdk: &'static str,
    headers: &'static [(&'static str, &'static str)],
    register_body: Option<&'static str>,
    activate_body: Option<&'static str>,
    /// Whether it sends `Content-Type` on a GET too.
    content_type_on_get: bool,
}

const SHAPES: &[Shape] = &[
    Shape {
        // JsonConvert.SerializeObject(null), with the SDK's own headers.
        sdk: ".NET SDK",
        headers: &[
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("ms-requestid", "ec8f62e5-1d92-47e9-8d5d-1924af105123"),
            ("ms-correlationid", "ca7c39f7-1a80-43bc-90d8-ee7d1cad3123"),
            ("x-locale", "en-US"),
            ("ms-partnercenter-client", "Partner Center .NET SDK"),
            ("ms-sdkversion", "3.4.0"),
            ("ms-partnercenter-application", "Contoso tests"),
            ("expect", "100-continue"),
        ],
        register_body: Some("null"),
        activate_body: Some("null"),
        content_type_on_get: false,
    },
    Shape {
        // "success" for register and null for activate, with MS-Contract-Version.
        sdk: "Java SDK",
        headers: &[
            ("accept", "application/json"),
            ("content-type", "application/json"),
            ("ms-contract-version", "v1"),
            ("ms-partnercenter-client", "Partner Center Java SDK"),
            ("x-locale", "en-US"),
        ],
        register_body: Some("\"success\""),
        activate_body: Some("null"),
        content_type_on_get: false,
    },
    Shape {
        // AutoRest/msrest: no body, but Content-Type everywhere, even on a GET.
        sdk: "msrest",
        headers: &[
            ("content-type", "application/json; charset=utf-8"),
            (
                "x-ms-client-request-id",
                "0f4cbc2c-6e8e-11ef-9d3c-0242ac120002",
            ),
            ("accept-language", "en-US"),
            (
                "user-agent",
                "python/3.11 msrest/0.7.1 partnercenterservices/0.1.2",
            ),
        ],
        register_body: None,
        activate_body: None,
        content_type_on_get: true,
    },
];

e2e! {
    async fn requests_shaped_as_real_sdks_send_them_all_succeed() {
    for shape in SHAPES {
        let app = TestApp::spawn().await;
        let t = token(SANDBOX_PARTNER);
        let send = |method: reqwest::Method,
                    subscription: &str,
                    action: &str,
                    body: Option<&'static str>| {
            let url = app.url(&TestApp::subscription_path(CUSTOMER, subscription, action));
            let mut request = app.http.request(method, url).bearer_auth(&t);
            for (name, value) in shape.headers {
                let get = action == "registrationstatus";
                if *name != "content-type" || body.is_some() || (get && shape.content_type_on_get) {
                    request = request.header(*name, *value);
                }
            }
            if let Some(body) = body {
                request = request.body(body);
            }
            request.send()
        };
        let register = send(
            reqwest::Method::POST,
            AZURE_PLAN,
            "registrations",
            shape.register_body,
        )
        .await
        .unwrap();
        assert_eq!(register.status(), 202, "{}: register", shape.sdk);
        let activate = send(reqwest::Method::POST, SAAS, "activate", shape.activate_body)
            .await
            .unwrap();
        assert_eq!(activate.status(), 200, "{}: activate", shape.sdk);
        let status = send(reqwest::Method::GET, AZURE_PLAN, "registrationstatus", None)
            .await
            .unwrap();
        assert_eq!(status.status(), 200, "{}: status", shape.sdk);
        let body: Value = status.json().await.unwrap();
        assert_eq!(body["status"], "Registering", "{}", shape.sdk);
    }
}
}

e2e! {
    async fn request_bodies_are_ignored_even_when_they_are_not_json() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let status = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let register = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrations",
    ));
    let junk = app
        .http
        .get(&status)
        .bearer_auth(&t)
        .header("content-type", "application/xml")
        .body("<<<");
    assert_eq!(junk.send().await.unwrap().status(), 200);
    let form = app
        .http
        .post(&register)
        .bearer_auth(&t)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b");
    assert_eq!(form.send().await.unwrap().status(), 202);
}
}

e2e! {
    async fn a_body_over_64_kib_is_413_declared_or_chunked() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let register = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrations",
    ));
    let big = vec![b' '; 64 * 1024 + 1];
    let response = app
        .http
        .post(&register)
        .bearer_auth(&t)
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(fault(response, 413).await["code"], 0);
    assert_eq!(
        chunked_post_status(&app, AZURE_PLAN, &t, big.len()).await,
        413
    );
    // Nothing was registered, and exactly 64 KiB is still fine.
    assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
    let response = app
        .http
        .post(&register)
        .bearer_auth(&t)
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert_eq!(
        chunked_post_status(&app, LEGACY_AZURE, &t, 64 * 1024).await,
        202
    );
}
}

/// POSTs a registration whose body of `len` bytes is sent chunked (no `Content-Length`), over a raw
/// connection, and returns the response's status.
async fn chunked_post_status(app: &TestApp, subscription: &str, token: &str, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let path = TestApp::subscription_path(CUSTOMER, subscription, "registrations");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 8192];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        // The service may answer and close before the whole body is sent.
        if stream
            .write_all(format!("{n:x}\r\n").as_bytes())
            .await
            .is_err()
            || stream.write_all(&chunk[..n]).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        sent += n;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

e2e! {
    async fn correlation_headers_are_echoed_or_generated_on_every_response() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let response = app
        .http
        .get(&url)
        .bearer_auth(&t)
        .header("ms-requestid", "ec8f62e5-1d92-47e9-8d5d-1924af105123")
        .header("ms-correlationid", "ca7c39f7-1a80-43bc-90d8-ee7d1cad3123")
        .header("ms-cv", "iqOqN0FnaE2y0HcD.1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["ms-requestid"],
        "ec8f62e5-1d92-47e9-8d5d-1924af105123"
    );
    assert_eq!(
        response.headers()["ms-correlationid"],
        "ca7c39f7-1a80-43bc-90d8-ee7d1cad3123"
    );
    assert_eq!(response.headers()["ms-cv"], "iqOqN0FnaE2y0HcD.1.0");
    let server_id = response.headers()["ms-serverid"].clone();
    assert!(response.headers().contains_key("date"));

    // Errors carry them too, generated when the request had none.
    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    for name in ["ms-requestid", "ms-correlationid"] {
        let value = response.headers()[name].to_str().unwrap();
        assert!(value.parse::<uuid::Uuid>().is_ok(), "{name}: {value}");
    }
    assert_ne!(
        response.headers()["ms-requestid"],
        response.headers()["ms-correlationid"]
    );
    let cv = response.headers()["ms-cv"].to_str().unwrap();
    assert_eq!(cv.len(), 18, "{cv}");
    assert!(cv.ends_with(".0"));
    assert_eq!(response.headers()["ms-serverid"], server_id);
}
}

e2e! {
    async fn unusable_id_headers_are_400() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    for (name, value) in [
        ("ms-requestid", "x".repeat(129)),
        ("ms-correlationid", "a\tb".into()),
    ] {
        let response = app
            .http
            .get(&url)
            .bearer_auth(&t)
            .header(name, value.clone())
            .send()
            .await
            .unwrap();
        // The response still carries ids, fresh ones.
        assert_ne!(response.headers()[name].to_str().unwrap(), value);
        assert_eq!(fault(response, 400).await["code"], 2000, "{name}");
    }
    let ok = app
        .http
        .get(&url)
        .bearer_auth(&t)
        .header("ms-requestid", "x".repeat(128))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
}

e2e! {
    async fn every_response_carries_the_four_correlation_headers() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let status_url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let register_url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        LEGACY_AZURE,
        "registrations",
    ));
    let requests = vec![
        ("200", app.http.get(&status_url).bearer_auth(&t)),
        ("202", app.http.post(&register_url).bearer_auth(&t)),
        (
            "400",
            app.http
                .get(app.url(&TestApp::subscription_path(
                    "x",
                    AZURE_PLAN,
                    "registrationstatus",
                )))
                .bearer_auth(&t),
        ),
        ("401", app.http.get(&status_url)),
        (
            "403",
            app.http.get(&status_url).bearer_auth(token(STRANGER)),
        ),
        ("404", app.http.get(app.url("/nowhere"))),
        ("405", app.http.delete(&status_url).bearer_auth(&t)),
        (
            "406",
            app.http
                .get(&status_url)
                .bearer_auth(&t)
                .header("accept", "text/html"),
        ),
        (
            "413",
            app.http
                .post(&register_url)
                .bearer_auth(&t)
                .body(vec![0u8; 70_000]),
        ),
    ];
    for (expected, request) in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_str(), expected);
        let headers = response.headers();
        for name in ["ms-requestid", "ms-correlationid"] {
            let value = headers[name].to_str().unwrap();
            assert!(
                uuid::Uuid::parse_str(value).is_ok(),
                "{expected} {name}: {value}"
            );
        }
        let cv = headers["ms-cv"].to_str().unwrap();
        assert!(cv.len() == 18 && cv.ends_with(".0"), "{expected}: {cv}");
        assert!(!headers["ms-serverid"].is_empty(), "{expected}");
        assert!(headers.contains_key("date"), "{expected}");
    }
}
}

e2e! {
    async fn an_invalid_or_overlong_correlation_vector_is_replaced_not_refused() {
    let app = TestApp::spawn().await;
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let long = format!("fc1RI18AXEK3Tdmj{}", ".12".repeat(16));
    assert_eq!(long.len(), 64);
    for incoming in [
        "garbage",
        "fc1RI18AXEK3Tdmj",
        "fc1RI18AXEK3Tdm!.0",
        long.as_str(),
    ] {
        let response = app
            .http
            .get(&url)
            .bearer_auth(token(SANDBOX_PARTNER))
            .header("ms-cv", incoming)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{incoming}");
        let cv = response.headers()["ms-cv"].to_str().unwrap();
        assert!(
            cv.len() == 18 && cv.ends_with(".0") && !cv.starts_with(&incoming[..4]),
            "{incoming} -> {cv}"
        );
    }
    // A valid vector one short of the limit is kept as it is rather than overflow it.
    let near_limit = format!("fc1RI18AXEK3Tdmj{}", ".1".repeat(23));
    let response = app
        .http
        .get(&url)
        .bearer_auth(token(SANDBOX_PARTNER))
        .header("ms-cv", &near_limit)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["ms-cv"], near_limit.as_str());
}
}

e2e! {
    async fn a_repeated_id_header_is_400() {
    let app = TestApp::spawn().await;
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let response = app
        .http
        .get(&url)
        .bearer_auth(token(SANDBOX_PARTNER))
        .header("ms-requestid", "a")
        .header("ms-requestid", "b")
        .send()
        .await
        .unwrap();
    let body = fault(response, 400).await;
    assert_eq!(
        body["description"],
        "The MS-RequestId header must appear at most once."
    );
}
}

e2e! {
    async fn the_openapi_document_is_served_without_a_token() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["paths"].as_object().unwrap().len(), 22);
    let checked_in: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(doc, checked_in);
}
}
