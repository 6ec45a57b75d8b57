//! The `partner-center` binary, run as users run it.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use partner_center_server::{Secret, dev};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_partner-center");
const DEADLINE: Duration = Duration::from_secs(20);

#[path = "cli/reliability.rs"]
mod reliability;
#[path = "cli/tls_config.rs"]
mod tls_config;

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PC_")) {
        command.env_remove(name);
    }
    command.env("PC_LOG", "warn");
    command
}

/// A running `partner-center serve`, with what it printed up to a marker line. Its standard error
/// is read as it comes (a full pipe would block the service's logging), into `logs`.
struct Running {
    child: Child,
    base: String,
    banner: String,
    logs: Arc<Mutex<String>>,
    drain: tokio::task::JoinHandle<()>,
    _stdout: Lines<BufReader<ChildStdout>>,
}

async fn start(mut command: Command, until: &str) -> Running {
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let logs = Arc::new(Mutex::new(String::new()));
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let drain = tokio::spawn({
        let logs = logs.clone();
        async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                let mut logs = logs.lock().unwrap();
                logs.push_str(&line);
                logs.push('\n');
            }
        }
    });
    let mut banner = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains(until) {
                return true;
            }
        }
        false
    };
    if !tokio::time::timeout(DEADLINE, read).await.unwrap() {
        let _ = tokio::time::timeout(DEADLINE, child.wait()).await;
        let _ = tokio::time::timeout(DEADLINE, drain).await;
        let stderr = logs.lock().unwrap().clone();
        panic!("the service stopped before printing {until:?}:\n{banner}\n{stderr}");
    }
    let base = banner
        .lines()
        .find_map(|l| l.strip_prefix("Listening on "))
        .unwrap()
        .trim()
        .to_owned();
    Running {
        child,
        base,
        banner,
        logs,
        drain,
        _stdout: lines,
    }
}

impl Running {
    /// Sends `signal` and waits (bounded) for the process to exit.
    async fn stop_with(self, signal: &str) -> ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid])
            .status()
            .unwrap();
        assert!(killed.success());
        self.exited().await
    }

    /// Waits (bounded) for the process to exit, and for its last logs.
    async fn exited(mut self) -> ExitStatus {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(DEADLINE, self.drain)
            .await
            .unwrap()
            .unwrap();
        status
    }
}

