//! Where access tokens come from: a static token, Entra ID's client-credentials flow (App-only),
//! or a provider of the caller's (App+User, e.g. MSAL's device-code flow).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::error::Error;

/// The scope of the Partner Center API, for the client-credentials flow.
pub const PARTNER_CENTER_SCOPE: &str = "https://api.partnercenter.microsoft.com/.default";
/// Entra ID's global authority.
pub const ENTRA_AUTHORITY: &str = "https://login.microsoftonline.com";

/// A source of bearer tokens.
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A token to call with. With `refresh`, the previous one was refused (401): obtain a new one
    /// rather than serve it from a cache.
    ///
    /// # Errors
    ///
    /// [`Error::Authentication`] when no token can be had.
    async fn token(&self, refresh: bool) -> Result<String, Error>;

    /// Whether asking again with `refresh` could give a different token.
    fn can_refresh(&self) -> bool {
        false
    }
}

/// A token given once, used as is.
pub struct StaticToken(String);

impl StaticToken {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(***)")
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self, _refresh: bool) -> Result<String, Error> {
        Ok(self.0.clone())
    }
}

/// Entra ID's client-credentials flow (App-only): `POST {authority}/{tenant}/oauth2/v2.0/token`.
/// The token is cached and renewed before it expires (five minutes before, or halfway through a
/// shorter lifetime), and at once when the service refuses it.
pub struct ClientCredentials {
    authority: String,
    tenant: String,
    client_id: String,
    client_secret: String,
    scope: String,
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("authority", &self.authority)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

impl ClientCredentials {
    /// The flow for `client_id` of `tenant` against Entra ID, for the Partner Center API.
    #[must_use]
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            authority: ENTRA_AUTHORITY.to_owned(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: PARTNER_CENTER_SCOPE.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            cached: Mutex::new(None),
        }
    }

    /// Another authority (e.g. `https://login.chinacloudapi.cn`, or this service's built-in
    /// identity provider, `http://127.0.0.1:8080`).
    #[must_use]
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into().trim_end_matches('/').to_owned();
        self
    }

    /// Another scope.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The token endpoint.
    #[must_use]
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }

    async fn fetch(&self) -> Result<(String, Instant), Error> {
        let endpoint = self.token_endpoint();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .http
            .post(&endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| Error::Authentication(format!("{endpoint}: {e}")))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| Error::Authentication(format!("{endpoint}: {e}")))?;
        if !status.is_success() {
            let reason = serde_json::from_str::<TokenError>(&text).map_or_else(
                |_| format!("{endpoint} answered {status}"),
                |e| format!("{}: {}", e.error, e.error_description),
            );
            return Err(Error::Authentication(reason));
        }
        let answer: TokenAnswer = serde_json::from_str(&text).map_err(|e| {
            Error::Authentication(format!(
                "{endpoint} answered something else than a token: {e}"
            ))
        })?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        // Renew well before it expires: five minutes before, or halfway through a short lifetime.
        let margin = Duration::from_secs(300).min(lifetime / 2);
        Ok((answer.access_token, Instant::now() + lifetime - margin))
    }
}

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn token(&self, refresh: bool) -> Result<String, Error> {
        // One fetch at a time: concurrent calls wait for it rather than each ask Entra ID.
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref()
            && !refresh
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, renew_at) = self.fetch().await?;
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }

    fn can_refresh(&self) -> bool {
        true
    }
}

/// Shares a provider.
#[async_trait]
impl<T: TokenProvider + ?Sized> TokenProvider for Arc<T> {
    async fn token(&self, refresh: bool) -> Result<String, Error> {
        (**self).token(refresh).await
    }

    fn can_refresh(&self) -> bool {
        (**self).can_refresh()
    }
}
