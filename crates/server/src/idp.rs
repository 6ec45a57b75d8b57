//! The built-in identity provider, for offline development: Entra ID's client-credentials flow,
//! its OIDC discovery and JWKS documents, and tokens for tests.
//!
//! Off unless enabled (`--identity-provider`). Its RS256 signing key is generated once and kept in
//! the store, so tokens survive restarts and instances on one database share it. The service
//! verifies its tokens as it verifies any issuer's: its public key joins the token keys, and its
//! issuer (`{public_url}/{tid}/v2.0`) joins the accepted issuers. Applications are declared in the
//! seed fixture, with their secrets stored hashed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use partner_center_model::{ClientId, TenantId, Timestamp};
use partner_center_store::{IdentityStore, SigningKey, StoreError, secret};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::config::AuthConfig;
use crate::render::json as json_response;
use crate::wire::{Correlated, MAX_BODY_BYTES, RequestIds, read_body};

/// How long the tokens the identity provider issues last, as Entra ID's.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3599);
/// Wrong client secrets for one application, within the lockout window, after which its token
/// requests are refused (429) until the window has passed, whatever secret they carry.
pub const MAX_SECRET_FAILURES: u32 = 5;
/// The lockout window: failures older than this are forgotten.
pub const LOCKOUT_WINDOW: Duration = Duration::from_secs(60);

/// When the window of each application's attempts opened, and how many it holds.
type Attempts = HashMap<(TenantId, ClientId), (Instant, u32)>;

/// The secrets each application was given lately, so that secrets cannot be guessed without
/// limit. Only applications that exist are tracked, so it is bounded by their number.
#[derive(Debug)]
struct Lockout {
    window: Duration,
    failures: Mutex<Attempts>,
}

impl Lockout {
    fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Mutex::default(),
        }
    }

    fn failures(&self) -> MutexGuard<'_, Attempts> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a secret about to be checked, or says how long the application stays locked out.
    /// Attempts are counted when they start, so that concurrent guesses cannot all slip through
    /// before the first of them fails.
    fn attempt(&self, key: (TenantId, ClientId), now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures();
        failures.retain(|_, (opened, _)| now.duration_since(*opened) < self.window);
        let (opened, count) = failures.entry(key).or_insert((now, 0));
        if *count >= MAX_SECRET_FAILURES {
            return Err(self.window.saturating_sub(now.duration_since(*opened)));
        }
        *count += 1;
        Ok(())
    }

    /// A right secret clears the application's failures.
    fn succeeded(&self, key: (TenantId, ClientId)) {
        self.failures().remove(&key);
    }
}

/// Why the identity provider could not start.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing key could not be made or read.
    #[error("identity provider signing key: {0}")]
    Key(String),
}

/// The identity provider: its key, and where it says it is.
pub struct IdentityProvider {
    kid: String,
    signing: EncodingKey,
    jwks: JwkSet,
    public_url: String,
    token_lifetime: Duration,
    lockout: Lockout,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("kid", &self.kid)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    /// The identity provider of `store`, answering as `public_url` (e.g. `http://127.0.0.1:8080`):
    /// its stored key, or a new one stored now.
    ///
    /// # Errors
    ///
    /// When the store fails or the key cannot be made or read.
    pub async fn load(store: &dyn IdentityStore, public_url: &str) -> Result<Self, IdpError> {
        let candidate = tokio::task::spawn_blocking(new_signing_key)
            .await
            .map_err(|e| IdpError::Key(e.to_string()))??;
        let key = store.signing_key(candidate).await?;
        Self::from_key(&key, public_url)
    }

    fn from_key(key: &SigningKey, public_url: &str) -> Result<Self, IdpError> {
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", key.private_key_pkcs8.clone()));
        let signing =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| IdpError::Key(e.to_string()))?;
        let mut jwk = Jwk::from_encoding_key(&signing, Algorithm::RS256)
            .map_err(|e| IdpError::Key(e.to_string()))?;
        jwk.common.key_id = Some(key.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self {
            kid: key.kid.clone(),
            signing,
            jwks: JwkSet { keys: vec![jwk] },
            public_url: public_url.trim_end_matches('/').to_owned(),
            token_lifetime: TOKEN_LIFETIME,
            lockout: Lockout::new(LOCKOUT_WINDOW),
        })
    }

    /// Locks an application out for `window` after [`MAX_SECRET_FAILURES`] wrong secrets within
    /// it (default [`LOCKOUT_WINDOW`]).
    #[must_use]
    pub fn with_lockout_window(mut self, window: Duration) -> Self {
        self.lockout = Lockout::new(window);
        self
    }

    /// Issues tokens from its token endpoint that last `lifetime` (default [`TOKEN_LIFETIME`]);
    /// short lifetimes let clients' renewal be exercised.
    #[must_use]
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// The public keys, as served at `/{tenant}/discovery/v2.0/keys`.
    #[must_use]
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// The issuer of its tokens for `tenant`.
    #[must_use]
    pub fn issuer(&self, tenant: TenantId) -> String {
        format!("{}/{tenant}/v2.0", self.public_url)
    }

    /// Its issuer as a template of the accepted issuers.
    #[must_use]
    pub fn issuer_template(&self) -> String {
        format!("{}/{{tid}}/v2.0", self.public_url)
    }

    fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing)
    }

    /// An App-only token for `client_id` of partner `tenant`, as Entra ID v2 issues for the client
    /// credentials flow.
    ///
    /// # Errors
    ///
    /// When signing fails.
    pub fn app_token(
        &self,
        tenant: TenantId,
        client_id: ClientId,
        lifetime: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(&app_claims(
            &self.issuer(tenant),
            tenant,
            client_id,
            lifetime,
        ))
    }

    /// An App+User token for a user of partner `tenant`, for tests.
    ///
    /// # Errors
    ///
    /// When signing fails.
    pub fn user_token(
        &self,
        tenant: TenantId,
        user: &UserToken,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(&user_claims(&self.issuer(tenant), tenant, user))
    }
}

