//! Bearer-token authentication: which keys verify tokens, what a valid token must claim, and the
//! [`Caller`] extractor that handlers take to require it.
//!
//! The algorithm a token is verified with comes from the key that verifies it (a JWKS key's type and
//! `alg`, or HS256 for the development secret), never from the token: a token that names another
//! algorithm than its key's is refused. Tokens are checked for `aud`, `exp` and `nbf` (with the
//! configured skew), an `iss` bound to the `tid` claim, and, for App+User tokens, the
//! `user_impersonation` scope and (unless switched off) multi-factor authentication. `tid` names the
//! partner; a tenant that is no partner here gets 403.

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use partner_center_domain::{Partner, SubscriptionKey};
use partner_center_model::{CustomerId, SubscriptionId, TenantId, Timestamp};
use serde::Deserialize;

use crate::AppState;
use crate::config::AuthConfig;
use crate::error::ApiError;

mod cache;
mod keys;

pub use cache::ConnectionMemo;
use cache::TokenCache;
use keys::{Keys, Verifier};

/// Why the token configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// The JWKS file could not be read.
    #[error("cannot read JWKS file {path}: {source}")]
    ReadJwks {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JWKS URL could not be fetched.
    #[error("cannot fetch JWKS from {url}: {source}")]
    FetchJwks {
        /// The URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The JWKS document is not a JWKS.
    #[error("{origin} is not a JWKS document: {source}")]
    ParseJwks {
        /// Where it came from.
        origin: String,
        /// Why.
        source: serde_json::Error,
    },
    /// A JWKS key cannot be used.
    #[error("{origin}: key {kid}: {reason}")]
    UnusableKey {
        /// Where it came from.
        origin: String,
        /// Its `kid`.
        kid: String,
        /// Why.
        reason: String,
    },
    /// Nothing could verify a token.
    #[error(
        "no token verification keys are configured: pass --jwks-file, --jwks-url, --dev-signing-secret or --identity-provider (or --demo)"
    )]
    NoKeys,
    /// An issuer template is malformed.
    #[error("issuer template `{0}` has more than one {{tid}}")]
    BadIssuer(String),
}

/// An accepted `iss`: `prefix{tid}suffix`, or a fixed string when the template has no `{tid}`.
#[derive(Debug)]
enum IssuerTemplate {
    Bound { prefix: String, suffix: String },
    Fixed(String),
}

impl IssuerTemplate {
    fn parse(template: &str) -> Result<Self, AuthSetupError> {
        match template.split_once("{tid}") {
            Some((_, suffix)) if suffix.contains("{tid}") => {
                Err(AuthSetupError::BadIssuer(template.to_owned()))
            }
            Some((prefix, suffix)) => Ok(Self::Bound {
                prefix: prefix.to_owned(),
                suffix: suffix.to_owned(),
            }),
            None => Ok(Self::Fixed(template.to_owned())),
        }
    }

    fn accepts(&self, iss: &str, tid: TenantId) -> bool {
        match self {
            Self::Bound { prefix, suffix } => iss
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(suffix.as_str()))
                .and_then(|middle| middle.parse::<TenantId>().ok())
                .is_some_and(|issuer_tid| issuer_tid == tid),
            Self::Fixed(fixed) => iss == fixed,
        }
    }
}

/// The claims the service reads; `aud`, `exp` and `nbf` are checked by the JWT library.
#[derive(Deserialize)]
struct Claims {
    tid: String,
    iss: String,
    exp: i64,
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    amr: Option<Vec<String>>,
    #[serde(default)]
    idtyp: Option<String>,
}

/// What a valid token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The partner tenant (`tid`).
    pub tenant: TenantId,
}

