//! `bench`: the service under load, beside its ceilings, on this machine, measured as a user would
//! measure it: with wrk. Run it with `bench/run`, which builds everything in release mode and pins
//! the benchmark (and so wrk and pgbench) to core 1 while the servers get core 0.
//!
//! - `scenario`: what each load run sends, as wrk's Lua (and the own generator's requests);
//! - `wrk`: writes the scripts, runs wrk, reads what the scripts report;
//! - `load`: the project's own load generator, a second opinion (`--load-generator own`);
//! - `ceiling`, `pgbench`: the ceilings (a bare axum server, one fsync per write, pgbench);
//! - `population`: the seeded databases; `process`: the servers under test;
//! - `report`: the figures, the targets, `docs/benchmarks.md` (or `--output`).

#![allow(clippy::cast_precision_loss, reason = "rates and ratios of counts")]
#![allow(
    unreachable_pub,
    reason = "a binary: its modules share items crate-wide"
)]

mod ceiling;
mod load;
mod pgbench;
mod population;
mod process;
mod report;
mod scenario;
mod wrk;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sqlx::Connection as _;

use crate::load::{Call, Load};
use crate::population::{Guids, Population};
use crate::report::{
    Backend, Beside, Ceiling, Database, Entry, Pop, Provisioning, Report, Run, names,
};
use crate::scenario::{Scenario, SubscriptionPost};

#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Args {
    #[command(subcommand)]
    command: Option<Internal>,

    /// The `partner-center` binary under test.
    #[arg(long, default_value = "target/release/partner-center")]
    service: PathBuf,

    /// The measured run of each scenario (whole seconds for wrk).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// The warm-up run before each measured run (0s: none).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warmup: Duration,

    /// Concurrent connections (and pgbench clients).
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// The service's pool of PostgreSQL connections (`--database-max-connections`): as many
    /// writes in flight as pgbench has, within PostgreSQL's default `max_connections` of 100
    /// beside pgbench's 64 (the service's own default, 10, suits a database shared by several
    /// instances).
    #[arg(long, default_value_t = 32)]
    database_connections: u32,

    /// What drives the load: wrk (the targets are judged on its figures) or the benchmark's own
    /// busy-polling generator (a second opinion; it cannot chain a cart's checkout to its creation).
    #[arg(long, value_enum, default_value_t = Generator::Wrk)]
    load_generator: Generator,

    /// wrk's threads (`-t`), all on the load core.
    #[arg(long, default_value_t = 1)]
    wrk_threads: usize,

    /// The large population.
    #[arg(long, default_value_t = 1_000_000)]
    large: u64,

    /// The small population.
    #[arg(long, default_value_t = 1_000)]
    small: u64,

    /// Subscriptions of the one large customer added to the large population (0: none).
    #[arg(long, default_value_t = 100_000)]
    large_customer: u64,

    /// Customers of the buying partner, one purchase each: half for the carts, half for the direct
    /// orders (a run that goes round its half makes a second purchase, still within the sandbox
    /// limits; a third is refused, so a half must hold at least half the requests of a scenario's
    /// warm-up and measured run: at 20,000 orders/s for 12 s, 120,000 buyers).
    #[arg(long, default_value_t = 500_000)]
    buyers: u64,

    /// How many paths the GET scenarios draw (spread over the population) and go round.
    #[arg(long, default_value_t = 100_000)]
    paths: u64,

    /// A PostgreSQL server to create databases in (`postgres://...`); `none` to skip PostgreSQL.
    #[arg(
        long,
        env = "PC_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,

    /// The core the servers run on; `none` for no pinning.
    #[arg(long, default_value = "0")]
    server_core: String,

    /// The core wrk and pgbench run on; `none` for no pinning.
    #[arg(long, default_value = "1")]
    load_core: String,

    /// Where the results go.
    #[arg(long, default_value = "docs/benchmarks.md")]
    output: PathBuf,

    /// Where databases, keys and wrk scripts are kept during the run.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,

    /// Run only the scenarios whose name contains this (e.g. `POST registrations`, `checkout`,
    /// `order provisioning`), to profile one; the report is then partial.
    #[arg(long)]
    only: Option<String>,

    /// Keep the databases each population was seeded in (PostgreSQL's are dropped otherwise), so
    /// that a scenario can be profiled against one afterwards; each is named on stderr. They hold
    /// what the scenarios wrote (registrations, carts, orders), and their names carry the
    /// benchmark's process id: drop them by hand (`drop database pc_bench_..._PID`).
    #[arg(long)]
    keep_databases: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Generator {
    Wrk,
    Own,
}

