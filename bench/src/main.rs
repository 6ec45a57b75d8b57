//! `bench`: the service under load, beside its ceilings, on this machine. Run it with `bench/run`,
//! which builds everything in release mode and pins this load generator to one core while the
//! servers get the other.
//!
//! Writes `docs/benchmarks.md` (or `--output`) with every figure, the targets they are held to, the
//! commands and the machine.

#![allow(clippy::cast_precision_loss, reason = "rates and ratios of counts")]
#![allow(
    unreachable_pub,
    reason = "a binary: its modules share items crate-wide"
)]

mod ceiling;
mod load;
mod population;
mod process;
mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use hyper::Method;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sqlx::Connection as _;

use crate::load::{Call, Load, Measured};
use crate::report::{Backend, Report, Run};

#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    #[command(subcommand)]
    command: Option<Internal>,

    /// The `partner-center` binary under test.
    #[arg(long, default_value = "target/release/partner-center")]
    service: PathBuf,

    /// The measured window of each load run.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// The warm-up before each measured window.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,

    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// The large population.
    #[arg(long, default_value_t = 1_000_000)]
    large: u64,

    /// The small population.
    #[arg(long, default_value_t = 1_000)]
    small: u64,

    /// Subscriptions of the one large customer added to the large population (0: none).
    #[arg(long, default_value_t = 100_000)]
    large_customer: u64,

    /// A PostgreSQL server to create a database in (`postgres://...`); `none` to skip PostgreSQL.
    #[arg(
        long,
        env = "PC_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,

    /// The core the servers run on (the load generator should run on another); `none` for no pinning.
    #[arg(long, default_value = "0")]
    server_core: String,

    /// Where the results go.
    #[arg(long, default_value = "docs/benchmarks.md")]
    output: PathBuf,

    /// Where databases and keys are kept during the run.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,

    /// Run only the service's load runs whose name contains this (e.g. `POST registrations`), to
    /// profile one; the report is then partial.
    #[arg(long)]
    only: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Internal {
    /// The bare axum ceiling server (started by the benchmark itself).
    #[command(hide = true)]
    CeilingServer {
        #[arg(long)]
        listen: String,
    },
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Error> {
    let args = Args::parse();
    if let Some(Internal::CeilingServer { listen }) = &args.command {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return Ok(runtime.block_on(ceiling::serve(listen))?);
    }
    // The load generator: one thread (the script pins it to its own core).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))
}

/// Signing keys and a token of the benchmark's partner.
struct Credentials {
    jwks_file: PathBuf,
    token: String,
}

fn credentials(dir: &Path) -> Result<Credentials, Error> {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|e| e.to_string())?;
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|e| e.to_string())?;
    let key = EncodingKey::from_rsa_pem(
        pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec())).as_bytes(),
    )?;
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256)?;
    jwk.common.key_id = Some("bench".into());
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, serde_json::to_vec(&JwkSet { keys: vec![jwk] })?)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = serde_json::json!({
        "aud": "https://api.partnercenter.microsoft.com",
        "iss": format!("https://sts.windows.net/{}/", population::PARTNER),
        "tid": population::PARTNER,
        "idtyp": "app",
        "appid": "0be0be0b-0000-4000-8000-000000000001",
        "iat": now,
        "nbf": now - 10,
        "exp": now + 4 * 3600,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("bench".into());
    Ok(Credentials {
        jwks_file,
        token: jsonwebtoken::encode(&header, &claims, &key)?,
    })
}

/// A pseudo-random, well-spread index for request `n` (SplitMix64).
fn spread(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Bench {
    args: Args,
    credentials: Credentials,
    core: Option<usize>,
}

impl Bench {
    fn load(
        &self,
        make: impl Fn(u64) -> Call + Send + Sync + 'static,
        expect: &'static [u16],
    ) -> Load {
        Load {
            connections: self.args.connections,
            warmup: self.args.warmup,
            duration: self.args.duration,
            make: Arc::new(make),
            expect,
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.credentials.token)
    }

    /// Measures `load` against `server` and records it, unless `--only` leaves it out.
    async fn record(
        &self,
        report: &mut Report,
        label: &str,
        size: u64,
        name: &str,
        server: &process::Server,
        load: &Load,
    ) -> Result<(), Error> {
        if self
            .args
            .only
            .as_deref()
            .is_none_or(|only| name.contains(only))
        {
            let run = self.measure(name, server, load).await?;
            report.runs.push((label.to_owned(), size, run));
        }
        Ok(())
    }

    /// Measures `load` against `server`, with the server's CPU time over the whole run.
    async fn measure(
        &self,
        name: &str,
        server: &process::Server,
        load: &Load,
    ) -> Result<Run, Error> {
        let cpu_before = server.cpu()?;
        let measured: Measured = load::run(server.addr, load).await?;
        let cpu = server.cpu()?.saturating_sub(cpu_before);
        let run = Run::new(name, &measured, cpu);
        eprintln!("  {run}");
        if measured.unexpected > 0 {
            eprintln!(
                "    {} unexpected answers, e.g. {}",
                measured.unexpected,
                measured.first_unexpected.as_deref().unwrap_or("")
            );
        }
        Ok(run)
    }

    async fn service(&self, database: &str) -> Result<process::Server, Error> {
        let args: Vec<String> = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database,
            "--jwks-file",
            &self.credentials.jwks_file.display().to_string(),
            "--registration-delay",
            "manual",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let mut command =
            process::pinned(self.core, &self.args.service.display().to_string(), &args);
        command.env(
            "PC_LOG",
            std::env::var("PC_LOG").unwrap_or_else(|_| "warn".into()),
        );
        Ok(process::start(command, "/readyz").await?)
    }

    /// A migrated database of `size` subscriptions (and the large customer's, if `large_customer`,
    /// and `empty` customers without any): its URL.
    async fn database(
        &self,
        backend: &Backend,
        size: u64,
        large_customer: u64,
        empty: u64,
    ) -> Result<String, Error> {
        let url = match backend {
            Backend::Sqlite => {
                let file = self.args.work_dir.join(format!("sqlite-{size}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                format!("sqlite://{}", file.display())
            }
            Backend::Postgres(server) => {
                let name = format!("pc_bench_{size}_{}", std::process::id());
                let mut admin = sqlx::PgConnection::connect(server).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "drop database if exists {name} with (force)"
                )))
                .execute(&mut admin)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                let (base, _) = server
                    .rsplit_once('/')
                    .ok_or("a PostgreSQL URL ends with /database")?;
                format!("{base}/{name}")
            }
        };
        let migrate = std::process::Command::new(&self.args.service)
            .args(["migrate", "--database", &url])
            .output()?;
        if !migrate.status.success() {
            return Err(format!(
                "migrate {url}: {}",
                String::from_utf8_lossy(&migrate.stderr)
            )
            .into());
        }
        let started = std::time::Instant::now();
        population::seed(&url, size, large_customer, empty).await?;
        eprintln!(
            "  seeded {size} subscriptions (and {large_customer} of one customer) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(url)
    }

    async fn drop_database(&self, backend: &Backend, url: &str) {
        if let Backend::Postgres(server) = backend
            && let Some((_, name)) = url.rsplit_once('/')
            && let Ok(mut admin) = sqlx::PgConnection::connect(server).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop database if exists {name} with (force)"
            )))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
    }

    /// Every figure of one backend.
    async fn backend(&self, backend: &Backend, report: &mut Report) -> Result<(), Error> {
        let label = backend.label();
        eprintln!("{label}, {} subscriptions", self.args.small);
        let url = self.database(backend, self.args.small, 0, 0).await?;
        let server = self.service(&url).await?;
        report
            .startup
            .push((label.clone(), self.args.small, server.startup));
        let small = self.args.small;
        let bearer = self.bearer();
        let get = self.load(
            move |n| Call {
                method: Method::GET,
                path: population::path(spread(n) % small, "registrationstatus"),
                headers: vec![("authorization", bearer.clone())],
            },
            &[200],
        );
        self.record(
            report,
            &label,
            small,
            "GET registrationstatus",
            &server,
            &get,
        )
        .await?;
        report
            .peak_rss
            .push((label.clone(), small, server.peak_rss()?));
        server.stop().await;
        self.drop_database(backend, &url).await;

        let large = self.args.large;
        eprintln!("{label}, {large} subscriptions");
        let url = self
            .database(
                backend,
                large,
                self.args.large_customer,
                population::EMPTY_CUSTOMERS,
            )
            .await?;
        let server = self.service(&url).await?;
        report.startup.push((label.clone(), large, server.startup));
        let bearer = self.bearer();
        let get = self.load(
            move |n| Call {
                method: Method::GET,
                path: population::path(spread(n) % large, "registrationstatus"),
                headers: vec![("authorization", bearer.clone())],
            },
            &[200],
        );
        self.record(
            report,
            &label,
            large,
            "GET registrationstatus",
            &server,
            &get,
        )
        .await?;

        // One customer at a time: an ordinary one, then the large one, in the same run.
        let bearer = self.bearer();
        let one_customer = self.load(
            move |n| Call {
                method: Method::GET,
                path: population::path(spread(n) % population::PER_CUSTOMER, "registrationstatus"),
                headers: vec![("authorization", bearer.clone())],
            },
            &[200],
        );
        self.record(
            report,
            &label,
            large,
            &format!(
                "GET registrationstatus, one customer of {}",
                population::PER_CUSTOMER
            ),
            &server,
            &one_customer,
        )
        .await?;
        let large_customer = self.args.large_customer;
        if large_customer > 0 {
            let bearer = self.bearer();
            let on_large = self.load(
                move |n| Call {
                    method: Method::GET,
                    path: population::large_path(spread(n) % large_customer, "registrationstatus"),
                    headers: vec![("authorization", bearer.clone())],
                },
                &[200],
            );
            self.record(
                report,
                &label,
                large,
                &format!("GET registrationstatus, one customer of {large_customer}"),
                &server,
                &on_large,
            )
            .await?;
        }

        // The customers list: pages of 100 at every position, each with the token the page before
        // gave (gathered by walking the whole list once).
        let bearer = self.bearer();
        let tokens = match customer_tokens(server.addr, &bearer).await {
            Ok(tokens) if !tokens.is_empty() => Arc::new(tokens),
            // A build without the customers list (an older one, measured for comparison).
            Ok(_) | Err(_) => Arc::new(Vec::new()),
        };
        eprintln!("  {} pages of 100 customers", tokens.len() + 1);
        let tokens_empty = tokens.is_empty();
        let pages = self.load(
            move |n| {
                let token = &tokens[(spread(n) % tokens.len() as u64) as usize];
                Call {
                    method: Method::GET,
                    path: "/v1/customers?size=100&seekOperation=Next".to_owned(),
                    headers: vec![
                        ("authorization", bearer.clone()),
                        ("ms-continuationtoken", token.clone()),
                    ],
                }
            },
            &[200],
        );
        if !tokens_empty {
            self.record(report, &label, large, CUSTOMERS_PAGE, &server, &pages)
                .await?;
        }

        // Each on its own registrable (even) subscription, with its own MS-RequestId. The last
        // 2,000 subscriptions are kept for the replays.
        let bearer = self.bearer();
        let register = self.load(
            move |n| {
                let subscription = (2 * n) % (large - 4000);
                Call {
                    method: Method::POST,
                    path: population::path(subscription, "registrations"),
                    headers: vec![
                        ("authorization", bearer.clone()),
                        ("ms-requestid", format!("register-{n}")),
                    ],
                }
            },
            &[202],
        );
        self.record(
            report,
            &label,
            large,
            "POST registrations",
            &server,
            &register,
        )
        .await?;

        let bearer = self.bearer();
        let activate = self.load(
            move |n| {
                let subscription = (2 * n + 1) % (large - 4000);
                Call {
                    method: Method::POST,
                    path: population::path(subscription, "activate"),
                    headers: vec![
                        ("authorization", bearer.clone()),
                        ("ms-requestid", format!("activate-{n}")),
                    ],
                }
            },
            &[200],
        );
        self.record(report, &label, large, "POST activate", &server, &activate)
            .await?;

        // Replays: 1,000 registrations made once, then repeated with their MS-RequestId.
        let replayed = move |k: u64| large - 2 - 2 * (k % 1000);
        let bearer = self.bearer();
        let first = Load {
            connections: 8,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(60),
            make: Arc::new({
                let bearer = bearer.clone();
                move |n| Call {
                    method: Method::POST,
                    path: population::path(replayed(n), "registrations"),
                    headers: vec![
                        ("authorization", bearer.clone()),
                        ("ms-requestid", format!("replay-{}", n % 1000)),
                    ],
                }
            }),
            expect: &[202],
        };
        if self
            .args
            .only
            .as_deref()
            .is_none_or(|only| "POST registrations, replayed".contains(only))
        {
            prime(server.addr, &first, 1000).await?;
        }
        let replay = self.load(
            move |n| Call {
                method: Method::POST,
                path: population::path(replayed(n), "registrations"),
                headers: vec![
                    ("authorization", bearer.clone()),
                    ("ms-requestid", format!("replay-{}", n % 1000)),
                ],
            },
            &[202],
        );
        self.record(
            report,
            &label,
            large,
            "POST registrations, replayed",
            &server,
            &replay,
        )
        .await?;
        report
            .peak_rss
            .push((label.clone(), large, server.peak_rss()?));
        server.stop().await;
        self.drop_database(backend, &url).await;
        Ok(())
    }
}

