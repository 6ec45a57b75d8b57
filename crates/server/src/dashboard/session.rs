//! Who may see the dashboard: the session cookie that signing in sets, and the checks every form
//! post passes (same origin, the session's CSRF token).
//!
//! A session is `v1.<expiry>.<nonce>.<mac>`: when it ends (Unix seconds) and a random nonce, signed
//! with HMAC-SHA256 under a key drawn when the process starts, so a restart signs everyone out.
//! Every request checks the signature (in constant time), then the expiry, then that the session
//! was not signed out. A form's CSRF token is another HMAC of the session, under its own label, so
//! it is good for that session only and cannot be made without the key.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use aws_lc_rs::hmac;
use axum::body::Body;
use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use partner_center_model::Timestamp;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Problem, paths, sessions};
use crate::AppState;
use crate::wire;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "pc_dashboard";

/// How long a session lasts after signing in.
pub(crate) const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The most a dashboard form may send: a token and a few hidden fields.
const MAX_FORM_BYTES: usize = 8 * 1024;

/// The process's session key, and the sessions signed out before their expiry.
pub(crate) struct Sessions {
    key: hmac::Key,
    /// Whether the service is served over TLS: the cookie is then `Secure`, and forms must come
    /// from an `https` origin.
    secure: bool,
    /// Nonces of sessions signed out, with their expiry; forgotten once expired.
    signed_out: Mutex<HashMap<String, u64>>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("key", &"***")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

/// A signed-in operator's session, as its cookie says; an extractor that sends anyone else to
/// the sign-in page (`303`).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The cookie's value.
    value: String,
    nonce: String,
    expires: u64,
    /// The CSRF token of this session's forms.
    csrf: String,
}

impl Session {
    /// The CSRF token the session's forms carry.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Now, in Unix seconds.
pub(crate) fn now() -> u64 {
    u64::try_from(Timestamp::now().as_millis() / 1000).unwrap_or(0)
}

/// `N` bytes from the system's cryptographic generator (from the OS's through `uuid` should that
/// ever fail).
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        for chunk in bytes.chunks_mut(16) {
            chunk.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..chunk.len()]);
        }
    }
    bytes
}

impl Sessions {
    /// A fresh key; `secure` when the service is served over TLS.
    pub(crate) fn new(secure: bool) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &random_bytes::<32>()),
            secure,
            signed_out: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the service is served over TLS.
    pub(crate) fn secure(&self) -> bool {
        self.secure
    }

    /// A new session, from `now` for [`LIFETIME`].
    pub(crate) fn start(&self, now: u64) -> Session {
        let nonce = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        self.sign(now.saturating_add(LIFETIME.as_secs()), nonce)
    }

    /// The session with this expiry and nonce, signed.
    pub(crate) fn sign(&self, expires: u64, nonce: String) -> Session {
        let body = format!("v1.{expires}.{nonce}");
        let mac = hmac::sign(&self.key, format!("session:{body}").as_bytes());
        let csrf = hmac::sign(&self.key, format!("csrf:{body}").as_bytes());
        Session {
            value: format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref())),
            nonce,
            expires,
            csrf: URL_SAFE_NO_PAD.encode(csrf.as_ref()),
        }
    }

    /// The session a cookie value stands for, if this process signed it, it has not expired at
    /// `now` and it was not signed out.
    pub(crate) fn verify(&self, value: &str, now: u64) -> Option<Session> {
        let (body, mac) = value.rsplit_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        hmac::verify(&self.key, format!("session:{body}").as_bytes(), &mac).ok()?;
        let mut fields = body.splitn(3, '.');
        let (Some("v1"), Some(expires), Some(nonce)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        let expires: u64 = expires.parse().ok()?;
        if expires <= now || self.lock().contains_key(nonce) {
            return None;
        }
        Some(self.sign(expires, nonce.to_owned()))
    }

    /// Whether `token` is `session`'s CSRF token (compared in constant time).
    pub(crate) fn csrf_matches(session: &Session, token: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(session.csrf.as_bytes(), token.as_bytes())
            .is_ok()
    }

    /// Signs `session` out: its cookie is refused from now on, even where a copy of it survives.
    pub(crate) fn end(&self, session: &Session, now: u64) {
        let mut signed_out = self.lock();
        signed_out.retain(|_, expires| *expires > now);
        signed_out.insert(session.nonce.clone(), session.expires);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.signed_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `Set-Cookie` that holds `session`: for the dashboard's paths only, out of scripts'
    /// reach, never sent along from another site, gone when the session ends.
    pub(crate) fn set_cookie(&self, session: &Session) -> HeaderValue {
        self.cookie(&session.value, LIFETIME.as_secs())
    }

    /// The `Set-Cookie` that removes the session cookie.
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        self.cookie("", 0)
    }

    fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
            paths::ROOT
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The session of a request, from its `Cookie` headers.
    pub(crate) fn of(&self, headers: &HeaderMap, now: u64) -> Option<Session> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE)
            .find_map(|(_, value)| self.verify(value, now))
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        sessions(state)
            .of(&parts.headers, now())
            .ok_or_else(|| Redirect::to(paths::SIGN_IN).into_response())
    }
}

