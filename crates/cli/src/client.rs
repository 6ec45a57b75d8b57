//! `partner-center register | status | activate`: the API from the command line, through the SDK.
//!
//! Results go to standard output (a table, or one JSON object per command with `--output json`);
//! errors to standard error (and, with `--output json`, as `{"error": ...}` on standard output
//! too). The exit code says what kind of failure it was; see [`ExitCodes`].

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use partner_center_client::credentials::ENTRA_AUTHORITY;
use partner_center_client::model::{
    ClientId, CustomerId, RegistrationStatus, SubscriptionActivationResult, SubscriptionId,
    SubscriptionRegistrationStatus,
};
use partner_center_client::{
    ClientCredentials, Error, PartnerCenter, RequestContext, RetryPolicy, SubscriptionOperations,
    WaitOptions,
};
use serde_json::{Value, json};

/// The exit codes of the client commands, for scripts.
pub(crate) struct ExitCodes;

impl ExitCodes {
    /// Done.
    pub(crate) const OK: u8 = 0;
    /// Anything else: an answer that could not be read, output that could not be written.
    pub(crate) const OTHER: u8 = 1;
    /// The command line is wrong (clap's own code for usage errors).
    pub(crate) const USAGE: u8 = 2;
    /// The service refused the request (400, 409, ...), or the registration ended in failure.
    pub(crate) const REFUSED: u8 = 3;
    /// Not authenticated or not allowed (401, 403), or no token could be obtained.
    pub(crate) const AUTH: u8 = 4;
    /// No such customer or subscription (404).
    pub(crate) const NOT_FOUND: u8 = 5;
    /// The service is unavailable: a 5xx or 429 after the retries, or it cannot be reached. Try later.
    pub(crate) const UNAVAILABLE: u8 = 6;
    /// `--wait` gave up while the registration (or the order) was still under way.
    pub(crate) const WAIT_TIMEOUT: u8 = 7;
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Aligned columns with a header.
    Table,
    /// One JSON object.
    Json,
    /// Only the ids of what was printed, one per line (for scripts:
    /// `ORDER=$(partner-center saas buy ... --output id)`).
    Id,
}

/// The subscription a command is about.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The customer's tenant id.
    #[arg(long, env = "PC_CUSTOMER", value_name = "GUID")]
    customer: CustomerId,

    /// The subscription id.
    #[arg(long, env = "PC_SUBSCRIPTION", value_name = "GUID")]
    subscription: SubscriptionId,
}

/// Where the API is and how to call it.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("credentials").required(true).args(["token", "client_id"]))]
pub(crate) struct ClientArgs {
    /// The API root: a local service, or Partner Center's `https://api.partnercenter.microsoft.com`.
    #[arg(
        long,
        env = "PC_BASE_URL",
        default_value = format!("http://{}", crate::cli::LISTEN),
        value_name = "URL"
    )]
    base_url: String,

    /// A bearer token to call with (e.g. the one `serve --demo` prints).
    #[arg(long, env = "PC_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// The partner's tenant (a GUID or a domain), for the client-credentials flow.
    #[arg(long, env = "PC_TENANT", requires = "client_id")]
    tenant: Option<String>,

    /// The application id, for the client-credentials flow (needs --tenant and --client-secret).
    #[arg(long, env = "PC_CLIENT_ID", value_name = "GUID", requires_all = ["tenant", "client_secret"])]
    client_id: Option<ClientId>,

    /// The application's secret, for the client-credentials flow.
    #[arg(
        long,
        env = "PC_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    client_secret: Option<String>,

    /// Where client credentials are exchanged for a token: Entra ID, or a service's built-in
    /// identity provider (its base URL).
    #[arg(long, env = "PC_AUTHORITY", default_value = ENTRA_AUTHORITY, value_name = "URL")]
    authority: String,

    /// How results are printed.
    #[arg(long, short = 'o', env = "PC_OUTPUT", value_enum, default_value_t = Output::Table)]
    pub(crate) output: Output,

    /// The MS-RequestId to send: repeating a command with the same one does not repeat its effect.
    #[arg(long, env = "PC_REQUEST_ID")]
    request_id: Option<String>,

    /// The MS-CorrelationId to send.
    #[arg(long, env = "PC_CORRELATION_ID")]
    correlation_id: Option<String>,

    /// Retries after a network error, a 5xx or a 429 (after 0.5 s, 1.5 s, 3.5 s, ...).
    #[arg(long, env = "PC_RETRIES", default_value_t = 3)]
    retries: u32,

    /// How long one attempt may take.
    #[arg(long, env = "PC_TIMEOUT", default_value = "100s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    timeout: Duration,
}

