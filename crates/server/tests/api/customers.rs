//! `GET /v1/customers` (seek-paged, filtered), `GET /v1/customers/{id}`, and a customer's
//! subscriptions (`GET .../subscriptions`, `GET .../subscriptions/{id}`).

use std::collections::HashSet;

use partner_center_client::CustomerQuery;
use partner_center_client::model::{Collection, Customer, Subscription, XmlForm};
use partner_center_model::fixture::{FixtureCustomer, FixturePartner};
use serde_json::Value;

use crate::helpers::*;

/// `count` more customers of the sandbox partner, named `prefix 0`, `prefix 1`, ...
async fn add_customers(app: &TestApp, prefix: &str, count: usize) -> Vec<String> {
    let customers: Vec<FixtureCustomer> = (0..count)
        .map(|n| FixtureCustomer {
            id: partner_center_model::CustomerId::new_random(),
            company_name: format!("{prefix} {n}"),
            domain: None,
            subscriptions: vec![],
        })
        .collect();
    let ids = customers.iter().map(|c| c.id.to_string()).collect();
    let fixture = partner_center_model::Fixture {
        partners: vec![FixturePartner {
            tenant_id: SANDBOX_PARTNER.parse().unwrap(),
            name: "Contoso Sandbox".into(),
            sandbox: true,
            applications: vec![],
            customers,
        }],
        catalog: None,
    };
    app.app.store().apply_fixture(&fixture).await.unwrap();
    ids
}

