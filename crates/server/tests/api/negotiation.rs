//! Content negotiation and the XML forms (CONTRACT.md section 7).

use partner_center_model::xml::{ARRAYS_NAMESPACE, INSTANCE_NAMESPACE, NAMESPACE};
use partner_center_model::{
    ServiceFault, SubscriptionActivationResult, SubscriptionRegistrationStatus, XmlForm,
};
use serde_json::Value;

use crate::helpers::*;

async fn get_status(app: &TestApp, subscription: &str, accept: Option<&str>) -> reqwest::Response {
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        subscription,
        "registrationstatus",
    ));
    let mut request = app.http.get(url).bearer_auth(token(SANDBOX_PARTNER));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.unwrap()
}

async fn post_with_accept(
    app: &TestApp,
    subscription: &str,
    action: &str,
    accept: &str,
) -> reqwest::Response {
    let url = app.url(&TestApp::subscription_path(CUSTOMER, subscription, action));
    app.http
        .post(url)
        .bearer_auth(token(SANDBOX_PARTNER))
        .header("accept", accept)
        .send()
        .await
        .unwrap()
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Checks the DataContractSerializer shape: root name, namespaces, members in alphabetical order.
fn assert_data_contract(xml: &str, root: &str, members: &[&str]) {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let element = doc.root_element();
    assert_eq!(element.tag_name().name(), root, "{xml}");
    assert_eq!(element.tag_name().namespace(), Some(NAMESPACE), "{xml}");
    assert_eq!(
        element.lookup_namespace_uri(Some("i")),
        Some(INSTANCE_NAMESPACE),
        "{xml}"
    );
    let names: Vec<&str> = element
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(names, members, "{xml}");
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "members must be in alphabetical order");
}

fn member<'a>(xml: &'a roxmltree::Document<'a>, name: &str) -> &'a str {
    xml.root_element()
        .children()
        .find(|n| n.tag_name().name() == name)
        .and_then(|n| n.text())
        .unwrap_or_default()
}

