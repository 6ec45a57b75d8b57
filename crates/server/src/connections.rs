//! The accept loop: HTTP/1.1 connections, bounded in number, with a deadline on request heads and a
//! limit on their size, and a graceful shutdown.
//!
//! - At most [`Limits::max_connections`] connections are served at once. Past it, a few more are
//!   answered `503` with a ServiceFault and `Retry-After`, then closed; past those, new connections
//!   are closed at once. Either way the service keeps serving the connections it has.
//! - A client must send a request's head within [`Limits::header_read_timeout`] (a slow client, or
//!   an idle keep-alive connection, is closed after it), and a head over
//!   [`Limits::max_header_bytes`] is answered `431`.
//! - Request bodies are read (by the handlers, see [`crate::wire::read_body`]) within
//!   [`Limits::body_read_timeout`].
//! - Each connection remembers the last bearer token verified on it ([`ConnectionMemo`]).
//! - Over TLS, each connection's handshake is done on its own task, after it took its place under
//!   the limit, and must end within [`Limits::header_read_timeout`]; one that does not (or is not
//!   TLS at all) is closed without an answer. Then the connection is served as any other.
//! - On shutdown the loop stops accepting, lets each connection finish the request it is serving,
//!   and closes idle connections.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt as _};

use crate::auth::ConnectionMemo;
use crate::config::Limits;

/// How many connections over the limit may be answered `503` at once (each until it has sent its
/// request head, or the head timeout); more are closed without an answer.
const REFUSALS: usize = 64;

/// Smallest head buffer hyper accepts.
const MIN_HEADER_BYTES: usize = 8192;

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` resolves; connections over
/// the limit get `overloaded`, which answers 503. Returns once every connection is closed.
pub(crate) async fn serve<S, F>(
    listener: TcpListener,
    app: S,
    overloaded: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: F,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
    F: Future<Output = ()> + Send + 'static,
{
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let graceful = GracefulShutdown::new();
    let handshakes = Arc::new(Handshakes {
        tls,
        timeout: limits.header_read_timeout,
        closing: CancellationToken::new(),
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let mut refusing = http.clone();
    refusing.keep_alive(false);

    let (mut refused, mut last_warning) = (0_u64, None);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "cannot set TCP_NODELAY");
        }
        if let Ok(permit) = connections.clone().try_acquire_owned() {
            let app = app.clone();
            let memo = Arc::new(ConnectionMemo::default());
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(memo.clone());
                app.clone().oneshot(request)
            });
            let http = http.clone();
            tokio::spawn(served(
                handshakes.clone(),
                stream,
                graceful.watcher(),
                move |io| http.serve_connection(io, service),
                permit,
            ));
        } else if let Ok(permit) = refusals.clone().try_acquire_owned() {
            refused += 1;
            // Once a second at most: a flood of connections must not become a flood of logs.
            if last_warning.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(1)) {
                tracing::warn!(
                    limit = limits.max_connections,
                    refused,
                    "too many connections: refusing with 503"
                );
                last_warning = Some(Instant::now());
                refused = 0;
            }
            let overloaded = overloaded.clone();
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                overloaded.clone().oneshot(request.map(Body::new))
            });
            let refusing = refusing.clone();
            tokio::spawn(served(
                handshakes.clone(),
                stream,
                graceful.watcher(),
                move |io| refusing.serve_connection(io, service),
                permit,
            ));
        }
        // Else, under a flood, refusing politely would itself be unbounded: the connection is
        // closed as it is dropped.
    }
    drop(listener);
    // Handshakes under way end now; their connections were never served.
    handshakes.closing.cancel();
    graceful.shutdown().await;
    Ok(())
}

/// A connection's byte stream: the TCP stream itself, or TLS over it.
type Io = TokioIo<Either<TcpStream, TlsStream<TcpStream>>>;

/// How an accepted TCP stream becomes a stream to serve HTTP on.
struct Handshakes {
    /// `None`: plain HTTP.
    tls: Option<TlsAcceptor>,
    /// How long a TLS handshake may take.
    timeout: Duration,
    /// Cancelled on shutdown: handshakes under way are abandoned.
    closing: CancellationToken,
}

impl Handshakes {
    /// The stream to serve, or `None` when the TLS handshake failed, took too long, or the service
    /// is shutting down (the connection is closed as it is dropped).
    async fn establish(&self, stream: TcpStream) -> Option<Io> {
        let Some(tls) = &self.tls else {
            return Some(TokioIo::new(Either::Left(stream)));
        };
        tokio::select! {
            () = self.closing.cancelled() => None,
            handshake = tokio::time::timeout(self.timeout, tls.accept(stream)) => match handshake {
                Ok(Ok(stream)) => Some(TokioIo::new(Either::Right(stream))),
                Ok(Err(err)) => {
                    tracing::debug!(error = %err, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    None
                }
            },
        }
    }
}

/// The connection on `stream`, once established (see [`Handshakes::establish`]), served by
/// `serve` and shut down gracefully with the others, holding its permit until it ends.
async fn served<C>(
    handshakes: Arc<Handshakes>,
    stream: TcpStream,
    watcher: Watcher,
    serve: impl FnOnce(Io) -> C,
    permit: OwnedSemaphorePermit,
) where
    C: hyper_util::server::graceful::GracefulConnection,
    C::Error: std::fmt::Display,
{
    if let Some(io) = handshakes.establish(stream).await
        && let Err(err) = watcher.watch(serve(io)).await
    {
        tracing::debug!(error = %err, "connection ended with an error");
    }
    drop(permit);
}

/// A failed `accept`: the connection's own trouble is skipped; running out of file descriptors (or
/// memory) is logged and waited out briefly rather than spun on.
async fn accept_failed(err: &io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::error!(error = %err, "cannot accept a connection; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
