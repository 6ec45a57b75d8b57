//! `partner-center`: runs the Partner Center service and calls its API.
//!
//! Thin by design: it parses flags (each also read from a `PC_*` environment variable, and `serve`'s
//! from a `--config` file), sets up logging, calls the libraries and maps failures to exit codes
//! (0 success, 1 failure, 2 usage; the client commands tell failures apart further, see
//! `client::ExitCodes`).

#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::process::ExitCode;

/// mimalloc: the request path allocates a little per request, and glibc's malloc was a tenth of its
/// time (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod browse;
mod catalog;
mod cli;
mod client;
mod config_file;
mod purchase;
mod serve;
mod token;

fn main() -> ExitCode {
    let cli = match config_file::parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    init_logging(&cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Register(args) => return Ok(Some(client::register(*args).await)),
            cli::Command::Status(args) => return Ok(Some(client::status(*args).await)),
            cli::Command::Activate(args) => return Ok(Some(client::activate(*args).await)),
            cli::Command::Customers(command) => {
                return Ok(Some(browse::customers(command).await));
            }
            cli::Command::Subscriptions(command) => {
                return Ok(Some(browse::subscriptions(command).await));
            }
            cli::Command::Reservation(command) => {
                return Ok(Some(purchase::reservation(command).await));
            }
            cli::Command::Saas(command) => return Ok(Some(purchase::saas(command).await)),
            cli::Command::Orders(command) => return Ok(Some(purchase::orders(command).await)),
            cli::Command::Catalog(command) => return Ok(Some(catalog::catalog(command).await)),
            cli::Command::Serve(args) => serve::run(*args).await,
            cli::Command::Token(args) => token::run(args).await,
            cli::Command::Migrate(args) => migrate(args).await,
            cli::Command::Admin(args) => admin::run(args).await,
        }
        .map(|()| None)
    });
    match result {
        Ok(Some(code)) => code,
        Ok(None) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `partner-center migrate`: applies pending migrations and lists them.
async fn migrate(args: cli::MigrateArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use std::io::Write as _;
    let url = &args.database.url;
    let migrations = partner_center_store::migrate(url, args.database.options())
        .await
        .map_err(|e| {
            format!(
                "cannot migrate {}: {e}",
                partner_center_store::redact_url(url)
            )
        })?;
    let mut stdout = std::io::stdout().lock();
    for migration in &migrations {
        let state = if migration.applied_now {
            "applied now"
        } else {
            "already applied"
        };
        writeln!(
            stdout,
            "{} {} ({state})",
            migration.version, migration.description
        )?;
    }
    Ok(())
}

/// Logs go to standard error, filtered by `PC_LOG` (default `info`), e.g. `PC_LOG=debug`, as
/// plain text or one JSON object per line (with the request's span fields: request and
/// correlation ids, route, partner).
fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}
