//! Catalog discovery, through the SDK: Partner Center's documented flows from nothing but a
//! customer and its Azure plan (register → products → SKUs → inventory → availability → cart →
//! checkout), the SaaS flow, every documented refusal, and purchases that honour what discovery
//! says.

use std::collections::BTreeMap;
use std::time::Duration;

use partner_center_client::model::product::{InventoryCheckRequest, InventoryTarget};
use partner_center_client::model::purchase::{CartErrorCode, CartLineItemRequest, CartRequest};
use partner_center_client::model::{SubscriptionStatus, Timestamp};
use partner_center_client::{Error, WaitOptions};
use serde_json::{Value, json};

use crate::helpers::*;

fn refusal(err: &Error) -> (u16, Option<i64>) {
    let api = err
        .api()
        .unwrap_or_else(|| panic!("not an API error: {err}"));
    (api.status, api.code())
}

fn later() -> Timestamp {
    Timestamp::now().saturating_add(Duration::from_secs(24 * 3600))
}

const QUICK: WaitOptions = WaitOptions {
    interval: Duration::from_millis(50),
    timeout: Duration::from_secs(10),
};

fn context(subscription: &str, region: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("customerId".to_owned(), OTHER_CUSTOMER.to_owned()),
        ("azureSubscriptionId".to_owned(), subscription.to_owned()),
        ("armRegionName".to_owned(), region.to_owned()),
    ])
}

e2e! {
    async fn the_documented_reservation_flow_runs_from_a_customer_and_its_azure_plan() {
        let app = TestApp::spawn().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        // 1. Register the Azure plan, and wait until it is registered.
        let plan = customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap());
        plan.registration().register().await.unwrap();
        app.app.worker().run_due(later()).await.unwrap();
        let status = plan.registration().register_and_wait(QUICK).await.unwrap();
        assert_eq!(status.status.to_string(), "Registered");

        // 2. Discover: the reserved-VM products, their SKUs, one in eastus.
        let products = partner.products().by_country("us");
        let listed = products.by_target_view("AzureReservationsVM").await.unwrap();
        assert_eq!(listed.items.len(), 1);
        let product = &listed.items[0];
        assert_eq!(product.product_type.id, "Azure");
        assert_eq!(product.product_type.sub_type.as_ref().unwrap().id, "VirtualMachines");
        assert!(product.is_microsoft_product);
        assert_eq!(product.links.skus.uri, format!("/products/{}/skus?country=US", product.id));
        assert_eq!(products.by_id(&product.id).get().await.unwrap(), *product);
        let skus = products.by_id(&product.id).skus().get().await.unwrap();
        assert_eq!(skus.items.len(), 5);
        let eastus = skus
            .items
            .iter()
            .find(|s| s.dynamic_attributes["armRegionName"] == "eastus")
            .unwrap();
        assert_eq!(eastus.supported_billing_cycles, ["one_time"]);
        assert_eq!(eastus.purchase_prerequisites, ["AzureSubscriptionRegistration", "InventoryCheck"]);
        assert_eq!(eastus.inventory_variables, ["CustomerId", "AzureSubscriptionId", "ArmRegionName"]);
        assert_eq!(eastus.provisioning_variables, ["Scope", "SubscriptionId", "Duration"]);
        assert_eq!(
            products.by_id(&product.id).skus().by_id(&eastus.id).get().await.unwrap(),
            *eastus
        );

        // 3. Check the inventory in eastus: that SKU is available, the others are restricted.
        let request = InventoryCheckRequest {
            target_items: vec![InventoryTarget { product_id: product.id.clone(), sku_id: None }],
            inventory_context: context(OTHER_AZURE_PLAN, "eastus"),
        };
        let checked = products.check_inventory(&request).await.unwrap().0;
        assert_eq!(checked.len(), 5);
        for item in &checked {
            assert_eq!(item.is_restricted, item.sku_id != eastus.id, "{item:?}");
        }
        let restricted = checked.iter().find(|i| i.is_restricted).unwrap();
        assert_eq!(restricted.restrictions[0].reason_code, "NotAvailableForSubscription");
        assert_eq!(restricted.restrictions[0].properties["type"], "Location");

        // 4. Its availability: the catalog item to buy.
        let availabilities = products
            .by_id(&product.id)
            .skus()
            .by_id(&eastus.id)
            .availabilities()
            .await
            .unwrap();
        let availability = &availabilities.items[0];
        assert_eq!(availability.country, "US");
        assert_eq!(availability.terms[0].duration, "P1Y");
        assert_eq!(availability.default_currency.code, "USD");
        assert!(availability.catalog_item_id.starts_with(&format!("{}:{}:", product.id, eastus.id)));
        let by_id = products
            .by_id(&product.id)
            .skus()
            .by_id(&eastus.id)
            .availability(&availability.id)
            .await
            .unwrap();
        assert_eq!(by_id, *availability);

        // 5. A cart of it, its checkout, and the order completed.
        let line = CartLineItemRequest {
            id: 0,
            catalog_item_id: availability.catalog_item_id.clone(),
            quantity: 1,
            billing_cycle: eastus.supported_billing_cycles.first().cloned(),
            term_duration: Some(availability.terms[0].duration.clone()),
            provisioning_context: BTreeMap::from([
                ("subscriptionId".to_owned(), OTHER_AZURE_PLAN.to_owned()),
                ("scope".to_owned(), "shared".to_owned()),
                ("duration".to_owned(), "1Year".to_owned()),
            ]),
            ..CartLineItemRequest::default()
        };
        let cart = customer.carts().create(&CartRequest { line_items: vec![line] }).await.unwrap();
        assert!(cart.line_errors().next().is_none(), "{cart:?}");
        let result = customer.carts().by_id(&cart.id).checkout().await.unwrap();
        app.app.worker().run_due_orders(later()).await.unwrap();
        let order = customer.orders().by_id(&result.orders[0].id).wait_for_order(QUICK).await.unwrap();
        assert_eq!(order.status, "completed");
        assert_eq!(order.line_items[0].offer_id, availability.catalog_item_id);
    }
}

