//! The test harness: [`TestApp`] runs the service on `127.0.0.1:0` over a fresh SQLite file, with
//! a JWKS of freshly generated RS256 and ES256 keys and a development HS256 secret.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use partner_center_client::{PartnerCenter, RetryPolicy, SubscriptionOperations};
use partner_center_domain::{CompletedRegistration, Lookup, SubscriptionKey};
use partner_center_model::{
    CustomerId, Fixture, SubscriptionActivationResult, SubscriptionId, Timestamp,
};
use partner_center_server::ops::faults::FaultRule;
use partner_center_server::{App, Config, Limits, RegistrationDelay, Secret, WorkerSettings};
use partner_center_store::StoreOptions;
use partner_center_store::testing::PostgresSchema;
use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

pub const SANDBOX_PARTNER: &str = "b1e5d2a0-0000-4000-8000-000000000001";
pub const PRODUCTION_PARTNER: &str = "b1e5d2a0-0000-4000-8000-000000000002";
/// A second sandbox partner, with customers of its own.
pub const OTHER_SANDBOX_PARTNER: &str = "b1e5d2a0-0000-4000-8000-000000000003";
pub const OTHER_CUSTOMER: &str = "c2f6e3b1-0000-4000-8000-000000000004";
pub const OTHER_SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000008";
pub const OTHER_AZURE_PLAN: &str = "d3a7f4c2-0000-4000-8000-000000000009";
/// An application of the sandbox partner, for the built-in identity provider.
pub const CLIENT_ID: &str = "f1f1f1f1-0000-4000-8000-000000000001";
pub const CLIENT_SECRET: &str = "test-client-secret-~.7Q";
/// A tenant with valid tokens that is no partner of the service.
pub const STRANGER: &str = "b1e5d2a0-0000-4000-8000-0000000000ff";

pub const CUSTOMER: &str = "c2f6e3b1-0000-4000-8000-000000000002";
pub const PRODUCTION_CUSTOMER: &str = "c2f6e3b1-0000-4000-8000-000000000003";

pub const AZURE_PLAN: &str = "d3a7f4c2-0000-4000-8000-000000000003";
pub const LEGACY_AZURE: &str = "d3a7f4c2-0000-4000-8000-000000000004";
pub const SUSPENDED_AZURE_PLAN: &str = "d3a7f4c2-0000-4000-8000-000000000005";
pub const LICENSE: &str = "d3a7f4c2-0000-4000-8000-000000000006";
pub const SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000004";
pub const ACTIVE_SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000005";
pub const SUSPENDED_SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000006";
pub const PRODUCTION_SAAS: &str = "e4b8a5d3-0000-4000-8000-000000000007";

pub const DEV_SECRET: &str = "test-development-secret-0123456789";
pub const AUDIENCE: &str = "https://api.partnercenter.microsoft.com";

pub fn fixture() -> Fixture {
    let sub = |id: &str, kind: &str, status: &str| json!({"id": id, "kind": kind, "status": status, "offerName": "offer"});
    serde_json::from_value(json!({
        "partners": [
            {
                "tenantId": SANDBOX_PARTNER, "name": "Contoso Sandbox", "sandbox": true,
                "applications": [{"clientId": CLIENT_ID, "name": "Contoso integration", "clientSecret": CLIENT_SECRET}],
                "customers": [{
                    "id": CUSTOMER, "companyName": "Fabrikam",
                    "subscriptions": [
                        sub(AZURE_PLAN, "azurePlan", "active"),
                        sub(LEGACY_AZURE, "azure", "active"),
                        sub(SUSPENDED_AZURE_PLAN, "azurePlan", "suspended"),
                        sub(LICENSE, "license", "active"),
                        sub(SAAS, "saas", "pending"),
                        sub(ACTIVE_SAAS, "saas", "active"),
                        sub(SUSPENDED_SAAS, "saas", "suspended"),
                    ]
                }]
            },
            {
                "tenantId": OTHER_SANDBOX_PARTNER, "name": "Adatum Sandbox", "sandbox": true,
                "customers": [{
                    "id": OTHER_CUSTOMER, "companyName": "Litware",
                    "subscriptions": [sub(OTHER_SAAS, "saas", "pending"), sub(OTHER_AZURE_PLAN, "azurePlan", "active")]
                }]
            },
            {
                "tenantId": PRODUCTION_PARTNER, "name": "Northwind Production", "sandbox": false,
                "customers": [{
                    "id": PRODUCTION_CUSTOMER, "companyName": "Tailspin",
                    "subscriptions": [sub(PRODUCTION_SAAS, "saas", "pending")]
                }]
            }
        ]
    }))
    .unwrap()
}

