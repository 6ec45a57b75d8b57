//! What the service acknowledged survives SIGKILL, and nothing executes twice: on SQLite and on
//! PostgreSQL. The crash test writes its figures to `target/tmp/reliability/`, which `.ci/run`
//! prints.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use partner_center_store::testing::{PostgresSchema, postgres_url};

use super::*;

const SECRET: &str = "reliability-tests-secret";
const ADMIN: &str = "reliability-tests-admin";

fn plan(i: usize) -> String {
    format!("c4a7f4c2-0000-4000-8000-{i:012}")
}

fn saas(i: usize) -> String {
    format!("c5b8a5d3-0000-4000-8000-{i:012}")
}

/// A partner that is no integration sandbox (so without purchase limits), whose customer buys.
const BUYER_PARTNER: &str = "a1e5d2a0-0000-4000-8000-0000000000b1";
const BUYER_CUSTOMER: &str = "a2f6e3b1-0000-4000-8000-0000000000b2";
/// The buyer's Azure plan, registered before the load, that reservations are bought on.
const BUYER_PLAN: &str = "a3a7f4c2-0000-4000-8000-0000000000b3";
/// A Standard_B1s reservation in eastus and a SaaS plan, of the built-in catalog.
const RESERVATION: &str = "DZH318Z0BQ36:0048:DZH318Z08C0T";
const SAAS_PLAN: &str = "DZH318Z0BXWC:0001:DZH318Z0BMJX";

fn buyer_token() -> &'static str {
    static TOKEN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        dev::dev_token(
            &Secret::new(SECRET),
            BUYER_PARTNER.parse().unwrap(),
            Duration::from_secs(600),
        )
        .unwrap()
    });
    &TOKEN
}

/// A database (a SQLite file, or a fresh PostgreSQL schema) seeded with `n` active Azure plans and
/// `n` pending SaaS subscriptions of the seed partner's customer.
struct Bed {
    dir: tempfile::TempDir,
    database: String,
    seed: String,
    _schema: Option<PostgresSchema>,
}

impl Bed {
    async fn new(backend: &'static str, n: usize) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let (database, schema) = if backend == "postgres" {
            let schema = PostgresSchema::create(&postgres_url()?).await;
            (schema.url.clone(), Some(schema))
        } else {
            let path = dir.path().join("crash.db");
            (format!("sqlite://{}", path.display()), None)
        };
        let subscriptions: Vec<Value> = (0..n)
            .flat_map(|i| {
                [
                    serde_json::json!({"id": plan(i), "kind": "azurePlan", "status": "active"}),
                    serde_json::json!({"id": saas(i), "kind": "saas", "status": "pending"}),
                ]
            })
            .collect();
        let fixture = serde_json::json!({"partners": [{
            "tenantId": SEED_PARTNER, "name": "Seeded", "sandbox": true,
            "customers": [{"id": SEED_CUSTOMER, "subscriptions": subscriptions}]
        }, {
            "tenantId": BUYER_PARTNER, "name": "Buyer", "sandbox": false,
            "customers": [{"id": BUYER_CUSTOMER, "subscriptions": [
                {"id": BUYER_PLAN, "kind": "azurePlan", "status": "active"}
            ]}]
        }]});
        let seed = dir.path().join("crash-seed.json");
        std::fs::write(&seed, fixture.to_string()).unwrap();
        Some(Self {
            seed: seed.display().to_string(),
            dir,
            database,
            _schema: schema,
        })
    }

    /// Starts the service on the database; registrations complete (and reservation orders are
    /// provisioned) `delay` after they are accepted, and a dead process's claims run out after a
    /// second.
    async fn serve(&self, seed: bool, delay: &str) -> Running {
        self.serve_with(seed, delay, &[]).await
    }

    async fn serve_with(&self, seed: bool, delay: &str, extra: &[&str]) -> Running {
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &self.database,
            "--dev-signing-secret",
            SECRET,
            "--admin-token",
            ADMIN,
            "--registration-delay",
            delay,
            "--order-provisioning-delay",
            delay,
            "--registration-lease",
            "1s",
        ];
        if seed {
            args.extend(["--seed", &self.seed]);
        }
        args.extend(extra);
        start(command(self.dir.path(), &args), "Listening on").await
    }
}