/// The claims of an App-only token, as Entra ID v2 writes them.
pub(crate) fn app_claims(
    issuer: &str,
    tenant: TenantId,
    client_id: ClientId,
    lifetime: Duration,
) -> serde_json::Value {
    let now = Timestamp::now().as_millis() / 1000;
    json!({
        "aud": AuthConfig::AUDIENCES[0],
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_secs(lifetime),
        "azp": client_id,
        "azpacr": "1",
        "idtyp": "app",
        "oid": client_id,
        "sub": client_id,
        "tid": tenant,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "2.0",
    })
}

/// The claims of an App+User token, as Entra ID v2 writes them.
pub(crate) fn user_claims(issuer: &str, tenant: TenantId, user: &UserToken) -> serde_json::Value {
    let now = Timestamp::now().as_millis() / 1000;
    let amr: &[&str] = if user.mfa { &["pwd", "mfa"] } else { &["pwd"] };
    // A stable object id per user name.
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, user.upn.as_bytes());
    let oid = uuid::Uuid::from_slice(&digest.as_ref()[..16])
        .unwrap_or_default()
        .to_string();
    json!({
        "aud": AuthConfig::AUDIENCES[0],
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_secs(user.lifetime),
        "amr": amr,
        "azp": user.client_id,
        "idtyp": "user",
        "name": user.upn,
        "oid": oid,
        "scp": user.scope,
        "sub": oid,
        "tid": tenant,
        "upn": user.upn,
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "ver": "2.0",
    })
}

/// What an App+User token says of its user.
#[derive(Debug, Clone)]
pub struct UserToken {
    /// The user's sign-in name.
    pub upn: String,
    /// Whether the user signed in with multi-factor authentication (`amr` has `mfa`).
    pub mfa: bool,
    /// The delegated scopes (`scp`), space-separated.
    pub scope: String,
    /// The application acting for the user.
    pub client_id: ClientId,
    /// How long the token lasts.
    pub lifetime: Duration,
}

fn lifetime_secs(lifetime: Duration) -> i64 {
    i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2)
}

/// A new RSA-2048 key, PKCS#8, with a random `kid`.
fn new_signing_key() -> Result<SigningKey, IdpError> {
    use aws_lc_rs::encoding::AsDer;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|e| IdpError::Key(e.to_string()))?;
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|e| IdpError::Key(e.to_string()))?;
    Ok(SigningKey {
        kid: uuid::Uuid::new_v4().simple().to_string(),
        private_key_pkcs8: pkcs8.as_ref().to_vec(),
        created_at: Timestamp::now(),
    })
}

/// The identity provider's routes, as Entra ID's: discovery, keys and the token endpoint. They
/// exist only when it runs (without it they are unknown routes), and reach it as an extension.
pub(crate) fn router(idp: Arc<IdentityProvider>) -> Router<AppState> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .layer(Extension(idp))
}

async fn discovery(
    Extension(idp): Extension<Arc<IdentityProvider>>,
    Path(tenant): Path<String>,
) -> Response {
    let base = &idp.public_url;
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": format!("{base}/{tenant}/v2.0"),
            "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
            "grant_types_supported": ["client_credentials"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": [format!("{}/.default", AuthConfig::AUDIENCES[0])],
            "claims_supported": ["aud", "iss", "iat", "nbf", "exp", "tid", "oid", "sub", "azp", "idtyp", "scp", "amr", "upn"],
        }),
    )
}

async fn keys(Extension(idp): Extension<Arc<IdentityProvider>>) -> Response {
    json_response(StatusCode::OK, idp.jwks())
}

