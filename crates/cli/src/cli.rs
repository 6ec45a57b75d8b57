//! The command line: every flag also reads the environment variable `PC_<FLAG>`, and `serve`'s
//! flags a configuration file too (see `config_file`).
//!
//! A default that the libraries also have is taken from them (`Limits::default()`, `AuthConfig`'s
//! constants, ...), so the flag and the library never disagree.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use partner_center_model::{ClientId, TenantId};
use partner_center_server::ops::throttle::ThrottleRule;
use partner_center_server::{AuthConfig, Config, Limits, RegistrationDelay, WorkerSettings};
use partner_center_store::StoreOptions;

/// Where `serve` listens, and so where the other commands call, by default.
pub(crate) const LISTEN: &str = "127.0.0.1:8080";

/// A local, stateful Partner Center for subscription registration and sandbox activation.
#[derive(Debug, Parser)]
#[command(name = "partner-center", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Log format on standard error: `plain` text or one `json` object per line.
    #[arg(long, env = "PC_LOG_FORMAT", default_value = "plain", global = true, value_parser = ["plain", "json"])]
    pub(crate) log_format: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the service.
    Serve(Box<ServeArgs>),
    /// Operate a running service through its admin API (needs its --admin-token).
    Admin(crate::admin::AdminArgs),
    /// Apply pending database migrations (serve applies them too; migrate ahead of a rollout).
    Migrate(MigrateArgs),
    /// Register an Azure subscription for Reserved Instance purchase (optionally waiting until done).
    Register(Box<crate::client::RegisterArgs>),
    /// Show a subscription's registration status.
    Status(Box<crate::client::SubscriptionArgs>),
    /// Activate a third-party SaaS subscription in an integration sandbox.
    Activate(Box<crate::client::SubscriptionArgs>),
    /// The partner's customers.
    #[command(subcommand)]
    Customers(crate::browse::CustomersCommand),
    /// A customer's subscriptions.
    #[command(subcommand)]
    Subscriptions(crate::browse::SubscriptionsCommand),
    /// Azure reservations: buy one on a registered subscription.
    #[command(subcommand)]
    Reservation(crate::purchase::ReservationCommand),
    /// SaaS plans: buy one (then activate it).
    #[command(subcommand)]
    Saas(crate::purchase::SaasCommand),
    /// A customer's orders: list, show, cancel (sandbox).
    #[command(subcommand)]
    Orders(crate::purchase::OrdersCommand),
    /// The catalog: every item, or products, SKUs, availabilities and inventory checks.
    #[command(subcommand)]
    Catalog(crate::catalog::CatalogCommand),
    /// Mint a token for tests: App+User (with or without MFA) or App-only, signed with the built-in
    /// identity provider's key (from the database) or the development secret. Prints it.
    Token(TokenArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML file of these flags' values, keyed by their long names (`listen = "0.0.0.0:8080"`);
    /// flags and `PC_*` variables win over it.
    #[arg(long, env = "PC_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "PC_LISTEN", default_value = LISTEN)]
    pub(crate) listen: SocketAddr,

    /// Serve HTTPS with this PEM certificate chain (the service's certificate first); needs
    /// --tls-key.
    #[arg(long, env = "PC_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert; needs --tls-cert.
    #[arg(long, env = "PC_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) database: DatabaseArgs,

    /// A fixture (JSON) of partners, customers and subscriptions to create or update at start.
    #[arg(long, env = "PC_SEED", value_name = "FILE")]
    pub(crate) seed: Option<PathBuf>,

    /// A JWKS file with the RS256/ES256 keys that sign accepted tokens.
    #[arg(long, env = "PC_JWKS_FILE", value_name = "PATH")]
    pub(crate) jwks_file: Option<PathBuf>,

    /// A JWKS URL to fetch the token keys from at start (e.g. Entra ID's discovery keys).
    #[arg(long, env = "PC_JWKS_URL", value_name = "URL")]
    pub(crate) jwks_url: Option<String>,

    /// The least time between two fetches of the JWKS URL for tokens naming an unknown key id,
    /// whatever the key id (at least 1s).
    #[arg(long, env = "PC_JWKS_REFRESH_INTERVAL", default_value = duration(AuthConfig::JWKS_REFRESH_INTERVAL), value_parser = at_least_a_second, value_name = "DURATION")]
    pub(crate) jwks_refresh_interval: Duration,

    /// Also accept HS256 tokens signed with this secret. Development only.
    #[arg(
        long,
        env = "PC_DEV_SIGNING_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub(crate) dev_signing_secret: Option<String>,

    /// When accepted registrations complete: a duration (0s, 2s, 500ms, ...) or `manual`.
    #[arg(
        long,
        env = "PC_REGISTRATION_DELAY",
        default_value_t = WorkerSettings::default().delay,
        value_name = "DURATION|manual"
    )]
    pub(crate) registration_delay: RegistrationDelay,

    /// How long a claim on a due registration lasts; past it, another instance (or this one after a
    /// restart) takes the work over.
    #[arg(long, env = "PC_REGISTRATION_LEASE", default_value = duration(WorkerSettings::default().lease), value_parser = humantime::parse_duration)]
    pub(crate) registration_lease: Duration,

    /// How long the worker takes to complete a claimed registration (simulated processing).
    #[arg(long, env = "PC_REGISTRATION_PROCESSING", default_value = duration(WorkerSettings::default().processing), value_parser = humantime::parse_duration)]
    pub(crate) registration_processing: Duration,

    /// When placed reservation orders are provisioned: a duration (0s, 2s, 500ms, ...) or `manual`
    /// (then only the admin API advances them).
    #[arg(
        long,
        env = "PC_ORDER_PROVISIONING_DELAY",
        default_value_t = WorkerSettings::default().order_delay,
        value_name = "DURATION|manual"
    )]
    pub(crate) order_provisioning_delay: RegistrationDelay,

    /// How long a cart stays `Active` after it was created or last updated.
    #[arg(long, env = "PC_CART_LIFETIME", default_value = duration(Config::CART_LIFETIME), value_parser = humantime::parse_duration)]
    pub(crate) cart_lifetime: Duration,

    /// Seed a demo sandbox partner and print a development token with ready-to-paste curl commands.
    #[arg(long, env = "PC_DEMO")]
    pub(crate) demo: bool,

    /// More accepted token issuers; `{tid}` stands for the token's tenant (repeatable).
    #[arg(
        long = "issuer",
        env = "PC_ISSUERS",
        value_delimiter = ',',
        value_name = "TEMPLATE"
    )]
    pub(crate) issuers: Vec<String>,

    /// Tolerated clock skew when checking a token's `exp` and `nbf`.
    #[arg(long, env = "PC_CLOCK_SKEW", default_value = duration(AuthConfig::CLOCK_SKEW), value_parser = humantime::parse_duration)]
    pub(crate) clock_skew: Duration,

    /// Require `mfa` in the `amr` claim of App+User tokens (Partner Center enforces it since April 2026).
    #[arg(long, env = "PC_ENFORCE_MFA", default_value_t = AuthConfig::default().enforce_mfa, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub(crate) enforce_mfa: bool,

    /// The `MS-ServerId` written on every response (default: derived from the host name).
    #[arg(long, env = "PC_SERVER_ID")]
    pub(crate) server_id: Option<String>,

    /// How long a POST's outcome is kept for repeats with the same MS-RequestId (`0s`: not at all).
    #[arg(long, env = "PC_IDEMPOTENCY_RETENTION", default_value = duration(Config::IDEMPOTENCY_RETENTION), value_parser = humantime::parse_duration)]
    pub(crate) idempotency_retention: Duration,

    /// Run the built-in identity provider: client credentials for the fixture's applications, OIDC
    /// discovery and JWKS, at /{tenant}/oauth2/v2.0/token and beside it. Development only.
    #[arg(long, env = "PC_IDENTITY_PROVIDER")]
    pub(crate) identity_provider: bool,

    /// How long the identity provider's access tokens last (`expires_in`), e.g. `10s` to exercise
    /// clients' renewal.
    #[arg(long, env = "PC_TOKEN_LIFETIME", default_value = duration(partner_center_server::idp::TOKEN_LIFETIME), value_parser = token_lifetime, value_name = "DURATION")]
    pub(crate) token_lifetime: Duration,

    /// How long the identity provider locks an application out after 5 wrong client secrets
    /// within it (429 with `Retry-After`, whatever secret comes).
    #[arg(long, env = "PC_IDENTITY_PROVIDER_LOCKOUT", default_value = duration(partner_center_server::idp::LOCKOUT_WINDOW), value_parser = at_least_a_second, value_name = "DURATION")]
    pub(crate) identity_provider_lockout: Duration,

    /// The service's base URL as clients reach it (the identity provider's issuer is
    /// `{url}/{tid}/v2.0`). Default: http:// (https:// with --tls-cert) and the listening address.
    #[arg(long, env = "PC_PUBLIC_URL", value_name = "URL")]
    pub(crate) public_url: Option<String>,

    /// Enable the admin API (/admin/v1/...) for requests bearing this token.
    #[arg(
        long,
        env = "PC_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(crate) admin_token: Option<String>,

    /// Fault rules in force from the start: a JSON array of rules (see docs/operations.md).
    #[arg(long, env = "PC_FAULTS", value_name = "FILE")]
    pub(crate) faults: Option<PathBuf>,

    /// How many requests the request journal keeps.
    #[arg(long, env = "PC_JOURNAL_SIZE", default_value_t = Config::JOURNAL_SIZE)]
    pub(crate) journal_size: usize,

    /// Throttle like Partner Center's gateway: ROUTE=COUNT/PERIOD[/customer], e.g.
    /// registrations=60/1m (repeatable; ROUTE may be *).
    #[arg(long, env = "PC_THROTTLE", value_delimiter = ',', value_name = "RULE")]
    pub(crate) throttle: Vec<ThrottleRule>,

    /// How long in-flight requests may take to finish after SIGINT or SIGTERM.
    #[arg(long, env = "PC_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) shutdown_timeout: Duration,

    /// Most connections served at once; past it, a few more are answered 503 and the rest closed.
    #[arg(long = "max-connections", env = "PC_MAX_CONNECTIONS", default_value_t = Limits::default().max_connections as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) connection_limit: u32,

    /// How long a client may take to send a request's headers; idle keep-alive connections are
    /// closed after it too.
    #[arg(long, env = "PC_HEADER_READ_TIMEOUT", default_value = duration(Limits::default().header_read_timeout), value_parser = humantime::parse_duration)]
    pub(crate) header_read_timeout: Duration,

    /// How long a client may take to send a request's body (408 past it).
    #[arg(long, env = "PC_BODY_READ_TIMEOUT", default_value = duration(Limits::default().body_read_timeout), value_parser = humantime::parse_duration)]
    pub(crate) body_read_timeout: Duration,

    /// Largest request head (request line and headers), in bytes; larger ones get 431.
    #[arg(long, env = "PC_MAX_HEADER_BYTES", default_value_t = Limits::default().max_header_bytes as u32, value_parser = clap::value_parser!(u32).range(8192..), value_name = "BYTES")]
    pub(crate) max_header_bytes: u32,
}