impl Generator {
    const fn label(self) -> &'static str {
        match self {
            Self::Wrk => "wrk",
            Self::Own => "own",
        }
    }
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

/// The most warm-up runs before one measured run (see [`Bench::measure_with`]).
const WARM_ROUNDS: u32 = 10;

/// The name of the order provisioning measurement (for `--only`).
const PROVISIONING: &str = "order provisioning";

fn main() -> Result<(), Error> {
    let args = Args::parse();
    if let Some(Internal::CeilingServer { listen }) = &args.command {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        return Ok(runtime.block_on(ceiling::serve(listen))?);
    }
    // One thread: it mostly waits for wrk (or, with `--load-generator own`, is the generator).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))
}

/// The signing key of the benchmark's tokens, and the JWKS file the service trusts.
struct Credentials {
    jwks_file: PathBuf,
    key: EncodingKey,
}

impl Credentials {
    fn new(dir: &Path) -> Result<Self, Error> {
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
        Ok(Self { jwks_file, key })
    }

    /// `Bearer TOKEN`: an App-only token of `partner`, good for four hours.
    fn bearer(&self, partner: &str) -> Result<String, Error> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = serde_json::json!({
            "aud": "https://api.partnercenter.microsoft.com",
            "iss": format!("https://sts.windows.net/{partner}/"),
            "tid": partner,
            "idtyp": "app",
            "appid": "0be0be0b-0000-4000-8000-000000000001",
            "iat": now,
            "nbf": now - 10,
            "exp": now + 4 * 3600,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("bench".into());
        Ok(format!(
            "Bearer {}",
            jsonwebtoken::encode(&header, &claims, &self.key)?
        ))
    }
}

fn core(value: &str) -> Result<Option<usize>, Error> {
    Ok(match value {
        "none" => None,
        core => Some(core.parse()?),
    })
}

struct Bench {
    args: Args,
    credentials: Credentials,
    /// `Bearer ...` of the benchmark's partner and of the buying partner.
    bearer: String,
    buyer_bearer: String,
    core: Option<usize>,
    wrk: wrk::Wrk,
    /// The bare axum server, kept for the run: measured at the start and beside the GETs.
    ceiling_server: Option<process::Server>,
    /// The requests it is measured with: the small population's GETs, token included.
    bare_get: Scenario,
    /// pgbench's database, kept for the run (`None`: no PostgreSQL, or pgbench failed).
    pgbench: Option<pgbench::Database>,
}

impl Bench {
    fn wants(&self, name: &str) -> bool {
        self.args
            .only
            .as_deref()
            .is_none_or(|only| name.contains(only))
    }

    /// Measures `scenario` against `server` and records it, unless `--only` leaves it out.
    async fn record(
        &self,
        report: &mut Report,
        backend: &str,
        pop: Pop,
        scenario: &Scenario,
        server: &process::Server,
    ) -> Result<(), Error> {
        let prefix = format!(
            "{}-{}-{}",
            backend.to_lowercase(),
            pop.size,
            pop.shape.split_whitespace().next().unwrap_or_default()
        );
        if !self.wants(&scenario.name) {
            return Ok(());
        }
        let judged = self.judged(backend, pop, &scenario.name);
        let before = match judged {
            Some(ceiling) => self.ceiling_now(report, ceiling).await?,
            None => None,
        };
        let Some(run) = self.measure(&prefix, report, scenario, server).await? else {
            return Ok(());
        };
        let beside = match (judged, before) {
            (Some(ceiling), Some((before, command))) => self
                .ceiling_now(report, ceiling)
                .await?
                .map(|(after, after_command)| {
                    eprintln!(
                        "    {} beside it: {before:.0} before, {after:.0} after",
                        ceiling.label()
                    );
                    Beside {
                        ceiling,
                        before,
                        after,
                        commands: command.into_iter().chain(after_command).collect(),
                    }
                }),
            _ => None,
        };
        report.runs.push(Entry {
            backend: backend.to_owned(),
            pop,
            run,
            beside,
        });
        Ok(())
    }

