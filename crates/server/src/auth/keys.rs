//! The keys that verify tokens: loaded from a JWKS file, a JWKS URL and the built-in identity
//! provider, each pinned to one algorithm; refreshed from the URL when a token names an unknown
//! `kid`, at most once per refresh interval for the whole process, whatever the `kid` (as
//! Microsoft.IdentityModel's configuration manager does), so that tokens with made-up `kid`s cannot
//! make the service hammer the identity provider.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::AuthSetupError;

/// How long the JWKS URL may take to answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A key and the validation pinned to it.
pub(super) struct Verifier {
    pub(super) key: DecodingKey,
    pub(super) validation: Validation,
}

/// The keys at one moment, by `kid`.
#[derive(Default)]
pub(super) struct KeySet {
    by_kid: HashMap<String, Arc<Verifier>>,
    /// Keys without a `kid`; used only when a token names no `kid` and there is exactly one.
    unnamed: Vec<Arc<Verifier>>,
}

impl KeySet {
    pub(super) fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.unnamed.is_empty()
    }

    pub(super) fn kids(&self) -> Vec<&str> {
        self.by_kid.keys().map(String::as_str).collect()
    }

    /// The key for a token's `kid` (or lack of one).
    pub(super) fn find(&self, kid: Option<&str>) -> Option<Arc<Verifier>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None => match self.unnamed.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }

    /// Adds the usable keys of `set`, each with `template` pinned to its algorithm.
    pub(super) fn add(
        &mut self,
        origin: &str,
        set: &JwkSet,
        template: &Validation,
    ) -> Result<(), AuthSetupError> {
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone();
            let unusable = |reason: String| AuthSetupError::UnusableKey {
                origin: origin.to_owned(),
                kid: kid.clone().unwrap_or_else(|| "(no kid)".to_owned()),
                reason,
            };
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let Some(algorithm) = pinned_algorithm(jwk).map_err(unusable)? else {
                tracing::warn!(origin, kid = ?kid, "ignoring a symmetric key in a JWKS; use --dev-signing-secret for HS256");
                continue;
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| unusable(e.to_string()))?;
            let mut validation = template.clone();
            validation.algorithms = vec![algorithm];
            let verifier = Arc::new(Verifier { key, validation });
            match kid {
                Some(kid) => {
                    self.by_kid.insert(kid, verifier);
                }
                None => self.unnamed.push(verifier),
            }
        }
        Ok(())
    }
}

/// The algorithm a JWKS key verifies with: its `alg` when it names a signature algorithm of its
/// type, else the type's usual one. `None` for symmetric keys, which a JWKS must not supply.
fn pinned_algorithm(jwk: &Jwk) -> Result<Option<Algorithm>, String> {
    let declared = jwk.common.key_algorithm;
    let algorithm = match (&jwk.algorithm, declared) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS384)) => Algorithm::RS384,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::RS512)) => Algorithm::RS512,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS256)) => Algorithm::PS256,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS384)) => Algorithm::PS384,
        (AlgorithmParameters::RSA(_), Some(KeyAlgorithm::PS512)) => Algorithm::PS512,
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES384))
            if ec.curve == EllipticCurve::P384 =>
        {
            Algorithm::ES384
        }
        (AlgorithmParameters::OctetKeyPair(_), None | Some(KeyAlgorithm::EdDSA)) => {
            Algorithm::EdDSA
        }
        (AlgorithmParameters::OctetKey(_), _) => return Ok(None),
        (_, declared) => return Err(format!("unsupported key type or algorithm ({declared:?})")),
    };
    Ok(Some(algorithm))
}

pub(super) fn read_jwks_file(path: &Path) -> Result<(String, JwkSet), AuthSetupError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AuthSetupError::ReadJwks {
        path: origin.clone(),
        source,
    })?;
    let set = serde_json::from_str(&text).map_err(|source| AuthSetupError::ParseJwks {
        origin: origin.clone(),
        source,
    })?;
    Ok((origin, set))
}