/// Whether a form post comes from the service's own pages: no `Origin` (the CSRF token decides),
/// or exactly the service's; and, where the browser says, from the same origin.
fn same_origin(parts: &Parts, secure: bool) -> bool {
    let fetch_site = parts.headers.get("sec-fetch-site");
    if fetch_site.is_some_and(|site| site != "same-origin") {
        return false;
    }
    let mut origins = parts.headers.get_all(header::ORIGIN).iter();
    let Some(origin) = origins.next() else {
        return true;
    };
    if origins.next().is_some() {
        return false;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let (Some(host), Ok(origin)) = (host, origin.to_str()) else {
        return false;
    };
    let scheme = if secure { "https" } else { "http" };
    origin
        .strip_prefix(scheme)
        .and_then(|rest| rest.strip_prefix("://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// A form posted from the dashboard's own pages (see [`same_origin`]), read within the body limits
/// and parsed; 403 from elsewhere, 400 when it is not the form expected.
#[derive(Debug)]
pub(crate) struct Posted<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        if !same_origin(&parts, sessions(state).secure()) {
            tracing::warn!(origin = ?parts.headers.get(header::ORIGIN), "dashboard form from another origin refused");
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "Forms posted from another site are refused.",
            )
            .into_response());
        }
        let bytes = wire::read_body(body, MAX_FORM_BYTES, state)
            .await
            .map_err(|err| Problem::from(err).into_response())?;
        let request = Request::from_parts(parts, Body::from(bytes));
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(|rejection| {
                Problem::new(StatusCode::BAD_REQUEST, rejection.body_text()).into_response()
            })?;
        Ok(Self(form))
    }
}

/// The fields every state-changing form carries.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub(crate) csrf: String,
    /// Which page to go back to, where the form is on several.
    #[serde(default)]
    pub(crate) from: Option<String>,
}

/// A state-changing form post: by a signed-in operator, from the dashboard's own pages, with the
/// session's CSRF token. Anything else changes nothing (a `303` to sign in, or a `403`).
#[derive(Debug)]
pub(crate) struct Action {
    /// Whose.
    pub(crate) session: Session,
    /// What it sent.
    pub(crate) form: ActionForm,
}

