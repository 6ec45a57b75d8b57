//! `partner-center serve`.

use std::io::Write as _;
use std::time::Duration;

use partner_center_domain::SeedReport;
use partner_center_model::Fixture;
use partner_center_server::config::default_server_id;
use partner_center_server::{
    App, AuthConfig, Config, Limits, RegistrationDelay, Secret, Tls, WorkerSettings, dev,
};

use crate::cli::ServeArgs;

/// Lifetime of the token `--demo` prints.
const DEMO_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

type Error = Box<dyn std::error::Error + Send + Sync>;

pub(crate) async fn run(args: ServeArgs) -> Result<(), Error> {
    if let Some(path) = &args.config {
        tracing::info!(file = %path.display(), "configuration file applied");
    }
    // Both or neither: clap saw to it.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(certificates), Some(key)) => Some(Tls::from_pem_files(certificates, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let store = partner_center_store::open(&args.database.url, args.database.options())
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;

    if let Some(path) = &args.seed {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read seed file {}: {e}", path.display()))?;
        let fixture = Fixture::from_json(&text)
            .map_err(|e| format!("seed file {} is not a valid fixture: {e}", path.display()))?;
        log_seed(
            &path.display().to_string(),
            store.apply_fixture(&fixture).await?,
        );
    }

    let mut dev_secret = args.dev_signing_secret.map(Secret::new);
    if args.demo {
        log_seed(
            "the demo fixture",
            store.apply_fixture(&dev::demo_fixture()).await?,
        );
        if dev_secret.is_none() {
            dev_secret = Some(dev::random_secret());
        }
    }
    if dev_secret.is_some() {
        tracing::warn!(
            "HS256 tokens signed with the development secret are accepted; never do this in production"
        );
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let base = format!("{scheme}://{addr}");
    let public_url = args.public_url.clone().unwrap_or_else(|| {
        // A wildcard address is no address to reach the service at: name the loopback instead.
        let mut reachable = addr;
        if reachable.ip().is_unspecified() {
            reachable.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("{scheme}://{reachable}")
    });

    let mut auth = AuthConfig {
        jwks_file: args.jwks_file,
        jwks_url: args.jwks_url,
        jwks_refresh_interval: args.jwks_refresh_interval,
        dev_signing_secret: dev_secret.clone(),
        clock_skew: args.clock_skew,
        enforce_mfa: args.enforce_mfa,
        ..AuthConfig::default()
    };
    auth.issuers.extend(args.issuers);
    let config = Config {
        auth,
        worker: WorkerSettings {
            delay: args.registration_delay,
            lease: args.registration_lease,
            processing: args.registration_processing,
            order_delay: args.order_provisioning_delay,
        },
        cart_lifetime: args.cart_lifetime,
        tls,
        server_id: args.server_id.unwrap_or_else(default_server_id),
        idempotency_retention: args.idempotency_retention,
        identity_provider: args.identity_provider.then(|| public_url.clone()),
        token_lifetime: args.token_lifetime,
        identity_provider_lockout: args.identity_provider_lockout,
        admin_token: args.admin_token.map(Secret::new),
        faults: match &args.faults {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read fault rules {}: {e}", path.display()))?;
                serde_json::from_str(&text).map_err(|e| {
                    format!("{} is not a JSON array of fault rules: {e}", path.display())
                })?
            }
            None => Vec::new(),
        },
        journal_size: args.journal_size,
        throttle: args.throttle,
        limits: Limits {
            max_connections: args.connection_limit as usize,
            header_read_timeout: args.header_read_timeout,
            body_read_timeout: args.body_read_timeout,
            max_header_bytes: args.max_header_bytes as usize,
        },
    };
    if args.identity_provider {
        tracing::warn!(issuer = %format!("{public_url}/{{tid}}/v2.0"), "the built-in identity provider issues tokens; development only");
    }
    let app = App::new(config, store).await?;
    tracing::info!(address = %addr, database = %partner_center_store::redact_url(&args.database.url), registration_delay = %args.registration_delay, "listening");
    let mut banner = format!("Listening on {base}\n");
    if args.demo {
        let secret = dev_secret
            .as_ref()
            .ok_or("the demo needs a development secret")?;
        let token = dev::dev_token(secret, dev::DEMO_PARTNER, DEMO_TOKEN_LIFETIME)?;
        banner.push_str(&demo_banner(
            &base,
            &token,
            args.registration_delay,
            args.order_provisioning_delay,
        ));
    }
    // The banner is the interface for people and scripts; logs go to standard error.
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(banner.as_bytes())?;
    stdout.flush()?;
    drop(stdout);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    shutdown_signal().await?;
    tracing::info!(timeout = %humantime::format_duration(args.shutdown_timeout), "shutting down: finishing in-flight requests");
    let _ = stop.send(());
    match tokio::time::timeout(args.shutdown_timeout, server).await {
        Ok(joined) => joined??,
        Err(_) => tracing::warn!("in-flight requests did not finish in time; exiting anyway"),
    }
    tracing::info!("stopped");
    Ok(())
}

fn log_seed(origin: &str, report: SeedReport) {
    tracing::info!(
        origin,
        partners = report.partners,
        customers = report.customers,
        subscriptions = report.subscriptions,
        changed = report.changed,
        "fixture applied"
    );
}

/// Waits for SIGINT (Ctrl+C) or SIGTERM.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

fn demo_banner(
    base: &str,
    token: &str,
    delay: RegistrationDelay,
    order_delay: RegistrationDelay,
) -> String {
    let partner = dev::DEMO_PARTNER;
    let customer = dev::DEMO_CUSTOMER;
    let plan = dev::DEMO_AZURE_PLAN;
    let saas = dev::DEMO_SAAS;
    let subscriptions = format!("{base}/v1/customers/{customer}/subscriptions");
    let later = |delay: RegistrationDelay, what: &str| match delay {
        RegistrationDelay::After(delay) => {
            format!("{what} {} later", humantime::format_duration(delay))
        }
        RegistrationDelay::Manual => format!("{what} only when an operator advances it"),
    };
    let registered = later(delay, "Registered");
    let fulfilled = later(order_delay, "fulfilled");
    let catalog = partner_center_domain::catalog::Catalog::builtin();
    let listed: String = catalog
        .items()
        .iter()
        .map(|item| format!("  {}  {:<11}  {}\n", item.id, item.kind.as_str(), item.name))
        .collect();
    let reservation = catalog
        .items()
        .iter()
        .find(|item| partner_center_domain::catalog::arm_region(item) == Some("eastus"))
        .map_or("", |item| item.id.as_str());
    let plan_item = catalog
        .items()
        .iter()
        .find(|item| item.kind == partner_center_model::catalog::PurchaseKind::Saas)
        .map_or("", |item| item.id.as_str());
    format!(
        r#"
Demo sandbox partner  {partner}  (Contoso Sandbox)
  customer            {customer}  (Fabrikam)
  Azure plan          {plan}  (active: can be registered)
  SaaS subscription   {saas}  (pending: can be activated once)

The sandbox catalog:
{listed}
A development token for the demo partner (HS256, valid for 24 hours), and where the CLI calls:

  export PC_TOKEN='{token}'
  export PC_BASE_URL={base} PC_CUSTOMER={customer}

1. Register the Azure plan for reservation purchase (202 Accepted; {registered}):
  partner-center register --subscription {plan} --wait

2. Buy a Standard_B1s reservation in eastus on it (a cart, its checkout; {fulfilled}):
  partner-center reservation buy --subscription {plan} --catalog-item {reservation} --wait

3. Buy a SaaS plan: its subscription is pending until it is activated.
  ORDER=$(partner-center saas buy --catalog-item {plan_item} --output id)
  partner-center orders show --order "$ORDER"

4. Activate it: the subscription becomes active and the order completes.
  partner-center activate --subscription "$(partner-center subscriptions list --order "$ORDER" --output id)"
  partner-center orders show --order "$ORDER"

5. Cancel the SaaS order (sandbox only): it is cancelled and its subscription deleted.
  partner-center orders cancel --order "$ORDER"

The same API with curl, e.g. the registration status, and the seeded SaaS subscription's activation
(200 Success; a second time: 400, code 800041):
  curl -i -H "Authorization: Bearer $PC_TOKEN" {subscriptions}/{plan}/registrationstatus
  curl -i -X POST -H "Authorization: Bearer $PC_TOKEN" {subscriptions}/{saas}/activate
  curl -i -H "Authorization: Bearer $PC_TOKEN" {base}/v1/customers/{customer}/orders

Press Ctrl+C to stop.
"#
    )
}