e2e! {
    async fn the_saas_flow_finds_a_marketplace_plan_buys_and_activates_it() {
        let app = TestApp::spawn().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let products = partner.products().by_country("US");
        let listed = products.by_target_view("OnlineServices").await.unwrap();
        let product = &listed.items[0];
        assert_eq!(product.product_type.sub_type.as_ref().unwrap().id, "SaaS");
        assert!(!product.is_microsoft_product);
        assert_eq!(product.publisher_name, "Contoso Ltd");
        let skus = products.by_id(&product.id).skus().get().await.unwrap();
        let sku = &skus.items[0];
        assert!(sku.purchase_prerequisites.is_empty() && sku.inventory_variables.is_empty());
        let availability = &products
            .by_id(&product.id)
            .skus()
            .by_id(&sku.id)
            .availabilities()
            .await
            .unwrap()
            .items[0];
        assert!(availability.is_renewable);
        let line = CartLineItemRequest {
            id: 0,
            catalog_item_id: availability.catalog_item_id.clone(),
            quantity: i64::from(sku.minimum_quantity),
            billing_cycle: sku.supported_billing_cycles.first().cloned(),
            term_duration: Some(availability.terms[0].duration.clone()),
            ..CartLineItemRequest::default()
        };
        let cart = customer.carts().create(&CartRequest { line_items: vec![line] }).await.unwrap();
        let order = &customer.carts().by_id(&cart.id).checkout().await.unwrap().orders[0];
        let subscription = customer.subscriptions().by_id(order.line_items[0].subscription_id.unwrap());
        assert_eq!(subscription.get().await.unwrap().status, SubscriptionStatus::Pending);
        subscription.activate().await.unwrap();
        let done = customer.orders().by_id(&order.id).wait_for_order(QUICK).await.unwrap();
        assert_eq!(done.status, "completed");
    }
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token(OTHER_SANDBOX_PARTNER))
        .send()
        .await
        .unwrap()
}