#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    #[command(flatten)]
    target: Target,

    /// Wait until the registration completes, with a spinner on a terminal, and print the final
    /// status.
    #[arg(long)]
    wait: bool,

    /// How long --wait waits.
    #[arg(long, env = "PC_WAIT_TIMEOUT", default_value = "2m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    wait_timeout: Duration,

    /// How often --wait reads the status.
    #[arg(long, env = "PC_POLL_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    poll_interval: Duration,

    #[command(flatten)]
    client: ClientArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SubscriptionArgs {
    #[command(flatten)]
    target: Target,

    #[command(flatten)]
    client: ClientArgs,
}

/// What a command printed, or why it failed.
pub(crate) enum Failure {
    Sdk(Error),
    /// `register --wait` saw the registration fail.
    RegistrationFailed(SubscriptionId),
    /// Something cannot be bought (why: a cart's line errors, a line each, or an inventory
    /// check's restriction); nothing was bought.
    NotBought(String),
}

impl ClientArgs {
    pub(crate) fn partner(&self) -> Result<PartnerCenter, Error> {
        let builder = PartnerCenter::builder()
            .base_url(&self.base_url)
            .retry(RetryPolicy::exponential(self.retries))
            .timeout(self.timeout);
        let builder = match (
            &self.token,
            &self.tenant,
            &self.client_id,
            &self.client_secret,
        ) {
            (Some(token), ..) if token.trim().is_empty() => {
                return Err(Error::Config(
                    "the token is empty (is PC_TOKEN set?)".into(),
                ));
            }
            (Some(token), ..) => builder.token(token.trim()),
            (None, Some(tenant), Some(client_id), Some(secret)) => builder.token_provider(
                ClientCredentials::new(tenant.clone(), client_id.to_string(), secret.clone())
                    .authority(&self.authority),
            ),
            // Unreachable through clap's groups; said plainly all the same.
            _ => {
                return Err(Error::Config(
                    "give --token, or --tenant, --client-id and --client-secret".into(),
                ));
            }
        };
        let mut context = RequestContext::new();
        if let Some(id) = &self.request_id {
            context = context.request_id(id);
        }
        if let Some(id) = &self.correlation_id {
            context = context.correlation_id(id);
        }
        Ok(builder.build()?.with(context))
    }
}

fn subscription<'a>(partner: &'a PartnerCenter, target: &Target) -> SubscriptionOperations<'a> {
    partner
        .customers()
        .by_id(target.customer)
        .subscriptions()
        .by_id(target.subscription)
}

/// `partner-center register`.
pub(crate) async fn register(args: RegisterArgs) -> ExitCode {
    let output = args.client.output;
    let outcome = async {
        let partner = args.client.partner().map_err(Failure::Sdk)?;
        let registration = subscription(&partner, &args.target).registration();
        if !args.wait {
            let location = registration.register().await.map_err(Failure::Sdk)?;
            let url = partner.resolve(&location);
            return Ok(match output {
                Output::Json => json!({
                    "subscriptionId": args.target.subscription,
                    "location": location,
                    "statusUrl": url,
                })
                .to_string(),
                Output::Id => args.target.subscription.to_string(),
                Output::Table => table(
                    &["SUBSCRIPTION", "REGISTRATION", "STATUS URL"],
                    &[&args.target.subscription.to_string(), "accepted", &url],
                ),
            });
        }
        // On standard error, only when it is a terminal (indicatif hides it otherwise).
        let spinner = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            spinner.set_style(style);
        }
        spinner.set_message(format!("registering {}", args.target.subscription));
        spinner.enable_steady_tick(Duration::from_millis(100));
        let options = WaitOptions {
            interval: args.poll_interval,
            timeout: args.wait_timeout,
        };
        let done = registration.register_and_wait(options).await;
        spinner.finish_and_clear();
        let done = done.map_err(Failure::Sdk)?;
        let printed = status_output(&done, output);
        if done.status == RegistrationStatus::NotRegistered {
            print(&printed);
            return Err(Failure::RegistrationFailed(args.target.subscription));
        }
        Ok(printed)
    };
    finish(outcome.await, output)
}

/// `partner-center status`.
pub(crate) async fn status(args: SubscriptionArgs) -> ExitCode {
    let output = args.client.output;
    let outcome = async {
        let partner = args.client.partner()?;
        let status = subscription(&partner, &args.target)
            .registration_status()
            .get()
            .await?;
        Ok(status_output(&status, output))
    };
    finish(outcome.await.map_err(Failure::Sdk), output)
}

/// `partner-center activate`.
pub(crate) async fn activate(args: SubscriptionArgs) -> ExitCode {
    let output = args.client.output;
    let outcome = async {
        let partner = args.client.partner()?;
        let result = subscription(&partner, &args.target).activate().await?;
        Ok(activation_output(&result, output))
    };
    finish(outcome.await.map_err(Failure::Sdk), output)
}

fn status_output(status: &SubscriptionRegistrationStatus, output: Output) -> String {
    match output {
        Output::Json => serde_json::to_string(status).unwrap_or_default(),
        Output::Id => status.subscription_id.to_string(),
        Output::Table => table(
            &["SUBSCRIPTION", "STATUS"],
            &[
                &status.subscription_id.to_string(),
                &status.status.to_string(),
            ],
        ),
    }
}