async fn run_to_exit(mut command: Command) -> (ExitStatus, String) {
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_demo_prints_the_whole_story_in_commands_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        command(
            dir.path(),
            &[
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--registration-delay",
                "0s",
                "--order-provisioning-delay",
                "0s",
            ],
        ),
        "Press Ctrl+C",
    )
    .await;
    let banner = &running.banner;
    let token = banner
        .split("export PC_TOKEN='")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        banner.contains("DZH318Z0BQ36:0048:DZH318Z08C0T"),
        "the catalog is listed: {banner}"
    );

    // The CLI story, pasted into a shell as printed: export, register, buy a reservation, buy a
    // SaaS plan, activate it, cancel it.
    let story: Vec<&str> = banner
        .lines()
        .map(str::trim)
        .filter(|l| {
            ["export ", "partner-center ", "ORDER="]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert!(story.len() >= 9, "{banner}");
    let script = format!("set -eu\n{}\n", story.join("\n"));
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut shell = Command::new("bash");
    shell
        .args(["-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("PC_POLL_INTERVAL", "50ms")
        .env("PC_LOG", "warn")
        .kill_on_drop(true);
    for (name, _) in std::env::vars().filter(|(name, _)| {
        name.starts_with("PC_") && name != "PC_POLL_INTERVAL" && name != "PC_LOG"
    }) {
        shell.env_remove(name);
    }
    let output = tokio::time::timeout(DEADLINE, shell.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // What the story did, read through the API.
    let http = reqwest::Client::new();
    let customer = format!("{}/v1/customers/{}", running.base, dev::DEMO_CUSTOMER);
    let orders: Value = http
        .get(format!("{customer}/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["cancelled", "completed"],
        "newest first: {orders}"
    );
    let reservation = &orders["items"][1]["lineItems"][0];
    assert_eq!(reservation["offerId"], "DZH318Z0BQ36:0048:DZH318Z08C0T");
    assert!(reservation["subscriptionId"].is_string(), "{reservation}");

    // The curl commands, as printed (the activation twice: the second is refused).
    let curls: Vec<&str> = banner
        .lines()
        .filter_map(|l| l.trim().strip_prefix("curl "))
        .collect();
    assert_eq!(curls.len(), 3, "{banner}");
    let mut outcomes = Vec::new();
    for curl in curls.iter().chain(&curls[1..2]) {
        assert!(
            curl.contains("-H \"Authorization: Bearer $PC_TOKEN\""),
            "{curl}"
        );
        let url = curl.split_whitespace().last().unwrap();
        assert!(url.starts_with(&running.base), "{url}");
        let request = if curl.contains("-X POST") {
            http.post(url)
        } else {
            http.get(url)
        };
        let response = request.bearer_auth(&token).send().await.unwrap();
        let status = response.status().as_u16();
        outcomes.push((status, response.json::<Value>().await.unwrap()));
    }
    assert_eq!(
        (outcomes[0].0, outcomes[0].1["status"].as_str()),
        (200, Some("Registered"))
    );
    assert_eq!(
        (outcomes[1].0, outcomes[1].1["status"].as_str()),
        (200, Some("Success"))
    );
    assert_eq!(outcomes[2].0, 200);
    assert_eq!(outcomes[2].1["totalCount"], 2);
    assert_eq!(
        (outcomes[3].0, outcomes[3].1["code"].as_i64()),
        (400, Some(800_041))
    );

    let status = running.stop_with("TERM").await;
    assert!(status.success(), "{status:?}");
    // The default database is a file in the working directory.
    assert!(dir.path().join("partner-center.db").exists());
}

const SEED_PARTNER: &str = "a1e5d2a0-0000-4000-8000-0000000000a1";
const SEED_CUSTOMER: &str = "a2f6e3b1-0000-4000-8000-0000000000a2";
const SEED_SAAS: &str = "a4b8a5d3-0000-4000-8000-0000000000a4";

fn seed_file(dir: &Path) -> String {
    let fixture = serde_json::json!({"partners": [{
        "tenantId": SEED_PARTNER, "name": "Seeded", "sandbox": true,
        "customers": [{"id": SEED_CUSTOMER, "companyName": "Seeded customer",
            "subscriptions": [{"id": SEED_SAAS, "kind": "saas", "status": "pending", "offerName": "SaaS"}]}]
    }]});
    let path = dir.join("seed.json");
    std::fs::write(&path, fixture.to_string()).unwrap();
    path.display().to_string()
}

/// A development token of the seed partner, signed with `secret`, valid for ten minutes.
fn seed_partner_token(secret: &str) -> String {
    dev::dev_token(
        &Secret::new(secret),
        SEED_PARTNER.parse().unwrap(),
        Duration::from_secs(600),
    )
    .unwrap()
}

async fn activate_seeded(base: &str, secret: &str) -> u16 {
    let token = seed_partner_token(secret);
    let url = format!("{base}/v1/customers/{SEED_CUSTOMER}/subscriptions/{SEED_SAAS}/activate");
    reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_seed_is_applied_at_start_and_reapplying_it_keeps_what_clients_did() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path());
    let database = format!("sqlite://{}", dir.path().join("seeded.db").display());
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &database,
        "--seed",
        &seed,
        "--dev-signing-secret",
        "s3cret",
    ];

    let first = start(command(dir.path(), &args), "Listening on").await;
    assert_eq!(activate_seeded(&first.base, "s3cret").await, 200);
    assert!(first.stop_with("INT").await.success());

    let second = start(command(dir.path(), &args), "Listening on").await;
    assert_eq!(
        activate_seeded(&second.base, "s3cret").await,
        400,
        "the activation survived the restart and the re-seed"
    );
    assert!(second.stop_with("TERM").await.success());
}

#[tokio::test]
async fn every_flag_can_come_from_a_pc_environment_variable() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path());
    let mut serve = command(dir.path(), &["serve"]);
    serve
        .env("PC_LISTEN", "127.0.0.1:0")
        .env("PC_DATABASE", "sqlite::memory:")
        .env("PC_SEED", &seed)
        .env("PC_DEV_SIGNING_SECRET", "from-the-environment")
        .env("PC_REGISTRATION_DELAY", "manual");
    let running = start(serve, "Listening on").await;
    assert_eq!(
        activate_seeded(&running.base, "from-the-environment").await,
        200
    );
    assert!(running.stop_with("TERM").await.success());
    assert!(
        !dir.path().join("partner-center.db").exists(),
        "PC_DATABASE was honoured"
    );
}

#[tokio::test]
async fn serving_without_any_token_key_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr) =
        run_to_exit(command(dir.path(), &["serve", "--listen", "127.0.0.1:0"])).await;
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("--jwks-file") && stderr.contains("--dev-signing-secret"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_malformed_seed_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("bad.json");
    std::fs::write(
        &seed,
        "{\"partners\": [{\"tenantId\": \"nope\", \"name\": \"x\"}]}",
    )
    .unwrap();
    let seed = seed.display().to_string();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        "sqlite::memory:",
        "--dev-signing-secret",
        "x",
        "--seed",
        &seed,
    ];
    let (status, stderr) = run_to_exit(command(dir.path(), &args)).await;
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("bad.json") && stderr.contains("GUID") && stderr.contains("line 1"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_malformed_flag_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (status, stderr) = run_to_exit(command(
        dir.path(),
        &["serve", "--registration-delay", "soon"],
    ))
    .await;
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("--registration-delay"), "{stderr}");
}

#[tokio::test]
async fn an_unreadable_jwks_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        "sqlite::memory:",
        "--jwks-file",
        "missing.json",
    ];
    let (status, stderr) = run_to_exit(command(dir.path(), &args)).await;
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("missing.json"), "{stderr}");
}

/// Runs `partner-center token` with `args` and returns the token it prints.
async fn mint(dir: &Path, args: &[&str]) -> String {
    let mut command = command(dir, &[&["token"], args].concat());
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    token
}

fn claims_of(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn token_mints_app_user_tokens_with_or_without_mfa_and_app_only_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["--dev-signing-secret", "s3cret", "--tenant", SEED_PARTNER];
    let user = claims_of(&mint(dir.path(), &base).await);
    assert_eq!(user["tid"], SEED_PARTNER);
    assert_eq!(user["scp"], "user_impersonation");
    assert_eq!(user["amr"], serde_json::json!(["pwd", "mfa"]));
    assert_eq!(user["idtyp"], "user");
    let no_mfa = claims_of(
        &mint(
            dir.path(),
            &[&base[..], &["--no-mfa", "--user", "ops@contoso.example"]].concat(),
        )
        .await,
    );
    assert_eq!(no_mfa["amr"], serde_json::json!(["pwd"]));
    assert_eq!(no_mfa["upn"], "ops@contoso.example");
    let app = claims_of(&mint(dir.path(), &[&base[..], &["--app-only"]].concat()).await);
    assert_eq!(app["idtyp"], "app");
    assert!(app.get("scp").is_none());
}

