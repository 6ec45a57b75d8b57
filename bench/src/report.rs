//! The results: figures, the targets they are held to, and `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::Args;
use crate::load::Measured;

/// A backend under test.
pub enum Backend {
    Sqlite,
    /// The server to create databases in.
    Postgres(String),
}

impl Backend {
    pub fn label(&self) -> String {
        match self {
            Self::Sqlite => "SQLite".into(),
            Self::Postgres(_) => "PostgreSQL".into(),
        }
    }
}

/// One load run's figures.
#[derive(Debug, Clone)]
pub struct Run {
    pub name: String,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_us_per_request: f64,
    pub unexpected: u64,
}

impl Run {
    pub fn new(name: &str, measured: &Measured, cpu: Duration) -> Self {
        Self {
            name: name.to_owned(),
            per_second: measured.per_second(),
            p50_ms: measured.p50_ms(),
            p99_ms: measured.p99_ms(),
            cpu_us_per_request: cpu.as_secs_f64() * 1e6 / measured.sent.max(1) as f64,
            unexpected: measured.unexpected,
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/request, {} unexpected",
            self.name,
            self.per_second,
            self.p50_ms,
            self.p99_ms,
            self.cpu_us_per_request,
            self.unexpected
        )
    }
}

pub struct Report {
    command: String,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    small: u64,
    large: u64,
    large_customer: u64,
    pub fsync_per_second: f64,
    pub ceiling: Option<Run>,
    /// Backend, population, run.
    pub runs: Vec<(String, u64, Run)>,
    pub startup: Vec<(String, u64, Duration)>,
    pub peak_rss: Vec<(String, u64, u64)>,
    pub postgres_skipped: Option<String>,
}

struct Target {
    what: String,
    goal: String,
    measured: String,
    met: bool,
    /// Whether the goal applies: the targets are SQLite's; PostgreSQL's figures are reported
    /// beside them.
    binding: bool,
}

impl Target {
    fn verdict(&self) -> &'static str {
        match (self.binding, self.met) {
            (false, _) => "reported",
            (true, true) => "met",
            (true, false) => "missed",
        }
    }
}

impl Report {
    pub fn new(args: &Args) -> Self {
        Self {
            command: std::env::args().collect::<Vec<_>>().join(" "),
            connections: args.connections,
            duration: args.duration,
            warmup: args.warmup,
            small: args.small,
            large: args.large,
            large_customer: args.large_customer,
            fsync_per_second: 0.0,
            ceiling: None,
            runs: Vec::new(),
            startup: Vec::new(),
            peak_rss: Vec::new(),
            postgres_skipped: None,
        }
    }