/// The name of the customers-list scenario.
pub const CUSTOMERS_PAGE: &str = "GET customers, a page of 100 at 10,000 customers";

/// The continuation token of every page of 100 customers but the first, walking the list once.
async fn customer_tokens(addr: SocketAddr, bearer: &str) -> Result<Vec<String>, Error> {
    use http_body_util::BodyExt as _;
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut tokens: Vec<String> = Vec::new();
    loop {
        let mut request = hyper::Request::builder()
            .uri(if tokens.is_empty() {
                "/v1/customers?size=100"
            } else {
                "/v1/customers?size=100&seekOperation=Next"
            })
            .header("host", addr.to_string())
            .header("authorization", bearer);
        if let Some(token) = tokens.last() {
            request = request.header("ms-continuationtoken", token);
        }
        let response = sender
            .send_request(request.body(http_body_util::Empty::<bytes::Bytes>::new())?)
            .await?;
        if response.status() != 200 {
            return Err(format!("listing customers: {}", response.status()).into());
        }
        let body = response.into_body().collect().await?.to_bytes();
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        match page["continuationToken"].as_str() {
            Some(token) => tokens.push(token.to_owned()),
            None => return Ok(tokens),
        }
    }
}

/// Sends the first `count` requests of `load`, one connection at a time.
async fn prime(addr: SocketAddr, load: &Load, count: u64) -> Result<(), Error> {
    for n in 0..count {
        let call = (load.make)(n);
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let mut request = hyper::Request::builder()
            .method(call.method)
            .uri(&call.path)
            .header("host", addr.to_string());
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let response = sender
            .send_request(request.body(http_body_util::Empty::<bytes::Bytes>::new())?)
            .await?;
        if !load.expect.contains(&response.status().as_u16()) {
            return Err(format!("priming {}: {}", call.path, response.status()).into());
        }
    }
    Ok(())
}

