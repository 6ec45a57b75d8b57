//! The operator's dashboard under `/admin/`, over HTTP as a browser would use it: signing in and
//! out, the session cookie, CSRF and origin checks, the pages, and the buttons that settle
//! registrations and orders. `browser` drives it in a real headless Chromium.

use partner_center_model::Timestamp;
use partner_center_server::RegistrationDelay;
use partner_center_server::ops::faults::FaultRule;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};

use crate::helpers::*;

mod browser;

/// A client that, like these tests, looks at redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn sign_in_form(app: &TestApp, token: &str) -> reqwest::RequestBuilder {
    client()
        .post(app.url("/admin/signin"))
        .header(ORIGIN, format!("http://{}", app.addr))
        .form(&[("token", token)])
}

/// The `Location` of a `303`.
#[track_caller]
fn see_other(response: &reqwest::Response) -> &str {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    response.headers()[LOCATION].to_str().unwrap()
}

/// The value of the hidden `csrf` field of a page's first form.
fn csrf_of(html: &str) -> String {
    let start = html
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

/// A signed-in operator: the session cookie, and the CSRF token of its forms.
struct Operator<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl<'a> Operator<'a> {
    async fn sign_in(app: &'a TestApp) -> Self {
        let response = sign_in_form(app, ADMIN).send().await.unwrap();
        assert_eq!(see_other(&response), "/admin");
        let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let mut operator = Self {
            app,
            http: client(),
            cookie,
            csrf: String::new(),
        };
        operator.csrf = csrf_of(&operator.page("/admin").await);
        operator
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.app.url(path))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    /// A page's HTML, which must be there.
    async fn page(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        response.text().await.unwrap()
    }

    /// Posts a form as the dashboard's own pages do: from the service's origin, with `fields`.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.app.url(path))
            .header(COOKIE, &self.cookie)
            .header(ORIGIN, format!("http://{}", self.app.addr))
            .form(fields)
            .send()
            .await
            .unwrap()
    }
}

fn subscription_page(subscription: &str) -> String {
    format!("/admin/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}/subscriptions/{subscription}")
}

async fn manual() -> TestApp {
    TestApp::spawn_with(TestOptions {
        admin_token: Some(ADMIN),
        delay: RegistrationDelay::Manual,
        ..TestOptions::default()
    })
    .await
}

e2e! {
    async fn without_an_admin_token_the_dashboard_is_an_unknown_route() {
        let app = TestApp::spawn().await;
        let unknown = fault(client().get(app.url("/no/such/route")).send().await.unwrap(), 404).await;
        for path in ["/admin", "/admin/", "/admin/signin", "/admin/journal", &subscription_page(AZURE_PLAN)] {
            let response = client().get(app.url(path)).send().await.unwrap();
            assert_eq!(fault(response, 404).await, unknown, "{path}");
        }
        assert_eq!(fault(sign_in_form(&app, ADMIN).send().await.unwrap(), 404).await, unknown);
    }
}

e2e! {
    async fn a_wrong_token_shows_an_error_and_no_data_and_sets_no_cookie() {
        let app = manual().await;
        for wrong in ["wrong", "", &ADMIN[..ADMIN.len() - 1], &format!("{ADMIN}x"), &token(SANDBOX_PARTNER)] {
            let response = sign_in_form(&app, wrong).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong}");
            assert!(response.headers().get(SET_COOKIE).is_none());
            let html = response.text().await.unwrap();
            assert!(html.contains("That is not the admin token."), "{html}");
            assert!(!html.contains("Contoso") && !html.contains(SANDBOX_PARTNER), "no data: {html}");
        }
        // Nobody is signed in: the pages send to the sign-in form.
        let response = client().get(app.url("/admin")).send().await.unwrap();
        assert_eq!(see_other(&response), "/admin/signin");
    }
}

