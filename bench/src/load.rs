//! The project's own load generator, a second opinion beside wrk (`--load-generator own`):
//! `connections` keep-alive HTTP/1.1 connections, each sending its next request as soon as the
//! previous answer is read (closed loop), for a warm-up and then a measured window. Latencies go
//! into an HDR histogram (microseconds). Unlike wrk it busy-polls its core (see [`run`]), so it
//! shows what the service does without the client's wake-ups; the targets are judged on wrk's
//! figures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// One request to send: method, path and query, headers and body (JSON when not empty).
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Makes the `n`-th request of a run (n counts from 0 across all connections).
pub type MakeCall = Arc<dyn Fn(u64) -> Call + Send + Sync>;

/// What a run is.
pub struct Load {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub make: MakeCall,
    /// The number of the first request (requests are numbered on from it).
    pub base: u64,
    /// The statuses that count as success.
    pub expect: &'static [u16],
}

/// What a run measured (the measured window only).
#[derive(Debug, Clone)]
pub struct Measured {
    pub requests: u64,
    pub unexpected: u64,
    pub first_unexpected: Option<String>,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    /// The number after the last request made (warm-up included).
    pub sent: u64,
}

impl Measured {
    /// The figures in the form wrk's are read in.
    pub fn outcome(&self) -> crate::wrk::Outcome {
        crate::wrk::Outcome {
            requests: self.requests,
            duration: self.elapsed,
            p50_us: self.latency.value_at_quantile(0.50),
            p99_us: self.latency.value_at_quantile(0.99),
            unexpected: Some(self.unexpected),
            first_unexpected: self.first_unexpected.clone().unwrap_or_default(),
            next: self.sent,
            command: "the benchmark's own load generator (bench/src/load.rs)".into(),
            ..crate::wrk::Outcome::default()
        }
    }
}

struct ConnectionResult {
    requests: u64,
    unexpected: u64,
    first_unexpected: Option<String>,
    latency: Histogram<u64>,
}

/// Runs `load` against `addr`.
pub async fn run(addr: SocketAddr, load: &Load) -> Result<Measured, String> {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let until = measure_from + load.duration;
    let mut tasks = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        let make = load.make.clone();
        let counter = counter.clone();
        let base = load.base;
        let expect = load.expect;
        tasks.push(tokio::spawn(async move {
            connection(addr, make, counter, base, expect, measure_from, until).await
        }));
    }
    // The generator never sleeps while it runs: a sleeping generator makes every answer pay for
    // waking it (an inter-processor interrupt, costly on a virtual machine), which servers talking
    // to clients over a network do not pay. Spinning on its own core keeps that off the figures.
    let spinning = tokio::spawn(async move {
        while Instant::now() < until {
            tokio::task::yield_now().await;
        }
    });
    let mut latency = histogram();
    let (mut requests, mut unexpected, mut first_unexpected) = (0, 0, None);
    for task in tasks {
        let result = task.await.map_err(|e| e.to_string())??;
        requests += result.requests;
        unexpected += result.unexpected;
        first_unexpected = first_unexpected.or(result.first_unexpected);
        latency.add(&result.latency).map_err(|e| e.to_string())?;
    }
    spinning.await.map_err(|e| e.to_string())?;
    Ok(Measured {
        requests,
        unexpected,
        first_unexpected,
        elapsed: load.duration,
        latency,
        sent: load.base + counter.load(Ordering::Relaxed),
    })
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s, three significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

async fn connection(
    addr: SocketAddr,
    make: MakeCall,
    counter: Arc<AtomicU64>,
    base: u64,
    expect: &'static [u16],
    measure_from: Instant,
    until: Instant,
) -> Result<ConnectionResult, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let host = addr.to_string();
    let mut result = ConnectionResult {
        requests: 0,
        unexpected: 0,
        first_unexpected: None,
        latency: histogram(),
    };
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(result);
        }
        let call = make(base + counter.fetch_add(1, Ordering::Relaxed));
        let mut request = Request::builder()
            .method(call.method)
            .uri(&call.path)
            .header("host", &host);
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if !call.body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(call.body)))
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("{}: {e}", call.path))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let done = Instant::now();
        if sent >= measure_from && done <= until {
            result.requests += 1;
            let micros = u64::try_from(done.duration_since(sent).as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            result.latency.saturating_record(micros);
            if !expect.contains(&status) {
                result.unexpected += 1;
                if result.first_unexpected.is_none() {
                    result.first_unexpected =
                        Some(format!("{status} {}", String::from_utf8_lossy(&body)));
                }
            }
        }
    }
}