    fn run(&self, backend: &str, size: u64, name: &str) -> Option<&Run> {
        self.runs
            .iter()
            .find(|(b, s, r)| b == backend && *s == size && r.name == name)
            .map(|(_, _, r)| r)
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let ceiling = self.ceiling.as_ref().map_or(0.0, |c| c.per_second);
        for backend in ["SQLite", "PostgreSQL"] {
            let Some(get) = self.run(backend, self.large, "GET registrationstatus") else {
                continue;
            };
            let ratio = get.per_second / ceiling;
            targets.push(Target {
                what: format!(
                    "{backend}: GET at {} subscriptions vs bare axum",
                    self.large
                ),
                goal: ">= 60 %".into(),
                measured: format!("{:.0} %", ratio * 100.0),
                met: ratio >= 0.6,
                binding: backend == "SQLite",
            });
            targets.push(Target {
                what: format!("{backend}: GET p99 at {} connections", self.connections),
                goal: "< 5 ms".into(),
                measured: format!("{:.2} ms", get.p99_ms),
                met: get.p99_ms < 5.0,
                binding: backend == "SQLite",
            });
            if let Some(small) = self.run(backend, self.small, "GET registrationstatus") {
                let ratio = get.per_second / small.per_second;
                targets.push(Target {
                    what: format!(
                        "{backend}: GET at {} vs at {} subscriptions",
                        self.large, self.small
                    ),
                    goal: ">= 90 %".into(),
                    measured: format!("{:.0} %", ratio * 100.0),
                    met: ratio >= 0.9,
                    binding: backend == "SQLite",
                });
            }
            let ordinary = format!(
                "GET registrationstatus, one customer of {}",
                crate::population::PER_CUSTOMER
            );
            let on_large = format!(
                "GET registrationstatus, one customer of {}",
                self.large_customer
            );
            if let (Some(ordinary), Some(on_large)) = (
                self.run(backend, self.large, &ordinary),
                self.run(backend, self.large, &on_large),
            ) {
                let ratio = on_large.per_second / ordinary.per_second;
                targets.push(Target {
                    what: format!(
                        "{backend}: GET on a customer of {} vs one of {}",
                        self.large_customer,
                        crate::population::PER_CUSTOMER
                    ),
                    goal: ">= 90 %".into(),
                    measured: format!("{:.0} %", ratio * 100.0),
                    met: ratio >= 0.9,
                    binding: backend == "SQLite",
                });
            }
            if let Some(page) = self.run(backend, self.large, crate::CUSTOMERS_PAGE) {
                targets.push(Target {
                    what: format!("{backend}: a page of 100 customers, at 10,000 customers"),
                    goal: "what it costs".into(),
                    measured: format!(
                        "{:.0} pages/s, p99 {:.2} ms, {:.0} µs CPU/page",
                        page.per_second, page.p99_ms, page.cpu_us_per_request
                    ),
                    met: true,
                    binding: false,
                });
            }
            if let Some(post) = self.run(backend, self.large, "POST registrations") {
                let ratio = post.per_second / self.fsync_per_second;
                targets.push(Target {
                    what: format!("{backend}: durable POST registrations vs one fsync per write"),
                    goal: ">= 3x".into(),
                    measured: format!("{ratio:.1}x"),
                    met: ratio >= 3.0,
                    binding: backend == "SQLite",
                });
                targets.push(Target {
                    what: format!(
                        "{backend}: POST registrations p99 at {} connections",
                        self.connections
                    ),
                    goal: "< 20 ms".into(),
                    measured: format!("{:.2} ms", post.p99_ms),
                    met: post.p99_ms < 20.0,
                    binding: backend == "SQLite",
                });
            }
            if let Some(peak) = self
                .peak_rss
                .iter()
                .filter(|(b, _, _)| b == backend)
                .map(|(_, _, r)| *r)
                .max()
            {
                targets.push(Target {
                    what: format!("{backend}: peak RSS under load"),
                    goal: "<= 64 MB".into(),
                    measured: format!("{:.1} MB", peak as f64 / 1_048_576.0),
                    met: peak <= 64 * 1_048_576,
                    binding: backend == "SQLite",
                });
            }
            if let Some((_, _, startup)) = self
                .startup
                .iter()
                .find(|(b, s, _)| b == backend && *s == self.large)
            {
                targets.push(Target {
                    what: format!(
                        "{backend}: ready after start, {} subscriptions stored",
                        self.large
                    ),
                    goal: "<= 100 ms".into(),
                    measured: format!("{:.0} ms", startup.as_secs_f64() * 1000.0),
                    met: *startup <= Duration::from_millis(100),
                    binding: backend == "SQLite",
                });
            }
        }
        targets
    }