e2e! {
    async fn the_admin_token_signs_in_with_a_strict_http_only_cookie_and_guarded_pages() {
        let app = manual().await;
        let response = sign_in_form(&app, ADMIN).send().await.unwrap();
        assert_eq!(see_other(&response), "/admin");
        let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let attributes: Vec<&str> = cookies[0].split("; ").collect();
        assert!(attributes[0].starts_with("pc_dashboard=v1."), "{attributes:?}");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=28800"] {
            assert!(attributes.contains(&attribute), "{attribute} in {attributes:?}");
        }
        assert!(!attributes.contains(&"Secure"), "plain HTTP here");

        let operator = Operator::sign_in(&app).await;
        let response = operator.get("/admin/").await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'") && csp.contains("'unsafe-inline'"), "{csp}");
        assert!(csp.contains("script-src 'none'") && csp.contains("form-action 'self'") && csp.contains("base-uri 'none'"), "{csp}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["referrer-policy"], "same-origin");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let html = response.text().await.unwrap();
        for partner in ["Contoso Sandbox", "Adatum Sandbox", "Northwind Production"] {
            assert!(html.contains(partner), "{partner}: {html}");
        }
        // The pages under it, and the sign-in form, which sends who is signed in on.
        assert!(operator.page(&format!("/admin/partners/{SANDBOX_PARTNER}")).await.contains("Fabrikam"));
        let customer = operator.page(&format!("/admin/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}")).await;
        assert!(customer.contains(AZURE_PLAN) && customer.contains(SAAS), "{customer}");
        assert!(operator.page("/admin/faults").await.contains("No fault rules"));
        assert_eq!(see_other(&operator.get("/admin/signin").await), "/admin");
        // Redirects carry the headers too.
        let redirect = client().get(app.url("/admin/journal")).send().await.unwrap();
        assert_eq!(see_other(&redirect), "/admin/signin");
        assert_eq!(redirect.headers()["x-frame-options"], "DENY");
    }
}

e2e! {
    async fn bearer_tokens_never_open_the_dashboard() {
        let app = manual().await;
        let partner = token(SANDBOX_PARTNER);
        for path in ["/admin", &subscription_page(AZURE_PLAN), "/admin/journal"] {
            for bearer in [partner.as_str(), ADMIN] {
                let response = client().get(app.url(path)).bearer_auth(bearer).send().await.unwrap();
                assert_eq!(see_other(&response), "/admin/signin", "{path}");
                let html = response.text().await.unwrap();
                assert!(!html.contains("Contoso") && !html.contains(AZURE_PLAN), "{html}");
            }
            // Nor does a token put where the cookie goes.
            let response = client().get(app.url(path)).header(COOKIE, format!("pc_dashboard={partner}")).send().await.unwrap();
            assert_eq!(see_other(&response), "/admin/signin");
        }
        // And no button works for them.
        app.registered(AZURE_PLAN).await;
        let response = client().post(app.url(&format!("{}/advance", subscription_page(AZURE_PLAN)))).bearer_auth(ADMIN).form(&[("csrf", "x")]).send().await.unwrap();
        assert_eq!(see_other(&response), "/admin/signin");
        assert_eq!(app.status(AZURE_PLAN).await, "Registering");
    }
}

