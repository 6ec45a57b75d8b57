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

async fn run(args: &[String]) -> Result<String, String> {
    let output = tokio::process::Command::new(&args[0])
        .args(&args[1..])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e} (is pgbench installed?)", args[0]))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {stdout}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

/// Measures PostgreSQL at `server` (a URL naming any database of it): creates a database, runs
/// pgbench on it for `warmup` then `duration` with `clients` connections, and drops it.
pub async fn ceilings(
    server: &str,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    core: Option<usize>,
) -> Result<Pgbench, crate::Error> {
    let name = format!("pc_bench_pgbench_{}", std::process::id());
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut admin)
        .await?;
    let (base, _) = server
        .rsplit_once('/')
        .ok_or("a PostgreSQL URL ends with /database")?;
    let url = format!("{base}/{name}");
    let pinned = |args: &[&str]| -> Vec<String> {
        let mut command: Vec<String> = Vec::new();
        if let Some(core) = core {
            command.extend(["taskset".into(), "-c".into(), core.to_string()]);
        }
        command.push("pgbench".into());
        command.extend(args.iter().map(|a| (*a).to_owned()));
        command.push(url.clone());
        command
    };
    let clients = format!("-c{clients}");
    let seconds = |d: Duration| format!("-T{}", d.as_secs().max(1));
    let result = async {
        let init = pinned(&["-i", "-s", "10", "-q"]);
        run(&init).await?;
        let mut commands = vec![init.join(" ")];
        let mut figures = Vec::new();
        for mode in ["-S", "-N"] {
            if !warmup.is_zero() {
                run(&pinned(&[
                    mode,
                    &clients,
                    "-j1",
                    &seconds(warmup),
                    "-M",
                    "prepared",
                ]))
                .await?;
            }
            let command = pinned(&[mode, &clients, "-j1", &seconds(duration), "-M", "prepared"]);
            let report = run(&command).await?;
            let tps =
                tps(&report).ok_or_else(|| format!("no tps in pgbench's report: {report}"))?;
            eprintln!("  {}: {tps:.0} tps", command.join(" "));
            commands.push(command.join(" "));
            figures.push(tps);
        }
        Ok::<_, String>(Pgbench {
            select_tps: figures[0],
            update_tps: figures[1],
            commands,
        })
    }
    .await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
    Ok(result?)
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
