//! PostgreSQL's own ceiling, in the same run, on the same server and with the same client count as
//! the service's load: pgbench on a fresh database (`pgbench -i -s 10`), select-only (`-S`) and
//! simple-update (`-N`, each transaction durable), prepared statements, pinned like wrk.

use std::time::Duration;

use sqlx::Connection as _;

/// PostgreSQL's ceilings.
#[derive(Debug, Clone)]
pub struct Pgbench {
    /// `pgbench -S`: transactions (one indexed read each) per second.
    pub select_tps: f64,
    /// `pgbench -N`: transactions (three writes and a read, committed durably) per second.
    pub update_tps: f64,
    /// The commands, as run.
    pub commands: Vec<String>,
}

/// The `tps = N (without initial connection time)` figure of pgbench's report (older versions say
/// `excluding connections establishing`).
pub fn tps(report: &str) -> Option<f64> {
    let lines: Vec<&str> = report
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tps = "))
        .collect();
    let line = lines
        .iter()
        .find(|l| l.contains("without initial connection time") || l.contains("excluding"))
        .or_else(|| lines.first())?;
    line.split_whitespace().next()?.parse().ok()
}

/// Creates the database `name` afresh on the PostgreSQL server of `server` (a URL naming any
/// database of it): its URL.
///
/// The URL keeps the parameters of `server`'s, and says `sslmode=disable` unless they say how to
/// use TLS: the service and pgbench are both given it, so they reach the server the same way, and
/// the figures are of the database's work, not of the encryption of each round trip. (Before the
/// service could talk TLS to PostgreSQL, libpq's default, `prefer`, made pgbench pay for TLS on
/// the local server while the service talked plain text, which lowered the ceiling.)
pub async fn fresh_database(server: &str, name: &str) -> Result<String, crate::Error> {
    let (base, database) = server
        .rsplit_once('/')
        .ok_or("a PostgreSQL URL ends with /database")?;
    let query = match database.split_once('?') {
        Some((_, query)) if query.contains("sslmode=") => query.to_owned(),
        Some((_, query)) if !query.is_empty() => format!("{query}&sslmode=disable"),
        _ => "sslmode=disable".to_owned(),
    };
    let mut admin = sqlx::PgConnection::connect(server).await?;
    drop_database(&mut admin, name).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(format!("{base}/{name}?{query}"))
}

async fn drop_database(admin: &mut sqlx::PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(admin)
    .await
    .map(drop)
}

async fn run(words: &[String]) -> Result<String, String> {
    crate::process::output_of(words, "pgbench").await
}

/// Writes out what loading a database left in PostgreSQL's buffers, so that the checkpoint its WAL
/// called for (a million rows pass `max_wal_size`) is not spread over the measured runs that
/// follow (`checkpoint_completion_target`), writing beside one of them and not another. Needs a
/// superuser or `pg_checkpoint`; without it, the run goes on and says so.
pub async fn checkpoint(conn: &mut sqlx::PgConnection) {
    if let Err(err) = sqlx::query("checkpoint").execute(&mut *conn).await {
        eprintln!(
            "  no checkpoint after loading ({err}): PostgreSQL writes it out during the runs"
        );
    }
}

/// A database initialised for pgbench (`pgbench -i -s 10`), kept for the run: the ceilings are
/// measured on it at the start and again beside each scenario they judge.
pub struct Database {
    server: String,
    name: String,
    url: String,
    core: Option<usize>,
    /// The initialising command, as run.
    pub init: String,
}

/// pgbench's two workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `-S`: select only.
    Select,
    /// `-N`: simple update, each transaction durable.
    Update,
}

impl Mode {
    const fn flag(self) -> &'static str {
        match self {
            Self::Select => "-S",
            Self::Update => "-N",
        }
    }
}

impl Database {
    /// Creates and initialises the database on the PostgreSQL server of `server` (a URL naming any
    /// database of it); pgbench runs pinned to `core`.
    pub async fn create(server: &str, core: Option<usize>) -> Result<Self, crate::Error> {
        let name = format!("pc_bench_pgbench_{}", std::process::id());
        let url = fresh_database(server, &name).await?;
        let mut database = Self {
            server: server.to_owned(),
            name,
            url,
            core,
            init: String::new(),
        };
        let init = database.command(&["-i", "-s", "10", "-q"]);
        if let Err(err) = run(&init).await {
            database.drop().await;
            return Err(err.into());
        }
        database.init = init.join(" ");
        match sqlx::PgConnection::connect(&database.url).await {
            Ok(mut conn) => {
                checkpoint(&mut conn).await;
                let _ = conn.close().await;
            }
            Err(err) => eprintln!("  no checkpoint after pgbench -i ({err})"),
        }
        Ok(database)
    }

    fn command(&self, args: &[&str]) -> Vec<String> {
        let mut command = crate::process::pinned_words(self.core, "pgbench");
        command.extend(args.iter().map(|a| (*a).to_owned()));
        command.push(self.url.clone());
        command
    }

    /// `mode` with `clients` connections, prepared: a warm-up run of `warmup` (none when zero),
    /// then the measured one of `duration`: its transactions per second and its command.
    pub async fn tps(
        &self,
        mode: Mode,
        clients: usize,
        warmup: Duration,
        duration: Duration,
    ) -> Result<(f64, String), crate::Error> {
        let clients = format!("-c{clients}");
        let seconds = |d: Duration| format!("-T{}", d.as_secs().max(1));
        let args = |d: Duration| -> Vec<String> {
            self.command(&[mode.flag(), &clients, "-j1", &seconds(d), "-M", "prepared"])
        };
        if !warmup.is_zero() {
            run(&args(warmup)).await?;
        }
        let command = args(duration);
        let report = run(&command).await?;
        let tps = tps(&report).ok_or_else(|| format!("no tps in pgbench's report: {report}"))?;
        Ok((tps, command.join(" ")))
    }

    /// Drops the database.
    pub async fn drop(self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.server).await {
            let _ = drop_database(&mut admin, &self.name).await;
            let _ = admin.close().await;
        }
    }
}

/// Measures PostgreSQL's ceilings on `database`: `-S`, then `-N`, with `clients` connections.
pub async fn ceilings(
    database: &Database,
    clients: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<Pgbench, crate::Error> {
    let mut commands = vec![database.init.clone()];
    let mut figures = Vec::new();
    for mode in [Mode::Select, Mode::Update] {
        let (tps, command) = database.tps(mode, clients, warmup, duration).await?;
        eprintln!("  {command}: {tps:.0} tps");
        commands.push(command);
        figures.push(tps);
    }
    Ok(Pgbench {
        select_tps: figures[0],
        update_tps: figures[1],
        commands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tps_without_connection_time_is_read() {
        let report = "number of failed transactions: 0 (0.000%)\n\
                      latency average = 1.234 ms\n\
                      initial connection time = 12.345 ms\n\
                      tps = 51234.567890 (without initial connection time)\n";
        assert_eq!(tps(report), Some(51_234.567_890));
        let old = "tps = 900.1 (including connections establishing)\n\
                   tps = 910.2 (excluding connections establishing)\n";
        assert_eq!(tps(old), Some(910.2));
        assert_eq!(tps("nothing"), None);
    }
}