async fn get(
    app: &TestApp,
    path: &str,
    tenant: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.http.get(app.url(path)).bearer_auth(token(tenant));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn page(app: &TestApp, path: &str, continuation: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = continuation
        .map(|t| vec![("MS-ContinuationToken", t)])
        .unwrap_or_default();
    let response = get(app, path, SANDBOX_PARTNER, &headers).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

e2e! {
    async fn pages_return_each_customer_exactly_once_even_when_customers_are_added_between_pages() {
        let app = TestApp::spawn().await;
        let mut expected: Vec<String> = vec![CUSTOMER.to_owned()];
        expected.extend(add_customers(&app, "Customer", 24).await);
        let mut seen = Vec::new();
        let mut next = page(&app, "/v1/customers?size=10", None).await;
        assert_eq!(next["totalCount"], 10);
        assert_eq!(next["links"]["self"]["uri"], "/v1/customers?size=10");
        let mut added_later = Vec::new();
        loop {
            seen.extend(ids(&next));
            let Some(token) = next["continuationToken"].as_str().map(str::to_owned) else {
                assert!(next["links"].get("next").is_none());
                break;
            };
            let link = &next["links"]["next"];
            assert_eq!(link["uri"], "/v1/customers?size=10&seekOperation=Next");
            assert_eq!(link["method"], "GET");
            assert_eq!(link["headers"][0]["key"], "MS-ContinuationToken");
            assert_eq!(link["headers"][0]["value"], token.as_str());
            // Customers are added between pages.
            added_later.extend(add_customers(&app, "Late", 3).await);
            next = page(&app, "/v1/customers?size=10&seekOperation=Next", Some(&token)).await;
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no customer twice");
        for id in &expected {
            assert!(seen.contains(id), "{id} skipped");
        }
        // Those added while paging come after the others, in the order they were added.
        assert_eq!(&seen[..expected.len()], expected.as_slice());
        assert!(seen[expected.len()..].iter().all(|id| added_later.contains(id)));
    }
}

e2e! {
    async fn bad_tokens_and_sizes_are_400_and_never_another_partners_customers() {
        let app = TestApp::spawn().await;
        add_customers(&app, "Customer", 5).await;
        let first = page(&app, "/v1/customers?size=2", None).await;
        let token = first["continuationToken"].as_str().unwrap().to_owned();
        let next = "/v1/customers?size=2&seekOperation=Next";
        // The token works for its partner...
        assert_eq!(page(&app, next, Some(&token)).await["totalCount"], 2);
        // ...and for nobody else, edited, or as garbage.
        let stolen = get(&app, next, OTHER_SANDBOX_PARTNER, &[("MS-ContinuationToken", &token)]).await;
        let body = fault(stolen, 400).await;
        assert_eq!(body["code"], 2000);
        let mut edited = token.clone().into_bytes();
        edited[3] = if edited[3] == b'A' { b'B' } else { b'A' };
        let edited = String::from_utf8(edited).unwrap();
        for bad in [edited.as_str(), "garbage", "", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let response = get(&app, next, SANDBOX_PARTNER, &[("MS-ContinuationToken", bad)]).await;
            let body = fault(response, 400).await;
            assert_eq!(body["code"], 2000, "{bad}");
        }
        let missing = fault(get(&app, next, SANDBOX_PARTNER, &[]).await, 400).await;
        assert!(missing["description"].as_str().unwrap().contains("MS-ContinuationToken"));
        for size in ["0", "501", "-1", "many"] {
            let response = get(&app, &format!("/v1/customers?size={size}"), SANDBOX_PARTNER, &[]).await;
            let body = fault(response, 400).await;
            assert!(body["description"].as_str().unwrap().contains("size"), "{size}: {body}");
        }
        let previous = get(&app, "/v1/customers?size=2&seekOperation=Previous", SANDBOX_PARTNER, &[("MS-ContinuationToken", &token)]).await;
        assert_eq!(fault(previous, 400).await["code"], 2000);
        // 1 and 500 are sizes, and no size means 200.
        assert_eq!(page(&app, "/v1/customers?size=1", None).await["totalCount"], 1);
        assert_eq!(page(&app, "/v1/customers?size=500", None).await["totalCount"], 6);
        assert_eq!(page(&app, "/V1/Customers", None).await["totalCount"], 6);
    }
}

e2e! {
    async fn another_partners_customer_and_a_missing_one_get_the_same_404() {
        let app = TestApp::spawn().await;
        let missing = "c2f6e3b1-0000-4000-8000-0000000000ee";
        for path in ["", "/subscriptions", &format!("/subscriptions/{OTHER_SAAS}")] {
            let theirs = fault(get(&app, &format!("/v1/customers/{OTHER_CUSTOMER}{path}"), SANDBOX_PARTNER, &[]).await, 404).await;
            let nobody = fault(get(&app, &format!("/v1/customers/{missing}{path}"), SANDBOX_PARTNER, &[]).await, 404).await;
            assert_eq!(theirs["code"], 60_003, "{path}");
            assert_eq!(
                serde_json::to_string(&theirs).unwrap(),
                serde_json::to_string(&nobody).unwrap().replace(missing, OTHER_CUSTOMER),
                "{path}"
            );
        }
        // The other partner's list does not hold the first partner's customer, and its own does.
        let theirs = get(&app, "/v1/customers", OTHER_SANDBOX_PARTNER, &[]).await.json::<Value>().await.unwrap();
        assert_eq!(ids(&theirs), [OTHER_CUSTOMER]);
        let unknown = fault(get(&app, &format!("/v1/customers/{CUSTOMER}/subscriptions/d3a7f4c2-0000-4000-8000-0000000000ee"), SANDBOX_PARTNER, &[]).await, 404).await;
        assert_eq!(unknown["code"], 20_003);
        let not_a_guid = fault(get(&app, "/v1/customers/not-a-guid", SANDBOX_PARTNER, &[]).await, 400).await;
        assert_eq!(not_a_guid["description"], "customer_id must be a GUID.");
    }
}

e2e! {
    async fn a_customer_has_the_contract_shape() {
        let app = TestApp::spawn().await;
        let body: Value = get(&app, &format!("/v1/customers/{CUSTOMER}"), SANDBOX_PARTNER, &[]).await.json().await.unwrap();
        assert_eq!(body["id"], CUSTOMER);
        assert_eq!(body["companyProfile"]["tenantId"], CUSTOMER);
        assert_eq!(body["companyProfile"]["companyName"], "Fabrikam");
        assert_eq!(body["companyProfile"]["domain"], "fabrikam.onmicrosoft.com");
        assert_eq!(body["companyProfile"]["links"]["self"]["uri"], format!("/customers/{CUSTOMER}/profiles/company"));
        assert_eq!(body["companyProfile"]["attributes"]["objectType"], "CustomerCompanyProfile");
        assert_eq!(body["relationshipToPartner"], "reseller");
        assert_eq!(body["allowDelegatedAccess"], true);
        assert_eq!(body["links"]["self"], serde_json::json!({"uri": format!("/customers/{CUSTOMER}"), "method": "GET", "headers": []}));
        assert_eq!(body["attributes"]["objectType"], "Customer");
        assert!(body["commerceId"].as_str().unwrap().parse::<partner_center_model::CustomerId>().is_ok());
        // In the list, without allowDelegatedAccess.
        let list = page(&app, "/v1/customers", None).await;
        assert!(list["items"][0].get("allowDelegatedAccess").is_none());
        assert_eq!(list["items"][0]["commerceId"], body["commerceId"]);
        assert_eq!(list["attributes"]["objectType"], "Collection");
        assert!(list.get("continuationToken").is_none());
    }
}

e2e! {
    async fn filters_find_customers_by_company_name_or_domain_prefix_in_any_case() {
        let app = TestApp::spawn().await;
        add_customers(&app, "Fabulous", 3).await;
        add_customers(&app, "Contoso", 2).await;
        let filter = |field: &str, value: &str| {
            let json = format!(r#"{{"Field":"{field}","Value":"{value}","Operator":"starts_with"}}"#);
            format!("/v1/customers?size=0&filter={}", urlencode(&json))
        };
        let fab = page(&app, &filter("CompanyName", "fAb"), None).await;
        let mut names: Vec<String> = fab["items"].as_array().unwrap().iter().map(|c| c["companyProfile"]["companyName"].as_str().unwrap().to_owned()).collect();
        names.sort();
        assert_eq!(names, ["Fabrikam", "Fabulous 0", "Fabulous 1", "Fabulous 2"]);
        assert!(fab.get("continuationToken").is_none());
        let by_domain = page(&app, &filter("Domain", "CONTOSO"), None).await;
        assert_eq!(by_domain["totalCount"], 2);
        // A filter with a size pages like the list.
        let json = r#"{"Field":"CompanyName","Value":"fab","Operator":"starts_with"}"#;
        let paged = page(&app, &format!("/v1/customers?size=3&filter={}", urlencode(json)), None).await;
        assert_eq!(paged["totalCount"], 3);
        let token = paged["continuationToken"].as_str().unwrap().to_owned();
        let rest = page(&app, &format!("/v1/customers?size=3&seekOperation=Next&filter={}", urlencode(json)), Some(&token)).await;
        assert_eq!(rest["totalCount"], 1);
        assert!(rest.get("continuationToken").is_none());
        for bad in [
            r#"{"Field":"IndirectReseller","Value":"x","Operator":"starts_with"}"#,
            r#"{"Field":"CompanyName","Value":"x","Operator":"contains"}"#,
            "not json",
        ] {
            let response = get(&app, &format!("/v1/customers?size=0&filter={}", urlencode(bad)), SANDBOX_PARTNER, &[]).await;
            assert_eq!(fault(response, 400).await["code"], 2000, "{bad}");
        }
    }
}

e2e! {
    async fn subscriptions_have_the_contract_shape_with_each_kinds_defaults() {
        let app = TestApp::spawn().await;
        let list: Value = get(&app, &format!("/v1/customers/{CUSTOMER}/subscriptions"), SANDBOX_PARTNER, &[]).await.json().await.unwrap();
        assert_eq!(list["attributes"]["objectType"], "Collection");
        assert_eq!(list["totalCount"], 7);
        assert_eq!(list["links"]["self"]["uri"], format!("/customers/{CUSTOMER}/subscriptions"));
        let azure: Value = get(&app, &format!("/v1/customers/{CUSTOMER}/subscriptions/{LEGACY_AZURE}"), SANDBOX_PARTNER, &[]).await.json().await.unwrap();
        assert_eq!(azure["id"], LEGACY_AZURE);
        assert_eq!(azure["offerId"], "MS-AZR-0145P");
        assert_eq!(azure["offerName"], "offer");
        assert_eq!(azure["friendlyName"], "offer");
        assert_eq!(azure["quantity"], 1);
        assert_eq!(azure["unitType"], "Usage-based");
        assert_eq!(azure["status"], "active");
        assert_eq!(azure["billingType"], "usage");
        assert_eq!(azure["billingCycle"], "monthly");
        assert_eq!(azure["commitmentEndDate"], "9999-12-31T00:00:00.000Z");
        assert_eq!(azure["contractType"], "subscription");
        assert_eq!(azure["isTrial"], false);
        assert!(azure.get("orderId").is_none());
        assert!(azure["creationDate"].as_str().unwrap().ends_with('Z'));
        assert!(azure["effectiveStartDate"].as_str().unwrap().ends_with("T00:00:00.000Z"));
        assert_eq!(azure["links"]["self"]["uri"], format!("/customers/{CUSTOMER}/subscriptions/{LEGACY_AZURE}"));
        assert!(azure["links"].get("activationLinks").is_none());
        assert_eq!(azure["attributes"]["objectType"], "Subscription");
        // A pending SaaS subscription links to its activation links, and loses the link once active.
        let saas: Value = get(&app, &format!("/v1/customers/{CUSTOMER}/subscriptions/{SAAS}"), SANDBOX_PARTNER, &[]).await.json().await.unwrap();
        assert_eq!(saas["status"], "pending");
        assert_eq!(saas["termDuration"], "P1M");
        assert_eq!(saas["links"]["activationLinks"]["uri"], format!("/customers/{CUSTOMER}/subscriptions/{SAAS}/activationlinks"));
        app.activated(SAAS).await;
        let active: Value = get(&app, &format!("/v1/customers/{CUSTOMER}/subscriptions/{SAAS}"), SANDBOX_PARTNER, &[]).await.json().await.unwrap();
        assert_eq!(active["status"], "active");
        assert!(active["links"].get("activationLinks").is_none());
        // No order created any of them.
        let by_order: Value = get(&app, &format!("/v1/customers/{CUSTOMER}/subscriptions?order_id=unknown-order"), SANDBOX_PARTNER, &[]).await.json().await.unwrap();
        assert_eq!(by_order["totalCount"], 0);
    }
}

e2e! {
    async fn customers_and_subscriptions_have_xml_forms() {
        let app = TestApp::spawn().await;
        let xml = |path: String| {
            let app = &app;
            async move {
                let response = get(app, &path, SANDBOX_PARTNER, &[("accept", "application/xml")]).await;
                assert_eq!(response.status(), 200);
                assert_eq!(response.headers()["content-type"], "application/xml; charset=utf-8");
                response.text().await.unwrap()
            }
        };
        let customer = xml(format!("/v1/customers/{CUSTOMER}")).await;
        assert!(customer.starts_with("<Customer xmlns=\"http://schemas.datacontract.org/2004/07/"), "{customer}");
        assert!(customer.contains("<CompanyProfile><Attributes><ObjectType>CustomerCompanyProfile</ObjectType></Attributes><CompanyName>Fabrikam</CompanyName>"), "{customer}");
        let read = Customer::from_xml(&customer).unwrap();
        assert_eq!(read.id.to_string(), CUSTOMER);
        let list = xml("/v1/customers?size=1".to_owned()).await;
        assert!(list.starts_with("<Collection "), "{list}");
        assert!(list.contains("<Items><Customer>"), "{list}");
        let read = Collection::<Customer>::from_xml(&list).unwrap();
        assert_eq!(read.items.len(), 1);
        let subscription = xml(format!("/v1/customers/{CUSTOMER}/subscriptions/{AZURE_PLAN}")).await;
        let read = Subscription::from_xml(&subscription).unwrap();
        assert_eq!(read.id.to_string(), AZURE_PLAN);
        assert_eq!(read.status, partner_center_model::SubscriptionStatus::Active);
        let subscriptions = xml(format!("/v1/customers/{CUSTOMER}/subscriptions")).await;
        assert_eq!(Collection::<Subscription>::from_xml(&subscriptions).unwrap().items.len(), 7);
    }
}

e2e! {
    async fn the_sdk_pages_through_customers_following_next_links() {
        let app = TestApp::spawn().await;
        let added = add_customers(&app, "Customer", 11).await;
        let partner = app.partner(SANDBOX_PARTNER);
        let mut pages = partner.customers().query(&CustomerQuery::new().size(4));
        let mut sizes = Vec::new();
        let mut seen = Vec::new();
        while let Some(page) = pages.next_page().await {
            let page = page.unwrap();
            sizes.push(page.items.len());
            seen.extend(page.items.into_iter().map(|c| c.id.to_string()));
        }
        assert_eq!(sizes, [4, 4, 4], "three pages, the last one full");
        assert_eq!(seen[0], CUSTOMER);
        assert_eq!(&seen[1..], added.as_slice());
        // Item by item, and as a stream, the same.
        let all = partner.customers().query(&CustomerQuery::new().size(5)).collect().await.unwrap();
        assert_eq!(all.iter().map(|c| c.id.to_string()).collect::<Vec<_>>(), seen);
        use futures_util::StreamExt as _;
        let streamed: Vec<_> = partner.customers().query(&CustomerQuery::new().size(3)).into_stream().collect().await;
        assert_eq!(streamed.len(), 12);
        let found = partner.customers().query(&CustomerQuery::new().company_name_starts_with("fab")).collect().await.unwrap();
        assert_eq!(found.len(), 1);
        // One customer and its subscriptions.
        let customer = partner.customers().by_id(CUSTOMER.parse().unwrap());
        assert_eq!(customer.get().await.unwrap().company_profile.company_name, "Fabrikam");
        assert_eq!(customer.subscriptions().get().await.unwrap().items.len(), 7);
        let plan = customer.subscriptions().by_id(AZURE_PLAN.parse().unwrap()).get().await.unwrap();
        assert_eq!(plan.offer_id, "DZH318Z0BPS6:0001:DZH318Z0BNTM");
        assert_eq!(customer.subscriptions().by_order("none").await.unwrap().total_count, 0);
        // In XML too.
        let xml = app.sdk().xml().token(token(SANDBOX_PARTNER)).build().unwrap();
        let listed = xml.customers().query(&CustomerQuery::new().size(5)).collect().await.unwrap();
        assert_eq!(listed.len(), 12);
    }
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