#[tokio::test]
async fn tokens_from_the_built_in_identity_provider_are_accepted_by_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path());
    let database = format!("sqlite://{}", dir.path().join("idp.db").display());
    let public_url = "http://partner-center.test";
    let serve = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &database,
        "--seed",
        &seed,
        "--identity-provider",
        "--public-url",
        public_url,
    ];
    let running = start(command(dir.path(), &serve), "Listening on").await;
    let mint_args = [
        "--database",
        database.as_str(),
        "--public-url",
        public_url,
        "--tenant",
        SEED_PARTNER,
    ];
    let with_mfa = mint(dir.path(), &mint_args).await;
    let without_mfa = mint(dir.path(), &[&mint_args[..], &["--no-mfa"]].concat()).await;
    assert_eq!(
        claims_of(&with_mfa)["iss"],
        format!("{public_url}/{SEED_PARTNER}/v2.0")
    );

    let url = format!(
        "{}/v1/customers/{SEED_CUSTOMER}/subscriptions/{SEED_SAAS}/activate",
        running.base
    );
    let http = reqwest::Client::new();
    let refused = http
        .post(&url)
        .bearer_auth(&without_mfa)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], 900_421);
    let accepted = http.post(&url).bearer_auth(&with_mfa).send().await.unwrap();
    assert_eq!(accepted.status(), 200);
    assert!(running.stop_with("TERM").await.success());
}

/// Several instances on one PostgreSQL database (skipped without `PC_TEST_POSTGRES_URL`).
mod instances {
    use std::time::Duration;

    use partner_center_store::testing::{PostgresSchema, postgres_url};
    use sqlx::Connection as _;

    use super::*;

    const SECRET: &str = "shared-development-secret";
    const SUBSCRIPTIONS: usize = 200;

    fn subscription(i: usize) -> String {
        format!("d3a7f4c2-0000-4000-8000-{i:012}")
    }

    /// A fixture with the seed partner's customer holding `n` active Azure plans and a pending SaaS.
    fn fleet_seed(dir: &Path, n: usize) -> String {
        let mut subscriptions: Vec<Value> = (0..n)
            .map(|i| serde_json::json!({"id": subscription(i), "kind": "azurePlan", "status": "active"}))
            .collect();
        subscriptions
            .push(serde_json::json!({"id": SEED_SAAS, "kind": "saas", "status": "pending"}));
        let fixture = serde_json::json!({"partners": [{
            "tenantId": SEED_PARTNER, "name": "Seeded", "sandbox": true,
            "customers": [{"id": SEED_CUSTOMER, "subscriptions": subscriptions}]
        }]});
        let path = dir.join("fleet.json");
        std::fs::write(&path, fixture.to_string()).unwrap();
        path.display().to_string()
    }

    async fn instance(dir: &Path, database: &str, seed: &str, extra: &[&str]) -> Running {
        let args = [
            &[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                database,
                "--seed",
                seed,
                "--dev-signing-secret",
                SECRET,
            ][..],
            extra,
        ]
        .concat();
        start(command(dir, &args), "Listening on").await
    }

    fn token() -> String {
        seed_partner_token(SECRET)
    }

