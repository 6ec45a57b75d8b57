//! The Partner Center service: subscription registration, registration status and sandbox
//! activation, faithful to Partner Center on the wire and backed by a durable [`Store`].
//!
//! # Layout
//!
//! - [`config`]: what the service is told at start ([`Config`]).
//! - [`auth`]: bearer-token validation and the [`Caller`](auth::Caller) extractor.
//! - [`wire`]: conventions every request shares (path normalisation, correlation headers, body limit).
//! - [`error`]: [`ApiError`], the one error type, rendered as a ServiceFault.
//! - [`negotiate`]: content negotiation between JSON and XML.
//! - `openapi`: the OpenAPI description served at `/openapi.json`, generated from the code.
//! - `routes`: the three subscription routes and the health probes, each beside its resource.
//! - [`worker`]: the background worker that completes registrations.
//! - `janitor`: purges expired idempotency records in the background.
//! - [`dev`]: development tokens and the demo fixture.
//! - [`admin`]: the administration API, off unless an admin token is configured.
//! - `dashboard`: the operator's web pages under `/admin/`, on with the admin API.
//! - [`ops`]: fault injection, the request journal, throttling and metrics.
//! - [`idp`]: the built-in identity provider (client credentials, OIDC discovery, JWKS), off by default.
//! - [`tls`]: HTTPS, off unless a certificate and key are configured.
//!
//! # Start-up
//!
//! [`App::new`] builds the service from a [`Config`] and a store; [`App::serve`] serves it on an
//! already-bound listener until a shutdown future resolves, so tests bind port 0 and never sleep.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use partner_center_store::{
    AdminStore, FixtureStore, IdentityStore, JobQueue, PurchaseStore, RequestStore, Store,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

pub mod admin;
pub mod auth;
pub mod config;
mod connections;
mod dashboard;
pub mod dev;
pub mod error;
pub mod idp;
mod janitor;
pub mod negotiate;
mod openapi;
pub mod ops;
mod paging;
mod render;
mod routes;
pub mod tls;
pub mod wire;
pub mod worker;

pub use auth::{AuthSetupError, Authenticator};
pub use config::{AuthConfig, Config, Limits, RegistrationDelay, Secret, WorkerSettings};
pub use error::ApiError;
pub use idp::{IdentityProvider, IdpError};
use ops::faults::Faults;
use ops::journal::Journal;
use ops::metrics::Metrics;
use ops::throttle::Throttle;
pub use routes::body::parse as parse_request_body;
pub use tls::{Tls, TlsError};
pub use worker::Worker;

/// Shared state of the request handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

#[derive(Debug)]
struct StateInner {
    store: Arc<dyn Store>,
    auth: Authenticator,
    worker: Worker,
    server_id: HeaderValue,
    idempotency_retention: std::time::Duration,
    identity_provider: Option<Arc<IdentityProvider>>,
    admin_token: Option<Secret>,
    faults: Faults,
    journal: Journal,
    throttle: Throttle,
    metrics: Metrics,
    limits: config::Limits,
    paging: paging::Paging,
    cart_lifetime: std::time::Duration,
    dashboard: dashboard::Sessions,
}

impl AppState {
    /// The store, as the request path sees it.
    pub(crate) fn requests(&self) -> &dyn RequestStore {
        self.inner.store.as_ref()
    }

    /// The store, as operators see it.
    pub(crate) fn admin_store(&self) -> &dyn AdminStore {
        self.inner.store.as_ref()
    }

    /// The store, as fixtures are loaded into it.
    pub(crate) fn fixtures(&self) -> &dyn FixtureStore {
        self.inner.store.as_ref()
    }

    /// The store, as the built-in identity provider sees it.
    pub(crate) fn identity_store(&self) -> &dyn IdentityStore {
        self.inner.store.as_ref()
    }

    /// The store, as the background work (and its metrics) sees it.
    pub(crate) fn queue(&self) -> &dyn JobQueue {
        self.inner.store.as_ref()
    }

    pub(crate) fn auth(&self) -> &Authenticator {
        &self.inner.auth
    }

    pub(crate) fn worker(&self) -> &Worker {
        &self.inner.worker
    }

    pub(crate) fn idempotency_retention(&self) -> std::time::Duration {
        self.inner.idempotency_retention
    }