fn activation_output(result: &SubscriptionActivationResult, output: Output) -> String {
    match output {
        Output::Json => serde_json::to_string(result).unwrap_or_default(),
        Output::Id => result.subscription_id.to_string(),
        Output::Table => table(
            &["SUBSCRIPTION", "ACTIVATION"],
            &[&result.subscription_id.to_string(), result.status.as_str()],
        ),
    }
}

/// A header and one row, in columns two spaces apart.
fn table(header: &[&str], row: &[&str]) -> String {
    let row: Vec<String> = row.iter().map(|cell| (*cell).to_owned()).collect();
    rows(header, &[row])
}

/// A header and rows, in columns two spaces apart (the last column unpadded).
pub(crate) fn rows(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, title)| {
            rows.iter()
                .filter_map(|row| row.get(i))
                .map(|cell| cell.chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    (*cell).to_owned()
                } else {
                    format!("{cell:<width$}  ", width = widths[i])
                }
            })
            .collect::<String>()
    };
    std::iter::once(line(header.to_vec()))
        .chain(
            rows.iter()
                .map(|row| line(row.iter().map(String::as_str).collect())),
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Ids, one per line.
pub(crate) fn ids(ids: impl Iterator<Item = String>) -> String {
    ids.collect::<Vec<_>>().join("\n")
}

fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// Prints the result, or the error, and says how the process exits.
pub(crate) fn finish(outcome: Result<String, Failure>, output: Output) -> ExitCode {
    let failure = match outcome {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            return match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::from(ExitCodes::OK),
                Err(err) => {
                    eprintln!("error: cannot write the result: {err}");
                    ExitCode::from(ExitCodes::OTHER)
                }
            };
        }
        Err(failure) => failure,
    };
    let (code, message, detail) = match &failure {
        Failure::Sdk(err) => (exit_code(err), err.to_string(), error_json(err)),
        Failure::NotBought(errors) => {
            let message = format!("nothing was bought: {errors}");
            (
                ExitCodes::REFUSED,
                message.clone(),
                json!({"message": message}),
            )
        }
        Failure::RegistrationFailed(subscription) => {
            let message =
                format!("the registration of {subscription} failed: it is NotRegistered again");
            (
                ExitCodes::REFUSED,
                message.clone(),
                json!({"message": message}),
            )
        }
    };
    if output == Output::Json && !matches!(failure, Failure::RegistrationFailed(_)) {
        print(&json!({ "error": detail }).to_string());
    }
    let color = std::io::stderr().is_terminal();
    if color {
        eprintln!("\x1b[31merror:\x1b[0m {message}");
    } else {
        eprintln!("error: {message}");
    }
    ExitCode::from(code)
}

/// The exit code of an SDK error.
fn exit_code(err: &Error) -> u8 {
    match err {
        Error::Api(api) => match api.status {
            401 | 403 => ExitCodes::AUTH,
            404 => ExitCodes::NOT_FOUND,
            429 | 500..=599 => ExitCodes::UNAVAILABLE,
            _ => ExitCodes::REFUSED,
        },
        Error::Authentication(_) => ExitCodes::AUTH,
        Error::Network { .. } => ExitCodes::UNAVAILABLE,
        Error::Timeout { .. } | Error::OrderTimeout { .. } => ExitCodes::WAIT_TIMEOUT,
        Error::Config(_) => ExitCodes::USAGE,
        _ => ExitCodes::OTHER,
    }
}

/// The error as JSON, for `--output json`.
fn error_json(err: &Error) -> Value {
    match err {
        Error::Api(api) => json!({
            "status": api.status,
            "code": api.code(),
            "description": api.description(),
            "requestId": api.request_id,
            "correlationId": api.correlation_id,
            "retryAfter": api.retry_after.map(|d| d.as_secs()),
        }),
        Error::Network { request_id, .. } => {
            json!({"message": err.to_string(), "requestId": request_id})
        }
        Error::Timeout { last_status, .. } => {
            json!({"message": err.to_string(), "lastStatus": last_status})
        }
        _ => json!({"message": err.to_string()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        assert_eq!(
            table(&["SUBSCRIPTION", "STATUS"], &["d3a7", "Registered"]),
            "SUBSCRIPTION  STATUS\nd3a7          Registered"
        );
        assert_eq!(
            rows(
                &["ID", "NAME", "QTY"],
                &[
                    vec!["1".into(), "Fabrikam Ltd".into(), "5".into()],
                    vec!["22".into(), "Contoso".into(), "10".into()]
                ]
            ),
            "ID  NAME          QTY\n1   Fabrikam Ltd  5\n22  Contoso       10"
        );
        assert_eq!(rows(&["ID"], &[]), "ID");
    }
}