/// Where the state lives, and how the service connects to it.
#[derive(Debug, Args)]
pub(crate) struct DatabaseArgs {
    /// Database URL: sqlite://FILE (relative to the working directory), sqlite::memory: or
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(
        long = "database",
        env = "PC_DATABASE",
        default_value = "sqlite://partner-center.db"
    )]
    pub(crate) url: String,

    /// Most database connections open at once (per instance; PostgreSQL opens two more for its
    /// batched registration status reads).
    #[arg(
        long = "database-max-connections",
        env = "PC_DATABASE_MAX_CONNECTIONS",
        default_value_t = StoreOptions::default().max_connections
    )]
    pub(crate) max_connections: u32,

    /// How long a request waits for a free database connection before failing.
    #[arg(long = "database-acquire-timeout", env = "PC_DATABASE_ACQUIRE_TIMEOUT", default_value = duration(StoreOptions::default().acquire_timeout), value_parser = humantime::parse_duration)]
    pub(crate) acquire_timeout: Duration,

    /// How long a database statement may run, or wait for a lock, before failing.
    #[arg(long = "database-statement-timeout", env = "PC_DATABASE_STATEMENT_TIMEOUT", default_value = duration(StoreOptions::default().statement_timeout), value_parser = humantime::parse_duration)]
    pub(crate) statement_timeout: Duration,

    /// SQLite: how many subscriptions' registration states are kept in memory for status reads
    /// (about 18 bytes each; beyond it, reads query the database).
    #[arg(
        long = "database-memory-index",
        env = "PC_DATABASE_MEMORY_INDEX",
        default_value_t = StoreOptions::default().memory_index,
        value_name = "SUBSCRIPTIONS"
    )]
    pub(crate) memory_index: usize,
}