    pub(crate) fn identity_provider(&self) -> Option<&Arc<IdentityProvider>> {
        self.inner.identity_provider.as_ref()
    }

    pub(crate) fn admin_token(&self) -> Option<&Secret> {
        self.inner.admin_token.as_ref()
    }

    pub(crate) fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    pub(crate) fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    pub(crate) fn throttle(&self) -> &Throttle {
        &self.inner.throttle
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn server_id(&self) -> &HeaderValue {
        &self.inner.server_id
    }

    pub(crate) fn limits(&self) -> &config::Limits {
        &self.inner.limits
    }

    pub(crate) fn paging(&self) -> &paging::Paging {
        &self.inner.paging
    }

    /// The store, as buying sees it.
    pub(crate) fn purchases(&self) -> &dyn PurchaseStore {
        self.inner.store.as_ref()
    }

    pub(crate) fn cart_lifetime(&self) -> std::time::Duration {
        self.inner.cart_lifetime
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The token configuration is unusable.
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    /// The server id is not a valid header value.
    #[error("the server id must be printable ASCII")]
    ServerId,
    /// The built-in identity provider could not start.
    #[error(transparent)]
    IdentityProvider(#[from] IdpError),
    /// A fault rule is not valid.
    #[error("invalid fault rule: {0}")]
    Fault(String),
    /// The store failed while the service was being set up.
    #[error(transparent)]
    Store(#[from] partner_center_store::StoreError),
}

/// The service, ready to serve.
#[derive(Debug, Clone)]
pub struct App {
    state: AppState,
    tls: Option<Tls>,
}

impl App {
    /// Builds the service: loads the token keys and prepares the worker.
    ///
    /// # Errors
    ///
    /// When the token configuration cannot be loaded (see [`AuthSetupError`]) or the server id is unusable.
    pub async fn new(config: Config, store: Arc<dyn Store>) -> Result<Self, StartError> {
        let identity_provider = match &config.identity_provider {
            Some(url) => Some(
                IdentityProvider::load(store.as_ref(), url)
                    .await?
                    .with_token_lifetime(config.token_lifetime)
                    .with_lockout_window(config.identity_provider_lockout),
            ),
            None => None,
        };
        let mut auth_config = config.auth.clone();
        let mut more_keys = Vec::new();
        if let Some(idp) = &identity_provider {
            auth_config.issuers.push(idp.issuer_template());
            more_keys.push(("the identity provider".to_owned(), idp.jwks().clone()));
        }
        let auth = Authenticator::from_config(&auth_config, more_keys).await?;
        let server_id =
            HeaderValue::from_str(&config.server_id).map_err(|_| StartError::ServerId)?;
        let metrics = Metrics::new();
        let worker = Worker::new(store.clone(), &config.worker, metrics.clone());
        let faults = Faults::new(config.faults).map_err(StartError::Fault)?;
        let paging = paging::Paging::load(store.as_ref())
            .await
            .map_err(StartError::Store)?;
        Ok(Self {
            state: AppState {
                inner: Arc::new(StateInner {
                    store,
                    auth,
                    worker,
                    server_id,
                    idempotency_retention: config.idempotency_retention,
                    identity_provider: identity_provider.map(Arc::new),
                    admin_token: config.admin_token,
                    faults,
                    journal: Journal::new(config.journal_size),
                    throttle: Throttle::new(config.throttle),
                    metrics,
                    limits: config.limits,
                    paging,
                    cart_lifetime: config.cart_lifetime,
                    dashboard: dashboard::Sessions::new(config.tls.is_some()),
                }),
            },
            tls: config.tls,
        })
    }

    /// The registration worker, to subscribe to completions or drive it by hand.
    #[must_use]
    pub fn worker(&self) -> &Worker {
        self.state.worker()
    }

    /// The store the service runs on.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.inner.store
    }

    /// The routes with their middleware, before path normalisation.
    pub fn router(&self) -> Router {
        let mut routes = Router::new()
            .merge(routes::customers::router())
            .merge(routes::subscriptions::router())
            .merge(routes::carts::router())
            .merge(routes::orders::router())
            .merge(routes::products::router())
            .merge(routes::health::router())
            .route("/openapi.json", axum::routing::get(openapi::serve))
            .route("/metrics", axum::routing::get(serve_metrics));
        if self.state.admin_token().is_some() {
            routes = routes.merge(admin::router()).merge(dashboard::router());
        }
        if let Some(idp) = self.state.identity_provider() {
            routes = routes.merge(idp::router(idp.clone()));
        }
        with_middleware(routes, self.state.clone()).with_state(self.state.clone())
    }

    /// Serves on `listener` (over TLS when [`Config::tls`] is set) until `shutdown` resolves, then
    /// stops accepting connections, lets in-flight requests finish, and stops the worker (queued
    /// registrations stay queued).
    ///
    /// # Errors
    ///
    /// An I/O error of the listener.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Err(err) = self.state.queue().release_orphaned_claims().await {
            tracing::error!(error = %err, "cannot release the claims of a previous process");
        }
        let stop_worker = CancellationToken::new();
        let worker = tokio::spawn(self.worker().clone().run(stop_worker.clone()));
        let janitor = tokio::spawn(janitor::run(
            self.state.inner.store.clone(),
            stop_worker.clone(),
        ));
        let service = self
            .router()
            .map_request(wire::normalize_path as fn(Request) -> Request);
        let result = connections::serve(
            listener,
            service,
            self.overloaded(),
            self.state.inner.limits,
            self.tls.as_ref().map(Tls::acceptor),
            shutdown,
        )
        .await;
        stop_worker.cancel();
        if let Err(err) = worker.await {
            tracing::error!(error = %err, "registration worker panicked");
        }
        if let Err(err) = janitor.await {
            tracing::error!(error = %err, "idempotency janitor panicked");
        }
        result
    }
}

impl App {
    /// What a connection over the limit gets: 503 to any request, with the usual headers.
    fn overloaded(&self) -> Router {
        Router::new()
            .fallback(|| async { ApiError::unavailable("too many connections").into_response() })
            .layer(wire::CorrelateLayer::new(self.state.clone()))
            .with_state(self.state.clone())
    }
}

/// What every route shares: the 404 and 405 fallbacks, and (outermost) the correlation layer,
/// [`wire::CorrelateLayer`]: the correlation headers, body rendering, and a panic turned into a
/// 500 ServiceFault.
fn with_middleware(routes: Router<AppState>, state: AppState) -> Router<AppState> {
    routes
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(wire::CorrelateLayer::new(state))
}

/// `GET /metrics`: Prometheus' text exposition format.
async fn serve_metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let depth = match state.queue().queue_depth().await {
        Ok(depth) => depth,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the registration queue depth");
            0
        }
    };
    let orders = match state.queue().order_counts().await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::warn!(error = %err, "cannot count the orders");
            Vec::new()
        }
    };
    let orders: Vec<(&str, u64)> = orders
        .iter()
        .map(|(status, count)| (status.as_str(), *count))
        .collect();
    (
        [(axum::http::header::CONTENT_TYPE, ops::metrics::CONTENT_TYPE)],
        state.metrics().render(depth, &orders),
    )
        .into_response()
}

