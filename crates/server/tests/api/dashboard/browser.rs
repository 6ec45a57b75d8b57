//! The dashboard in a real headless Chromium, driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`): sign in with a wrong token and then the right one, watch a registration go
//! from `Registering` to `Registered`, find a request by its correlation id, and keep a screenshot
//! in `target/tmp/dashboard.png`.
//!
//! Without chromedriver the test says it was skipped, unless `CI` is set: then it fails.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use partner_center_client::PartnerCenter;
use partner_center_server::RegistrationDelay;
use serde_json::json;

use crate::helpers::*;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The browser itself, or Debian's wrapper script around it.
const CHROMIUM: [&str; 2] = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];
/// The longest any one step may take.
const STEP: Duration = Duration::from_secs(15);

/// chromedriver on a port of its choosing on 127.0.0.1; stopped when dropped.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    /// Starts it, and waits until its `/status` says it is ready.
    async fn start() -> Self {
        let mut child = Command::new(CHROMEDRIVER)
            .args(["--port=0", "--log-level=WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        // It says which port it took on its first lines; the rest is drained so it never blocks.
        let stdout = child.stdout.take().unwrap();
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) =
                    line.strip_prefix("ChromeDriver was started successfully on port ")
                {
                    let _ = port_tx.send(port.trim_end_matches('.').parse::<u16>().ok());
                }
            }
        });
        let mut driver = Self {
            child,
            url: String::new(),
        };
        let port = port_rx
            .recv_timeout(STEP)
            .ok()
            .flatten()
            .expect("chromedriver says its port");
        driver.url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + STEP;
        let http = reqwest::Client::new();
        loop {
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(response) = status {
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver is not ready after {STEP:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A new headless browser session.
    async fn session(&self) -> Client {
        let binary = CHROMIUM
            .iter()
            .find(|path| std::path::Path::new(path).exists())
            .expect("chromium is installed");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,820", "--force-device-scale-factor=1", "--hide-scrollbars",
                    "--no-first-run", "--disable-extensions",
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether chromedriver is there; without it, skipped with a notice (failed under CI).
fn chromedriver_installed() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{CHROMEDRIVER} is missing: install chromium and chromium-driver"
    );
    eprintln!("skipped: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_watches_a_registration_complete_and_finds_a_request_in_a_browser() {
    if !chromedriver_installed() {
        return;
    }
    let app = TestApp::spawn_with(TestOptions {
        admin_token: Some(ADMIN),
        delay: RegistrationDelay::Manual,
        ..TestOptions::default()
    })
    .await;
    let driver = Chromedriver::start().await;
    let browser = driver.session().await;
    // The steps run apart, so that the browser is closed whatever becomes of them.
    let steps = tokio::spawn(drive(
        browser.clone(),
        format!("http://{}", app.addr),
        app.partner(SANDBOX_PARTNER),
    ));
    let outcome = steps.await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// The text of the element `css` stands for, once it is `expected` (polled, within [`STEP`]).
async fn wait_for_text(browser: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let text = match browser.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} reads {text:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn click(browser: &Client, locator: Locator<'_>) {
    browser
        .wait()
        .at_most(STEP)
        .for_element(locator)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn drive(browser: Client, base: String, partner: PartnerCenter) {
    let url = |path: &str| format!("{base}{path}");
    let wait = |css: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .wait()
                .at_most(STEP)
                .for_element(Locator::Css(css))
                .await
                .unwrap()
        }
    };

    // Signed out, the dashboard sends to the sign-in form; a wrong token shows an error, and no data.
    browser.goto(&url("/admin/")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/admin/signin");
    wait("#token")
        .await
        .send_keys("not-the-admin-token")
        .await
        .unwrap();
    click(&browser, Locator::Css("form.signin button")).await;
    assert_eq!(
        wait(".error").await.text().await.unwrap(),
        "That is not the admin token."
    );
    let page = browser.source().await.unwrap();
    assert!(
        !page.contains("Contoso") && !page.contains(SANDBOX_PARTNER),
        "{page}"
    );

    // The right one: the partners, then down to a subscription.
    wait("#token").await.send_keys(ADMIN).await.unwrap();
    click(&browser, Locator::Css("form.signin button")).await;
    wait("#partners").await;
    click(&browser, Locator::LinkText("Contoso Sandbox")).await;
    wait("#customers").await;
    click(&browser, Locator::LinkText("Fabrikam")).await;
    wait("#subscriptions").await;
    let subscription = format!(
        "/admin/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}"
    );
    click(&browser, Locator::Css(&format!("a[href='{subscription}']"))).await;
    wait_for_text(&browser, "#registration-state", "NotRegistered").await;

    // Registered through the API: the page shows it registering; its Advance button completes it.
    let sdk_subscription = partner
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(AZURE_PLAN.parse().unwrap());
    sdk_subscription.registration().register().await.unwrap();
    browser
        .goto(&url(&format!("{subscription}?refresh=off")))
        .await
        .unwrap();
    wait_for_text(&browser, "#registration-state", "Registering").await;
    click(&browser, Locator::Css("#registration button[name=advance]")).await;
    wait_for_text(&browser, "#registration-state", "Registered").await;
    assert_eq!(browser.current_url().await.unwrap().path(), subscription);
    assert_eq!(
        sdk_subscription
            .registration_status()
            .get()
            .await
            .unwrap()
            .status
            .to_string(),
        "Registered"
    );

    // A request with a known correlation id, found in the journal by it.
    let correlation = "browser-test-correlation-7f3a";
    let traced =
        partner.with(partner_center_client::RequestContext::new().correlation_id(correlation));
    traced
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .get()
        .await
        .unwrap();
    partner
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .get()
        .await
        .unwrap();
    browser
        .goto(&url("/admin/journal?refresh=off"))
        .await
        .unwrap();
    wait("#correlationId")
        .await
        .send_keys(correlation)
        .await
        .unwrap();
    click(&browser, Locator::Css("form.filter button")).await;
    // The unfiltered page has correlation links too: wait for the filtered page itself (its
    // address carries the filter) before reading its rows.
    let deadline = Instant::now() + STEP;
    while !browser
        .current_url()
        .await
        .unwrap()
        .query()
        .is_some_and(|query| query.contains("correlationId="))
    {
        assert!(Instant::now() < deadline, "the filter was not submitted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait("a.correlation").await;
    let rows = browser
        .find_all(Locator::Css("#requests tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = rows[0].text().await.unwrap();
    assert!(
        row.contains(correlation) && row.contains(&format!("/v1/customers/{CUSTOMER}")),
        "{row}"
    );

    // A registration left in progress, for the picture of the customer's page.
    partner
        .customers()
        .by_id(CUSTOMER.parse().unwrap())
        .subscriptions()
        .by_id(LEGACY_AZURE.parse().unwrap())
        .registration()
        .register()
        .await
        .unwrap();
    browser
        .goto(&url(&format!(
            "/admin/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}"
        )))
        .await
        .unwrap();
    wait("#subscriptions").await;
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}