e2e! {
    async fn a_tampered_expired_or_foreign_cookie_is_refused() {
        let app = manual().await;
        let operator = Operator::sign_in(&app).await;
        let good = operator.cookie.clone();
        let (body, mac) = good.rsplit_once('.').unwrap();
        let (prefix, expiry_and_nonce) = body.split_at("pc_dashboard=v1.".len());
        let (expiry, nonce) = expiry_and_nonce.split_once('.').unwrap();
        let later: u64 = expiry.parse::<u64>().unwrap() + 24 * 3600;
        let first = if mac.starts_with('A') { 'B' } else { 'A' };
        let flipped = format!("{first}{}", &mac[1..]);
        let other = TestApp::spawn_with(TestOptions { admin_token: Some(ADMIN), ..TestOptions::default() }).await;
        let refused = [
            format!("{prefix}{later}.{nonce}.{mac}"),
            format!("{prefix}{expiry}.x{nonce}.{mac}"),
            format!("{body}.{flipped}"),
            format!("{body}."),
            body.to_owned(),
            "pc_dashboard=".to_owned(),
            app.app.dashboard_session_cookie(Timestamp::now().saturating_sub(std::time::Duration::from_secs(1))),
            // Signed by another instance, with another key.
            other.app.dashboard_session_cookie(Timestamp::now().saturating_add(std::time::Duration::from_secs(3600))),
        ];
        for cookie in &refused {
            let response = client().get(app.url("/admin")).header(COOKIE, cookie).send().await.unwrap();
            assert_eq!(see_other(&response), "/admin/signin", "{cookie}");
        }
        // The same cookie as this process signs it, in the future, is good: the refusals were the
        // signature's and the expiry's.
        let fresh = app.app.dashboard_session_cookie(Timestamp::now().saturating_add(std::time::Duration::from_secs(60)));
        let response = client().get(app.url("/admin")).header(COOKIE, &fresh).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // Other cookies beside it do not matter.
        let response = client().get(app.url("/admin")).header(COOKIE, format!("theme=dark; {good}; pc_dashboard=junk")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

e2e! {
    async fn signing_out_ends_the_session_even_for_a_copy_of_its_cookie() {
        let app = manual().await;
        let operator = Operator::sign_in(&app).await;
        let other = Operator::sign_in(&app).await;
        // Signing out needs the session's own token too.
        let response = operator.post("/admin/signout", &[("csrf", &other.csrf)]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(operator.get("/admin").await.status(), StatusCode::OK);

        let response = operator.post("/admin/signout", &[("csrf", &operator.csrf)]).await;
        assert_eq!(see_other(&response), "/admin/signin");
        let cleared = response.headers()[SET_COOKIE].to_str().unwrap();
        assert!(cleared.starts_with("pc_dashboard=;") && cleared.contains("Max-Age=0"), "{cleared}");
        assert_eq!(see_other(&operator.get("/admin").await), "/admin/signin");
        // The other session goes on.
        assert_eq!(other.get("/admin").await.status(), StatusCode::OK);
    }
}

e2e! {
    async fn a_form_without_the_sessions_csrf_token_or_from_another_origin_changes_nothing() {
        let app = manual().await;
        app.registered(AZURE_PLAN).await;
        let operator = Operator::sign_in(&app).await;
        let other = Operator::sign_in(&app).await;
        let advance = format!("{}/advance", subscription_page(AZURE_PLAN));
        let refusals = [
            operator.post(&advance, &[]).await,
            operator.post(&advance, &[("csrf", "")]).await,
            operator.post(&advance, &[("csrf", "bm90IHRoZSB0b2tlbg")]).await,
            operator.post(&advance, &[("csrf", &other.csrf)]).await,
            operator.http.post(app.url(&advance)).header(COOKIE, &operator.cookie).header(ORIGIN, "http://evil.example").form(&[("csrf", &operator.csrf)]).send().await.unwrap(),
            operator.http.post(app.url(&advance)).header(COOKIE, &operator.cookie).header(ORIGIN, "null").form(&[("csrf", &operator.csrf)]).send().await.unwrap(),
            operator.http.post(app.url(&advance)).header(COOKIE, &operator.cookie).header("sec-fetch-site", "cross-site").form(&[("csrf", &operator.csrf)]).send().await.unwrap(),
        ];
        for response in refusals {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8");
        }
        assert_eq!(app.status(AZURE_PLAN).await, "Registering", "nothing changed");
        assert_eq!(app.registrations_of(AZURE_PLAN).await, 1);

        // With the token, from the page's own origin (or no Origin at all), it works.
        let response = operator.http.post(app.url(&advance)).header(COOKIE, &operator.cookie).form(&[("csrf", &operator.csrf)]).send().await.unwrap();
        assert_eq!(see_other(&response), subscription_page(AZURE_PLAN));
        assert_eq!(app.status(AZURE_PLAN).await, "Registered");
    }
}

e2e! {
    async fn an_operator_advances_and_fails_manual_registrations_from_the_dashboard() {
        let app = manual().await;
        let operator = Operator::sign_in(&app).await;
        let page = operator.page(&subscription_page(AZURE_PLAN)).await;
        assert!(page.contains("NotRegistered") && !page.contains(">Advance<"), "{page}");

        app.registered(AZURE_PLAN).await;
        app.registered(LEGACY_AZURE).await;
        let page = operator.page(&subscription_page(AZURE_PLAN)).await;
        assert!(page.contains(r#"<span class="badge warn">Registering</span>"#), "{page}");
        assert!(page.contains(">Advance<") && page.contains(">Fail<"), "{page}");
        assert!(page.contains(r#"<meta http-equiv="refresh" content="10">"#), "{page}");
        assert!(!operator.page(&format!("{}?refresh=off", subscription_page(AZURE_PLAN))).await.contains("http-equiv"));
        // The registration request is among the subscription's requests.
        assert!(page.replace("<wbr>", "").contains(&format!("/subscriptions/{AZURE_PLAN}/registrations</code>")), "{page}");

        let response = operator.post(&format!("{}/advance", subscription_page(AZURE_PLAN)), &[("csrf", &operator.csrf)]).await;
        assert_eq!(see_other(&response), subscription_page(AZURE_PLAN));
        let page = operator.page(&subscription_page(AZURE_PLAN)).await;
        assert!(page.contains(r#"<span class="badge ok">Registered</span>"#) && !page.contains(">Advance<"), "{page}");
        assert_eq!(app.status(AZURE_PLAN).await, "Registered");

        // From the customer's page, back to it.
        let customer = format!("/admin/partners/{SANDBOX_PARTNER}/customers/{CUSTOMER}");
        let response = operator.post(&format!("{}/fail", subscription_page(LEGACY_AZURE)), &[("csrf", &operator.csrf), ("from", "customer")]).await;
        assert_eq!(see_other(&response), customer);
        assert_eq!(app.status(LEGACY_AZURE).await, "NotRegistered");
        assert!(operator.page(&subscription_page(LEGACY_AZURE)).await.contains(r#"<span class="badge bad">Failed</span>"#));

        // Nothing in progress: the admin API's 409, as a page.
        let response = operator.post(&format!("{}/advance", subscription_page(AZURE_PLAN)), &[("csrf", &operator.csrf)]).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert!(response.text().await.unwrap().contains("no registration in progress: it is Registered"));
        // Unknown ids are 404 pages.
        let unknown = operator.get(&subscription_page("d3a7f4c2-0000-4000-8000-0000000000ee")).await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        assert_eq!(operator.get("/admin/partners/not-a-guid").await.status(), StatusCode::NOT_FOUND);
    }
}

e2e! {
    async fn an_operator_provisions_a_pending_order_from_the_dashboard() {
        use partner_center_client::model::purchase::{OrderLineItemRequest, OrderRequest};
        let app = with_admin().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap()).registration().register().await.unwrap();
        app.app.worker().run_due(Timestamp::now().saturating_add(std::time::Duration::from_secs(24 * 3600))).await.unwrap();
        let request = OrderRequest {
            billing_cycle: Some("one_time".into()),
            line_items: vec![OrderLineItemRequest {
                line_item_number: 0,
                offer_id: "DZH318Z0BQ36:0048:DZH318Z08C0T".into(),
                quantity: 1,
                provisioning_context: [("subscriptionId".to_owned(), OTHER_AZURE_PLAN.to_owned()), ("scope".to_owned(), "single".to_owned())].into(),
                ..OrderLineItemRequest::default()
            }],
        };
        let order = customer.orders().create(&request).await.unwrap();

        let operator = Operator::sign_in(&app).await;
        let page_path = format!("/admin/partners/{OTHER_SANDBOX_PARTNER}/customers/{OTHER_CUSTOMER}");
        let page = operator.page(&page_path).await;
        assert!(page.contains(&order.id) && page.contains("prefulfillmentPending") && page.contains(">Provision<"), "{page}");
        let advance = format!("{page_path}/orders/{}/advance", order.id);
        assert_eq!(operator.post(&advance, &[]).await.status(), StatusCode::FORBIDDEN);
        let response = operator.post(&advance, &[("csrf", &operator.csrf)]).await;
        assert_eq!(see_other(&response), format!("{page_path}#orders-section"));
        let page = operator.page(&page_path).await;
        assert!(page.contains(r#"<span class="badge ok">completed</span>"#) && page.contains(r#"<span class="badge ok">fulfilled</span>"#) && !page.contains(">Provision<"), "{page}");
        let read = customer.orders().by_id(&order.id).get().await.unwrap();
        assert_eq!(read.status, "completed");
        // Again: nothing to provision.
        assert_eq!(operator.post(&advance, &[("csrf", &operator.csrf)]).await.status(), StatusCode::CONFLICT);
    }
}

e2e! {
    async fn the_journal_page_finds_requests_by_correlation_id_and_escapes_what_clients_sent() {
        let app = manual().await;
        let partner = token(SANDBOX_PARTNER);
        for correlation in ["find-me-1", "someone-else", "<b>bold</b>&x"] {
            let response = app.http.get(app.url(&format!("/v1/customers/{CUSTOMER}"))).bearer_auth(&partner).header("MS-CorrelationId", correlation).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
        let operator = Operator::sign_in(&app).await;
        let all = operator.page("/admin/journal").await;
        assert!(all.contains("find-me-1") && all.contains("someone-else"), "{all}");
        assert!(all.contains("&lt;b&gt;bold&lt;/b&gt;&amp;x") && !all.contains("<b>bold</b>"), "escaped: {all}");
        assert!(all.contains(r#"href="/admin/journal?correlationId=%3Cb%3Ebold%3C%2Fb%3E%26x""#), "{all}");

        let found = operator.page("/admin/journal?correlationId=find-me-1&refresh=off").await;
        assert!(found.contains("find-me-1") && !found.contains("someone-else"), "{found}");
        assert!(found.replace("<wbr>", "").contains(&format!("<code>/v1/customers/{CUSTOMER}</code>")), "{found}");
        assert_eq!(found.matches("<tr>").count(), 2, "the header and one request: {found}");
        assert!(!found.contains("http-equiv"), "refresh=off");
        assert!(found.contains(r#"name="refresh" value="off""#), "the filter keeps it off");
        let escaped = operator.page("/admin/journal?correlationId=%3Cb%3Ebold%3C%2Fb%3E%26x").await;
        assert_eq!(escaped.matches("<tr>").count(), 2, "{escaped}");
        let none = operator.page("/admin/journal?correlationId=nobody").await;
        assert!(none.contains("No requests."), "{none}");
    }
}

e2e! {
    async fn the_dashboard_is_not_in_the_journal_the_metrics_or_the_openapi_document() {
        let app = manual().await;
        let operator = Operator::sign_in(&app).await;
        for path in ["/admin", "/admin/", "/admin/journal", &subscription_page(AZURE_PLAN)] {
            operator.page(path).await;
        }
        client().get(app.url("/admin/")).send().await.unwrap();
        let entries = journal(&app, "").await;
        assert!(entries.iter().all(|e| !e["path"].as_str().unwrap().starts_with("/admin")), "{entries:?}");
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(!metrics.contains("route=\"/admin"), "{metrics}");
        let openapi: serde_json::Value = app.http.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
        let paths = openapi["paths"].as_object().unwrap();
        assert!(!paths.is_empty() && paths.keys().all(|p| !p.starts_with("/admin")), "{:?}", paths.keys());
    }
}

e2e! {
    async fn the_fault_rules_in_force_are_listed() {
        let rule: FaultRule = serde_json::from_value(serde_json::json!({"route": "activate", "partner": SANDBOX_PARTNER, "count": 3, "effect": {"type": "status", "status": 503, "description": "<i>down</i>"}})).unwrap();
        let app = TestApp::spawn_with(TestOptions { admin_token: Some(ADMIN), faults: vec![rule], ..TestOptions::default() }).await;
        let operator = Operator::sign_in(&app).await;
        let page = operator.page("/admin/faults").await;
        assert!(page.contains("<code>activate</code>") && page.contains(SANDBOX_PARTNER), "{page}");
        assert!(page.contains("status 503, code 800003: &lt;i&gt;down&lt;/i&gt;"), "{page}");
        assert!(page.contains("<td>3</td>"), "remaining: {page}");
    }
}
