//! The ceilings the service is measured against: a bare axum server answering what the service
//! answers to `GET .../registrationstatus` (fresh ids included), and one writer doing a write and
//! an fsync per record.

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
/// `date` (which hyper adds to both) and the ids it makes for each request (see [`answer`]).
const STATUS_HEADERS: [(&str, &str); 2] = [
    ("content-type", "application/json; charset=utf-8"),
    ("ms-serverid", "730900460"),
];

/// The subscription a path names (`.../subscriptions/{id}/...`), or a fixed one.
fn subscription_of(path: &str) -> &str {
    path.split_once("/subscriptions/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|id| !id.is_empty())
        .unwrap_or("d3a7f4c2-0000-4000-8000-000000000000")
}

/// Random bytes from a per-thread wyrand generator, as the service makes its ids.
fn random<const N: usize>() -> [u8; N] {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
            uuid::Uuid::new_v4().as_u64_pair().0
        );
    }
    let mut bytes = [0u8; N];
    STATE.with(|state| {
        for chunk in bytes.chunks_mut(8) {
            let next = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(next);
            let wide = u128::from(next).wrapping_mul(u128::from(next ^ 0xe703_7ed1_a0b4_28db));
            let word = ((wide >> 64) as u64) ^ (wide as u64);
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
    });
    bytes
}

/// A version-4 GUID, made fresh.
fn new_guid() -> String {
    uuid::Builder::from_random_bytes(random())
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A correlation vector of 16 base64 characters and `.0`, made fresh.
fn new_cv() -> String {
    const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut cv: String = random::<16>()
        .iter()
        .map(|b| char::from(BASE64[usize::from(b & 63)]))
        .collect();
    cv.push_str(".0");
    cv
}

/// What the service answers a status read, byte for byte in form: the same headers, ids made
/// afresh for each answer (`MS-RequestId`, `MS-CorrelationId`, `MS-CV`, as the service makes
/// them when the client sends none), and the body of the subscription the path names. Answers
/// that differ as the service's do cost the load generator what the service's cost it (wrk's
/// Lua makes a string of every header and body it is handed, and a string it has seen is not
/// made again), so that the ratio compares the servers alone.
fn answer(path: &str) -> (axum::http::HeaderMap, String) {
    let mut headers = axum::http::HeaderMap::with_capacity(8);
    for (name, value) in STATUS_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            axum::http::HeaderValue::from_static(value),
        );
    }
    for (name, value) in [
        ("ms-requestid", new_guid()),
        ("ms-correlationid", new_guid()),
        ("ms-cv", new_cv()),
    ] {
        if let Ok(value) = axum::http::HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    (headers, status_body(subscription_of(path)))
}

/// Serves a registration status on every path until killed (see [`answer`]); prints
/// `Listening on ADDR` first.
pub async fn serve(listen: &str) -> std::io::Result<()> {
    let app = Router::new().fallback(get(
        |uri: axum::http::Uri| async move { answer(uri.path()) },
    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_answer_has_fresh_ids_and_the_body_of_the_path_s_subscription() {
        let path = "/v1/customers/c2f6e3b1-0000-4000-8000-000000000000/subscriptions/\
                    d3a7f4c2-0000-4000-8000-000000000535/registrationstatus";
        let (first, body) = answer(path);
        let (second, _) = answer(path);
        assert_eq!(body, status_body("d3a7f4c2-0000-4000-8000-000000000535"));
        for (name, len) in [
            ("ms-requestid", 36),
            ("ms-correlationid", 36),
            ("ms-cv", 18),
        ] {
            assert_eq!(first[name].len(), len, "{name}");
            assert_ne!(first[name], second[name], "{name}");
        }
        assert_eq!(first["ms-serverid"], "730900460");
        assert!(
            answer("/other")
                .1
                .contains("d3a7f4c2-0000-4000-8000-000000000000")
        );
    }
}