async fn route_not_found() -> Response {
    ApiError::route_not_found().into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    ApiError::method_not_allowed(&method).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;

    use super::*;

    #[tokio::test]
    async fn a_panic_is_a_500_service_fault_with_the_usual_headers() {
        async fn boom() -> &'static str {
            panic!("secret internal detail")
        }
        let store = partner_center_store::SqliteStore::open("sqlite::memory:")
            .await
            .unwrap();
        let config = Config {
            auth: AuthConfig {
                dev_signing_secret: Some(Secret::new("x")),
                ..AuthConfig::default()
            },
            server_id: "123456789".into(),
            ..Config::default()
        };
        let state = App::new(config, Arc::new(store)).await.unwrap().state;
        let routes = Router::new().route("/boom", get(boom));
        let app = with_middleware(routes, state.clone());
        let request = Request::get("/boom")
            .header("accept", "application/xml")
            .body(Body::empty())
            .unwrap();
        let response = app.with_state(state).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["ms-serverid"], "123456789");
        assert_eq!(
            response.headers()["content-type"],
            "application/xml; charset=utf-8"
        );
        let body = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        let fault =
            <partner_center_model::ServiceFault as partner_center_model::XmlForm>::from_xml(
                std::str::from_utf8(&body).unwrap(),
            )
            .unwrap();
        assert_eq!(fault.code, 800_003);
        assert!(!fault.description.contains("secret"));
    }
}