impl DatabaseArgs {
    pub(crate) fn options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.max_connections,
            acquire_timeout: self.acquire_timeout,
            statement_timeout: self.statement_timeout,
            memory_index: self.memory_index,
            shared: false,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The partner tenant the token is for (its `tid`).
    #[arg(long, env = "PC_TENANT")]
    pub(crate) tenant: TenantId,

    /// Mint an App-only token instead of an App+User one.
    #[arg(long, conflicts_with_all = ["user", "no_mfa", "scope"])]
    pub(crate) app_only: bool,

    /// The signed-in user of an App+User token.
    #[arg(long, default_value = "admin@partner.example", value_name = "UPN")]
    pub(crate) user: String,

    /// Leave `mfa` out of the `amr` claim.
    #[arg(long)]
    pub(crate) no_mfa: bool,

    /// The delegated scopes (`scp`) of an App+User token.
    #[arg(long, default_value = "user_impersonation")]
    pub(crate) scope: String,

    /// The application the token is issued to.
    #[arg(long, value_name = "GUID")]
    pub(crate) client_id: Option<ClientId>,

    /// How long the token lasts.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub(crate) lifetime: Duration,

    /// Sign with this development secret (HS256) instead of the identity provider's key.
    #[arg(
        long,
        env = "PC_DEV_SIGNING_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub(crate) dev_signing_secret: Option<String>,

