//! Service configuration, as the CLI (or a test) hands it to [`App::new`](crate::App::new).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::ops::faults::FaultRule;
use crate::ops::throttle::ThrottleRule;

/// When the worker completes an accepted registration (or provisions a placed order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationDelay {
    /// This long after the registration was accepted (`0s` completes it at once, still asynchronously).
    After(Duration),
    /// Never by itself: only an operator advances registrations.
    Manual,
}

impl RegistrationDelay {
    /// Longest delay accepted; longer ones would only overflow timestamp arithmetic.
    pub const MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
}

impl Default for RegistrationDelay {
    fn default() -> Self {
        Self::After(Duration::from_secs(2))
    }
}

impl FromStr for RegistrationDelay {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("manual") {
            return Ok(Self::Manual);
        }
        let delay = humantime::parse_duration(s).map_err(|e| {
            format!(
                "invalid delay `{s}`: {e}; expected a duration such as 0s, 2s, 500ms, or `manual`"
            )
        })?;
        if delay > Self::MAX {
            return Err(format!("delay `{s}` is longer than ten years"));
        }
        Ok(Self::After(delay))
    }
}

impl fmt::Display for RegistrationDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::After(delay) => write!(f, "{}", humantime::format_duration(*delay)),
            Self::Manual => f.write_str("manual"),
        }
    }
}

/// How the registration worker works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// When accepted registrations become due.
    pub delay: RegistrationDelay,
    /// How long a claim holds a due registration before another attempt (another instance, or
    /// this one after a restart) may take it.
    pub lease: Duration,
    /// How long completing a claimed registration takes, as Partner Center's own work would.
    pub processing: Duration,
    /// When placed reservation orders are provisioned.
    pub order_delay: RegistrationDelay,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            delay: RegistrationDelay::default(),
            lease: Duration::from_secs(30),
            processing: Duration::ZERO,
            order_delay: RegistrationDelay::default(),
        }
    }
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How bearer tokens are validated.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A JWKS document on disk with the RS256/ES256 verification keys.
    pub jwks_file: Option<PathBuf>,
    /// A JWKS document to fetch at start (e.g. Entra ID's `.../discovery/v2.0/keys`).
    pub jwks_url: Option<String>,
    /// Accept HS256 tokens signed with this secret. For development only.
    pub dev_signing_secret: Option<Secret>,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Accepted `iss` templates; `{tid}` stands for the token's `tid` claim.
    pub issuers: Vec<String>,
    /// Tolerated clock skew for `exp` and `nbf`.
    pub clock_skew: Duration,
    /// Whether App+User tokens must carry `mfa` in `amr`.
    pub enforce_mfa: bool,
    /// The least time between two fetches of `jwks_url` for a token naming an unknown `kid`,
    /// whatever the `kid`.
    pub jwks_refresh_interval: Duration,
}

impl AuthConfig {
    /// The Partner Center API's audiences: its URI and its application id.
    pub const AUDIENCES: [&'static str; 2] = [
        "https://api.partnercenter.microsoft.com",
        "fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd",
    ];
    /// Entra ID's v1 and v2 issuers.
    pub const ISSUERS: [&'static str; 2] = [
        "https://sts.windows.net/{tid}/",
        "https://login.microsoftonline.com/{tid}/v2.0",
    ];
    /// Default tolerated clock skew.
    pub const CLOCK_SKEW: Duration = Duration::from_secs(300);
    /// Default least time between two JWKS refreshes.
    pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwks_file: None,
            jwks_url: None,
            dev_signing_secret: None,
            audiences: Self::AUDIENCES.iter().map(|s| (*s).to_owned()).collect(),
            issuers: Self::ISSUERS.iter().map(|s| (*s).to_owned()).collect(),
            clock_skew: Self::CLOCK_SKEW,
            enforce_mfa: true,
            jwks_refresh_interval: Self::JWKS_REFRESH_INTERVAL,
        }
    }
}