    /// The ceiling a target judges this scenario against, if any.
    fn judged(&self, backend: &str, pop: Pop, name: &str) -> Option<Ceiling> {
        let large = pop.size == self.args.large && pop.shape != report::BUYERS;
        match (backend, name) {
            ("SQLite", names::GET | names::GET_RANDOM) if large => Some(Ceiling::BareAxum),
            ("SQLite", names::REGISTER) if large => Some(Ceiling::Fsync),
            ("SQLite", names::CARTS) => Some(Ceiling::Fsync),
            ("PostgreSQL", names::GET) if large => Some(Ceiling::PgbenchSelect),
            ("PostgreSQL", names::REGISTER) if large => Some(Ceiling::PgbenchUpdate),
            _ => None,
        }
    }

    /// Measures `ceiling` now, as at the start of the run: its figure and its command (none
    /// for the fsync ceiling); `None` when it cannot be measured here (no pgbench).
    async fn ceiling_now(
        &self,
        report: &mut Report,
        ceiling: Ceiling,
    ) -> Result<Option<(f64, Option<String>)>, Error> {
        Ok(match ceiling {
            Ceiling::BareAxum => {
                let Some(server) = &self.ceiling_server else {
                    return Ok(None);
                };
                self.measure("ceiling", report, &self.bare_get, server)
                    .await?
                    .map(|run| (run.per_second, Some(run.command)))
            }
            Ceiling::Fsync => Some((self.fsync().await?, None)),
            Ceiling::PgbenchSelect | Ceiling::PgbenchUpdate => {
                let Some(database) = &self.pgbench else {
                    return Ok(None);
                };
                let mode = if ceiling == Ceiling::PgbenchSelect {
                    pgbench::Mode::Select
                } else {
                    pgbench::Mode::Update
                };
                let (tps, command) = database
                    .tps(
                        mode,
                        self.args.connections,
                        self.args.warmup,
                        self.args.duration,
                    )
                    .await?;
                Some((tps, Some(command)))
            }
        })
    }

    /// One writer's writes + fsyncs per second, for 5 s.
    async fn fsync(&self) -> Result<f64, Error> {
        let dir = self.args.work_dir.clone();
        Ok(tokio::task::spawn_blocking(move || {
            ceiling::fsync_writes_per_second(&dir, Duration::from_secs(5))
        })
        .await??)
    }

    /// Measures `scenario` against `server`: a warm-up run, then the measured one, with the
    /// server's CPU time over the measured one.
    /// Its scripts are named `PREFIX-SLUG.lua`.
    async fn measure(
        &self,
        prefix: &str,
        report: &mut Report,
        scenario: &Scenario,
        server: &process::Server,
    ) -> Result<Option<Run>, Error> {
        self.measure_with(&self.wrk, prefix, report, scenario, server)
            .await
    }

    /// [`Self::measure`] with `wrk` run so.
    async fn measure_with(
        &self,
        wrk: &wrk::Wrk,
        prefix: &str,
        report: &mut Report,
        scenario: &Scenario,
        server: &process::Server,
    ) -> Result<Option<Run>, Error> {
        let slug = format!("{prefix}-{}", scenario.slug);
        let (outcome, cpu) = match self.args.load_generator {
            Generator::Wrk => {
                let checked = wrk.write(
                    &slug,
                    &scenario.name,
                    &scenario.script,
                    &scenario.bearer,
                    true,
                )?;
                let measured = if scenario.check_measured {
                    checked.clone()
                } else {
                    wrk.write(
                        &slug,
                        &scenario.name,
                        &scenario.script,
                        &scenario.bearer,
                        false,
                    )?
                };
                // The warm-up goes on until it has requested every row of the scenario's table
                // once (at most `WARM_ROUNDS` runs), so that the measured run sees the service
                // warm for the whole population it draws from, not for the first 2 s of it.
                let rows = scenario.script.rows.as_ref().map_or(0, Vec::len) as u64;
                let mut base = 0;
                let mut round = 0;
                while !self.args.warmup.is_zero()
                    && round < WARM_ROUNDS
                    && (round == 0 || base < rows)
                {
                    round += 1;
                    let warm = wrk
                        .run(&checked, server.addr, self.args.warmup, base, true)
                        .await?;
                    let wrong =
                        warm.unexpected.unwrap_or(0) + warm.status_errors + warm.socket_errors;
                    if wrong > 0 {
                        let note = format!(
                            "{}: the warm-up had {wrong} wrong answers of {}, e.g. {}",
                            scenario.name, warm.requests, warm.first_unexpected
                        );
                        eprintln!("    {note}");
                        report.notes.push(note);
                    }
                    base = warm.next;
                }
                let cpu_before = server.cpu()?;
                let outcome = wrk
                    .run(
                        &measured,
                        server.addr,
                        self.args.duration,
                        base,
                        scenario.check_measured,
                    )
                    .await?;
                (outcome, server.cpu()?.saturating_sub(cpu_before))
            }
            Generator::Own => {
                let Some((make, expect)) = &scenario.own else {
                    eprintln!(
                        "  {}: skipped (the own generator cannot drive it)",
                        scenario.name
                    );
                    return Ok(None);
                };
                let load = Load {
                    connections: self.args.connections,
                    warmup: self.args.warmup,
                    duration: self.args.duration,
                    make: make.clone(),
                    base: 0,
                    expect,
                };
                let cpu_before = server.cpu()?;
                let measured = load::run(server.addr, &load).await?;
                (measured.outcome(), server.cpu()?.saturating_sub(cpu_before))
            }
        };
        let run = Run::new(&scenario.name, &outcome, cpu, scenario.counts);
        eprintln!("  {run}");
        if run.errors() > 0 && !run.first_unexpected.is_empty() {
            eprintln!("    e.g. {}", run.first_unexpected);
        }
        Ok(Some(run))
    }