/// Verifies bearer tokens. Built once at start from [`AuthConfig`].
pub struct Authenticator {
    keys: Keys,
    dev: Option<Verifier>,
    issuers: Vec<IssuerTemplate>,
    enforce_mfa: bool,
    leeway_ms: i64,
    cache: TokenCache,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.current();
        f.debug_struct("Authenticator")
            .field("kids", &keys.kids())
            .field("dev_secret", &self.dev.is_some())
            .field("issuers", &self.issuers)
            .field("enforce_mfa", &self.enforce_mfa)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Loads the keys `config` names (the JWKS file, the JWKS URL fetched now, the development
    /// secret) and `more`, keys known otherwise (the built-in identity provider's), with their origin.
    ///
    /// # Errors
    ///
    /// When a JWKS cannot be read, fetched or used, when no key at all is configured, or when an
    /// issuer template is malformed.
    pub async fn from_config(
        config: &AuthConfig,
        more: Vec<(String, JwkSet)>,
    ) -> Result<Self, AuthSetupError> {
        let template = base_validation(config);
        let mut fixed = more;
        if let Some(path) = &config.jwks_file {
            fixed.push(keys::read_jwks_file(path)?);
        }
        let keys = Keys::load(
            fixed,
            config.jwks_url.clone(),
            template.clone(),
            config.jwks_refresh_interval,
        )
        .await?;
        let dev = config.dev_signing_secret.as_ref().map(|secret| {
            let mut validation = template.clone();
            validation.algorithms = vec![Algorithm::HS256];
            Verifier {
                key: DecodingKey::from_secret(secret.expose().as_bytes()),
                validation,
            }
        });
        if keys.current().is_empty() && dev.is_none() {
            return Err(AuthSetupError::NoKeys);
        }
        Ok(Self {
            keys,
            dev,
            issuers: config
                .issuers
                .iter()
                .map(|t| IssuerTemplate::parse(t))
                .collect::<Result<_, _>>()?,
            enforce_mfa: config.enforce_mfa,
            leeway_ms: i64::try_from(config.clock_skew.as_millis()).unwrap_or(i64::MAX),
            cache: TokenCache::new(),
        })
    }

    /// Verifies a bearer token: from the cache when this very token was verified before and has
    /// not expired since, else in full.
    ///
    /// # Errors
    ///
    /// 401 for a token that does not validate or lacks MFA; 403 for an App+User token without the
    /// `user_impersonation` scope.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, ApiError> {
        Ok(self.verify_cached(token, Timestamp::now()).await?.0)
    }

    /// The caller of a request with this `Authorization` header: what the connection's memo
    /// remembers for this very header value (compared byte for byte, before the value is read as
    /// a bearer token at all), else its bearer token verified as [`Self::verify`] does, which the
    /// memo then remembers.
    ///
    /// # Errors
    ///
    /// As [`Self::verify`]; 401 for a header that is not a bearer token.
    pub async fn verify_header(
        &self,
        authorization: &HeaderValue,
        connection: Option<&ConnectionMemo>,
    ) -> Result<VerifiedToken, ApiError> {
        let now = Timestamp::now();
        let header = authorization.as_bytes();
        if let Some(verified) = connection.and_then(|memo| memo.get(header, now)) {
            return Ok(verified);
        }
        let (verified, valid_until) = self.verify_cached(bearer_token(header)?, now).await?;
        if let Some(memo) = connection {
            memo.set(header, verified.clone(), valid_until);
        }
        Ok(verified)
    }

    /// The token verified, from the cache or in full, and until when it is valid.
    async fn verify_cached(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<(VerifiedToken, i64), ApiError> {
        let key = TokenCache::key(token);
        if let Some(cached) = self.cache.get(&key, now) {
            return Ok(cached);
        }
        let (verified, exp) = self.verify_fully(token).await?;
        let valid_until = exp.saturating_mul(1000).saturating_add(self.leeway_ms);
        self.cache.insert(key, verified.clone(), valid_until);
        Ok((verified, valid_until))
    }

    async fn verify_fully(&self, token: &str) -> Result<(VerifiedToken, i64), ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| reject(e.kind()))?;
        let keyed;
        let verifier = if header.alg == Algorithm::HS256 {
            self.dev.as_ref()
        } else {
            keyed = match header.kid.as_deref() {
                Some(kid) => self.keys.find_or_refresh(kid).await,
                None => self.keys.current().find(None),
            };
            keyed.as_deref()
        }
        .ok_or_else(|| {
            tracing::debug!(
                reason = "no key for the token's kid or algorithm",
                "token rejected"
            );
            ApiError::token_invalid()
        })?;
        let claims = jsonwebtoken::decode::<Claims>(token, &verifier.key, &verifier.validation)
            .map_err(|e| reject(e.kind()))?
            .claims;
        let Ok(tenant) = claims.tid.parse::<TenantId>() else {
            tracing::debug!(reason = "tid is not a GUID", "token rejected");
            return Err(ApiError::token_invalid());
        };
        if !self
            .issuers
            .iter()
            .any(|issuer| issuer.accepts(&claims.iss, tenant))
        {
            tracing::debug!(
                reason = "issuer not allowed for the token's tid",
                "token rejected"
            );
            return Err(ApiError::token_invalid());
        }
        let app_only = claims.idtyp.as_deref() == Some("app") || claims.scp.is_none();
        if !app_only {
            let mfa = claims
                .amr
                .as_ref()
                .is_some_and(|amr| amr.iter().any(|m| m == "mfa"));
            if self.enforce_mfa && !mfa {
                return Err(ApiError::mfa_required());
            }
            let scopes = claims.scp.as_deref().unwrap_or_default();
            if !scopes.split(' ').any(|s| s == "user_impersonation") {
                return Err(ApiError::scope_missing());
            }
        }
        let verified = VerifiedToken { tenant };
        Ok((verified, claims.exp))
    }
}