    /// Polls (bounded) until `query` answers `expected`: the worker completes asynchronously.
    async fn eventually(db: &mut sqlx::PgConnection, query: &'static str, expected: i64) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let value: i64 = sqlx::query_scalar(query).fetch_one(&mut *db).await.unwrap();
            if value == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{query}` is {value}, never {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_register_200_subscriptions_each_exactly_once() {
        let Some(base) = postgres_url() else { return };
        let schema = PostgresSchema::create(&base).await;
        let dir = tempfile::tempdir().unwrap();
        let seed = fleet_seed(dir.path(), SUBSCRIPTIONS);
        let delay = ["--registration-delay", "0s"];
        let a = instance(dir.path(), &schema.url, &seed, &delay).await;
        let b = instance(dir.path(), &schema.url, &seed, &delay).await;

        let http = reqwest::Client::new();
        let token = token();
        let requests: Vec<_> = (0..SUBSCRIPTIONS)
            .map(|i| {
                let base = if i % 2 == 0 { &a.base } else { &b.base };
                let url = format!(
                    "{base}/v1/customers/{SEED_CUSTOMER}/subscriptions/{}/registrations",
                    subscription(i)
                );
                let request = http.post(url).bearer_auth(&token);
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();
        for request in requests {
            assert_eq!(request.await.unwrap(), 202);
        }

        let mut db = sqlx::PgConnection::connect(&schema.url).await.unwrap();
        eventually(
            &mut db,
            "select count(*) from subscriptions where registration_state = 'Registered'",
            SUBSCRIPTIONS as i64,
        )
        .await;
        let registrations: i64 = sqlx::query_scalar("select count(*) from registrations")
            .fetch_one(&mut db)
            .await
            .unwrap();
        let completed: i64 = sqlx::query_scalar("select count(*) from registrations where state = 'Registered' and completed_at is not null")
            .fetch_one(&mut db)
            .await
            .unwrap();
        let most_per_subscription: i64 =
            sqlx::query_scalar("select coalesce(max(n), 0) from (select count(*) as n from registrations group by subscription_ref) t")
                .fetch_one(&mut db)
                .await
                .unwrap();
        let queued: i64 =
            sqlx::query_scalar("select count(*) from registrations where enqueued_at is not null")
                .fetch_one(&mut db)
                .await
                .unwrap();
        let registering: i64 = sqlx::query_scalar(
            "select count(*) from subscriptions where registration_state = 'Registering'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        assert_eq!(
            (
                registrations,
                completed,
                most_per_subscription,
                queued,
                registering
            ),
            (200, 200, 1, 0, 0)
        );

        assert!(a.stop_with("TERM").await.success());
        assert!(b.stop_with("TERM").await.success());
        db.close().await.unwrap();
        schema.drop().await;
    }

    #[tokio::test]
    async fn work_claimed_by_a_killed_instance_is_completed_by_another_after_the_lease() {
        let Some(base) = postgres_url() else { return };
        let schema = PostgresSchema::create(&base).await;
        let dir = tempfile::tempdir().unwrap();
        let seed = fleet_seed(dir.path(), 1);
        // Instance A claims the registration, then takes an hour to complete it.
        let slow = [
            "--registration-delay",
            "0s",
            "--registration-lease",
            "2s",
            "--registration-processing",
            "1h",
        ];
        let a = instance(dir.path(), &schema.url, &seed, &slow).await;
        let url = format!(
            "{}/v1/customers/{SEED_CUSTOMER}/subscriptions/{}/registrations",
            a.base,
            subscription(0)
        );
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(token())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);

        let mut db = sqlx::PgConnection::connect(&schema.url).await.unwrap();
        eventually(
            &mut db,
            "select count(*) from registrations where enqueued_at is not null and attempts = 1 and lease_until is not null",
            1,
        )
        .await;
        let lease_until: i64 = sqlx::query_scalar(
            "select lease_until from registrations where enqueued_at is not null",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        // A dies holding the claim.
        let killed = a.stop_with("KILL").await;
        assert!(!killed.success());

        let fast = ["--registration-delay", "0s", "--registration-lease", "2s"];
        let b = instance(dir.path(), &schema.url, &seed, &fast).await;
        eventually(
            &mut db,
            "select count(*) from subscriptions where registration_state = 'Registered'",
            1,
        )
        .await;
        let (count, completed_at): (i64, i64) = sqlx::query_as(
            "select count(*), max(completed_at) from registrations where state = 'Registered'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        assert_eq!(count, 1);
        assert!(
            completed_at >= lease_until,
            "completed only once A's lease had passed"
        );
        let queued: i64 =
            sqlx::query_scalar("select count(*) from registrations where enqueued_at is not null")
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert_eq!(queued, 0);

        assert!(b.stop_with("TERM").await.success());
        db.close().await.unwrap();
        schema.drop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicates_sent_to_two_instances_execute_once() {
        let Some(base) = postgres_url() else { return };
        let schema = PostgresSchema::create(&base).await;
        let dir = tempfile::tempdir().unwrap();
        let seed = fleet_seed(dir.path(), 1);
        let manual = ["--registration-delay", "manual"];
        let a = instance(dir.path(), &schema.url, &seed, &manual).await;
        let b = instance(dir.path(), &schema.url, &seed, &manual).await;
        let http = reqwest::Client::new();
        let token = token();
        for (action, subscription, expected) in [
            ("activate", SEED_SAAS.to_owned(), 200),
            ("registrations", subscription(0), 202),
        ] {
            let request_id = uuid::Uuid::new_v4().to_string();
            let requests: Vec<_> = (0..50)
                .map(|i| {
                    let base = if i % 2 == 0 { &a.base } else { &b.base };
                    let url = format!(
                        "{base}/v1/customers/{SEED_CUSTOMER}/subscriptions/{subscription}/{action}"
                    );
                    let request = http
                        .post(url)
                        .bearer_auth(&token)
                        .header("ms-requestid", &request_id);
                    tokio::spawn(async move {
                        let response = request.send().await.unwrap();
                        (response.status().as_u16(), response.text().await.unwrap())
                    })
                })
                .collect();
            let mut outcomes = Vec::new();
            for request in requests {
                outcomes.push(request.await.unwrap());
            }
            assert!(
                outcomes.iter().all(|o| o == &outcomes[0]),
                "{action}: {outcomes:?}"
            );
            assert_eq!(outcomes[0].0, expected, "{action}: {}", outcomes[0].1);
        }
        let mut db = sqlx::PgConnection::connect(&schema.url).await.unwrap();
        let registrations: i64 = sqlx::query_scalar("select count(*) from registrations")
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(registrations, 1);
        assert!(a.stop_with("TERM").await.success());
        assert!(b.stop_with("TERM").await.success());
        db.close().await.unwrap();
        schema.drop().await;
    }
}

#[tokio::test]
async fn migrate_applies_pending_migrations_once_and_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("migrated.db").display());
    let run = || async {
        let mut migrate = command(dir.path(), &["migrate", "--database", &database]);
        let output = tokio::time::timeout(DEADLINE, migrate.output())
            .await
            .unwrap()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run().await;
    assert!(first.lines().count() >= 3, "{first}");
    assert!(
        first.lines().all(|l| l.ends_with("(applied now)")),
        "{first}"
    );
    let second = run().await;
    assert!(
        second.lines().all(|l| l.ends_with("(already applied)")),
        "{second}"
    );
    assert_eq!(first.lines().count(), second.lines().count());
}

#[tokio::test]
async fn admin_commands_operate_a_running_service_which_logs_json() {
    let dir = tempfile::tempdir().unwrap();
    let seed = seed_file(dir.path());
    let mut serve = command(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
            "--seed",
            &seed,
            "--dev-signing-secret",
            "s3cret",
            "--admin-token",
            "t0ken",
            "--registration-delay",
            "manual",
            "--log-format",
            "json",
        ],
    );
    serve.env("PC_LOG", "info");
    let running = start(serve, "Listening on").await;
    let admin = |args: &[&str]| {
        let mut command = command(
            dir.path(),
            &[
                &[
                    "admin",
                    "--base-url",
                    &running.base,
                    "--admin-token",
                    "t0ken",
                ],
                args,
            ]
            .concat(),
        );
        async move {
            let output = tokio::time::timeout(DEADLINE, command.output())
                .await
                .unwrap()
                .unwrap();
            (
                output.status,
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };
    let (status, out, err) = admin(&["partners", "list"]).await;
    assert!(status.success(), "{err}");
    let partners: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(partners[0]["tenantId"], SEED_PARTNER);

    let plan = "a3a3a3a3-0000-4000-8000-0000000000a3";
    let of = ["--partner", SEED_PARTNER, "--customer", SEED_CUSTOMER];
    let (status, _, err) = admin(
        &[
            &["subscriptions", "put"],
            &of[..],
            &[plan, "--kind", "azurePlan", "--status", "active"],
        ]
        .concat(),
    )
    .await;
    assert!(status.success(), "{err}");
    let token = dev::dev_token(
        &Secret::new("s3cret"),
        SEED_PARTNER.parse().unwrap(),
        Duration::from_secs(600),
    )
    .unwrap();
    let url = format!(
        "{}/v1/customers/{SEED_CUSTOMER}/subscriptions/{plan}/registrations",
        running.base
    );
    let http = reqwest::Client::new();
    assert_eq!(
        http.post(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    let (status, out, err) =
        admin(&[&["subscriptions", "advance"], &of[..], &[plan]].concat()).await;
    assert!(status.success(), "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["registrationStatus"],
        "Registered"
    );

    let rule =
        r#"{"route":"activate","count":1,"effect":{"type":"status","status":503,"code":800003}}"#;
    assert!(admin(&["faults", "add", rule]).await.0.success());
    let activate = format!(
        "{}/v1/customers/{SEED_CUSTOMER}/subscriptions/{SEED_SAAS}/activate",
        running.base
    );
    assert_eq!(
        http.post(&activate)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let (status, out, _) = admin(&["requests", "--limit", "1"]).await;
    assert!(status.success());
    let newest: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (newest[0]["status"].as_u64(), newest[0]["fault"].as_str()),
        (Some(503), Some("status"))
    );

    let mut wrong = command(
        dir.path(),
        &[
            "admin",
            "--base-url",
            &running.base,
            "--admin-token",
            "wrong",
            "partners",
            "list",
        ],
    );
    let output = tokio::time::timeout(DEADLINE, wrong.output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("403"));

    // The logs are JSON objects with the request's fields.
    let logs = running.logs.clone();
    assert!(running.stop_with("TERM").await.success());
    let logs = logs.lock().unwrap().clone();
    let served: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["message"] == "request served")
        .collect();
    assert!(!served.is_empty(), "{logs}");
    let event = served.iter().find(|e| e["status"] == 503).unwrap();
    assert_eq!(event["fault"], "status");
    assert_eq!(event["span"]["partner"], SEED_PARTNER);
    assert!(
        event["span"]["request_id"].is_string()
            && event["span"]["route"]
                .as_str()
                .unwrap()
                .ends_with("/activate")
    );
}

/// `register`, `status` and `activate` against a live service: output and exit codes.
mod client {
    use super::*;

    const SECRET: &str = "client-tests-secret";
    const ADMIN: &str = "client-tests-admin";
    const CLIENT_ID: &str = "f1f1f1f1-0000-4000-8000-0000000000c1";
    const CLIENT_SECRET: &str = "client-secret-for-cli-tests";
    const PLAN: &str = "a3a7f4c2-0000-4000-8000-000000000001";
    const FAILING_PLAN: &str = "a3a7f4c2-0000-4000-8000-000000000002";
    const LICENSE: &str = "a3a7f4c2-0000-4000-8000-000000000003";
    const SAAS: &str = "a4b8a5d3-0000-4000-8000-000000000001";
    const OTHER_SAAS: &str = "a4b8a5d3-0000-4000-8000-000000000002";
    const UNKNOWN: &str = "a3a7f4c2-0000-4000-8000-0000000000ff";

    /// A service with the seed partner (and an application), completing registrations at once,
    /// except `FAILING_PLAN`'s, which end in failure; or never by itself, with `manual`.
    async fn service(dir: &Path, delay: &str) -> Running {
        let sub = |id: &str, kind: &str, status: &str| serde_json::json!({"id": id, "kind": kind, "status": status});
        let fixture = serde_json::json!({"partners": [{
            "tenantId": SEED_PARTNER, "name": "Seeded", "sandbox": true,
            "applications": [{"clientId": CLIENT_ID, "name": "cli tests", "clientSecret": CLIENT_SECRET}],
            "customers": [{"id": SEED_CUSTOMER, "subscriptions": [
                sub(PLAN, "azurePlan", "active"), sub(FAILING_PLAN, "azure", "active"),
                sub(LICENSE, "license", "active"), sub(SAAS, "saas", "pending"), sub(OTHER_SAAS, "saas", "pending"),
            ]}]
        }]});
        let seed = dir.join("client-seed.json");
        std::fs::write(&seed, fixture.to_string()).unwrap();
        let faults = dir.join("faults.json");
        let rule = serde_json::json!([{"route": "registrations", "subscription": FAILING_PLAN, "effect": {"type": "failRegistration"}}]);
        std::fs::write(&faults, rule.to_string()).unwrap();
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            "sqlite::memory:",
            "--seed",
            seed.to_str().unwrap(),
            "--dev-signing-secret",
            SECRET,
            "--admin-token",
            ADMIN,
            "--identity-provider",
            "--faults",
            faults.to_str().unwrap(),
            "--registration-delay",
            delay,
        ];
        start(command(dir, &args), "Listening on").await
    }

    fn token() -> String {
        seed_partner_token(SECRET)
    }

    struct Outcome {
        code: i32,
        stdout: String,
        stderr: String,
    }

    impl Outcome {
        fn json(&self) -> Value {
            serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", self.stdout))
        }
    }

    /// Runs the binary with `args` and the `PC_*` variables `env`.
    async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut command = command(dir, args);
        command.envs(env.iter().copied());
        let output = tokio::time::timeout(DEADLINE, command.output())
            .await
            .unwrap()
            .unwrap();
        Outcome {
            code: output.status.code().unwrap(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `args` with the service, the token and the customer, and `subscription` if given.
    fn call<'a>(
        service: &'a Running,
        token: &'a str,
        args: &[&'a str],
        subscription: &'a str,
    ) -> Vec<&'a str> {
        let mut all = args.to_vec();
        all.extend([
            "--base-url",
            &service.base,
            "--token",
            token,
            "--customer",
            SEED_CUSTOMER,
            "--subscription",
            subscription,
        ]);
        all
    }

    #[tokio::test]
    async fn customers_and_subscriptions_are_listed_and_shown_as_tables_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "0s").await;
        let token = token();
        let client = |args: &[&'static str]| {
            let mut all = args.to_vec();
            all.extend([
                "--base-url",
                service.base.as_str(),
                "--token",
                token.as_str(),
            ]);
            all
        };

        let customers = run(dir.path(), &client(&["customers", "list"]), &[]).await;
        assert_eq!(customers.code, 0, "{}", customers.stderr);
        let lines: Vec<&str> = customers.stdout.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["CUSTOMER", "COMPANY", "DOMAIN"]
        );
        assert_eq!(lines.len(), 2, "{}", customers.stdout);
        assert!(lines[1].starts_with(SEED_CUSTOMER), "{}", lines[1]);
        // A customer without a company name gets a domain derived from its id.
        assert!(lines[1].ends_with("onmicrosoft.com"), "{}", lines[1]);

        let json = run(
            dir.path(),
            &client(&["customers", "list", "--page-size", "1", "-o", "json"]),
            &[],
        )
        .await;
        assert_eq!(json.code, 0, "{}", json.stderr);
        assert_eq!(json.json()[0]["id"], SEED_CUSTOMER);
        let none = run(
            dir.path(),
            &client(&["customers", "list", "--filter", "zzz", "-o", "json"]),
            &[],
        )
        .await;
        assert_eq!(none.json(), serde_json::json!([]));

        let mut list_args = client(&["subscriptions", "list"]);
        list_args.extend(["--customer", SEED_CUSTOMER]);
        let listed = run(dir.path(), &list_args, &[]).await;
        assert_eq!(listed.code, 0, "{}", listed.stderr);
        let lines: Vec<&str> = listed.stdout.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            [
                "SUBSCRIPTION",
                "OFFER",
                "NAME",
                "QUANTITY",
                "STATUS",
                "ORDER"
            ]
        );
        assert_eq!(lines.len(), 6, "{}", listed.stdout);
        let plan = lines.iter().find(|l| l.starts_with(PLAN)).unwrap();
        assert!(
            plan.contains("DZH318Z0BPS6:0001:DZH318Z0BNTM") && plan.contains("active"),
            "{plan}"
        );

        let shown = run(
            dir.path(),
            &call(
                &service,
                &token,
                &["subscriptions", "show", "-o", "json"],
                SAAS,
            ),
            &[],
        )
        .await;
        assert_eq!(shown.code, 0, "{}", shown.stderr);
        assert_eq!(shown.json()["status"], "pending");
        assert_eq!(shown.json()["attributes"]["objectType"], "Subscription");
        let unknown = run(
            dir.path(),
            &call(&service, &token, &["subscriptions", "show"], UNKNOWN),
            &[],
        )
        .await;
        assert_eq!(unknown.code, 5, "not found: {}", unknown.stderr);
        assert!(
            unknown.stderr.contains("20003") || unknown.stderr.contains("not found"),
            "{}",
            unknown.stderr
        );
    }

    #[tokio::test]
    async fn register_status_and_activate_print_tables_and_json_and_exit_0() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "0s").await;
        let token = token();

        let status = run(dir.path(), &call(&service, &token, &["status"], PLAN), &[]).await;
        assert_eq!(status.code, 0, "{}", status.stderr);
        assert_eq!(
            status.stdout,
            format!("SUBSCRIPTION                          STATUS\n{PLAN}  NotRegistered\n")
        );

        let waited = run(
            dir.path(),
            &call(
                &service,
                &token,
                &[
                    "register",
                    "--wait",
                    "--poll-interval",
                    "50ms",
                    "-o",
                    "json",
                ],
                PLAN,
            ),
            &[],
        )
        .await;
        assert_eq!(waited.code, 0, "{}", waited.stderr);
        assert_eq!(waited.json()["status"], "Registered");
        assert_eq!(waited.json()["subscriptionId"], PLAN);
        assert!(
            waited.stderr.is_empty(),
            "no spinner off a terminal: {:?}",
            waited.stderr
        );

        // Registering a registered subscription is accepted and says where its status is.
        let again = run(
            dir.path(),
            &call(&service, &token, &["register"], PLAN),
            &[],
        )
        .await;
        assert_eq!(again.code, 0, "{}", again.stderr);
        let status_url = format!(
            "{}/v1/customers/{SEED_CUSTOMER}/subscriptions/{PLAN}/registrationstatus",
            service.base
        );
        let lines: Vec<&str> = again.stdout.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["SUBSCRIPTION", "REGISTRATION", "STATUS", "URL"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [PLAN, "accepted", &status_url]
        );

        let activated = run(
            dir.path(),
            &call(&service, &token, &["activate", "--output", "json"], SAAS),
            &[],
        )
        .await;
        assert_eq!(activated.code, 0, "{}", activated.stderr);
        assert_eq!(
            activated.json(),
            serde_json::json!({"subscriptionId": SAAS, "status": "Success"})
        );
        assert!(service.stop_with("TERM").await.success());
    }

    #[tokio::test]
    async fn every_kind_of_failure_has_its_exit_code_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "0s").await;
        let token = token();
        let expect = |outcome: &Outcome, code: i32, needle: &str| {
            assert_eq!(
                outcome.code, code,
                "stdout {:?}, stderr {:?}",
                outcome.stdout, outcome.stderr
            );
            assert!(
                outcome.stderr.contains(needle),
                "{needle:?} not in {:?}",
                outcome.stderr
            );
        };

        // 3: refused by a business rule, or the registration failed.
        let refused = run(
            dir.path(),
            &call(&service, &token, &["register"], LICENSE),
            &[],
        )
        .await;
        expect(&refused, 3, "code 800011");
        assert!(refused.stdout.is_empty());
        let failed = run(
            dir.path(),
            &call(
                &service,
                &token,
                &["register", "--wait", "--poll-interval", "50ms"],
                FAILING_PLAN,
            ),
            &[],
        )
        .await;
        expect(&failed, 3, "failed");
        assert!(failed.stdout.contains("NotRegistered"), "{}", failed.stdout);
        assert_eq!(
            run(
                dir.path(),
                &call(&service, &token, &["activate"], SAAS),
                &[]
            )
            .await
            .code,
            0
        );
        let twice = run(
            dir.path(),
            &call(&service, &token, &["activate", "-o", "json"], SAAS),
            &[],
        )
        .await;
        expect(&twice, 3, "This item has already been activated.");
        let error = &twice.json()["error"];
        assert_eq!(
            (error["status"].as_u64(), error["code"].as_i64()),
            (Some(400), Some(800_041))
        );
        assert!(
            twice.stderr.contains(error["requestId"].as_str().unwrap()),
            "the ids are in the message"
        );
        assert!(
            twice
                .stderr
                .contains(error["correlationId"].as_str().unwrap())
        );

        // 4: not authenticated, or no token.
        expect(
            &run(
                dir.path(),
                &call(&service, "not-a-token", &["status"], PLAN),
                &[],
            )
            .await,
            4,
            "401",
        );
        let wrong_secret = [
            "status",
            "--base-url",
            &service.base,
            "--customer",
            SEED_CUSTOMER,
            "--subscription",
            PLAN,
            "--tenant",
            SEED_PARTNER,
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            "wrong",
            "--authority",
            &service.base,
        ];
        expect(
            &run(dir.path(), &wrong_secret, &[]).await,
            4,
            "invalid_client",
        );

        // 5: no such subscription.
        expect(
            &run(
                dir.path(),
                &call(&service, &token, &["status"], UNKNOWN),
                &[],
            )
            .await,
            5,
            "code 20003",
        );

        // 6: the service fails, after the retries; or it cannot be reached.
        let admin = run(
            dir.path(),
            &["admin", "--base-url", &service.base, "--admin-token", ADMIN, "faults", "add",
              r#"{"route":"registrationstatus","count":2,"effect":{"type":"status","status":503}}"#],
            &[],
        )
        .await;
        assert_eq!(admin.code, 0, "{}", admin.stderr);
        expect(
            &run(
                dir.path(),
                &call(&service, &token, &["status", "--retries", "1"], PLAN),
                &[],
            )
            .await,
            6,
            "503",
        );
        let unreachable = [
            "status",
            "--base-url",
            "http://127.0.0.1:1",
            "--token",
            &token,
            "--customer",
            SEED_CUSTOMER,
            "--subscription",
            PLAN,
            "--retries",
            "0",
        ];
        expect(&run(dir.path(), &unreachable, &[]).await, 6, "cannot reach");

        // 2: the command line is wrong.
        expect(
            &run(
                dir.path(),
                &call(&service, &token, &["status"], "not-a-guid"),
                &[],
            )
            .await,
            2,
            "not a GUID",
        );
        let no_credentials = [
            "status",
            "--base-url",
            &service.base,
            "--customer",
            SEED_CUSTOMER,
            "--subscription",
            PLAN,
        ];
        expect(&run(dir.path(), &no_credentials, &[]).await, 2, "--token");
        let ftp = [
            "status",
            "--base-url",
            "ftp://x",
            "--token",
            &token,
            "--customer",
            SEED_CUSTOMER,
            "--subscription",
            PLAN,
        ];
        expect(&run(dir.path(), &ftp, &[]).await, 2, "not an http(s) URL");
        assert!(service.stop_with("TERM").await.success());
    }

    #[tokio::test]
    async fn register_wait_shows_a_spinner_on_a_terminal() {
        // `script` (util-linux) runs the command on a pseudo-terminal.
        if std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED: no `script` command to provide a terminal");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "0s").await;
        let token = token();
        let args = call(
            &service,
            &token,
            &["register", "--wait", "--poll-interval", "50ms"],
            PLAN,
        );
        let line = std::iter::once(BIN)
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = tokio::process::Command::new("script");
        script
            .args(["-qec", &line, "/dev/null"])
            .current_dir(dir.path())
            .kill_on_drop(true);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("PC_")) {
            script.env_remove(name);
        }
        let output = tokio::time::timeout(DEADLINE, script.output())
            .await
            .unwrap()
            .unwrap();
        let terminal = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{terminal}");
        assert!(
            terminal.contains(&format!("registering {PLAN}")),
            "{terminal:?}"
        );
        assert!(
            terminal.contains("\x1b[2K"),
            "the spinner clears its line: {terminal:?}"
        );
        assert!(terminal.contains("Registered"), "{terminal:?}");
        assert!(service.stop_with("TERM").await.success());
    }

    #[tokio::test]
    async fn register_wait_gives_up_with_exit_7_and_the_registration_carries_on() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "manual").await;
        let token = token();
        let args = call(
            &service,
            &token,
            &[
                "register",
                "--wait",
                "--poll-interval",
                "50ms",
                "--wait-timeout",
                "300ms",
            ],
            PLAN,
        );
        let outcome = run(dir.path(), &args, &[]).await;
        assert_eq!(outcome.code, 7, "{}", outcome.stderr);
        assert!(outcome.stderr.contains("Registering"), "{}", outcome.stderr);
        let status = run(
            dir.path(),
            &call(&service, &token, &["status", "-o", "json"], PLAN),
            &[],
        )
        .await;
        assert_eq!(status.json()["status"], "Registering");
        assert!(service.stop_with("TERM").await.success());
    }

    #[tokio::test]
    async fn purchases_stop_at_a_line_error_and_orders_and_the_catalog_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "manual").await;
        let token = token();
        let env = [
            ("PC_BASE_URL", service.base.as_str()),
            ("PC_TOKEN", token.as_str()),
            ("PC_CUSTOMER", SEED_CUSTOMER),
        ];
        // The plan is not registered: the cart says so, and nothing is bought (exit 3).
        let refused = run(
            dir.path(),
            &[
                "reservation",
                "buy",
                "--subscription",
                PLAN,
                "--catalog-item",
                "DZH318Z0BQ36:0048:DZH318Z08C0T",
            ],
            &env,
        )
        .await;
        assert_eq!(refused.code, 3, "{}", refused.stderr);
        assert!(refused.stderr.contains("10011"), "{}", refused.stderr);
        // The seed customer has five subscriptions: a sandbox limit stops a SaaS purchase too.
        let limited = run(
            dir.path(),
            &[
                "saas",
                "buy",
                "--catalog-item",
                "DZH318Z0BXWC:0001:DZH318Z0BMJX",
            ],
            &env,
        )
        .await;
        assert_eq!(limited.code, 3, "{}", limited.stderr);
        assert!(limited.stderr.contains("10009"), "{}", limited.stderr);
        let listed = run(dir.path(), &["orders", "list"], &env).await;
        assert_eq!(listed.code, 0, "{}", listed.stderr);
        assert_eq!(
            listed.stdout.trim(),
            "ORDER  STATUS  CREATED  LINE  OFFER  QTY  SUBSCRIPTION"
        );
        // An unknown order is a 404 (exit 5).
        let missing = run(dir.path(), &["orders", "show", "--order", "nope"], &env).await;
        assert_eq!(missing.code, 5, "{}", missing.stderr);
        // A SKU: its inventory checked, its availability found, then the same cart refusal.
        let by_sku = run(
            dir.path(),
            &[
                "reservation",
                "buy",
                "--subscription",
                PLAN,
                "--sku",
                "DZH318Z0BQ36:0048",
            ],
            &env,
        )
        .await;
        assert_eq!(by_sku.code, 3, "{}", by_sku.stderr);
        assert!(
            by_sku.stderr.contains("DZH318Z0BQ36:0048:DZH318Z08C0T"),
            "{}",
            by_sku.stderr
        );
        let no_sku = run(
            dir.path(),
            &[
                "reservation",
                "buy",
                "--subscription",
                PLAN,
                "--sku",
                "DZH318Z0BQ36:9999",
            ],
            &env,
        )
        .await;
        assert_eq!(no_sku.code, 5, "{}", no_sku.stderr);
        // Discovery: products, SKUs, availabilities, an inventory check, and every catalog item.
        let products = run(
            dir.path(),
            &["catalog", "products", "--target-view", "OnlineServices"],
            &env,
        )
        .await;
        assert_eq!(products.code, 0, "{}", products.stderr);
        assert!(
            products.stdout.contains("DZH318Z0BXWC") && products.stdout.contains("Contoso Ltd")
        );
        let skus = run(
            dir.path(),
            &["catalog", "skus", "--product", "DZH318Z0BQ36", "-o", "id"],
            &env,
        )
        .await;
        assert_eq!(
            skus.stdout.lines().collect::<Vec<_>>(),
            ["0047", "0048", "0049", "004A", "004B"]
        );
        let availabilities = run(
            dir.path(),
            &[
                "catalog",
                "availabilities",
                "--product",
                "DZH318Z0BQ36",
                "--sku",
                "0049",
                "-o",
                "id",
            ],
            &env,
        )
        .await;
        assert_eq!(
            availabilities.stdout.trim(),
            "DZH318Z0BQ36:0049:DZH318Z08C0V"
        );
        let inventory = run(
            dir.path(),
            &[
                "catalog",
                "inventory",
                "--product",
                "DZH318Z0BQ36",
                "--subscription",
                PLAN,
                "--region",
                "westus2",
                "-o",
                "id",
            ],
            &env,
        )
        .await;
        assert_eq!(inventory.code, 0, "{}", inventory.stderr);
        assert_eq!(
            inventory.stdout.trim(),
            "DZH318Z0BQ36:0049",
            "only westus2's SKU is available there"
        );
        let catalog = run(dir.path(), &["catalog", "list", "--output", "id"], &env).await;
        assert_eq!(catalog.code, 0, "{}", catalog.stderr);
        assert_eq!(catalog.stdout.lines().count(), 7, "{}", catalog.stdout);
        assert!(catalog.stdout.contains("DZH318Z0BQ36:004B:DZH318Z08C0X"));
        assert!(service.stop_with("TERM").await.success());
    }

    #[tokio::test]
    async fn credentials_target_and_output_come_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path(), "0s").await;
        // Client credentials against the service's own identity provider, all from PC_*.
        let env = [
            ("PC_BASE_URL", service.base.as_str()),
            ("PC_AUTHORITY", service.base.as_str()),
            ("PC_TENANT", SEED_PARTNER),
            ("PC_CLIENT_ID", CLIENT_ID),
            ("PC_CLIENT_SECRET", CLIENT_SECRET),
            ("PC_CUSTOMER", SEED_CUSTOMER),
            ("PC_SUBSCRIPTION", OTHER_SAAS),
            ("PC_OUTPUT", "json"),
            ("PC_REQUEST_ID", "cli-request-1"),
        ];
        let first = run(dir.path(), &["activate"], &env).await;
        assert_eq!(first.code, 0, "{}", first.stderr);
        assert_eq!(first.json()["status"], "Success");
        // The same MS-RequestId again: the first outcome, not "already activated".
        let repeat = run(dir.path(), &["activate"], &env).await;
        assert_eq!((repeat.code, repeat.json()), (0, first.json()));
        let fresh = run(
            dir.path(),
            &["activate", "--request-id", "cli-request-2"],
            &env,
        )
        .await;
        assert_eq!(fresh.code, 3, "{}", fresh.stderr);
        // An empty token is a usage error, not a request without one.
        let empty = run(
            dir.path(),
            &["status"],
            &[
                ("PC_TOKEN", " "),
                ("PC_BASE_URL", service.base.as_str()),
                ("PC_CUSTOMER", SEED_CUSTOMER),
                ("PC_SUBSCRIPTION", PLAN),
            ],
        )
        .await;
        assert_eq!(empty.code, 2, "{}", empty.stderr);
        assert!(empty.stderr.contains("empty"), "{}", empty.stderr);
        assert!(service.stop_with("TERM").await.success());
    }
}