fn token() -> String {
    seed_partner_token(SECRET)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Register,
    Activate,
    /// A direct order of a reservation, by the buyer.
    Order,
    /// A cart of a SaaS plan and its checkout, by the buyer: two requests, each with its own
    /// `MS-RequestId`, sent again together when either got no response.
    Checkout,
}

impl Op {
    const ALL: [Self; 4] = [Self::Register, Self::Activate, Self::Order, Self::Checkout];
}

/// One request and what came of it (`None`: no response, the process died first).
#[derive(Debug, Clone)]
struct Sent {
    op: Op,
    index: usize,
    request_id: String,
    status: Option<u16>,
    /// The orders an acknowledged order or checkout placed.
    orders: Vec<String>,
}

impl Sent {
    fn new(op: Op, index: usize) -> Self {
        Self {
            op,
            index,
            request_id: uuid::Uuid::new_v4().to_string(),
            status: None,
            orders: Vec::new(),
        }
    }

    fn acknowledged(&self) -> bool {
        matches!(
            (self.op, self.status),
            (Op::Register, Some(202))
                | (Op::Activate, Some(200))
                | (Op::Order | Op::Checkout, Some(201))
        )
    }

    /// POSTs `body` to `url` with `request_id`: the status and the body, `None` without an answer.
    async fn post(
        http: &reqwest::Client,
        url: String,
        token: &str,
        request_id: &str,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        let mut request = http
            .post(url)
            .bearer_auth(token)
            .header("MS-RequestId", request_id);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let body = response.text().await.ok()?;
        Some((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    async fn send(&mut self, http: &reqwest::Client, base: &str, token: &str) {
        let seed = format!("{base}/v1/customers/{SEED_CUSTOMER}/subscriptions");
        let buyer = format!("{base}/v1/customers/{BUYER_CUSTOMER}");
        let answer = match self.op {
            Op::Register => {
                let url = format!("{seed}/{}/registrations", plan(self.index));
                Self::post(http, url, token, &self.request_id, None).await
            }
            Op::Activate => {
                let url = format!("{seed}/{}/activate", saas(self.index));
                Self::post(http, url, token, &self.request_id, None).await
            }
            Op::Order => {
                let body = serde_json::json!({"billingCycle": "one_time", "lineItems": [{
                    "lineItemNumber": 0, "offerId": RESERVATION, "quantity": 1,
                    "provisioningContext": {"subscriptionId": BUYER_PLAN, "scope": "shared"}}]});
                Self::post(
                    http,
                    format!("{buyer}/orders"),
                    buyer_token(),
                    &self.request_id,
                    Some(body),
                )
                .await
            }
            Op::Checkout => {
                let body = serde_json::json!({"lineItems": [{"id": 0, "catalogItemId": SAAS_PLAN, "quantity": 1}]});
                let cart_request = format!("{}-cart", self.request_id);
                match Self::post(
                    http,
                    format!("{buyer}/carts"),
                    buyer_token(),
                    &cart_request,
                    Some(body),
                )
                .await
                {
                    Some((201, cart)) => {
                        let url =
                            format!("{buyer}/carts/{}/checkout", cart["id"].as_str().unwrap());
                        Self::post(http, url, buyer_token(), &self.request_id, None).await
                    }
                    other => other,
                }
            }
        };
        self.status = answer.as_ref().map(|(status, _)| *status);
        self.orders = match (self.op, answer) {
            (Op::Order, Some((201, order))) => vec![order["id"].as_str().unwrap().to_owned()],
            (Op::Checkout, Some((201, result))) => result["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned())
                .collect(),
            _ => Vec::new(),
        };
    }
}

fn random() -> u64 {
    // Fresh randomness per call; the test prints what it drew, not a seed.
    let bits = uuid::Uuid::new_v4().as_u128();
    (bits as u64) ^ ((bits >> 64) as u64)
}

/// Eight clients send registrations and activations, each of a subscription not used before, and
/// the buyer's orders and checkouts, until the service stops answering.
/// The clients share `http` (a client is slow to build in a debug build: building one each would
/// eat the round).
async fn drive(http: &reqwest::Client, base: &str, next: &Arc<AtomicUsize>, n: usize) -> Vec<Sent> {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let token = token();
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let (base, next, sent) = (base.to_owned(), next.clone(), sent.clone());
            let (http, token) = (http.clone(), token.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= Op::ALL.len() * n {
                        return;
                    }
                    let mut request = Sent::new(Op::ALL[i % Op::ALL.len()], i / Op::ALL.len());
                    request.send(&http, &base, &token).await;
                    let died = request.status.is_none();
                    sent.lock().unwrap().push(request);
                    if died {
                        return;
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    std::mem::take(&mut *sent.lock().unwrap())
}

async fn admin_get(http: &reqwest::Client, base: &str, path: &str) -> Value {
    admin_get_of(http, base, SEED_PARTNER, SEED_CUSTOMER, path).await
}

async fn admin_get_of(
    http: &reqwest::Client,
    base: &str,
    partner: &str,
    customer: &str,
    path: &str,
) -> Value {
    let response = http
        .get(format!(
            "{base}/admin/v1/partners/{partner}/customers/{customer}{path}"
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// Writes a test's figures where `.ci/run` prints them from, and to standard error.
fn record(name: &str, figures: &Value) {
    let figures = serde_json::to_string_pretty(figures).unwrap();
    eprintln!("{name}: {figures}");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(format!("{name}.json")), &figures).unwrap();
}

/// The figures of one backend's crash test.
#[derive(Debug, Default)]
struct CrashReport {
    backend: &'static str,
    rounds: usize,
    requests: usize,
    acknowledged: usize,
    retried_after_crash: usize,
    replayed: usize,
    acknowledged_but_lost: usize,
    executed_twice: usize,
    replay_mismatches: usize,
    stuck_registering: usize,
    orders_acknowledged: usize,
    stuck_orders: usize,
}

/// Rounds of load, each ended by SIGKILL at a random moment; after each restart, the requests that
/// got no response are retried with their `MS-RequestId` (as the SDKs do) and some acknowledged
/// ones replayed. At the end every acknowledged request must be reflected in state, exactly once.
async fn crash_test(backend: &'static str) {
    const ROUNDS: usize = 12;
    const N: usize = 1500;
    let Some(bed) = Bed::new(backend, N).await else {
        return;
    };
    let http = reqwest::Client::new();
    let token = token();
    let next = Arc::new(AtomicUsize::new(0));
    let mut report = CrashReport {
        backend,
        rounds: ROUNDS,
        ..CrashReport::default()
    };
    let mut all: Vec<Sent> = Vec::new();
    let mut kill_after = Vec::new();

    for round in 0..ROUNDS {
        let service = bed.serve(round == 0, "20ms").await;
        if round == 0 {
            register_buyer_plan(&http, &service.base).await;
        }
        for sent in all.iter_mut().filter(|s| s.status.is_none()) {
            sent.send(&http, &service.base, &token).await;
            report.retried_after_crash += 1;
            assert!(
                sent.status.is_some(),
                "the restarted service answers a retry"
            );
        }
        let acknowledged: Vec<&Sent> = all.iter().filter(|s| s.acknowledged()).collect();
        for original in acknowledged.iter().step_by(7) {
            let mut replay = (*original).clone();
            replay.send(&http, &service.base, &token).await;
            report.replayed += 1;
            if replay.status != original.status || replay.orders != original.orders {
                report.replay_mismatches += 1;
            }
        }

        let delay = Duration::from_millis(20 + random() % 180);
        kill_after.push(delay.as_millis());
        let base = service.base.clone();
        let load = drive(&http, &base, &next, N);
        let kill = async {
            tokio::time::sleep(delay).await;
            assert!(!service.stop_with("KILL").await.success());
        };
        let (sent, ()) = tokio::join!(load, kill);
        all.extend(sent);
    }

    // The last restart: whatever is still unanswered is retried, then state is checked.
    let service = bed.serve(false, "20ms").await;
    for sent in all.iter_mut().filter(|s| s.status.is_none()) {
        sent.send(&http, &service.base, &token).await;
        report.retried_after_crash += 1;
    }
    report.requests = all.len();
    report.acknowledged = all.iter().filter(|s| s.acknowledged()).count();
    for sent in &all {
        assert!(
            sent.acknowledged(),
            "every request succeeds, at the latest when retried: {sent:?}"
        );
    }

    let registered: HashSet<String> = all
        .iter()
        .filter(|s| s.op == Op::Register)
        .map(|s| plan(s.index))
        .collect();
    let activated: HashSet<String> = all
        .iter()
        .filter(|s| s.op == Op::Activate)
        .map(|s| saas(s.index))
        .collect();
    // Registrations complete: wait (bounded) until none is left `Registering`.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let subscriptions = loop {
        let list = admin_get(&http, &service.base, "/subscriptions").await;
        let by_id: HashMap<String, Value> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["id"].as_str().unwrap().to_owned(), s.clone()))
            .collect();
        let registering = by_id
            .values()
            .filter(|s| s["registrationStatus"] == "Registering")
            .count();
        if registering == 0 || tokio::time::Instant::now() >= deadline {
            report.stuck_registering = registering;
            break by_id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (id, subscription) in &subscriptions {
        let expected_registered = registered.contains(id);
        let is_registered = subscription["registrationStatus"] != "NotRegistered";
        if expected_registered && !is_registered {
            report.acknowledged_but_lost += 1;
        }
        assert!(
            expected_registered || !is_registered,
            "{id} was never asked to register"
        );
        let expected_active = activated.contains(id);
        let is_active =
            subscription["status"] == "active" && subscription["activatedAt"].is_string();
        if expected_active && !is_active {
            report.acknowledged_but_lost += 1;
        }
        if subscription["kind"] == "saas" {
            assert!(
                expected_active || subscription["status"] == "pending",
                "{id} was never asked to activate"
            );
        }
    }
    for id in &registered {
        let detail = admin_get(&http, &service.base, &format!("/subscriptions/{id}")).await;
        if detail["registrations"].as_array().unwrap().len() > 1 {
            report.executed_twice += 1;
        }
    }

    // Every acknowledged order is there, once; every reservation order gets provisioned.
    let bought: Vec<&Sent> = all
        .iter()
        .filter(|s| matches!(s.op, Op::Order | Op::Checkout))
        .collect();
    let acknowledged_orders: HashSet<&str> = bought
        .iter()
        .flat_map(|s| s.orders.iter().map(String::as_str))
        .collect();
    report.orders_acknowledged = acknowledged_orders.len();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let orders = loop {
        let orders = admin_get_of(
            &http,
            &service.base,
            BUYER_PARTNER,
            BUYER_CUSTOMER,
            "/orders",
        )
        .await;
        let pending_reservations = orders
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["billingCycle"] == "one_time" && o["status"] == "pending")
            .count();
        if pending_reservations == 0 || tokio::time::Instant::now() >= deadline {
            report.stuck_orders = pending_reservations;
            break orders;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let stored: HashSet<&str> = orders
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    report.acknowledged_but_lost += acknowledged_orders.difference(&stored).count();
    // One order per order or checkout: any more were placed twice.
    report.executed_twice += stored.len().saturating_sub(bought.len());
    let carts = admin_get_of(
        &http,
        &service.base,
        BUYER_PARTNER,
        BUYER_CUSTOMER,
        "/carts",
    )
    .await;
    let checkouts = bought.iter().filter(|s| s.op == Op::Checkout).count();
    report.executed_twice += carts.as_array().unwrap().len().saturating_sub(checkouts);
    let made = admin_get_of(
        &http,
        &service.base,
        BUYER_PARTNER,
        BUYER_CUSTOMER,
        "/subscriptions",
    )
    .await;
    assert_eq!(
        made.as_array().unwrap().len(),
        1 + stored.len(),
        "the plan, and one subscription per order"
    );

    let figures = serde_json::json!({
        "backend": report.backend,
        "rounds": report.rounds,
        "requests": report.requests,
        "acknowledged": report.acknowledged,
        "retriedAfterCrash": report.retried_after_crash,
        "replayed": report.replayed,
        "acknowledgedButLost": report.acknowledged_but_lost,
        "executedTwice": report.executed_twice,
        "replayMismatches": report.replay_mismatches,
        "stuckRegistering": report.stuck_registering,
        "ordersAcknowledged": report.orders_acknowledged,
        "stuckOrders": report.stuck_orders,
        "killedAfterMs": kill_after,
    });
    record(&format!("crash-{backend}"), &figures);

    assert!(
        report.acknowledged > ROUNDS,
        "the load got through: {figures}"
    );
    assert!(
        report.retried_after_crash > 0,
        "some kill fell mid-request: {figures}"
    );
    assert_eq!(report.acknowledged_but_lost, 0, "{figures}");
    assert_eq!(report.executed_twice, 0, "{figures}");
    assert_eq!(report.replay_mismatches, 0, "{figures}");
    assert_eq!(report.stuck_registering, 0, "{figures}");
    assert_eq!(report.stuck_orders, 0, "{figures}");
    assert!(
        report.orders_acknowledged > 0,
        "orders got through: {figures}"
    );
    assert!(service.stop_with("TERM").await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_loses_nothing_acknowledged_and_executes_nothing_twice_across_sigkills() {
    crash_test("sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_loses_nothing_acknowledged_and_executes_nothing_twice_across_sigkills() {
    crash_test("postgres").await;
}

/// The 202 (and the 200 of an activation, the 201 of an order or a checkout) is sent only once the
/// write is on disk: a SIGKILL the moment the response arrives loses nothing, and an order queued
/// before it is provisioned after the restart.
#[tokio::test]
async fn a_registration_acknowledged_just_before_sigkill_survives_it() {
    let bed = Bed::new("sqlite", 1).await.unwrap();
    let http = reqwest::Client::new();
    let token = token();
    let service = bed.serve(true, "manual").await;
    register_buyer_plan_by_hand(&http, &service.base).await;
    let mut orders = Vec::new();
    for op in Op::ALL {
        let mut sent = Sent::new(op, 0);
        sent.send(&http, &service.base, &token).await;
        assert!(sent.acknowledged(), "{sent:?}");
        orders.extend(sent.orders);
    }
    assert!(!service.stop_with("KILL").await.success());

    let service = bed.serve(false, "manual").await;
    let registration =
        admin_get(&http, &service.base, &format!("/subscriptions/{}", plan(0))).await;
    assert_eq!(registration["registrationStatus"], "Registering");
    assert_eq!(registration["registrations"].as_array().unwrap().len(), 1);
    let activation = admin_get(&http, &service.base, &format!("/subscriptions/{}", saas(0))).await;
    assert_eq!(activation["status"], "active");
    // The reservation order, queued before the SIGKILL, is provisioned after the restart.
    for order in &orders {
        let path =
            format!("/admin/v1/partners/{BUYER_PARTNER}/customers/{BUYER_CUSTOMER}/orders/{order}");
        let detail: Value = http
            .get(format!("{}{path}", service.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(detail["status"], "pending", "{detail}");
        if detail["billingCycle"] == "one_time" {
            let advanced = http
                .post(format!("{}{path}/advance", service.base))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            assert_eq!(advanced.status(), 200);
            let advanced: Value = advanced.json().await.unwrap();
            assert_eq!(advanced["status"], "completed");
        }
    }
    assert_eq!(orders.len(), 2);
    assert!(service.stop_with("TERM").await.success());
}

/// Registers the buyer's plan and waits (bounded) until the worker has completed it.
async fn register_buyer_plan(http: &reqwest::Client, base: &str) {
    let url =
        format!("{base}/v1/customers/{BUYER_CUSTOMER}/subscriptions/{BUYER_PLAN}/registrations");
    let response = http
        .post(url)
        .bearer_auth(buyer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let detail = admin_get_of(
            http,
            base,
            BUYER_PARTNER,
            BUYER_CUSTOMER,
            &format!("/subscriptions/{BUYER_PLAN}"),
        )
        .await;
        if detail["registrationStatus"] == "Registered" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the buyer's plan registers: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Registers the buyer's plan and completes the registration through the admin API (for a
/// service whose delay is `manual`).
async fn register_buyer_plan_by_hand(http: &reqwest::Client, base: &str) {
    let url =
        format!("{base}/v1/customers/{BUYER_CUSTOMER}/subscriptions/{BUYER_PLAN}/registrations");
    let response = http
        .post(url)
        .bearer_auth(buyer_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let advance = format!(
        "{base}/admin/v1/partners/{BUYER_PARTNER}/customers/{BUYER_CUSTOMER}/subscriptions/{BUYER_PLAN}/registration/advance"
    );
    let response = http.post(advance).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

/// What the test's proxy in front of PostgreSQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Forwards.
    Up,
    /// Closes every connection through it and refuses new ones: an outage the client sees.
    Down,
    /// Keeps every connection open and accepts new ones, but forwards nothing: a partition or a
    /// hung server, which the client cannot tell from a slow one.
    BlackHole,
}

/// A TCP proxy in front of PostgreSQL that the test can cut the database off with (see [`Link`]).
/// Connections that lived through a black hole are closed when it ends.
struct Proxy {
    addr: std::net::SocketAddr,
    link: Arc<tokio::sync::watch::Sender<Link>>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let link = Arc::new(tokio::sync::watch::channel(Link::Up).0);
        let state = link.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut link = state.subscribe();
                let now = *link.borrow();
                if now == Link::Down {
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if now == Link::BlackHole {
                        // Accepted, never answered; closed when the black hole ends.
                        let _ = link.wait_for(|l| *l != Link::BlackHole).await;
                        return;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let changed = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
                        changed = link.wait_for(|l| *l != Link::Up) => changed.ok().map(|l| *l),
                    };
                    if changed == Some(Link::BlackHole) {
                        // Both ends stay open and silent until it ends.
                        let _ = link.wait_for(|l| *l != Link::BlackHole).await;
                    }
                });
            }
        });
        Self { addr, link }
    }

    fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// One registration request during the outage test, retried with its `MS-RequestId` after a 503.
struct Attempt {
    index: usize,
    status: u16,
    sent: tokio::time::Instant,
    answered: tokio::time::Instant,
}

/// PostgreSQL goes away under load: requests fail fast with 503 (never hang, never 500), `/readyz`
/// says so, and service resumes by itself when the database is back, with nothing acknowledged lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_fast_with_503_and_recovers_by_itself() {
    outage(Link::Down, "outage-postgres").await;
}

/// PostgreSQL stops answering without closing its connections (the proxy keeps them open and
/// forwards nothing): every request, those in flight when it starts too, is answered 503 within the
/// bound (the acquire timeout plus the statement timeout, 2 s here), `/readyz` says unready, and
/// once the proxy forwards again everything works, with nothing acknowledged lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_that_stops_answering_is_bounded_in_time_and_recovers_by_itself() {
    outage(Link::BlackHole, "blackhole-postgres").await;
}

/// A client that gives up after 10 s, so that a service that stops answering fails the test
/// instead of hanging it.
fn bounded_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Registrations under load while the proxy is `outage` for two seconds; the figures go to `name`.
async fn outage(outage: Link, name: &str) {
    const N: usize = 5000;
    let Some(mut bed) = Bed::new("postgres", N).await else {
        return;
    };
    let mut url = reqwest::Url::parse(&bed.database).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    bed.database = url.to_string();
    let service = bed
        .serve_with(
            true,
            "0s",
            &[
                "--database-acquire-timeout",
                "1s",
                "--database-statement-timeout",
                "1s",
            ],
        )
        .await;
    let base = service.base.clone();

    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (base, next, stop) = (base.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                let http = bounded_client();
                let token = token();
                let mut attempts = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    assert!(index < N, "the fixture has enough subscriptions");
                    let mut request = Sent::new(Op::Register, index);
                    // As the SDKs do: a 503 is retried with the same MS-RequestId.
                    loop {
                        let sent = tokio::time::Instant::now();
                        request.send(&http, &base, &token).await;
                        let status = request.status.expect("the service answers");
                        attempts.push(Attempt {
                            index,
                            status,
                            sent,
                            answered: tokio::time::Instant::now(),
                        });
                        if status != 503 || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                attempts
            })
        })
        .collect();

    let http = bounded_client();
    let ready = async |expected: u16| {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let status = http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .status();
            if status == expected {
                return tokio::time::Instant::now();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/readyz never {expected}"
            );
        }
    };
    // Load runs against a healthy database until some registrations are acknowledged.
    let wait_for = async |count: usize| {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let start = next.load(Ordering::Relaxed);
        while next.load(Ordering::Relaxed) < start + count {
            assert!(tokio::time::Instant::now() < deadline, "no progress");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    wait_for(20).await;
    let down = tokio::time::Instant::now();
    proxy.set(outage);
    let not_ready = ready(503).await;
    // The outage lasts two seconds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let up = tokio::time::Instant::now();
    proxy.set(Link::Up);
    let ready_again = ready(200).await;
    wait_for(20).await;
    stop.store(true, Ordering::Relaxed);
    let mut attempts = Vec::new();
    for client in clients {
        attempts.extend(client.await.unwrap());
    }

    let statuses: HashSet<u16> = attempts.iter().map(|a| a.status).collect();
    assert!(
        statuses.iter().all(|s| [202, 503].contains(s)),
        "only 202 and 503: {statuses:?}"
    );
    let first_error = attempts
        .iter()
        .filter(|a| a.status == 503 && a.sent >= down)
        .map(|a| a.answered - down)
        .min()
        .expect("requests failed while the database was down");
    // Every answer given during the outage, those to requests in flight when it began too, came
    // within the bound of when the request (or the outage) began.
    let slowest_during_outage = attempts
        .iter()
        .filter(|a| a.answered >= down && a.sent < up)
        .map(|a| a.answered - a.sent.max(down))
        .max()
        .unwrap();
    let recovered = attempts
        .iter()
        .filter(|a| a.status == 202 && a.sent >= up)
        .map(|a| a.answered - up)
        .min()
        .expect("requests succeed again after the database is back");
    let acknowledged: HashSet<usize> = attempts
        .iter()
        .filter(|a| a.status == 202)
        .map(|a| a.index)
        .collect();

    // Everything acknowledged is there, registered exactly once.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let (lost, registering) = loop {
        let list = admin_get(&http, &base, "/subscriptions").await;
        let by_id: HashMap<&str, &str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap(),
                    s["registrationStatus"].as_str().unwrap(),
                )
            })
            .collect();
        let lost = acknowledged
            .iter()
            .filter(|i| by_id[plan(**i).as_str()] == "NotRegistered")
            .count();
        let registering = by_id.values().filter(|s| **s == "Registering").count();
        if registering == 0 || tokio::time::Instant::now() >= deadline {
            break (lost, registering);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut executed_twice = 0;
    for i in &acknowledged {
        let detail = admin_get(&http, &base, &format!("/subscriptions/{}", plan(*i))).await;
        if detail["registrations"].as_array().unwrap().len() != 1 {
            executed_twice += 1;
        }
    }
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap();
    record(
        name,
        &serde_json::json!({
            "outageMs": ms(up - down),
            "mode": format!("{outage:?}"),
            "acquireTimeoutMs": 1000,
            "statementTimeoutMs": 1000,
            "firstErrorAfterMs": ms(first_error),
            "slowestAnswerDuringOutageMs": ms(slowest_during_outage),
            "notReadyAfterMs": ms(not_ready - down),
            "readyAgainAfterMs": ms(ready_again - up),
            "firstSuccessAfterMs": ms(recovered),
            "attempts": attempts.len(),
            "unavailable": attempts.iter().filter(|a| a.status == 503).count(),
            "acknowledged": acknowledged.len(),
            "acknowledgedButLost": lost,
            "executedTwice": executed_twice,
            "stuckRegistering": registering,
        }),
    );
    // Fail fast: well within the bound (acquire + statement timeout, 2 s) plus a margin for a loaded
    // machine.
    assert!(first_error < Duration::from_secs(4), "{first_error:?}");
    assert!(
        slowest_during_outage < Duration::from_secs(5),
        "{slowest_during_outage:?}"
    );
    assert!(recovered < Duration::from_secs(10), "{recovered:?}");
    assert_eq!(lost, 0);
    assert_eq!(executed_twice, 0);
    assert_eq!(registering, 0);
    assert!(service.stop_with("TERM").await.success());
}

/// SIGTERM: the service stops accepting connections, finishes the request in flight, exits 0
/// without waiting for the registration its worker was completing, and that claimed registration is
/// completed after a restart.
#[tokio::test]
async fn sigterm_finishes_the_request_in_flight_and_leaves_queued_work_for_the_next_start() {
    let bed = Bed::new("sqlite", 1).await.unwrap();
    let faults = bed.dir.path().join("latency.json");
    let rule =
        serde_json::json!([{"route": "registrations", "effect": {"type": "latency", "ms": 1500}}]);
    std::fs::write(&faults, rule.to_string()).unwrap();
    // The worker claims the registration at once and takes 20 s over it: SIGTERM finds it claimed.
    let service = bed
        .serve_with(
            true,
            "0s",
            &[
                "--faults",
                faults.to_str().unwrap(),
                "--registration-processing",
                "20s",
            ],
        )
        .await;
    let base = service.base.clone();
    let http = reqwest::Client::new();

    let in_flight = tokio::spawn({
        let base = base.clone();
        async move {
            let mut sent = Sent::new(Op::Register, 0);
            sent.send(&reqwest::Client::new(), &base, &token()).await;
            sent.status
        }
    });
    // The request is in flight once its fault (the added latency) has been counted.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains(
            r#"partner_center_faults_injected_total{effect="latency",route="registrations"} 1"#,
        ) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
    }
    drop(http);

    let pid = service.child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // New connections are refused while the request in flight is still being answered.
    let addr = base.trim_start_matches("http://").to_owned();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting");
    }
    assert!(!in_flight.is_finished(), "refused before the answer");
    assert_eq!(in_flight.await.unwrap(), Some(202));
    assert!(service.exited().await.success());

    // The claimed registration was left as it was; the next start releases the claim and completes it.
    let service = bed.serve(false, "0s").await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let http = reqwest::Client::new();
    loop {
        let detail = admin_get(&http, &service.base, &format!("/subscriptions/{}", plan(0))).await;
        if detail["registrationStatus"] == "Registered" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{detail}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(service.stop_with("TERM").await.success());
}
