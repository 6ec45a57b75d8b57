//! The load generator: `connections` keep-alive HTTP/1.1 connections, each sending its next request
//! as soon as the previous answer is read (closed loop), for a warm-up and then a measured window.
//! Latencies go into an HDR histogram (microseconds).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Empty};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

/// One request to send: method, path and query, and headers.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
}

/// Makes the `n`-th request of a run (n counts from 0 across all connections).
pub type MakeCall = Arc<dyn Fn(u64) -> Call + Send + Sync>;

/// What a run is.
pub struct Load {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub make: MakeCall,
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
    /// Requests sent in all, warm-up included.
    pub sent: u64,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn p50_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.50) as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
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
        let expect = load.expect;
        tasks.push(tokio::spawn(async move {
            connection(addr, make, counter, expect, measure_from, until).await
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
        sent: counter.load(Ordering::Relaxed),
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
        let call = make(counter.fetch_add(1, Ordering::Relaxed));
        let mut request = Request::builder()
            .method(call.method)
            .uri(&call.path)
            .header("host", &host);
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Empty::<Bytes>::new())
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