    pub fn summary(&self) -> String {
        let mut text = String::new();
        for target in self.targets() {
            let _ = writeln!(
                text,
                "{:8} {}: {} (target {})",
                target.verdict().to_uppercase(),
                target.what,
                target.measured,
                target.goal
            );
        }
        text
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Written by the benchmark (`bench/run`); do not edit by hand. Each load run: {} connections, \
             {} of warm-up, then {} measured, closed loop (each connection sends its next request when the \
             previous answer is read). The servers run pinned to one core, the load generator on the other.\n",
            self.connections,
            humantime::format_duration(self.warmup),
            humantime::format_duration(self.duration)
        );
        let _ = writeln!(
            md,
            "How each figure is measured: the load generator is this crate's own (hyper client, one task per \
             connection, latencies in an HdrHistogram); it busy-polls on its core so that its wake-ups do not \
             land on the server's. CPU per request is the server process's user + system time over the measured \
             window (`/proc/PID/stat`) divided by the requests answered; peak RSS is `VmHWM` after all runs on \
             that database; ready after start is the time from spawning the process to its first `200` from \
             `/readyz`. The service runs with `PC_LOG=warn` and `--registration-delay manual`, so the worker \
             does not compete with the measured requests.\n"
        );
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(
            md,
            "The targets are set for the embedded default, SQLite; PostgreSQL's figures (with the database \
             server on the same two cores, unpinned) are reported beside them.\n"
        );
        let _ = writeln!(md, "| target | goal | measured | |\n|---|---|---|---|");
        for target in self.targets() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                target.what,
                target.goal,
                target.measured,
                match target.verdict() {
                    "missed" => "**missed**",
                    verdict => verdict,
                }
            );
        }
        let _ = writeln!(md, "\n## Ceilings\n");
        let _ = writeln!(md, "| ceiling | figure |\n|---|---|");
        if let Some(ceiling) = &self.ceiling {
            let _ = writeln!(
                md,
                "| bare axum answering the same bytes to the same requests (it ignores the token and keeps no state) | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.1} µs CPU/request |",
                ceiling.per_second, ceiling.p50_ms, ceiling.p99_ms, ceiling.cpu_us_per_request
            );
        }
        let _ = writeln!(
            md,
            "| one writer, write + fsync per 256-byte record | {:.0} writes/s |",
            self.fsync_per_second
        );
        let _ = writeln!(md, "\n## The service\n");
        let _ = writeln!(
            md,
            "Every request carries a real RS256 token (verified once, then remembered by its connection and by the \
             verified-token cache) and reads or durably writes the database; GETs spread over the whole population, each POST is on a \
             subscription of its own with an `MS-RequestId` of its own (a replay repeats one of 1,000 earlier ones).\n"
        );
        let _ = writeln!(
            md,
            "| backend | subscriptions | scenario | req/s | p50 ms | p99 ms | CPU µs/request | unexpected answers |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for (backend, size, run) in &self.runs {
            let _ = writeln!(
                md,
                "| {backend} | {size} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} |",
                run.name,
                run.per_second,
                run.p50_ms,
                run.p99_ms,
                run.cpu_us_per_request,
                run.unexpected
            );
        }
        let _ = writeln!(
            md,
            "\n| backend | subscriptions | ready after start | peak RSS |\n|---|---|---|---|"
        );
        for (backend, size, startup) in &self.startup {
            let rss = self
                .peak_rss
                .iter()
                .find(|(b, s, _)| b == backend && s == size)
                .map_or_else(String::new, |(_, _, r)| {
                    format!("{:.1} MB", *r as f64 / 1_048_576.0)
                });
            let _ = writeln!(
                md,
                "| {backend} | {size} | {:.0} ms | {rss} |",
                startup.as_secs_f64() * 1000.0
            );
        }
        if let Some(reason) = &self.postgres_skipped {
            let _ = writeln!(md, "\nPostgreSQL was skipped: {reason}.");
        }
        let _ = writeln!(md, "\n## How it was run\n");
        let _ = writeln!(
            md,
            "```sh\nbench/run{}\n```\n",
            self.command
                .split_once(' ')
                .map_or(String::new(), |(_, rest)| format!(" {rest}"))
        );
        let _ = writeln!(
            md,
            "which builds in release mode and runs `{}`.\n",
            self.command
        );
        let _ = writeln!(md, "## Machine\n\n```text\n{}```", machine());
        md
    }
}

fn machine() -> String {
    let mut text = String::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let _ = writeln!(
        text,
        "CPU: {} ({} cores online)",
        model.unwrap_or_else(|| "unknown".into()),
        cores
    );
    let memory = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .map(|v| v.trim().to_owned())
    });
    let _ = writeln!(
        text,
        "Memory: {}",
        memory.unwrap_or_else(|| "unknown".into())
    );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let _ = writeln!(text, "Kernel: Linux {}", kernel.trim());
    if let Ok(output) = std::process::Command::new("rustc")
        .arg("--version")
        .output()
    {
        let _ = write!(
            text,
            "Compiler: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    text
}