e2e! {
    async fn json_is_the_default_and_text_json_is_honoured() {
    let app = TestApp::spawn().await;
    for (accept, expected) in [
        (None, "application/json; charset=utf-8"),
        (Some("*/*"), "application/json; charset=utf-8"),
        (Some("application/json"), "application/json; charset=utf-8"),
        (Some("text/json"), "text/json; charset=utf-8"),
        (Some("text/*"), "text/json; charset=utf-8"),
        (
            Some("application/xml;q=0.5, application/json;q=0.9"),
            "application/json; charset=utf-8",
        ),
    ] {
        let response = get_status(&app, AZURE_PLAN, accept).await;
        assert_eq!(response.status(), 200, "{accept:?}");
        assert_eq!(content_type(&response), expected, "{accept:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "NotRegistered");
    }
}
}

e2e! {
    async fn the_registration_status_in_xml() {
    let app = TestApp::spawn().await;
    for (accept, expected) in [
        ("application/xml", "application/xml; charset=utf-8"),
        ("text/xml", "text/xml; charset=utf-8"),
        (
            "text/html, application/xml;q=0.9",
            "application/xml; charset=utf-8",
        ),
        ("*/*;q=0.1, text/xml", "text/xml; charset=utf-8"),
    ] {
        let response = get_status(&app, AZURE_PLAN, Some(accept)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(content_type(&response), expected, "{accept}");
        let xml = response.text().await.unwrap();
        assert_data_contract(
            &xml,
            "SubscriptionRegistrationStatus",
            &["Attributes", "Status", "SubscriptionId"],
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(member(&doc, "Status"), "NotRegistered");
        assert_eq!(member(&doc, "SubscriptionId"), AZURE_PLAN);
        let object_type = doc
            .descendants()
            .find(|n| n.tag_name().name() == "ObjectType")
            .unwrap();
        assert_eq!(object_type.text(), Some("SubscriptionRegistrationStatus"));
        assert_eq!(object_type.tag_name().namespace(), Some(NAMESPACE));
        let parsed = SubscriptionRegistrationStatus::from_xml(&xml).unwrap();
        assert_eq!(parsed.subscription_id.to_string(), AZURE_PLAN);
    }
}
}

e2e! {
    async fn the_registered_answer_of_a_registration_in_xml() {
    let app = TestApp::spawn().await;
    app.registered(AZURE_PLAN).await;
    let later =
        partner_center_model::Timestamp::now().saturating_add(std::time::Duration::from_secs(3600));
    app.app.worker().run_due(later).await.unwrap();
    let response = post_with_accept(&app, AZURE_PLAN, "registrations", "application/xml").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("location"));
    let xml = response.text().await.unwrap();
    assert_eq!(
        SubscriptionRegistrationStatus::from_xml(&xml)
            .unwrap()
            .status
            .as_str(),
        "Registered"
    );
}
}

e2e! {
    async fn a_202_has_no_body_whatever_the_accept_header() {
    let app = TestApp::spawn().await;
    let response = post_with_accept(&app, AZURE_PLAN, "registrations", "application/xml").await;
    assert_eq!(response.status(), 202);
    assert!(response.headers().get("content-type").is_none());
    assert_eq!(response.headers()["content-length"], "0");
}
}

e2e! {
    async fn the_activation_result_in_xml() {
    let app = TestApp::spawn().await;
    let response = post_with_accept(&app, SAAS, "activate", "text/xml").await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "text/xml; charset=utf-8");
    let xml = response.text().await.unwrap();
    assert_data_contract(
        &xml,
        "SubscriptionActivationResult",
        &["Status", "SubscriptionId"],
    );
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(member(&doc, "Status"), "Success");
    assert_eq!(
        SubscriptionActivationResult::from_xml(&xml)
            .unwrap()
            .subscription_id
            .to_string(),
        SAAS
    );
}
}

e2e! {
    async fn every_kind_of_error_is_a_service_fault_in_xml_when_asked() {
    let app = TestApp::spawn().await;
    let t = token(SANDBOX_PARTNER);
    let xml_get = |path: String, token: Option<String>| {
        let mut request = app
            .http
            .get(app.url(&path))
            .header("accept", "application/xml");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let status_path = |customer: &str, subscription: &str| {
        TestApp::subscription_path(customer, subscription, "registrationstatus")
    };
    let cases = vec![
        (
            "401",
            xml_get(status_path(CUSTOMER, AZURE_PLAN), None)
                .await
                .unwrap(),
            401,
            800_001,
        ),
        (
            "403",
            xml_get(status_path(CUSTOMER, AZURE_PLAN), Some(token(STRANGER)))
                .await
                .unwrap(),
            403,
            2032,
        ),
        (
            "400",
            xml_get(status_path("nope", AZURE_PLAN), Some(t.clone()))
                .await
                .unwrap(),
            400,
            2000,
        ),
        (
            "404 customer",
            xml_get(
                status_path(PRODUCTION_CUSTOMER, AZURE_PLAN),
                Some(t.clone()),
            )
            .await
            .unwrap(),
            404,
            60_003,
        ),
        (
            "404 route",
            xml_get("/v9/nothing".into(), Some(t.clone()))
                .await
                .unwrap(),
            404,
            1000,
        ),
        (
            "405",
            xml_get(
                TestApp::subscription_path(CUSTOMER, SAAS, "activate"),
                Some(t.clone()),
            )
            .await
            .unwrap(),
            405,
            0,
        ),
        (
            "400 business",
            post_with_accept(&app, LICENSE, "registrations", "text/xml").await,
            400,
            800_011,
        ),
    ];
    for (name, response, status, code) in cases {
        assert_eq!(response.status(), status, "{name}");
        assert!(content_type(&response).contains("xml"), "{name}");
        let xml = response.text().await.unwrap();
        assert_data_contract(
            &xml,
            "ServiceFault",
            &["Code", "Data", "Description", "Source"],
        );
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let data = doc
            .root_element()
            .children()
            .find(|n| n.tag_name().name() == "Data")
            .unwrap();
        assert_eq!(data.lookup_namespace_uri(Some("a")), Some(ARRAYS_NAMESPACE));
        let fault = ServiceFault::from_xml(&xml).unwrap();
        assert_eq!(fault.code, code, "{name}: {xml}");
        assert!(!fault.description.is_empty());
    }
}
}

e2e! {
    async fn a_request_that_accepts_nothing_the_service_writes_is_406_and_changes_nothing() {
    let app = TestApp::spawn().await;
    for accept in [
        "text/html",
        "application/json;q=0",
        "image/png, text/plain;q=0.8",
        "*/*;q=0",
    ] {
        let response = post_with_accept(&app, AZURE_PLAN, "registrations", accept).await;
        assert_eq!(response.status(), 406, "{accept}");
        assert!(response.headers().contains_key("ms-requestid"));
        let body = fault(response, 406).await;
        assert_eq!(body["code"], 0);
    }
    let response = get_status(&app, AZURE_PLAN, Some("text/html")).await;
    assert_eq!(response.status(), 406);
    assert_eq!(
        app.status(AZURE_PLAN).await,
        "NotRegistered",
        "a refused POST registered nothing"
    );
    // Health probes are not Partner Center resources and answer JSON whatever is asked.
    let health = app
        .http
        .get(app.url("/healthz"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
}

e2e! {
    async fn several_accept_headers_are_one_list() {
    let app = TestApp::spawn().await;
    let url = app.url(&TestApp::subscription_path(
        CUSTOMER,
        AZURE_PLAN,
        "registrationstatus",
    ));
    let response = app
        .http
        .get(url)
        .bearer_auth(token(SANDBOX_PARTNER))
        .header("accept", "text/html")
        .header("accept", "text/xml;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "text/xml; charset=utf-8");
}
}