/// Everything the service needs besides its listener and its store.
#[derive(Debug, Clone)]
pub struct Config {
    /// Token validation.
    pub auth: AuthConfig,
    /// When accepted registrations complete, and how the worker claims them.
    pub worker: WorkerSettings,
    /// The `MS-ServerId` this instance writes on every response.
    pub server_id: String,
    /// How long the outcome of a POST with an `MS-RequestId` is kept for its repeats.
    pub idempotency_retention: Duration,
    /// Enables the built-in identity provider, answering as this base URL (its tokens' issuer is
    /// `{url}/{tid}/v2.0`). `None`: off.
    pub identity_provider: Option<String>,
    /// How long the tokens of the built-in identity provider's token endpoint last.
    pub token_lifetime: Duration,
    /// How long an application of the built-in identity provider is locked out after
    /// [`MAX_SECRET_FAILURES`](crate::idp::MAX_SECRET_FAILURES) wrong secrets within it.
    pub identity_provider_lockout: Duration,
    /// Enables the admin API, for requests bearing this token. `None`: off.
    pub admin_token: Option<Secret>,
    /// Fault rules in force from the start.
    pub faults: Vec<FaultRule>,
    /// How many requests the journal keeps.
    pub journal_size: usize,
    /// Throttling rules (none: no throttling).
    pub throttle: Vec<ThrottleRule>,
    /// Bounds on connections and on how slowly and how much clients may send.
    pub limits: Limits,
    /// How long a cart stays `Active` after it was created or last updated.
    pub cart_lifetime: Duration,
    /// Serve HTTPS with this certificate and key. `None`: plain HTTP.
    pub tls: Option<crate::tls::Tls>,
}

/// Bounds on connections and on how slowly and how much clients may send; see
/// `crate::connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections served at once; a few more are answered 503, the rest closed.
    pub max_connections: usize,
    /// How long a client may take to send a request's head (line and headers); an idle
    /// keep-alive connection is closed after it too.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body (408 past it).
    pub body_read_timeout: Duration,
    /// Largest request head, in bytes (at least 8 KiB); a larger one is answered 431.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_header_bytes: 32 * 1024,
        }
    }
}

impl Config {
    /// Default retention of idempotency records: a day, as Partner Center's retry guidance implies.
    pub const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(24 * 3600);
    /// Default lifetime of a cart: a day.
    pub const CART_LIFETIME: Duration = Duration::from_secs(24 * 3600);
    /// Default size of the request journal.
    pub const JOURNAL_SIZE: usize = 1000;
}

impl Default for Config {
    fn default() -> Self {
        Self {
            auth: AuthConfig::default(),
            worker: WorkerSettings::default(),
            server_id: default_server_id(),
            idempotency_retention: Self::IDEMPOTENCY_RETENTION,
            identity_provider: None,
            token_lifetime: crate::idp::TOKEN_LIFETIME,
            identity_provider_lockout: crate::idp::LOCKOUT_WINDOW,
            admin_token: None,
            faults: Vec::new(),
            journal_size: Self::JOURNAL_SIZE,
            throttle: Vec::new(),
            limits: Limits::default(),
            cart_lifetime: Self::CART_LIFETIME,
            tls: None,
        }
    }
}

/// A stable `MS-ServerId` for this host: nine digits derived from its host name, in the style of the
/// ids Partner Center writes (`030020525`).
#[must_use]
pub fn default_server_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    // FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
    let hash = host.trim().bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:09}", hash % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_delay_parses_durations_and_manual() {
        assert_eq!("0s".parse(), Ok(RegistrationDelay::After(Duration::ZERO)));
        assert_eq!(
            "2s".parse(),
            Ok(RegistrationDelay::After(Duration::from_secs(2)))
        );
        assert_eq!(
            "500ms".parse(),
            Ok(RegistrationDelay::After(Duration::from_millis(500)))
        );
        assert_eq!("Manual".parse(), Ok(RegistrationDelay::Manual));
        let err = "soon".parse::<RegistrationDelay>().unwrap_err();
        assert!(err.contains("soon") && err.contains("manual"), "{err}");
        assert!("20000days".parse::<RegistrationDelay>().is_err());
        assert_eq!(RegistrationDelay::default().to_string(), "2s");
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let config = AuthConfig {
            dev_signing_secret: Some(secret),
            ..AuthConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn server_id_is_nine_stable_digits() {
        let id = default_server_id();
        assert_eq!(id.len(), 9);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(id, default_server_id());
    }
}