/// The form of a client-credentials token request (`application/x-www-form-urlencoded`).
#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// An OAuth error in Entra ID's shape: `{"error","error_description","error_codes",...}`.
fn oauth_error(
    status: StatusCode,
    error: &str,
    code: u32,
    description: &str,
    ids: &RequestIds,
) -> Response {
    let timestamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let trace_id = String::from_utf8_lossy(ids.request_id.as_bytes()).into_owned();
    let correlation_id = String::from_utf8_lossy(ids.correlation_id.as_bytes()).into_owned();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    });
    let mut response = json_response(status, &body);
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    response
        .headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

/// `client_id` and `client_secret` from HTTP Basic authentication (`client_secret_basic`).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant.
async fn token(
    State(state): State<AppState>,
    Extension(idp): Extension<Arc<IdentityProvider>>,
    Path(tenant): Path<String>,
    Extension(correlated): Extension<Correlated>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let fail = |status, error, code, description: &str| {
        oauth_error(status, error, code, description, &correlated.ids)
    };
    // The body, within the API's limits: its size and the time a client may take to send it.
    let (parts, body) = request.into_parts();
    let bytes = match read_body(body, MAX_BODY_BYTES, &state).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return fail(
                err.status(),
                "invalid_request",
                900_144,
                &err.fault().description,
            );
        }
    };
    let form = Form::<TokenRequest>::from_request(
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        &state,
    )
    .await;
    let Ok(Form(request)) = form else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900_144,
            "The request body must be application/x-www-form-urlencoded.",
        );
    };
    let partner = match tenant.parse::<TenantId>() {
        Ok(tenant) => match state.requests().partner(tenant).await {
            Ok(partner) => partner,
            Err(err) => {
                tracing::error!(error = %err, "token request failed");
                return fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "temporarily_unavailable",
                    90_033,
                    "The service is temporarily unavailable.",
                );
            }
        },
        Err(_) => None,
    };
    let Some(partner) = partner else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90_002,
            &format!("Tenant '{tenant}' not found."),
        );
    };
    match request.grant_type.as_deref() {
        Some("client_credentials") => {}
        None => {
            return fail(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
        Some(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70_003,
                "The app requested an unsupported grant type.",
            );
        }
    }
    let (client_id, client_secret) = match (
        request.client_id,
        request.client_secret,
        basic_credentials(&headers),
    ) {
        (_, _, Some(basic)) => basic,
        (Some(id), Some(secret), None) => (id, secret),
        (None, _, None) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'client_id'.",
            );
        }
        (Some(_), None, None) => {
            return fail(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
    };
    let scopes: Vec<&str> = request
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let accepted = AuthConfig::AUDIENCES.map(|audience| format!("{audience}/.default"));
    if !matches!(scopes.as_slice(), [scope] if accepted.iter().any(|a| a == scope)) {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1_002_012,
            &format!(
                "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier: {}.",
                accepted[0]
            ),
        );
    }
    let application = match client_id.parse::<ClientId>() {
        Ok(client) => {
            state
                .identity_store()
                .application(partner.tenant_id, client)
                .await
        }
        Err(_) => Ok(None),
    };
    let application = match application {
        Ok(Some(application)) => application,
        Ok(None) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700_016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'.",
                    partner.tenant_id
                ),
            );
        }
        Err(err) => {
            tracing::error!(error = %err, "token request failed");
            return fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "temporarily_unavailable",
                90_033,
                "The service is temporarily unavailable.",
            );
        }
    };
    // After a handful of wrong secrets, the application is locked out for the rest of the
    // window, whatever secret comes: secrets cannot be guessed without limit.
    let key = (partner.tenant_id, application.client_id);
    if let Err(left) = idp.lockout.attempt(key, Instant::now()) {
        let seconds = left.as_secs().max(1);
        tracing::warn!(client_id = %application.client_id, seconds, "token request refused: too many wrong client secrets");
        let mut response = fail(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_client",
            50_053,
            &format!(
                "The application is locked: too many requests were made with a wrong client secret. Try again in {seconds} seconds."
            ),
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    // PBKDF2 is slow on purpose: off the request threads.
    let hash = application.secret_hash.clone();
    let valid = tokio::task::spawn_blocking(move || secret::verify(&hash, &client_secret))
        .await
        .unwrap_or(false);
    if !valid {
        return fail(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7_000_215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    idp.lockout.succeeded(key);
    match idp.app_token(partner.tenant_id, application.client_id, idp.token_lifetime) {
        Ok(access_token) => {
            tracing::info!(client_id = %application.client_id, "issued an access token");
            let expires_in = idp.token_lifetime.as_secs();
            let mut response = json_response(
                StatusCode::OK,
                &json!({
                    "token_type": "Bearer",
                    "expires_in": expires_in,
                    "ext_expires_in": expires_in,
                    "access_token": access_token,
                }),
            );
            no_store(&mut response);
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot sign an access token");
            fail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "temporarily_unavailable",
                90_033,
                "The service is temporarily unavailable.",
            )
        }
    }
}