/// Signing keys, generated once per test run. `rogue_rsa` is not in the JWKS.
pub struct Keys {
    pub rsa: EncodingKey,
    pub ec: EncodingKey,
    pub rogue_rsa: EncodingKey,
    pub jwks: JwkSet,
}

pub const RSA_KID: &str = "test-rsa";
pub const EC_KID: &str = "test-ec";

fn rsa_key() -> EncodingKey {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec()));
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let rsa = rsa_key();
    let ec_pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let ec = EncodingKey::from_ec_der(ec_pair.to_pkcs8v1().unwrap().as_ref());
    let mut rsa_jwk = Jwk::from_encoding_key(&rsa, Algorithm::RS256).unwrap();
    rsa_jwk.common.key_id = Some(RSA_KID.into());
    let mut ec_jwk = Jwk::from_encoding_key(&ec, Algorithm::ES256).unwrap();
    ec_jwk.common.key_id = Some(EC_KID.into());
    Keys {
        rsa,
        ec,
        rogue_rsa: rsa_key(),
        jwks: JwkSet {
            keys: vec![rsa_jwk, ec_jwk],
        },
    }
});

/// Valid App-only claims for `tenant`, as Entra ID v1 writes them.
pub fn claims(tenant: &str) -> Value {
    let now = Timestamp::now().as_millis() / 1000;
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "tid": tenant,
        "idtyp": "app",
        "appid": "11111111-2222-3333-4444-555555555555",
        "iat": now,
        "nbf": now - 10,
        "exp": now + 3600,
    })
}

pub fn now_secs() -> i64 {
    Timestamp::now().as_millis() / 1000
}

/// Signs `claims` with the test RSA key (kid `test-rsa`).
pub fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, Some(RSA_KID), claims, &KEYS.rsa)
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// A valid RS256 App-only token for `tenant`.
pub fn token(tenant: &str) -> String {
    rs256(&claims(tenant))
}

pub struct TestOptions {
    pub delay: RegistrationDelay,
    /// When placed reservation orders are provisioned.
    pub order_delay: RegistrationDelay,
    /// How long a cart stays active.
    pub cart_lifetime: Duration,
    pub fixture: Fixture,
    pub dev_secret: bool,
    /// An existing database to reuse (for restarts).
    pub database: Option<TestDatabase>,
    /// How long idempotency records are kept.
    pub idempotency_retention: Duration,
    /// Whether the built-in identity provider runs.
    pub identity_provider: bool,
    /// Whether App+User tokens need MFA.
    pub enforce_mfa: bool,
    /// The admin token, if the admin API is on.
    pub admin_token: Option<&'static str>,
    /// Fault rules from the start.
    pub faults: Vec<FaultRule>,
    /// The request journal's size.
    pub journal_size: usize,
    /// Throttling rules.
    pub throttle: Vec<&'static str>,
    /// How long the identity provider's tokens last.
    pub token_lifetime: Duration,
    /// How long an identity-provider application is locked out after too many wrong secrets.
    pub lockout: Duration,
    /// Connection and request limits.
    pub limits: Limits,
}