async fn inventory(app: &TestApp, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url(path))
        .bearer_auth(token(OTHER_SANDBOX_PARTNER));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

e2e! {
    async fn discovery_refuses_with_its_documented_codes_and_never_a_500() {
        let app = TestApp::spawn().await;
        for (path, status, code) in [
            ("/v1/products/NOPE?country=US", 404, 400_013),
            ("/v1/products/NOPE/skus?country=US", 404, 400_013),
            ("/v1/products/DZH318Z0BQ36/skus/9999?country=US", 404, 400_018),
            ("/v1/products/DZH318Z0BQ36/skus/9999/availabilities?country=US", 404, 400_018),
            ("/v1/products/DZH318Z0BQ36/skus/0048/availabilities/NOPE?country=US", 404, 400_019),
            ("/v1/products/NOPE/skus/0048/availabilities/NOPE?country=US", 404, 400_013),
            ("/v1/products?country=US&targetView=Everything", 403, 400_036),
            ("/v1/products?country=US&targetView=AzureReservationsVM&targetSegment=education", 403, 400_030),
            ("/v1/products?targetView=AzureReservationsVM", 400, 2000),
            ("/v1/products?country=USA&targetView=AzureReservationsVM", 400, 2000),
            ("/v1/products?country=US", 400, 2000),
            ("/v1/products/DZH318Z0BQ36", 400, 2000),
        ] {
            let fault = fault(get(&app, path).await, status).await;
            assert_eq!(fault["code"], code, "{path}");
        }
        let missing = fault(get(&app, "/v1/products/DZH318Z0BQ36/skus").await, 400).await;
        assert!(missing["description"].as_str().unwrap().contains("country"), "{missing}");
        // Another documented view lists nothing; paths and view names in any case.
        let software: Value = get(&app, "/v1/products?country=us&targetView=Software").await.json().await.unwrap();
        assert_eq!(software["totalCount"], 0);
        let shouted = get(&app, "/V1/PRODUCTS/DZH318Z0BQ36/SKUS/0048?COUNTRY=us").await;
        assert_eq!(shouted.status(), 200);
        let view: Value = get(&app, "/v1/products?country=US&targetview=azurereservationsvm&reservationScope=AzurePlan").await.json().await.unwrap();
        assert_eq!(view["totalCount"], 1);
        assert_eq!(view["links"]["self"]["uri"], "/products?country=US&targetView=azurereservationsvm");

        // The inventory check: the path in any case; no body, no context, a partial one.
        let check = "/v1/extensions/product/checkInventory?country=US";
        let fault_of = |response| fault(response, 400);
        let none = fault_of(inventory(&app, check, None).await).await;
        assert_eq!(none["code"], 2001);
        let body = |context: Value| json!({"TargetItems": [{"ProductId": "DZH318Z0BQ36", "SkuId": "0048"}], "InventoryContext": context});
        let empty = fault_of(inventory(&app, check, Some(body(json!({})))).await).await;
        assert_eq!(empty["code"], 400_026);
        let partial = fault_of(inventory(&app, check, Some(body(json!({"customerId": OTHER_CUSTOMER, "armRegionName": "eastus"})))).await).await;
        assert_eq!(partial["code"], 400_026);
        assert!(partial["description"].as_str().unwrap().contains("AzureSubscriptionId"));
        let malformed = fault_of(inventory(&app, check, Some(json!({"TargetItems": "x"}))).await).await;
        assert_eq!(malformed["code"], 2000);
        assert!(malformed["description"].as_str().unwrap().contains("targetItems"));
        let lower = "/v1/extensions/product/checkinventory?country=US";
        let ok = inventory(&app, lower, Some(body(json!({"CUSTOMERID": OTHER_CUSTOMER, "AzureSubscriptionId": OTHER_AZURE_PLAN, "armregionname": "EASTUS"})))).await;
        assert_eq!(ok.status(), 200);
        let items: Value = ok.json().await.unwrap();
        assert_eq!(items, json!([{"productId": "DZH318Z0BQ36", "skuId": "0048", "isRestricted": false, "restrictions": []}]));
        // Unknown items are left out.
        let unknown = inventory(&app, check, Some(json!({"TargetItems": [{"ProductId": "NOPE"}], "InventoryContext": {}}))).await;
        assert_eq!(unknown.json::<Value>().await.unwrap(), json!([]));
    }
}