fn reject(kind: &jsonwebtoken::errors::ErrorKind) -> ApiError {
    use jsonwebtoken::errors::ErrorKind as K;
    // Only the kind of failure is logged: never the token or its claims.
    let reason = match kind {
        K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => "malformed",
        K::InvalidSignature => "bad signature",
        K::ExpiredSignature => "expired",
        K::ImmatureSignature => "not yet valid",
        K::InvalidAudience => "wrong audience",
        K::InvalidIssuer => "wrong issuer",
        K::InvalidAlgorithm | K::UnsupportedAlgorithm | K::MissingAlgorithm => {
            "algorithm not allowed for the key"
        }
        K::MissingRequiredClaim(_) => "missing claim",
        K::InvalidClaimFormat(_) => "malformed claim",
        _ => "not valid",
    };
    tracing::debug!(reason, "token rejected");
    ApiError::token_invalid()
}

fn base_validation(config: &AuthConfig) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&config.audiences);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    validation.validate_nbf = true;
    validation.leeway = config.clock_skew.as_secs();
    validation
}

/// The authenticated partner behind a request. Taking it as a handler argument requires a valid
/// bearer token from a known partner.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The partner account.
    pub partner: Partner,
}

impl Caller {
    /// The subscription `customer`/`subscription`, as this partner sees it.
    #[must_use]
    pub fn key(&self, customer: CustomerId, subscription: SubscriptionId) -> SubscriptionKey {
        SubscriptionKey {
            partner: self.partner.tenant_id,
            customer,
            subscription,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let authorization = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(ApiError::token_missing)?;
        let connection = parts.extensions.get::<std::sync::Arc<ConnectionMemo>>();
        let verified = state
            .auth()
            .verify_header(authorization, connection.map(AsRef::as_ref))
            .await?;
        let partner = state
            .requests()
            .partner(verified.tenant)
            .await?
            .ok_or_else(ApiError::unknown_partner)?;
        tracing::Span::current().record("partner", tracing::field::display(partner.tenant_id));
        if let Some(correlated) = parts.extensions.get::<crate::wire::Correlated>() {
            let _ = correlated.notes.partner.set(partner.tenant_id);
        }
        Ok(Self { partner })
    }
}

/// The bearer token of an `Authorization` header value.
fn bearer_token(header: &[u8]) -> Result<&str, ApiError> {
    // A token of anything but base64url and dots is refused by its verification as any
    // malformed one is.
    let value = std::str::from_utf8(header).map_err(|_| ApiError::token_invalid())?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(ApiError::token_missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::token_missing());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::token_missing());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_templates_bind_the_tenant() {
        let tid: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let v1 = IssuerTemplate::parse("https://sts.windows.net/{tid}/").unwrap();
        assert!(v1.accepts(
            "https://sts.windows.net/b1e5d2a0-0000-4000-8000-000000000001/",
            tid
        ));
        assert!(v1.accepts(
            "https://sts.windows.net/B1E5D2A0-0000-4000-8000-000000000001/",
            tid
        ));
        assert!(!v1.accepts(
            "https://sts.windows.net/b1e5d2a0-0000-4000-8000-000000000002/",
            tid
        ));
        assert!(!v1.accepts(
            "https://sts.windows.net/b1e5d2a0-0000-4000-8000-000000000001",
            tid
        ));
        assert!(!v1.accepts(
            "https://evil.example/b1e5d2a0-0000-4000-8000-000000000001/",
            tid
        ));
        let fixed = IssuerTemplate::parse("https://idp.example").unwrap();
        assert!(fixed.accepts("https://idp.example", tid));
        assert!(IssuerTemplate::parse("https://{tid}/{tid}").is_err());
    }
}