impl FromRequest<AppState> for Action {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let Posted(form) =
            Posted::<ActionForm>::from_request(Request::from_parts(parts, body), state).await?;
        if !Sessions::csrf_matches(&session, &form.csrf) {
            tracing::warn!("dashboard form without the session's CSRF token refused");
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "This form is not valid for your session. Reload the page and try again.",
            )
            .into_response());
        }
        Ok(Self { session, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_good_until_it_expires_and_only_under_its_own_key() {
        let sessions = Sessions::new(false);
        let session = sessions.start(1_000);
        assert_eq!(session.expires, 1_000 + LIFETIME.as_secs());
        assert!(sessions.verify(&session.value, 1_000).is_some());
        assert!(
            sessions
                .verify(&session.value, session.expires - 1)
                .is_some()
        );
        assert!(sessions.verify(&session.value, session.expires).is_none());
        assert!(Sessions::new(false).verify(&session.value, 1_000).is_none());
    }

    #[test]
    fn a_tampered_session_is_refused() {
        let sessions = Sessions::new(false);
        let session = sessions.start(1_000);
        let later = session.value.replacen(
            &session.expires.to_string(),
            &(session.expires + 3600).to_string(),
            1,
        );
        assert_ne!(later, session.value);
        for bad in [
            later.as_str(),
            "",
            "v1",
            "v1.1.2.3",
            &session.value[..session.value.len() - 1],
            &format!("{}A", session.value),
        ] {
            assert!(sessions.verify(bad, 1_000).is_none(), "{bad}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let sessions = Sessions::new(false);
        let (one, two) = (sessions.start(1_000), sessions.start(1_000));
        assert!(Sessions::csrf_matches(&one, one.csrf()));
        assert!(!Sessions::csrf_matches(&two, one.csrf()));
        assert!(!Sessions::csrf_matches(&one, ""));
        assert!(!Sessions::csrf_matches(&one, "not base64!"));
        // The token is not the session's signature either.
        let mac = one.value.rsplit_once('.').unwrap().1;
        assert!(!Sessions::csrf_matches(&one, mac));
    }

    #[test]
    fn a_session_signed_out_is_refused_and_forgotten_once_expired() {
        let sessions = Sessions::new(false);
        let (one, two) = (sessions.start(1_000), sessions.start(5_000));
        sessions.end(&one, 1_000);
        assert!(sessions.verify(&one.value, 1_001).is_none());
        assert!(sessions.verify(&two.value, 1_001).is_some());
        sessions.end(&two, one.expires);
        assert_eq!(sessions.lock().len(), 1, "the expired one is forgotten");
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_for_the_dashboard_only() {
        let sessions = Sessions::new(false);
        let cookie = sessions.set_cookie(&sessions.start(0));
        let cookie = cookie.to_str().unwrap();
        assert!(cookie.starts_with("pc_dashboard=v1."), "{cookie}");
        assert!(
            cookie.ends_with("; Path=/admin; Max-Age=28800; HttpOnly; SameSite=Strict"),
            "{cookie}"
        );
        let secure = Sessions::new(true);
        assert!(
            secure
                .clear_cookie()
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }

    #[test]
    fn forms_must_come_from_the_services_own_origin() {
        let parts = |headers: &[(&str, &str)]| {
            let mut request = Request::post("/admin/signout");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.body(()).unwrap().into_parts().0
        };
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&parts(&[host]), false));
        assert!(same_origin(
            &parts(&[host, ("origin", "http://127.0.0.1:8080")]),
            false
        ));
        assert!(same_origin(
            &parts(&[
                host,
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin")
            ]),
            false
        ));
        assert!(!same_origin(
            &parts(&[host, ("origin", "https://127.0.0.1:8080")]),
            false
        ));
        assert!(same_origin(
            &parts(&[host, ("origin", "https://127.0.0.1:8080")]),
            true
        ));
        assert!(!same_origin(
            &parts(&[host, ("origin", "http://evil.example")]),
            false
        ));
        assert!(!same_origin(&parts(&[host, ("origin", "null")]), false));
        assert!(!same_origin(
            &parts(&[host, ("origin", "http://127.0.0.1:8080.evil")]),
            false
        ));
        assert!(!same_origin(
            &parts(&[host, ("sec-fetch-site", "cross-site")]),
            false
        ));
        assert!(!same_origin(
            &parts(&[("origin", "http://127.0.0.1:8080")]),
            false
        ));
    }
}