async fn bench(args: Args) -> Result<(), Error> {
    std::fs::create_dir_all(&args.work_dir)?;
    let core = match args.server_core.as_str() {
        "none" => None,
        core => Some(core.parse()?),
    };
    if core.is_some()
        && std::process::Command::new("taskset")
            .arg("--version")
            .output()
            .is_err()
    {
        return Err("taskset is missing (util-linux); run with --server-core none".into());
    }
    let credentials = credentials(&args.work_dir)?;
    let bench = Bench {
        credentials,
        core,
        args,
    };
    let mut report = Report::new(&bench.args);

    if bench.args.only.is_none() {
        eprintln!("ceilings");
        report.fsync_per_second = tokio::task::spawn_blocking({
            let dir = bench.args.work_dir.clone();
            move || ceiling::fsync_writes_per_second(&dir, Duration::from_secs(5))
        })
        .await??;
        eprintln!(
            "  one writer, write + fsync per record: {:.0} writes/s",
            report.fsync_per_second
        );
        let me = std::env::current_exe()?.display().to_string();
        let ceiling_server = process::start(
            process::pinned(
                core,
                &me,
                &[
                    "ceiling-server".into(),
                    "--listen".into(),
                    "127.0.0.1:0".into(),
                ],
            ),
            "/readyz",
        )
        .await?;
        // The very requests the service gets, token included (the ceiling ignores it): the
        // ceiling is what the same traffic costs a server that does no work.
        let bearer = bench.bearer();
        let get = bench.load(
            move |n| Call {
                method: Method::GET,
                path: population::path(spread(n) % 1000, "registrationstatus"),
                headers: vec![("authorization", bearer.clone())],
            },
            &[200],
        );
        report.ceiling = Some(
            bench
                .measure("bare axum, same bytes", &ceiling_server, &get)
                .await?,
        );
        ceiling_server.stop().await;
    }

    bench.backend(&Backend::Sqlite, &mut report).await?;
    if bench.args.postgres != "none" {
        match sqlx::PgConnection::connect(&bench.args.postgres).await {
            Ok(conn) => {
                conn.close().await?;
                bench
                    .backend(&Backend::Postgres(bench.args.postgres.clone()), &mut report)
                    .await?;
            }
            Err(err) => {
                eprintln!(
                    "PostgreSQL at {} is not reachable ({err}): skipped",
                    bench.args.postgres
                );
                report.postgres_skipped = Some(err.to_string());
            }
        }
    }
    let text = report.markdown();
    std::fs::write(&bench.args.output, &text)?;
    eprintln!("\n{}", report.summary());
    eprintln!("written to {}", bench.args.output.display());
    Ok(())
}