e2e! {
    async fn discovery_reads_in_xml_and_follows_the_fixture_catalog_where_restricted_skus_cannot_be_bought() {
        let mut fixture = fixture();
        let mut items = partner_center_domain::catalog::Catalog::builtin().items().to_vec();
        // eastus is restricted for everyone; the rest as built in.
        items[1].restricted = true;
        fixture.catalog = Some(items);
        let app = TestApp::spawn_with(TestOptions { fixture, ..TestOptions::default() }).await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap()).registration().register().await.unwrap();
        app.app.worker().run_due(later()).await.unwrap();

        let products = partner.products().by_country("US");
        let request = InventoryCheckRequest {
            target_items: vec![InventoryTarget { product_id: "DZH318Z0BQ36".into(), sku_id: Some("0048".into()) }],
            inventory_context: context(OTHER_AZURE_PLAN, "eastus"),
        };
        let checked = products.check_inventory(&request).await.unwrap().0;
        assert!(checked[0].is_restricted, "{checked:?}");
        // What discovery says, a purchase honours: 10003 in a cart, 800010 for an order.
        let line = CartLineItemRequest {
            id: 0,
            catalog_item_id: "DZH318Z0BQ36:0048:DZH318Z08C0T".into(),
            quantity: 1,
            provisioning_context: BTreeMap::from([("subscriptionId".to_owned(), OTHER_AZURE_PLAN.to_owned())]),
            ..CartLineItemRequest::default()
        };
        let cart = customer.carts().create(&CartRequest { line_items: vec![line] }).await.unwrap();
        assert_eq!(cart.line_errors().next().unwrap().1.code(), CartErrorCode::InventoryNotAvailable);
        let order = partner_center_client::model::purchase::OrderRequest {
            billing_cycle: None,
            line_items: vec![partner_center_client::model::purchase::OrderLineItemRequest {
                offer_id: "DZH318Z0BQ36:0048:DZH318Z08C0T".into(),
                quantity: 1,
                provisioning_context: BTreeMap::from([("subscriptionId".to_owned(), OTHER_AZURE_PLAN.to_owned())]),
                ..Default::default()
            }],
        };
        assert_eq!(refusal(&customer.orders().create(&order).await.unwrap_err()), (400, Some(800_010)));

        // XML, as the SDK's XML mode reads it.
        let xml = app.sdk().token(token(OTHER_SANDBOX_PARTNER)).xml().build().unwrap();
        let xml_products = xml.products().by_country("US");
        let json_products = partner.products().by_country("US");
        assert_eq!(
            xml_products.by_target_view("AzureReservationsVM").await.unwrap(),
            json_products.by_target_view("AzureReservationsVM").await.unwrap()
        );
        fn sku<'a>(p: &partner_center_client::ProductsOfCountry<'a>) -> partner_center_client::SkuOperations<'a> {
            p.by_id("DZH318Z0BQ36").skus().by_id("0049")
        }
        // Dynamic attributes are free-form: XML reads their values back as text.
        let (mut from_xml, mut from_json) = (sku(&xml_products).get().await.unwrap(), sku(&json_products).get().await.unwrap());
        assert_eq!(from_xml.dynamic_attributes["armRegionName"], "westus2");
        from_xml.dynamic_attributes.clear();
        from_json.dynamic_attributes.clear();
        assert_eq!(from_xml, from_json);
        assert_eq!(
            sku(&xml_products).availabilities().await.unwrap(),
            sku(&json_products).availabilities().await.unwrap()
        );
        assert_eq!(
            xml_products.check_inventory(&request).await.unwrap(),
            partner_center_client::model::product::InventoryItems(checked.clone())
        );
        let err = xml_products.by_id("NOPE").get().await.unwrap_err();
        assert_eq!(refusal(&err), (404, Some(400_013)));
    }
}
