//! Hostile input: slow clients, oversized heads and bodies, floods of connections, malformed paths
//! and absurd ids. Each gets its exact answer, and the service serves the next request.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const BOUND: Duration = Duration::from_secs(10);

/// A service whose clients must send heads and bodies within 300 ms, serving at most 4 connections.
async fn strict() -> TestApp {
    TestApp::spawn_with(TestOptions {
        limits: partner_center_server::Limits {
            max_connections: 4,
            header_read_timeout: Duration::from_millis(300),
            body_read_timeout: Duration::from_millis(300),
            ..partner_center_server::Limits::default()
        },
        ..TestOptions::default()
    })
    .await
}

/// The service still answers an authenticated status read.
async fn still_serves(app: &TestApp) {
    let response = app
        .status_with(CUSTOMER, AZURE_PLAN, &token(SANDBOX_PARTNER))
        .await;
    assert_eq!(response.status(), 200);
}

/// Writes `bytes` on a fresh connection and reads until the service closes it (bounded).
async fn raw(app: &TestApp, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("the service closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

fn fault_code(answer: &str) -> i64 {
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str::<serde_json::Value>(body).unwrap()["code"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_client_too_slow_to_send_its_headers_is_cut_off() {
    let app = strict().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(BOUND, stream.read_to_end(&mut answer)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "closed without an answer: {read:?}"
    );
    still_serves(&app).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let app = strict().await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let mut rest = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut rest))
        .await
        .expect("the idle keep-alive connection is closed")
        .unwrap();
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408() {
    let app = strict().await;
    let path = TestApp::subscription_path(CUSTOMER, AZURE_PLAN, "registrations");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"partial\":",
        token(SANDBOX_PARTNER)
    );
    let answer = raw(&app, head.as_bytes()).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 408 Request Timeout");
    assert_eq!(fault_code(&answer), 0);
    assert!(answer.to_ascii_lowercase().contains("ms-requestid: "));
    assert_eq!(
        app.status(AZURE_PLAN).await,
        "NotRegistered",
        "the refused request had no effect"
    );
    still_serves(&app).await;
}

#[tokio::test]
async fn oversized_or_too_many_headers_get_431() {
    let app = TestApp::spawn().await;
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(33 * 1024)
    );
    let answer = raw(&app, huge.as_bytes()).await;
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    assert_eq!(fault_code(&answer), 0);
    let many: String = (0..200).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    assert_eq!(
        status_line(&raw(&app, many.as_bytes()).await),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    still_serves(&app).await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_declared_or_chunked() {
    let app = TestApp::spawn().await;
    let path = TestApp::subscription_path(CUSTOMER, AZURE_PLAN, "registrations");
    let token = token(SANDBOX_PARTNER);
    let declared = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(&app, declared.as_bytes()).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 413 Payload Too Large");
    assert_eq!(fault_code(&answer), 0);

    let chunk = "x".repeat(70 * 1024);
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let answer = raw(&app, chunked.as_bytes()).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 413 Payload Too Large");
    assert_eq!(app.status(AZURE_PLAN).await, "NotRegistered");
    still_serves(&app).await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503_and_the_service_recovers() {
    let app = strict().await;
    // Four connections, each mid-request (it has not finished its head): the limit is reached.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    // A fifth is answered 503 with a ServiceFault, whatever it asks.
    let answer = raw(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&answer), "HTTP/1.1 503 Service Unavailable");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"));
    assert_eq!(fault_code(&answer), 0);

    // The held connections are cut off by the header timeout; then the service serves again.
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        let response = app
            .status_with(CUSTOMER, AZURE_PLAN, &token(SANDBOX_PARTNER))
            .await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::task::yield_now().await;
    }
    drop(held);
}

#[tokio::test]
async fn malformed_percent_encoding_and_utf8_in_paths_get_400() {
    let app = TestApp::spawn().await;
    let token = token(SANDBOX_PARTNER);
    for customer in [
        "%ZZ",
        "%",
        "%FF%FE",
        "c2f6e3b1-0000-4000-8000-00000000000%E2%82",
    ] {
        let response = app.status_with(customer, AZURE_PLAN, &token).await;
        assert_eq!(response.status(), 400, "{customer}");
        let fault: serde_json::Value = response.json().await.unwrap();
        assert_eq!(fault["code"], 2000, "{customer}");
    }
    // Bytes that are not even a valid request line.
    let answer = raw(
        &app,
        b"GET /v1/customers/\xff\xfe/subscriptions/x/registrationstatus HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request");
    still_serves(&app).await;
}

#[tokio::test]
async fn extremely_long_ids_get_400_and_absurdly_long_paths_431() {
    let app = TestApp::spawn().await;
    let token = token(SANDBOX_PARTNER);
    let long = "a".repeat(10_000);
    let response = app.status_with(CUSTOMER, &long, &token).await;
    assert_eq!(response.status(), 400);
    let fault: serde_json::Value = response.json().await.unwrap();
    assert_eq!(fault["code"], 2000);
    assert_eq!(fault["description"], "subscription_id must be a GUID.");

    let absurd = format!(
        "GET /v1/customers/{CUSTOMER}/subscriptions/{}/registrationstatus HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = raw(&app, absurd.as_bytes()).await;
    assert!(
        status_line(&answer) == "HTTP/1.1 431 Request Header Fields Too Large"
            || status_line(&answer) == "HTTP/1.1 414 URI Too Long",
        "{}",
        status_line(&answer)
    );
    still_serves(&app).await;
}
