//! The ceilings the service is measured against: a bare axum server answering the same bytes as
//! `GET .../registrationstatus`, and one writer doing a write and an fsync per record.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;

/// The body of a registration status, as the service writes it.
pub fn status_body(subscription: &str) -> String {
    format!(
        r#"{{"subscriptionId":"{subscription}","status":"NotRegistered","attributes":{{"objectType":"SubscriptionRegistrationStatus"}}}}"#
    )
}

/// The headers the service sends with a registration status besides `content-length` and
/// `date` (which hyper adds to both), with values of the same lengths: the ids a request gets
/// (`MS-RequestId` and `MS-CorrelationId` echoed or made, a correlation vector, the server's id).
const STATUS_HEADERS: [(&str, &str); 5] = [
    ("content-type", "application/json; charset=utf-8"),
    ("ms-requestid", "23f55d2d-d391-40bc-8305-b83d77d5b01a"),
    ("ms-correlationid", "ed00fac1-1c3a-4bd2-bee9-d33cfcc9e0a8"),
    ("ms-cv", "U8Y1Qi4TyX1w4YLP.0"),
    ("ms-serverid", "730900460"),
];

/// Serves the same bytes on every path until killed, headers and body (see [`STATUS_HEADERS`]);
/// prints `Listening on ADDR` first.
pub async fn serve(listen: &str) -> std::io::Result<()> {
    let body: &'static str =
        Box::leak(status_body("d3a7f4c2-0000-4000-8000-000000000000").into_boxed_str());
    let app = Router::new().fallback(get(move || async move {
        (
            STATUS_HEADERS.map(|(name, value)| (HeaderName::from_static(name), value)),
            body,
        )
    }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("Listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await
}

/// Appends `record_size`-byte records to a file in `dir`, each followed by an fsync, for `duration`;
/// the writes per second.
pub fn fsync_writes_per_second(dir: &Path, duration: Duration) -> std::io::Result<f64> {
    let path = dir.join("fsync-ceiling.bin");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let record = [b'x'; 256];
    let started = Instant::now();
    let mut writes = 0_u64;
    while started.elapsed() < duration {
        file.write_all(&record)?;
        file.sync_all()?;
        writes += 1;
    }
    let rate = writes as f64 / started.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(path)?;
    Ok(rate)
}