    /// The database holding the identity provider's key (created there if missing).
    #[command(flatten)]
    pub(crate) database: DatabaseArgs,

    /// The service's base URL, as given to `serve --public-url` (the token's issuer is `{url}/{tid}/v2.0`).
    #[arg(
        long,
        env = "PC_PUBLIC_URL",
        default_value = format!("http://{LISTEN}"),
        value_name = "URL"
    )]
    pub(crate) public_url: String,
}

/// A default duration as a flag would give it, in its largest whole unit (`24h`, `5m`, `3599s`).
fn duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration.subsec_nanos() != 0 {
        format!("{}ms", duration.as_millis())
    } else if secs != 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// A JWKS refresh interval or a lockout window: at least a second.
fn at_least_a_second(s: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if interval < Duration::from_secs(1) {
        return Err("at least 1s".into());
    }
    Ok(interval)
}

/// A token lifetime: whole seconds, at least one (`expires_in` is in seconds).
fn token_lifetime(s: &str) -> Result<Duration, String> {
    let lifetime = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if lifetime < Duration::from_secs(1) || lifetime.subsec_nanos() != 0 {
        return Err("a token lifetime is a whole number of seconds, at least 1s".into());
    }
    if lifetime > Duration::from_secs(24 * 3600) {
        return Err("a token lifetime is at most 24h".into());
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_has_the_contract_defaults() {
        let Command::Serve(args) = Cli::try_parse_from(["partner-center", "serve"])
            .unwrap()
            .command
        else {
            panic!("not serve")
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.database.url, "sqlite://partner-center.db");
        assert_eq!(args.database.max_connections, 10);
        assert_eq!(
            args.registration_delay,
            RegistrationDelay::After(Duration::from_secs(2))
        );
        assert!(args.enforce_mfa);
        assert_eq!(args.clock_skew, Duration::from_secs(300));
        assert_eq!(args.idempotency_retention, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn default_durations_are_written_as_flags_take_them() {
        for (duration, written) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(3599), "3599s"),
            (Duration::from_secs(24 * 3600), "24h"),
        ] {
            assert_eq!(super::duration(duration), written);
            assert_eq!(humantime::parse_duration(written).unwrap(), duration);
        }
    }

    #[test]
    fn token_lifetimes_are_whole_seconds_up_to_a_day() {
        let serve = |value: &str| {
            Cli::try_parse_from(["partner-center", "serve", "--token-lifetime", value]).map(|cli| {
                match cli.command {
                    Command::Serve(args) => args.token_lifetime,
                    _ => panic!("not serve"),
                }
            })
        };
        assert_eq!(serve("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(serve("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["0s", "1500ms", "2d", "soon"] {
            assert!(serve(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_registration_delay_is_a_usage_error() {
        let err = Cli::try_parse_from(["partner-center", "serve", "--registration-delay", "soon"])
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("manual"), "{err}");
    }
}