impl Default for TestOptions {
    fn default() -> Self {
        // Registrations stay `Registering` until a test drives the worker.
        Self {
            delay: RegistrationDelay::After(Duration::from_secs(3600)),
            order_delay: RegistrationDelay::After(Duration::from_secs(3600)),
            cart_lifetime: Config::CART_LIFETIME,
            fixture: fixture(),
            dev_secret: true,
            database: None,
            idempotency_retention: Config::IDEMPOTENCY_RETENTION,
            identity_provider: false,
            enforce_mfa: true,
            admin_token: None,
            faults: Vec::new(),
            journal_size: 1000,
            throttle: Vec::new(),
            token_lifetime: Duration::from_secs(3599),
            lockout: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub app: App,
    pub http: reqwest::Client,
    pub database: TestDatabase,
    /// Holds the JWKS file.
    _dir: tempfile::TempDir,
    pub completions: broadcast::Receiver<CompletedRegistration>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(TestOptions::default()).await
    }

    pub async fn spawn_with(options: TestOptions) -> Self {
        install_log_capture();
        let dir = tempfile::tempdir().unwrap();
        let jwks_file: PathBuf = dir.path().join("jwks.json");
        std::fs::write(&jwks_file, serde_json::to_vec(&KEYS.jwks).unwrap()).unwrap();
        let database = match options.database {
            Some(database) => database,
            None => TestDatabase::fresh().await,
        };
        let store = partner_center_store::open(database.url(), StoreOptions::default())
            .await
            .unwrap();
        store.apply_fixture(&options.fixture).await.unwrap();

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = Config {
            worker: WorkerSettings {
                delay: options.delay,
                order_delay: options.order_delay,
                ..WorkerSettings::default()
            },
            cart_lifetime: options.cart_lifetime,
            idempotency_retention: options.idempotency_retention,
            identity_provider: options.identity_provider.then(|| format!("http://{addr}")),
            token_lifetime: options.token_lifetime,
            identity_provider_lockout: options.lockout,
            admin_token: options.admin_token.map(Secret::new),
            faults: options.faults,
            journal_size: options.journal_size,
            throttle: options
                .throttle
                .iter()
                .map(|rule| rule.parse().unwrap())
                .collect(),
            limits: options.limits,
            ..Config::default()
        };
        config.auth.jwks_file = Some(jwks_file);
        config.auth.enforce_mfa = options.enforce_mfa;
        if options.dev_secret {
            config.auth.dev_signing_secret = Some(Secret::new(DEV_SECRET));
        }
        let app = App::new(config, store).await.unwrap();
        let completions = app.worker().subscribe();

        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(app.clone().serve(listener, async {
            let _ = stop.await;
        }));
        Self {
            addr,
            app,
            http: reqwest::Client::new(),
            database,
            _dir: dir,
            completions,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Shuts the service down gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).unwrap();
        let server = self.server.take().unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    /// The SDK, as `tenant` with a valid App-only token, without retry pauses.
    pub fn partner(&self, tenant: &str) -> PartnerCenter {
        self.sdk().token(token(tenant)).build().unwrap()
    }

    /// An SDK builder aimed at this service, retrying without pauses.
    pub fn sdk(&self) -> partner_center_client::PartnerCenterBuilder {
        PartnerCenter::builder()
            .base_url(format!("http://{}", self.addr))
            .retry(RetryPolicy::with_delays([Duration::ZERO; 3]))
    }

    /// The sandbox customer's subscription `id`, through the SDK as the sandbox partner.
    pub fn subscription<'a>(
        &self,
        partner: &'a PartnerCenter,
        id: &str,
    ) -> SubscriptionOperations<'a> {
        partner
            .customers()
            .by_id(CUSTOMER.parse().unwrap())
            .subscriptions()
            .by_id(id.parse().unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn subscription_path(customer: &str, subscription: &str, action: &str) -> String {
        format!("/v1/customers/{customer}/subscriptions/{subscription}/{action}")
    }

    pub async fn post(
        &self,
        customer: &str,
        subscription: &str,
        action: &str,
        token: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&Self::subscription_path(customer, subscription, action)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, subscription: &str) -> reqwest::Response {
        self.post(
            CUSTOMER,
            subscription,
            "registrations",
            &token(SANDBOX_PARTNER),
        )
        .await
    }

    pub async fn activate(&self, subscription: &str) -> reqwest::Response {
        self.post(CUSTOMER, subscription, "activate", &token(SANDBOX_PARTNER))
            .await
    }

    pub async fn status_with(
        &self,
        customer: &str,
        subscription: &str,
        token: &str,
    ) -> reqwest::Response {
        self.http
            .get(self.url(&Self::subscription_path(
                customer,
                subscription,
                "registrationstatus",
            )))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The registration status of one of the sandbox customer's subscriptions, through the SDK.
    pub async fn status(&self, subscription: &str) -> String {
        let partner = self.partner(SANDBOX_PARTNER);
        let status = self
            .subscription(&partner, subscription)
            .registration_status()
            .get()
            .await
            .unwrap();
        assert_eq!(status.subscription_id.to_string(), subscription);
        status.status.to_string()
    }

    /// Registers one of the sandbox customer's subscriptions through the SDK, which must succeed;
    /// the `Location` it answered.
    pub async fn registered(&self, subscription: &str) -> String {
        let partner = self.partner(SANDBOX_PARTNER);
        self.subscription(&partner, subscription)
            .registration()
            .register()
            .await
            .unwrap()
    }

    /// Activates one of the sandbox customer's subscriptions through the SDK, which must succeed.
    pub async fn activated(&self, subscription: &str) -> SubscriptionActivationResult {
        let partner = self.partner(SANDBOX_PARTNER);
        let result = self
            .subscription(&partner, subscription)
            .activate()
            .await
            .unwrap();
        assert_eq!(result.subscription_id.to_string(), subscription);
        result
    }

    /// Waits (bounded) for the worker to report the next completed registration.
    pub async fn next_completion(&mut self) -> CompletedRegistration {
        tokio::time::timeout(Duration::from_secs(10), self.completions.recv())
            .await
            .unwrap()
            .unwrap()
    }

    /// How many registrations the store recorded for one of the sandbox customer's subscriptions.
    pub async fn registrations_of(&self, subscription: &str) -> usize {
        let key = SubscriptionKey {
            partner: SANDBOX_PARTNER.parse().unwrap(),
            customer: CUSTOMER.parse::<CustomerId>().unwrap(),
            subscription: subscription.parse::<SubscriptionId>().unwrap(),
        };
        match self.app.store().registration_history(&key).await.unwrap() {
            Lookup::Found(history) => history.len(),
            other => panic!("{other:?}"),
        }
    }
}

pub const ADMIN: &str = "admin-token-for-tests";

pub async fn with_admin() -> TestApp {
    TestApp::spawn_with(TestOptions {
        admin_token: Some(ADMIN),
        ..TestOptions::default()
    })
    .await
}

/// An admin request with the admin token.
pub async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, app.url(&format!("/admin/v1{path}")))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub async fn admin_json(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let response = admin(app, method, path, body).await;
    assert_eq!(response.status(), status, "{path}");
    let text = response.text().await.unwrap();
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// The journal's entries (newest first) matching `query` (e.g. `requestId=x`), through the admin API.
pub async fn journal(app: &TestApp, query: &str) -> Vec<Value> {
    let path = format!("/requests?{query}");
    match admin_json(app, reqwest::Method::GET, &path, None, 200).await {
        Value::Array(entries) => entries,
        other => panic!("{other}"),
    }
}

/// A response's ServiceFault body, after checking its status and content type.
pub async fn fault(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["code"].is_number(),
        "code must be a JSON number: {body}"
    );
    assert_eq!(body["data"], json!([]));
    assert!(body["source"].is_string());
    body
}

thread_local! {
    /// The log output captured on this thread, while a [`LogCapture`] is alive.
    static CAPTURED: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// Captures everything logged on the current thread, at every level, until dropped. The service
/// under test runs on the test's thread, so its logs are captured too; other tests' are not.
pub struct LogCapture(());

impl LogCapture {
    pub fn contents(&self) -> String {
        CAPTURED.with(|c| {
            String::from_utf8_lossy(c.borrow().as_deref().unwrap_or_default()).into_owned()
        })
    }
}

impl Drop for LogCapture {
    fn drop(&mut self) {
        CAPTURED.with(|c| c.borrow_mut().take());
    }
}

struct ThreadWriter;

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(captured) = c.borrow_mut().as_mut() {
                captured.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the one global subscriber of the test binary, which records only on threads that
/// capture. Called before any service code runs, so that no log callsite is ever cached as disabled.
pub fn install_log_capture() {
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Dynamic: asked at every event, never cached per callsite (which thread captures changes).
        let capturing = tracing_subscriber::filter::dynamic_filter_fn(|_, _| {
            CAPTURED.with(|c| c.borrow().is_some())
        });
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| ThreadWriter)
            .with_filter(capturing);
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .unwrap();
    });
}

pub fn capture_logs() -> LogCapture {
    install_log_capture();
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    LogCapture(())
}

/// The backend a test runs on; the `e2e!` macro runs each test on both.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The PostgreSQL database to create a schema in.
    Postgres(String),
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// Runs `test` with `backend` as the backend of the apps it spawns.
pub async fn on_backend(backend: Backend, test: impl std::future::Future<Output = ()>) {
    BACKEND.scope(backend, test).await;
}

/// A test's database: a SQLite file, or a PostgreSQL schema of its own.
#[derive(Clone, Debug)]
pub enum TestDatabase {
    Sqlite {
        /// Keeps the file alive while the database is in use.
        _dir: Arc<tempfile::TempDir>,
        url: String,
    },
    Postgres(Arc<PostgresSchema>),
}

impl TestDatabase {
    /// A new, empty database on the current test's backend.
    pub async fn fresh() -> Self {
        match BACKEND.try_with(Clone::clone).unwrap_or(Backend::Sqlite) {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!(
                    "sqlite://{}",
                    dir.path().join("partner-center.db").display()
                );
                Self::Sqlite {
                    _dir: Arc::new(dir),
                    url,
                }
            }
            Backend::Postgres(base) => {
                Self::Postgres(Arc::new(PostgresSchema::create(&base).await))
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } => url,
            Self::Postgres(schema) => &schema.url,
        }
    }

    /// Hides the table that holds the registration queue, behind the service's back, so that
    /// a registration's write fails: SQLite's `registration_jobs`, PostgreSQL's `registrations`
    /// (each job is kept in its registration's row there). `restore_registration_queue` puts it
    /// back.
    pub async fn hide_registration_queue(&self) {
        self.execute(match self {
            Self::Sqlite { .. } => {
                "alter table registration_jobs rename to registration_jobs_hidden"
            }
            Self::Postgres(_) => "alter table registrations rename to registrations_hidden",
        })
        .await;
    }

    /// Puts back what `hide_registration_queue` hid.
    pub async fn restore_registration_queue(&self) {
        self.execute(match self {
            Self::Sqlite { .. } => {
                "alter table registration_jobs_hidden rename to registration_jobs"
            }
            Self::Postgres(_) => "alter table registrations_hidden rename to registrations",
        })
        .await;
    }

    /// Runs one SQL statement on the database, behind the service's back.
    pub async fn execute(&self, sql: &'static str) {
        use sqlx::Connection as _;
        match self {
            Self::Sqlite { url, .. } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
            Self::Postgres(schema) => {
                let mut conn = sqlx::PgConnection::connect(&schema.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }
}