/// The keys, some of which come from a JWKS URL that is fetched again when a token names a `kid`
/// nobody knows yet (as when Entra ID rotates its keys).
pub(super) struct Keys {
    /// Keys from the file, the identity provider and the last fetch of the URL. Swapped whole on refresh.
    current: RwLock<Arc<KeySet>>,
    /// Keys that never change (file, identity provider), to rebuild the set on refresh.
    fixed: Vec<(String, JwkSet)>,
    template: Validation,
    /// The JWKS URL and the client that fetches it; the client exists only when there is a URL
    /// (building one loads the system's root certificates, which costs start-up time).
    source: Option<(String, reqwest::Client)>,
    /// The least time between two refreshes.
    refresh_interval: Duration,
    /// When the last refresh started; also serialises refreshes, so that requests arriving
    /// during one wait for it instead of starting their own.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl Keys {
    pub(super) async fn load(
        fixed: Vec<(String, JwkSet)>,
        url: Option<String>,
        template: Validation,
        refresh_interval: Duration,
    ) -> Result<Self, AuthSetupError> {
        let source = match url {
            Some(url) => {
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|source| AuthSetupError::FetchJwks {
                        url: url.clone(),
                        source,
                    })?;
                Some((url, client))
            }
            None => None,
        };
        let keys = Self {
            current: RwLock::new(Arc::new(KeySet::default())),
            fixed,
            template,
            source,
            refresh_interval,
            last_refresh: tokio::sync::Mutex::new(None),
        };
        let fetched = match &keys.source {
            Some((url, client)) => Some(Self::fetch(url, client).await?),
            None => None,
        };
        keys.install(fetched.as_ref())?;
        Ok(keys)
    }

    /// The current keys.
    pub(super) fn current(&self) -> Arc<KeySet> {
        self.current.read().map_or_else(
            |poisoned| poisoned.into_inner().clone(),
            |keys| keys.clone(),
        )
    }

    fn install(&self, fetched: Option<&JwkSet>) -> Result<(), AuthSetupError> {
        let mut set = KeySet::default();
        for (origin, jwks) in &self.fixed {
            set.add(origin, jwks, &self.template)?;
        }
        if let (Some((url, _)), Some(jwks)) = (&self.source, fetched) {
            set.add(url, jwks, &self.template)?;
        }
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    async fn fetch(url: &str, client: &reqwest::Client) -> Result<JwkSet, AuthSetupError> {
        let fetch = |source| AuthSetupError::FetchJwks {
            url: url.to_owned(),
            source,
        };
        let text = client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(fetch)?
            .text()
            .await
            .map_err(fetch)?;
        serde_json::from_str(&text).map_err(|source| AuthSetupError::ParseJwks {
            origin: url.to_owned(),
            source,
        })
    }

    /// The key for `kid`, fetching the JWKS URL again if nobody knows it yet and no refresh
    /// started within the refresh interval. A request that arrives during a refresh waits for it
    /// (at most the fetch timeout), then looks again; it never starts one of its own.
    pub(super) async fn find_or_refresh(&self, kid: &str) -> Option<Arc<Verifier>> {
        if let Some(found) = self.current().find(Some(kid)) {
            return Some(found);
        }
        let (url, client) = self.source.as_ref()?;
        let url = url.as_str();
        let mut last = self.last_refresh.lock().await;
        // A refresh may have happened while this request waited.
        if let Some(found) = self.current().find(Some(kid)) {
            return Some(found);
        }
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < self.refresh_interval) {
            return None;
        }
        *last = Some(now);
        match Self::fetch(url, client)
            .await
            .and_then(|jwks| self.install(Some(&jwks)))
        {
            Ok(()) => tracing::info!(url, "token keys refreshed for an unknown key id"),
            Err(err) => tracing::warn!(error = %err, "cannot refresh the token keys"),
        }
        self.current().find(Some(kid))
    }
}