    async fn service(&self, database: &str, extra: &[&str]) -> Result<process::Server, Error> {
        let mut args: Vec<String> = [
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
        if !extra.contains(&"--order-provisioning-delay") {
            args.extend(["--order-provisioning-delay".into(), "manual".into()]);
        }
        if database.starts_with("postgres") {
            args.extend([
                "--database-max-connections".into(),
                self.args.database_connections.to_string(),
            ]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut command =
            process::pinned(self.core, &self.args.service.display().to_string(), &args);
        command.env(
            "PC_LOG",
            std::env::var("PC_LOG").unwrap_or_else(|_| "warn".into()),
        );
        Ok(process::start(command, "/readyz").await?)
    }

    /// A migrated database of `population`: its URL.
    async fn database(&self, backend: &Backend, population: &Population) -> Result<String, Error> {
        let tag = if population.buyers > 0 {
            format!("buyers-{}", population.buyers)
        } else {
            format!(
                "{}-{}",
                population.subscriptions,
                match population.guids {
                    Guids::Patterned => "patterned",
                    Guids::Random => "random",
                }
            )
        };
        let url = match backend {
            Backend::Sqlite => {
                let file = self.args.work_dir.join(format!("sqlite-{tag}.db"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                format!("sqlite://{}", file.display())
            }
            Backend::Postgres(server) => {
                let name = format!("pc_bench_{}_{}", tag.replace('-', "_"), std::process::id());
                pgbench::fresh_database(server, &name).await?
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
        let started = Instant::now();
        population::seed(&url, population).await?;
        eprintln!(
            "  seeded {population:?} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(url)
    }

    async fn drop_database(&self, backend: &Backend, url: &str) {
        if self.args.keep_databases {
            eprintln!("  kept {url}");
            return;
        }
        if let Backend::Postgres(server) = backend
            && let Some((_, database)) = url.rsplit_once('/')
            && let Some(name) = database.split('?').next()
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

    /// Seeds `population`, starts the service on it and records its ready-after-start.
    async fn open(
        &self,
        backend: &Backend,
        population: &Population,
        pop: Pop,
        report: &mut Report,
    ) -> Result<(String, process::Server), Error> {
        eprintln!("{}, {pop}", backend.label());
        let url = self.database(backend, population).await?;
        let server = self.service(&url, &[]).await?;
        report.databases.push(Database {
            backend: backend.label(),
            pop,
            startup: server.startup,
            peak_rss: None,
        });
        Ok((url, server))
    }

    /// Records the service's peak RSS and stops it.
    async fn close(&self, report: &mut Report, server: process::Server) -> Result<(), Error> {
        let peak = server.peak_rss()?;
        if let Some(db) = report.databases.last_mut() {
            db.peak_rss = Some(peak);
        }
        server.stop().await;
        Ok(())
    }

    /// Every figure of one backend.
    async fn backend(&self, backend: &Backend, report: &mut Report) -> Result<(), Error> {
        let label = backend.label();
        let (small, large, paths) = (self.args.small, self.args.large, self.args.paths);

        if self.wants(names::GET) {
            let population = Population::of(small, Guids::Patterned);
            let pop = Pop {
                size: small,
                shape: Guids::Patterned.label(),
            };
            let (url, server) = self.open(backend, &population, pop, report).await?;
            let get = scenario::get_paths(
                names::GET,
                scenario::population_paths(paths, small, Guids::Patterned),
                &self.bearer,
            );
            self.record(report, &label, pop, &get, &server).await?;
            self.close(report, server).await?;
            self.drop_database(backend, &url).await;
        }

        let large_names = [
            names::GET.to_owned(),
            names::one_customer(population::PER_CUSTOMER),
            names::one_customer(self.args.large_customer),
            names::CUSTOMERS_PAGE.to_owned(),
            names::REGISTER.to_owned(),
            names::ACTIVATE.to_owned(),
            names::REPLAY.to_owned(),
        ];
        if large_names.iter().any(|n| self.wants(n)) {
            self.large_patterned(backend, report).await?;
        }

        if self.wants(names::GET_RANDOM) {
            let population = Population::of(large, Guids::Random);
            let pop = Pop {
                size: large,
                shape: Guids::Random.label(),
            };
            let (url, server) = self.open(backend, &population, pop, report).await?;
            let get = scenario::get_paths(
                names::GET_RANDOM,
                scenario::population_paths(paths, large, Guids::Random),
                &self.bearer,
            );
            self.record(report, &label, pop, &get, &server).await?;
            self.close(report, server).await?;
            self.drop_database(backend, &url).await;
        }

        if [names::CARTS, names::ORDERS, PROVISIONING]
            .iter()
            .any(|n| self.wants(n))
        {
            self.purchases(backend, report).await?;
        }
        Ok(())
    }

    /// The large population, patterned: its GETs, the customers list, and the POSTs on its
    /// subscriptions.
    async fn large_patterned(&self, backend: &Backend, report: &mut Report) -> Result<(), Error> {
        let label = backend.label();
        let (large, paths) = (self.args.large, self.args.paths);
        let population = Population {
            large_customer: self.args.large_customer,
            empty: population::EMPTY_CUSTOMERS,
            ..Population::of(large, Guids::Patterned)
        };
        let pop = Pop {
            size: large,
            shape: Guids::Patterned.label(),
        };
        let (url, server) = self.open(backend, &population, pop, report).await?;
        let bearer = &self.bearer;

        let get = scenario::get_paths(
            names::GET,
            scenario::population_paths(paths, large, Guids::Patterned),
            bearer,
        );
        self.record(report, &label, pop, &get, &server).await?;

        // One customer at a time: an ordinary one, then the large one, in the same run.
        let ordinary_customer = |name: &str| {
            scenario::get_paths(
                name,
                scenario::status_paths(paths, population::PER_CUSTOMER, |n| {
                    population::path(n, "registrationstatus")
                }),
                bearer,
            )
        };
        let ordinary = ordinary_customer(&names::one_customer(population::PER_CUSTOMER));
        self.record(report, &label, pop, &ordinary, &server).await?;
        let large_customer = self.args.large_customer;
        if large_customer > 0 {
            let on_large = scenario::get_paths(
                &names::one_customer(large_customer),
                scenario::status_paths(paths, large_customer, |n| {
                    population::large_path(n, "registrationstatus")
                }),
                bearer,
            );
            self.record(report, &label, pop, &on_large, &server).await?;
            // The ordinary customer again: the large one is judged against the mean of the runs
            // right before and right after it (the host's speed drifts within a run).
            let again = ordinary_customer(&names::one_customer_again(population::PER_CUSTOMER));
            self.record(report, &label, pop, &again, &server).await?;
        }

        // The customers list: pages of 100 at every position, each with the token the page before
        // gave (gathered by walking the whole list once).
        if self.wants(names::CUSTOMERS_PAGE) {
            match customer_tokens(server.addr, bearer).await {
                Ok(tokens) if !tokens.is_empty() => {
                    eprintln!("  {} pages of 100 customers", tokens.len() + 1);
                    let pages = scenario::customers_pages(names::CUSTOMERS_PAGE, tokens, bearer);
                    self.record(report, &label, pop, &pages, &server).await?;
                }
                // A build without the customers list (an older one, measured for comparison).
                Ok(_) | Err(_) => eprintln!("  no customers list: skipped"),
            }
        }

        // Each on its own registrable (even) subscription, with its own MS-RequestId. The last
        // 4,000 subscriptions are kept for the replays.
        let usable = large.saturating_sub(4000).max(2);
        let register = scenario::subscription_post(
            SubscriptionPost {
                name: names::REGISTER,
                action: "registrations",
                ids: population::Posts::Register,
                expect: &[202],
                lua_subscription: format!("(2 * n) % {usable}"),
                subscription: std::sync::Arc::new(move |n| (2 * n) % usable),
                replays: 0,
            },
            bearer,
        );
        self.record(report, &label, pop, &register, &server).await?;
        let activate = scenario::subscription_post(
            SubscriptionPost {
                name: names::ACTIVATE,
                action: "activate",
                ids: population::Posts::Activate,
                expect: &[200],
                lua_subscription: format!("(2 * n + 1) % {usable}"),
                subscription: std::sync::Arc::new(move |n| (2 * n + 1) % usable),
                replays: 0,
            },
            bearer,
        );
        self.record(report, &label, pop, &activate, &server).await?;

        // Replays: 1,000 registrations made once, then repeated with their MS-RequestId.
        let last = large.saturating_sub(2);
        let replay = scenario::subscription_post(
            SubscriptionPost {
                name: names::REPLAY,
                action: "registrations",
                ids: population::Posts::Replay,
                expect: &[202],
                lua_subscription: format!("{last} - 2 * (n % 1000)"),
                subscription: std::sync::Arc::new(move |n| last - 2 * (n % 1000)),
                replays: 1000,
            },
            bearer,
        );
        if self.wants(names::REPLAY) {
            if let Some((make, expect)) = &replay.own {
                prime(server.addr, make, expect, 1000).await?;
            }
            self.record(report, &label, pop, &replay, &server).await?;
        }
        self.close(report, server).await?;
        self.drop_database(backend, &url).await;
        Ok(())
    }

    /// The buyers: carts created and checked out, direct orders, then the worker provisioning the
    /// orders they placed.
    async fn purchases(&self, backend: &Backend, report: &mut Report) -> Result<(), Error> {
        let label = backend.label();
        let buyers = self.args.buyers.max(2);
        let population = Population {
            buyers,
            ..Population::of(0, Guids::Patterned)
        };
        let pop = Pop {
            size: buyers,
            shape: report::BUYERS,
        };
        let (url, server) = self.open(backend, &population, pop, report).await?;
        let half = buyers / 2;
        let carts = scenario::carts(names::CARTS, 0, half, &self.buyer_bearer);
        self.record(report, &label, pop, &carts, &server).await?;
        let orders = scenario::orders(names::ORDERS, half, buyers - half, &self.buyer_bearer);
        self.record(report, &label, pop, &orders, &server).await?;
        self.close(report, server).await?;
        if self.wants(PROVISIONING) {
            if let Some(provisioning) = self.provisioning(&label, &url).await? {
                eprintln!(
                    "  {PROVISIONING}: {} orders in {:.2} s, {:.0} orders/s ({} still pending)",
                    provisioning.orders,
                    provisioning.elapsed.as_secs_f64(),
                    provisioning.per_second(),
                    provisioning.pending
                );
                report.provisioning.push(provisioning);
            } else {
                eprintln!("  {PROVISIONING}: no orders queued, skipped");
            }
        }
        self.drop_database(backend, &url).await;
        Ok(())
    }

    /// Starts the service again on `url` with `--order-provisioning-delay 0s` and times its worker
    /// until no order is left to provision.
    async fn provisioning(&self, label: &str, url: &str) -> Result<Option<Provisioning>, Error> {
        let mut queue = Queue::open(url).await?;
        let orders = queue.count("select count(*) from order_jobs").await?;
        if orders == 0 {
            return Ok(None);
        }
        let spawned = Instant::now();
        let server = self
            .service(url, &["--order-provisioning-delay", "0s"])
            .await?;
        loop {
            if queue.count("select count(*) from order_jobs").await? == 0 {
                break;
            }
            if spawned.elapsed() > Duration::from_secs(600) {
                return Err("the worker did not provision the orders within 10 minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = spawned.elapsed();
        let startup = server.startup;
        let pending = queue
            .count("select count(*) from orders where status = 'pending'")
            .await?;
        server.stop().await;
        queue.close().await;
        Ok(Some(Provisioning {
            backend: label.to_owned(),
            orders,
            elapsed,
            startup,
            pending,
        }))
    }
}

/// A connection to a service's database, to watch its order queue (SQLite's WAL lets it read
/// while the service writes).
enum Queue {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Queue {
    async fn open(url: &str) -> Result<Self, Error> {
        Ok(if url.starts_with("sqlite:") {
            Self::Sqlite(sqlx::SqliteConnection::connect(url).await?)
        } else {
            Self::Postgres(sqlx::PgConnection::connect(url).await?)
        })
    }

    async fn count(&mut self, sql: &'static str) -> Result<u64, Error> {
        let (count,): (i64,) = match self {
            Self::Sqlite(conn) => sqlx::query_as(sql).fetch_one(conn).await?,
            Self::Postgres(conn) => sqlx::query_as(sql).fetch_one(conn).await?,
        };
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn close(self) {
        let _ = match self {
            Self::Sqlite(conn) => conn.close().await,
            Self::Postgres(conn) => conn.close().await,
        };
    }
}

/// One request on a fresh connection: its status and body.
async fn send(addr: SocketAddr, call: Call) -> Result<(u16, bytes::Bytes), Error> {
    use http_body_util::BodyExt as _;
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
    if !call.body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    let response = sender
        .send_request(request.body(http_body_util::Full::new(bytes::Bytes::from(call.body)))?)
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

/// The continuation token of every page of 100 customers but the first, walking the list once.
async fn customer_tokens(addr: SocketAddr, bearer: &str) -> Result<Vec<String>, Error> {
    let mut tokens: Vec<String> = Vec::new();
    loop {
        let mut headers = vec![("authorization", bearer.to_owned())];
        let path = match tokens.last() {
            None => "/v1/customers?size=100",
            Some(token) => {
                headers.push(("ms-continuationtoken", token.clone()));
                "/v1/customers?size=100&seekOperation=Next"
            }
        };
        let call = Call {
            method: hyper::Method::GET,
            path: path.to_owned(),
            headers,
            body: String::new(),
        };
        let (status, body) = send(addr, call).await?;
        if status != 200 {
            return Err(format!("listing customers: {status}").into());
        }
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        match page["continuationToken"].as_str() {
            Some(token) => tokens.push(token.to_owned()),
            None => return Ok(tokens),
        }
    }
}

/// Sends requests `0..count` of `make`, one at a time.
async fn prime(
    addr: SocketAddr,
    make: &load::MakeCall,
    expect: &[u16],
    count: u64,
) -> Result<(), Error> {
    for n in 0..count {
        let call = make(n);
        let path = call.path.clone();
        let (status, _) = send(addr, call).await?;
        if !expect.contains(&status) {
            return Err(format!("priming {path}: {status}").into());
        }
    }
    Ok(())
}

/// The ceilings: one fsync per write, the bare axum server (three ways), pgbench.
async fn ceilings(bench: &Bench, report: &mut Report) -> Result<(), Error> {
    eprintln!("ceilings");
    report.fsync_per_second = bench.fsync().await?;
    eprintln!(
        "  one writer, write + fsync per record: {:.0} writes/s",
        report.fsync_per_second
    );
    let Some(ceiling_server) = &bench.ceiling_server else {
        return Ok(());
    };
    let get = &bench.bare_get;
    report.ceiling = bench
        .measure("ceiling", report, get, ceiling_server)
        .await?;
    if bench.args.load_generator == Generator::Wrk {
        // What the client costs: the same with the other thread count, checking every answer,
        // then with one fixed request (no `request()` at all).
        let threads = if bench.wrk.threads == 1 { 2 } else { 1 };
        let other = wrk::Wrk {
            threads,
            ..bench.wrk.clone()
        };
        let other_threads = Scenario {
            name: format!("bare axum, same bytes, wrk -t{threads}"),
            slug: format!("bare-axum-t{threads}"),
            own: None,
            script: get.script.clone(),
            bearer: get.bearer.clone(),
            check_measured: get.check_measured,
            counts: get.counts,
        };
        report.ceiling_other_threads = bench
            .measure_with(&other, "ceiling", report, &other_threads, ceiling_server)
            .await?
            .map(|run| (threads, run));
        let checked = Scenario {
            name: "bare axum, same bytes, answers checked".into(),
            slug: "bare-axum-same-bytes-checked".into(),
            check_measured: true,
            ..other_threads
        };
        report.ceiling_checked = bench
            .measure("ceiling", report, &checked, ceiling_server)
            .await?;
        let fixed = Scenario {
            name: "bare axum, same bytes, one fixed request".into(),
            slug: "bare-axum-one-fixed-request".into(),
            script: wrk::Script {
                make: format!(
                    "wrk.path = {}\nwrk.headers[\"Authorization\"] = bearer",
                    wrk::lua_string(&population::path(0, "registrationstatus"))
                ),
                check: checked.script.check.clone(),
                rows: None,
                fixed: true,
            },
            check_measured: false,
            ..checked
        };
        report.ceiling_static = bench
            .measure("ceiling", report, &fixed, ceiling_server)
            .await?;
    }

    if let Some(database) = &bench.pgbench {
        match pgbench::ceilings(
            database,
            bench.args.connections,
            bench.args.warmup,
            bench.args.duration,
        )
        .await
        {
            Ok(figures) => report.pgbench = Some(figures),
            Err(err) => {
                eprintln!("  pgbench: {err}");
                report.pgbench_error = Some(err.to_string());
            }
        }
    }
    Ok(())
}

async fn bench(args: Args) -> Result<(), Error> {
    std::fs::create_dir_all(&args.work_dir)?;
    let server_core = core(&args.server_core)?;
    let load_core = core(&args.load_core)?;
    if (server_core.is_some() || load_core.is_some())
        && std::process::Command::new("taskset")
            .arg("--version")
            .output()
            .is_err()
    {
        return Err(
            "taskset is missing (util-linux); run with --server-core none --load-core none".into(),
        );
    }
    let credentials = Credentials::new(&args.work_dir)?;
    let wrk = wrk::Wrk {
        core: load_core,
        threads: args.wrk_threads.max(1),
        connections: args.connections,
        dir: args.work_dir.clone(),
    };
    let bearer = credentials.bearer(population::PARTNER)?;
    // The very requests the service's GETs are (the small population's), token included (the
    // ceiling ignores it): the ceiling is what the same traffic costs a server that does no work.
    let bare_get = scenario::get_paths(
        "bare axum, same bytes",
        scenario::population_paths(args.paths, args.small, Guids::Patterned),
        &bearer,
    );
    let me = std::env::current_exe()?.display().to_string();
    let ceiling_server = process::start(
        process::pinned(
            server_core,
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
    let mut report = Report::new(&args);
    let pgbench = if args.postgres == "none" {
        None
    } else {
        match pgbench::Database::create(&args.postgres, load_core).await {
            Ok(database) => Some(database),
            Err(err) => {
                eprintln!("pgbench: {err}");
                report.pgbench_error = Some(err.to_string());
                None
            }
        }
    };
    let mut bench = Bench {
        bearer,
        buyer_bearer: credentials.bearer(population::BUYER)?,
        credentials,
        core: server_core,
        wrk,
        args,
        ceiling_server: Some(ceiling_server),
        bare_get,
        pgbench,
    };
    let result = measure_all(&bench, &mut report).await;
    if let Some(server) = bench.ceiling_server.take() {
        server.stop().await;
    }
    if let Some(database) = bench.pgbench.take() {
        database.drop().await;
    }
    result?;
    let earlier = std::fs::read_to_string(&bench.args.output).unwrap_or_default();
    let text = report.markdown(report::kept_analysis(&earlier));
    std::fs::write(&bench.args.output, &text)?;
    eprintln!("\n{}", report.summary());
    eprintln!("written to {}", bench.args.output.display());
    Ok(())
}

/// Every measurement of the run, into `report`.
async fn measure_all(bench: &Bench, report: &mut Report) -> Result<(), Error> {
    if bench.args.only.is_none() {
        ceilings(bench, report).await?;
    }

    bench.backend(&Backend::Sqlite, report).await?;
    if bench.args.postgres != "none" {
        match sqlx::PgConnection::connect(&bench.args.postgres).await {
            Ok(conn) => {
                conn.close().await?;
                bench
                    .backend(&Backend::Postgres(bench.args.postgres.clone()), report)
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
    Ok(())
}
