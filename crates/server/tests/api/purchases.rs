//! The purchase flows, through the SDK: carts and their checkout, orders and their provisioning,
//! SaaS activation and sandbox cancellation, the sandbox limits and the body rules.
//!
//! The buyer is the second sandbox partner's customer: an active Azure plan and a pending SaaS
//! subscription, so room for three more subscriptions under the sandbox limits.

use std::collections::BTreeMap;
use std::time::Duration;

use partner_center_client::model::purchase::{
    CartErrorCode, CartLineItemRequest, CartRequest, OrderLineItemRequest, OrderRequest,
};
use partner_center_client::model::{SubscriptionStatus, Timestamp};
use partner_center_client::{Error, RequestContext, WaitOptions};
use serde_json::{Value, json};

use crate::helpers::*;

/// A Standard_B1s reservation in eastus (the built-in catalog).
const RESERVATION: &str = "DZH318Z0BQ36:0048:DZH318Z08C0T";
/// The built-in catalog's Basic SaaS plan.
const SAAS_PLAN: &str = "DZH318Z0BXWC:0001:DZH318Z0BMJX";
/// The built-in catalog's Standard SaaS plan.
const SAAS_STANDARD: &str = "DZH318Z0BXWC:0002:DZH318Z0BMRV";

fn reservation_line(id: i64, subscription: &str, quantity: i64) -> CartLineItemRequest {
    CartLineItemRequest {
        id,
        catalog_item_id: RESERVATION.into(),
        quantity,
        billing_cycle: Some("one_time".into()),
        term_duration: Some("P1Y".into()),
        provisioning_context: BTreeMap::from([
            ("subscriptionId".into(), subscription.into()),
            ("scope".into(), "shared".into()),
            ("duration".into(), "1Year".into()),
        ]),
        ..CartLineItemRequest::default()
    }
}

fn saas_line(id: i64, item: &str) -> CartLineItemRequest {
    CartLineItemRequest {
        id,
        catalog_item_id: item.into(),
        quantity: 1,
        ..CartLineItemRequest::default()
    }
}

fn cart(lines: Vec<CartLineItemRequest>) -> CartRequest {
    CartRequest { line_items: lines }
}

fn reservation_order(subscription: &str, quantity: i64) -> OrderRequest {
    OrderRequest {
        billing_cycle: Some("one_time".into()),
        line_items: vec![OrderLineItemRequest {
            line_item_number: 0,
            offer_id: RESERVATION.into(),
            quantity,
            provisioning_context: BTreeMap::from([
                ("subscriptionId".into(), subscription.into()),
                ("scope".into(), "single".into()),
            ]),
            ..OrderLineItemRequest::default()
        }],
    }
}

/// The status and ServiceFault code of an SDK error.
fn refusal(err: &Error) -> (u16, Option<i64>) {
    let api = err
        .api()
        .unwrap_or_else(|| panic!("not an API error: {err}"));
    (api.status, api.code())
}

/// Far enough ahead for every queued registration and order to be due.
fn later() -> Timestamp {
    Timestamp::now().saturating_add(Duration::from_secs(24 * 3600))
}

const QUICK: WaitOptions = WaitOptions {
    interval: Duration::from_millis(50),
    timeout: Duration::from_secs(10),
};

e2e! {
    async fn a_reservation_needs_a_registered_subscription_and_is_provisioned_in_the_background() {
        let app = TestApp::spawn().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let carts = customer.carts();

        // Not registered: the line carries 10011, and checking the cart out buys nothing.
        let created = carts
            .create(&cart(vec![reservation_line(7, OTHER_AZURE_PLAN, 1)]))
            .await
            .unwrap();
        assert_eq!(created.status, "Active");
        let (line, error) = created.line_errors().next().unwrap();
        assert_eq!((line.id, error.error_code), (7, 10_011));
        assert_eq!(error.code(), CartErrorCode::SubscriptionNotRegistered);
        assert_eq!(error.attributes.object_type, "CartError");
        let refused = carts.by_id(&created.id).checkout().await.unwrap_err();
        assert_eq!(refusal(&refused), (400, Some(800_009)));
        assert!(customer.orders().get().await.unwrap().items.is_empty());
        assert_eq!(customer.subscriptions().get().await.unwrap().items.len(), 2);
        assert_eq!(carts.by_id(&created.id).get().await.unwrap().status, "Active");

        // Registering: 10008.
        let plan = customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap());
        plan.registration().register().await.unwrap();
        let registering = carts
            .by_id(&created.id)
            .update(&cart(vec![reservation_line(7, OTHER_AZURE_PLAN, 1)]))
            .await
            .unwrap();
        assert_eq!(
            registering.line_errors().next().unwrap().1.code(),
            CartErrorCode::SubscriptionIsNotEnabledForRi
        );
        assert_eq!(refusal(&carts.by_id(&created.id).checkout().await.unwrap_err()), (400, Some(800_009)));

        // Registered: the line is clean, normalised, and the checkout places one pending order.
        assert_eq!(app.app.worker().run_due(later()).await.unwrap(), 1);
        let ready = carts
            .by_id(&created.id)
            .update(&cart(vec![reservation_line(7, OTHER_AZURE_PLAN, 1)]))
            .await
            .unwrap();
        assert!(ready.line_errors().next().is_none(), "{ready:?}");
        let line = &ready.line_items[0];
        assert_eq!(line.currency_code, "USD");
        assert_eq!(line.order_group.as_deref(), Some("0"));
        assert_eq!(line.provisioning_context["subscriptionId"], OTHER_AZURE_PLAN);
        let result = carts.by_id(&created.id).checkout().await.unwrap();
        assert_eq!(result.attributes.object_type, "CartCheckoutResult");
        assert!(result.order_errors.is_empty());
        let [order] = result.orders.as_slice() else {
            panic!("one order: {result:?}");
        };
        assert_eq!(order.status, "pending");
        assert_eq!(order.reference_customer_id.to_string(), OTHER_CUSTOMER);
        assert_eq!((order.currency_code.as_str(), order.currency_symbol.as_str()), ("USD", "$"));
        assert!(order.line_items[0].subscription_id.is_none());
        assert_eq!(
            order.links.provisioning_status.uri,
            format!("/customers/{OTHER_CUSTOMER}/orders/{}/provisioningstatus", order.id)
        );
        let operations = customer.orders().by_id(&order.id);
        let status = operations.provisioning_status().await.unwrap();
        assert_eq!(status.items[0].status, "prefulfillmentPending");

        // Checked out already: 800065; the cart is Ordered.
        assert_eq!(refusal(&carts.by_id(&created.id).checkout().await.unwrap_err()), (400, Some(800_065)));
        assert_eq!(carts.by_id(&created.id).get().await.unwrap().status, "Ordered");
        assert_eq!(
            refusal(&carts.by_id(&created.id).update(&cart(vec![])).await.unwrap_err()),
            (400, Some(800_065))
        );

        // The worker provisions it: a new `reservation` subscription, active.
        assert_eq!(app.app.worker().run_due_orders(later()).await.unwrap(), 1);
        let done = operations.wait_for_order(QUICK).await.unwrap();
        assert_eq!(done.status, "completed");
        let made = done.line_items[0].subscription_id.unwrap();
        assert_eq!(
            done.line_items[0].links.subscription.as_ref().unwrap().uri,
            format!("/customers/{OTHER_CUSTOMER}/subscriptions/{made}")
        );
        assert_eq!(operations.provisioning_status().await.unwrap().items[0].status, "fulfilled");
        let reservation = customer.subscriptions().by_id(made).get().await.unwrap();
        assert_eq!(reservation.status, SubscriptionStatus::Active);
        assert_eq!(reservation.offer_id, RESERVATION);
        assert_eq!(reservation.friendly_name, "Reserved VM Instance, Standard_B1s, eastus, 1 Year");
        assert_eq!(reservation.order_id.as_deref(), Some(order.id.as_str()));
        assert_eq!((reservation.term_duration.as_deref(), reservation.billing_cycle.as_str()), (Some("P1Y"), "one_time"));
        let start: i32 = reservation.effective_start_date[..4].parse().unwrap();
        assert!(reservation.commitment_end_date.starts_with(&(start + 1).to_string()));
        assert_eq!(customer.subscriptions().by_order(&order.id).await.unwrap().items.len(), 1);
        // A reservation cannot itself be registered.
        let err = customer.subscriptions().by_id(made).registration().register().await.unwrap_err();
        assert_eq!(refusal(&err), (400, Some(800_011)));
        // The worker has nothing more to do.
        assert_eq!(app.app.worker().run_due_orders(later()).await.unwrap(), 0);
    }
}

e2e! {
    async fn a_direct_order_is_refused_with_the_code_of_its_first_failing_line() {
        let app = TestApp::spawn().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let orders = customer.orders();
        let plan = customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap());

        let code = |result: Result<_, Error>| refusal(&result.unwrap_err());
        assert_eq!(code(orders.create(&reservation_order(OTHER_AZURE_PLAN, 1)).await), (400, Some(800_030)));
        plan.registration().register().await.unwrap();
        assert_eq!(code(orders.create(&reservation_order(OTHER_AZURE_PLAN, 1)).await), (400, Some(800_013)));
        app.app.worker().run_due(later()).await.unwrap();
        // Not an Azure subscription of the customer (a SaaS one; another customer's; no GUID).
        for subscription in [OTHER_SAAS, AZURE_PLAN, "not-a-guid"] {
            assert_eq!(code(orders.create(&reservation_order(subscription, 1)).await), (400, Some(800_021)));
        }
        // No such catalog item; invalid input.
        let mut unknown = reservation_order(OTHER_AZURE_PLAN, 1);
        unknown.line_items[0].offer_id = "NOPE:0001:NOPE".into();
        assert_eq!(code(orders.create(&unknown).await), (400, Some(800_002)));
        assert_eq!(code(orders.create(&reservation_order(OTHER_AZURE_PLAN, 0)).await), (400, Some(800_002)));
        let mut monthly = reservation_order(OTHER_AZURE_PLAN, 1);
        monthly.billing_cycle = Some("monthly".into());
        assert_eq!(code(orders.create(&monthly).await), (400, Some(800_002)));
        // The sandbox limit of two reservation instances.
        assert_eq!(code(orders.create(&reservation_order(OTHER_AZURE_PLAN, 3)).await), (400, Some(800_018)));
        assert!(orders.get().await.unwrap().items.is_empty(), "nothing refused was bought");

        let placed = orders.create(&reservation_order(OTHER_AZURE_PLAN, 2)).await.unwrap();
        assert_eq!(placed.status, "pending");
        assert_eq!(placed.line_items[0].provisioning_context["scope"], "single");
        // A pending order's instances count: one more is over the limit.
        assert_eq!(code(orders.create(&reservation_order(OTHER_AZURE_PLAN, 1)).await), (400, Some(800_018)));
        assert_eq!(orders.get().await.unwrap().items.len(), 1);
        let got = orders.by_id(&placed.id).get().await.unwrap();
        assert_eq!(got, placed);
        // An unknown order: 404, 20000.
        assert_eq!(refusal(&orders.by_id("no-such-order").get().await.unwrap_err()), (404, Some(20_000)));
    }
}

e2e! {
    async fn a_saas_purchase_is_pending_until_activated_and_a_sandbox_can_cancel_it() {
        let app = TestApp::spawn().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let created = customer
            .carts()
            .create(&cart(vec![saas_line(0, SAAS_PLAN), saas_line(1, SAAS_STANDARD)]))
            .await
            .unwrap();
        assert!(created.line_errors().next().is_none(), "{created:?}");
        assert_eq!(created.line_items[0].order_group.as_deref(), Some("1"));
        let result = customer.carts().by_id(&created.id).checkout().await.unwrap();
        let [order] = result.orders.as_slice() else {
            panic!("one order for the SaaS group: {result:?}");
        };
        assert_eq!(order.status, "pending");
        assert_eq!(order.billing_cycle, "monthly");
        let subscriptions: Vec<_> = order
            .line_items
            .iter()
            .map(|line| line.subscription_id.expect("a SaaS line makes its subscription at checkout"))
            .collect();
        assert_eq!(subscriptions.len(), 2);
        let first = customer.subscriptions().by_id(subscriptions[0]);
        let pending = first.get().await.unwrap();
        assert_eq!(pending.status, SubscriptionStatus::Pending);
        assert_eq!(pending.offer_id, SAAS_PLAN);
        assert_eq!(pending.order_id.as_deref(), Some(order.id.as_str()));
        assert_eq!(
            pending.links.activation_links.as_ref().unwrap().uri,
            format!("/customers/{OTHER_CUSTOMER}/subscriptions/{}/activationlinks", subscriptions[0])
        );
        // Activation links: a placeholder, by the order's line and by the subscription.
        let operations = customer.orders().by_id(&order.id);
        let by_line = operations.activation_links(0).await.unwrap();
        assert_eq!(by_line.items.len(), 1);
        assert_eq!(by_line.items[0].line_item_number, 0);
        assert!(by_line.items[0].link.uri.starts_with("https://"));
        let by_subscription = first.activation_links().await.unwrap();
        assert_eq!(by_subscription.items, by_line.items);
        assert_eq!(refusal(&operations.activation_links(9).await.unwrap_err()).0, 404);
        // One activation fulfils its line; the order completes with the second.
        first.activate().await.unwrap();
        let status = operations.provisioning_status().await.unwrap();
        let statuses: Vec<&str> = status.items.iter().map(|s| s.status.as_str()).collect();
        assert_eq!(statuses, ["fulfilled", "prefulfillmentPending"]);
        assert_eq!(operations.get().await.unwrap().status, "pending");
        assert!(first.activation_links().await.unwrap().items.is_empty());
        customer.subscriptions().by_id(subscriptions[1]).activate().await.unwrap();
        assert_eq!(operations.wait_for_order(QUICK).await.unwrap().status, "completed");

        // A sandbox cancels it: lines unfulfilled, subscriptions deleted; again: the same order.
        let cancelled = operations.cancel().await.unwrap();
        assert_eq!(cancelled.status, "cancelled");
        let status = operations.provisioning_status().await.unwrap();
        assert!(status.items.iter().all(|s| s.status == "unfulfilled"));
        for id in &subscriptions {
            let sub = customer.subscriptions().by_id(*id).get().await.unwrap();
            assert_eq!(sub.status, SubscriptionStatus::Deleted);
        }
        assert_eq!(operations.cancel().await.unwrap(), cancelled);
    }
}

e2e! {
    async fn a_partner_that_is_no_sandbox_cannot_cancel_and_has_no_sandbox_limits() {
        let app = TestApp::spawn().await;
        let partner = app.partner(PRODUCTION_PARTNER);
        let customer = partner.customers().by_id(PRODUCTION_CUSTOMER.parse().unwrap());
        // Six SaaS subscriptions: more than a sandbox customer may have.
        let lines = (0..6).map(|n| saas_line(n, SAAS_PLAN)).collect();
        let created = customer.carts().create(&cart(lines)).await.unwrap();
        assert!(created.line_errors().next().is_none());
        let result = customer.carts().by_id(&created.id).checkout().await.unwrap();
        let order = &result.orders[0];
        assert_eq!(order.line_items.len(), 6);
        let err = customer.orders().by_id(&order.id).cancel().await.unwrap_err();
        assert_eq!(refusal(&err), (403, Some(800_019)));
        assert_eq!(customer.orders().by_id(&order.id).get().await.unwrap().status, "pending");
        // Activating is for sandboxes only, as before.
        let sub = order.line_items[0].subscription_id.unwrap();
        let err = customer.subscriptions().by_id(sub).activate().await.unwrap_err();
        assert_eq!(refusal(&err), (400, Some(900_127)));
    }
}

e2e! {
    async fn the_sandbox_limits_count_subscriptions_and_reservation_instances() {
        let app = TestApp::spawn().await;
        // The first sandbox customer already has seven subscriptions: the fixture is not refused,
        // but nothing more can be bought.
        let partner = app.partner(SANDBOX_PARTNER);
        let crowded = partner.customers().by_id(CUSTOMER.parse().unwrap());
        let cart_over = crowded.carts().create(&cart(vec![saas_line(0, SAAS_PLAN)])).await.unwrap();
        assert_eq!(cart_over.line_errors().next().unwrap().1.code(), CartErrorCode::SandboxLimitExceeded);

        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap()).registration().register().await.unwrap();
        app.app.worker().run_due(later()).await.unwrap();
        // Three instances in one line: over; two: fine, and then the line after them is over.
        let over = customer.carts().create(&cart(vec![reservation_line(0, OTHER_AZURE_PLAN, 3)])).await.unwrap();
        assert_eq!(over.line_errors().next().unwrap().1.error_code, 10_009);
        let two = customer
            .carts()
            .create(&cart(vec![
                reservation_line(0, OTHER_AZURE_PLAN, 2),
                reservation_line(1, OTHER_AZURE_PLAN, 1),
            ]))
            .await
            .unwrap();
        let errors: Vec<i64> = two.line_errors().map(|(line, e)| line.id * 100_000 + e.error_code).collect();
        assert_eq!(errors, [110_009], "only the second line is over the limit");
        customer.carts().by_id(&two.id).update(&cart(vec![reservation_line(0, OTHER_AZURE_PLAN, 2)])).await.unwrap();
        customer.carts().by_id(&two.id).checkout().await.unwrap();
        // Two subscriptions + one reservation coming: two SaaS plans fit, a third does not.
        let saas = customer
            .carts()
            .create(&cart(vec![saas_line(0, SAAS_PLAN), saas_line(1, SAAS_PLAN), saas_line(2, SAAS_PLAN)]))
            .await
            .unwrap();
        let errors: Vec<i64> = saas.line_errors().map(|(line, _)| line.id).collect();
        assert_eq!(errors, [2]);
        // A cart checked while it was fine is checked again at checkout.
        let fine = customer.carts().create(&cart(vec![saas_line(0, SAAS_PLAN), saas_line(1, SAAS_PLAN)])).await.unwrap();
        assert!(fine.line_errors().next().is_none());
        let other = customer.carts().create(&cart(vec![saas_line(0, SAAS_STANDARD)])).await.unwrap();
        customer.carts().by_id(&other.id).checkout().await.unwrap();
        let err = customer.carts().by_id(&fine.id).checkout().await.unwrap_err();
        assert_eq!(refusal(&err), (400, Some(800_009)));
        let reread = customer.carts().by_id(&fine.id).get().await.unwrap();
        assert_eq!(reread.line_errors().map(|(l, _)| l.id).collect::<Vec<_>>(), [1]);
        // Cancelling frees room: a cancelled order's subscriptions are deleted.
        let orders = customer.orders().get().await.unwrap();
        let saas_order = orders.items.iter().find(|o| o.billing_cycle == "monthly").unwrap();
        customer.orders().by_id(&saas_order.id).cancel().await.unwrap();
        customer.carts().by_id(&fine.id).checkout().await.unwrap();
    }
}

e2e! {
    async fn another_partners_cart_order_or_subscription_is_a_404_like_one_that_does_not_exist() {
        let app = TestApp::spawn().await;
        let owner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = owner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let created = customer.carts().create(&cart(vec![saas_line(0, SAAS_PLAN)])).await.unwrap();
        let result = customer.carts().by_id(&created.id).checkout().await.unwrap();
        let order = &result.orders[0];
        let made = order.line_items[0].subscription_id.unwrap();

        let stranger = app.partner(SANDBOX_PARTNER);
        let theirs = stranger.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let nobody = stranger.customers().by_id("c2f6e3b1-0000-4000-8000-0000000000aa".parse().unwrap());
        for (a, b) in [
            (theirs.carts().by_id(&created.id).get().await, nobody.carts().by_id(&created.id).get().await),
            (theirs.carts().by_id(&created.id).checkout().await.map(|_| created.clone()), nobody.carts().by_id(&created.id).checkout().await.map(|_| created.clone())),
        ] {
            let (a, b) = (a.unwrap_err(), b.unwrap_err());
            assert_eq!(refusal(&a), (404, Some(60_003)));
            assert_eq!(refusal(&a), refusal(&b));
        }
        let a = theirs.orders().by_id(&order.id).get().await.unwrap_err();
        assert_eq!(refusal(&a), (404, Some(60_003)));
        let a = theirs.orders().by_id(&order.id).cancel().await.unwrap_err();
        assert_eq!(refusal(&a), (404, Some(60_003)));
        let a = theirs.subscriptions().by_id(made).activation_links().await.unwrap_err();
        assert_eq!(refusal(&a), (404, Some(60_003)));
        // Under the stranger's own customer, the ids are simply unknown.
        let own = stranger.customers().by_id(CUSTOMER.parse().unwrap());
        assert_eq!(refusal(&own.carts().by_id(&created.id).get().await.unwrap_err()), (404, Some(800_008)));
        assert_eq!(refusal(&own.orders().by_id(&order.id).get().await.unwrap_err()), (404, Some(20_000)));
        assert_eq!(refusal(&own.orders().by_id(&order.id).provisioning_status().await.unwrap_err()), (404, Some(20_000)));
        assert_eq!(refusal(&own.subscriptions().by_id(made).get().await.unwrap_err()), (404, Some(20_003)));
        assert!(own.orders().get().await.unwrap().items.is_empty());
        // The owner still sees all of it, unchanged.
        assert_eq!(customer.orders().get().await.unwrap().items.len(), 1);
        assert_eq!(customer.carts().by_id(&created.id).get().await.unwrap().status, "Ordered");
    }
}

e2e! {
    async fn an_expired_cart_is_gone() {
        let app = TestApp::spawn_with(TestOptions {
            cart_lifetime: Duration::ZERO,
            ..TestOptions::default()
        })
        .await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let created = customer.carts().create(&cart(vec![saas_line(0, SAAS_PLAN)])).await.unwrap();
        assert_eq!(created.expiration_timestamp, created.creation_timestamp);
        for err in [
            customer.carts().by_id(&created.id).get().await.unwrap_err(),
            customer.carts().by_id(&created.id).checkout().await.map(|_| ()).unwrap_err(),
            customer.carts().by_id(&created.id).update(&cart(vec![])).await.map(|_| ()).unwrap_err(),
        ] {
            assert_eq!(refusal(&err), (404, Some(800_008)));
        }
        assert!(customer.orders().get().await.unwrap().items.is_empty());
    }
}

e2e! {
    async fn purchases_are_idempotent_by_request_id_and_one_cart_is_bought_once() {
        let app = TestApp::spawn().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let same = partner.with(RequestContext::new().request_id("cart-once"));
        let customer = same.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        let first = customer.carts().create(&cart(vec![saas_line(0, SAAS_PLAN)])).await.unwrap();
        let again = customer.carts().create(&cart(vec![saas_line(0, SAAS_PLAN)])).await.unwrap();
        assert_eq!(first.id, again.id, "a repeat answers the first cart");
        let plain = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());

        // Concurrent checkouts of one cart, each with an id of its own: one buys, the rest 800065.
        let checkouts: Vec<_> = (0..6)
            .map(|_| {
                let partner = partner.clone();
                let id = first.id.clone();
                tokio::spawn(async move {
                    partner
                        .customers()
                        .by_id(OTHER_CUSTOMER.parse().unwrap())
                        .carts()
                        .by_id(&id)
                        .checkout()
                        .await
                })
            })
            .collect();
        let mut bought = 0;
        for checkout in checkouts {
            match checkout.await.unwrap() {
                Ok(result) => {
                    bought += 1;
                    assert_eq!(result.orders.len(), 1);
                }
                Err(err) => assert_eq!(refusal(&err), (400, Some(800_065))),
            }
        }
        assert_eq!(bought, 1);
        assert_eq!(plain.orders().get().await.unwrap().items.len(), 1);

        // The same MS-RequestId, concurrently: every answer is the one 201.
        let second = plain.carts().create(&cart(vec![saas_line(0, SAAS_STANDARD)])).await.unwrap();
        let checkouts: Vec<_> = (0..4)
            .map(|_| {
                let partner = partner.with(RequestContext::new().request_id("checkout-once"));
                let id = second.id.clone();
                tokio::spawn(async move {
                    partner
                        .customers()
                        .by_id(OTHER_CUSTOMER.parse().unwrap())
                        .carts()
                        .by_id(&id)
                        .checkout()
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut ids = Vec::new();
        for checkout in checkouts {
            ids.push(checkout.await.unwrap().orders[0].id.clone());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{ids:?}");
        assert_eq!(plain.orders().get().await.unwrap().items.len(), 2);

        // Direct orders and cancellations too.
        plain.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap()).registration().register().await.unwrap();
        app.app.worker().run_due(later()).await.unwrap();
        let once = partner.with(RequestContext::new().request_id("order-once"));
        let orders = once.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).orders();
        let a = orders.create(&reservation_order(OTHER_AZURE_PLAN, 1)).await.unwrap();
        let b = orders.create(&reservation_order(OTHER_AZURE_PLAN, 1)).await.unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(plain.orders().get().await.unwrap().items.len(), 3);
        let cancel = partner.with(RequestContext::new().request_id("cancel-once"));
        let operations = cancel.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).orders();
        let first_cancel = operations.by_id(&a.id).cancel().await.unwrap();
        assert_eq!(operations.by_id(&a.id).cancel().await.unwrap(), first_cancel);
    }
}

/// A request of the purchase routes with a raw body.
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut request = app
        .http
        .request(method, app.url(path))
        .bearer_auth(token(OTHER_SANDBOX_PARTNER))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.send().await.unwrap()
}

e2e! {
    async fn bodies_are_read_in_any_case_and_malformed_ones_are_400s_naming_the_property() {
        let app = TestApp::spawn().await;
        let carts = format!("/v1/customers/{OTHER_CUSTOMER}/carts");
        let orders = format!("/v1/customers/{OTHER_CUSTOMER}/orders");
        // PascalCase, as Partner Center's documentation writes it; text/json; no content type.
        for content_type in [Some("application/json"), Some("text/json; charset=utf-8"), None] {
            let body = json!({"LineItems": [{"Id": 3, "CatalogItemId": SAAS_PLAN, "Quantity": 1, "BillingCycle": "MONTHLY"}]});
            let response = send(&app, reqwest::Method::POST, &carts, content_type, body.to_string()).await;
            assert_eq!(response.status(), 201);
            let cart: Value = response.json().await.unwrap();
            assert_eq!(cart["lineItems"][0]["id"], 3);
            assert_eq!(cart["lineItems"][0]["billingCycle"], "monthly");
            assert!(cart["lineItems"][0].get("error").is_none(), "{cart}");
        }
        let cases: &[(&str, String, &str)] = &[
            ("POST", "{".into(), "not JSON"),
            ("POST", "".into(), "empty"),
            ("POST", "[]".into(), "JSON object"),
            ("POST", "{}".into(), "lineItems"),
            ("POST", json!({"lineItems": [{"quantity": 1}]}).to_string(), "lineItems[0]"),
            ("POST", json!({"lineItems": [{"catalogItemId": SAAS_PLAN, "quantity": "one"}]}).to_string(), "lineItems[0].quantity"),
            ("POST", json!({"lineItems": [{"catalogItemId": SAAS_PLAN, "quantity": 1, "provisioningContext": []}]}).to_string(), "lineItems[0].provisioningContext"),
            ("POST", json!({"lineItems": (0..51).map(|n| json!({"id": n, "catalogItemId": SAAS_PLAN, "quantity": 1})).collect::<Vec<_>>()}).to_string(), "at most 50"),
        ];
        for (method, body, named) in cases {
            for path in [&carts, &orders] {
                let body = if path == &orders { body.replace("catalogItemId", "offerId") } else { body.clone() };
                let response = send(&app, reqwest::Method::from_bytes(method.as_bytes()).unwrap(), path, Some("application/json"), body.clone()).await;
                let fault = fault(response, 400).await;
                assert_eq!(fault["code"], 2000, "{path} {body}");
                let description = fault["description"].as_str().unwrap();
                assert!(description.contains(named), "{path} {body}: {description}");
            }
        }
        // Not JSON's media type: 415; too large: 413.
        let response = send(&app, reqwest::Method::POST, &carts, Some("text/plain"), "{}".into()).await;
        assert_eq!(fault(response, 415).await["code"], 0);
        let huge = format!("{{\"lineItems\": [], \"pad\": \"{}\"}}", "x".repeat(70_000));
        let response = send(&app, reqwest::Method::POST, &carts, Some("application/json"), huge).await;
        assert_eq!(response.status(), 413);
        // A patch that is not a cancellation.
        let response = send(&app, reqwest::Method::PATCH, &format!("{orders}/x"), Some("application/json"), json!({"Status": "completed"}).to_string()).await;
        let description = fault(response, 400).await["description"].as_str().unwrap().to_owned();
        assert!(description.contains("status"), "{description}");
        // Nothing was bought by any of it.
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        assert!(partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).orders().get().await.unwrap().items.is_empty());
    }
}

e2e! {
    async fn orders_read_in_xml_and_the_operators_see_and_advance_them() {
        let app = with_admin().await;
        let partner = app.partner(OTHER_SANDBOX_PARTNER);
        let customer = partner.customers().by_id(OTHER_CUSTOMER.parse().unwrap());
        customer.subscriptions().by_id(OTHER_AZURE_PLAN.parse().unwrap()).registration().register().await.unwrap();
        app.app.worker().run_due(later()).await.unwrap();
        let order = customer.orders().create(&reservation_order(OTHER_AZURE_PLAN, 1)).await.unwrap();

        // XML, as the SDK's XML mode reads it.
        let xml = app.sdk().token(token(OTHER_SANDBOX_PARTNER)).xml().build().unwrap();
        let read = xml.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).orders().by_id(&order.id).get().await.unwrap();
        assert_eq!(read, order);
        let listed = xml.customers().by_id(OTHER_CUSTOMER.parse().unwrap()).orders().get().await.unwrap();
        assert_eq!(listed.items, vec![order.clone()]);

        // The admin API: carts, orders, an order with its subscriptions, advancing it.
        let admin = partner_center_client::AdminClient::new(format!("http://{}", app.addr), ADMIN).unwrap();
        let (tenant, owner) = (OTHER_SANDBOX_PARTNER.parse().unwrap(), OTHER_CUSTOMER.parse().unwrap());
        assert_eq!(admin.catalog().await.unwrap().len(), 7);
        assert_eq!(admin.orders(tenant, owner).await.unwrap(), vec![order.clone()]);
        assert!(admin.carts(tenant, owner).await.unwrap().is_empty());
        let detail = admin.order(tenant, owner, &order.id).await.unwrap();
        assert!(detail.subscriptions.is_empty());
        let advanced = admin.advance_order(tenant, owner, &order.id).await.unwrap();
        assert_eq!(advanced.order.status, "completed");
        assert_eq!(advanced.subscriptions.len(), 1);
        assert_eq!(advanced.subscriptions[0].kind.to_string(), "reservation");
        let again = admin.advance_order(tenant, owner, &order.id).await.unwrap_err();
        assert_eq!(refusal(&again).0, 409);
        assert_eq!(refusal(&admin.order(tenant, owner, "nope").await.unwrap_err()).0, 404);
        // Metrics count the orders by status; the journal has the purchase routes.
        let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("partner_center_orders{status=\"completed\"} 1"), "{metrics}");
        assert!(metrics.contains("partner_center_orders{status=\"pending\"} 0"), "{metrics}");
        let entries = journal(&app, "limit=50").await;
        assert!(entries.iter().any(|e| e["route"] == "/v1/customers/{customer_id}/orders" && e["method"] == "POST" && e["status"] == 201), "{entries:?}");
    }
}

/// Two instances on one PostgreSQL database share the order queue: their workers, running at once,
/// provision every order exactly once between them; an instance that claims orders and dies leaves
/// them to the other once its lease has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_instances_share_order_provisioning() {
    let Some(url) = partner_center_store::testing::postgres_url() else {
        return;
    };
    on_backend(Backend::Postgres(url), async {
        let first = TestApp::spawn().await;
        let second = TestApp::spawn_with(TestOptions {
            database: Some(first.database.clone()),
            ..TestOptions::default()
        })
        .await;
        // A registered Azure plan of a customer whose partner has no sandbox limits.
        let plan: partner_center_model::SubscriptionId =
            "d3a7f4c2-0000-4000-8000-0000000000c1".parse().unwrap();
        let spec = partner_center_model::fixture::FixtureSubscription::new(
            plan,
            partner_center_model::SubscriptionKind::AzurePlan,
            SubscriptionStatus::Active,
        );
        first
            .app
            .store()
            .put_subscription(
                PRODUCTION_PARTNER.parse().unwrap(),
                PRODUCTION_CUSTOMER.parse().unwrap(),
                &spec,
                Timestamp::now(),
            )
            .await
            .unwrap();
        let partner = first.partner(PRODUCTION_PARTNER);
        let customer = partner
            .customers()
            .by_id(PRODUCTION_CUSTOMER.parse().unwrap());
        customer
            .subscriptions()
            .by_id(plan)
            .registration()
            .register()
            .await
            .unwrap();
        assert_eq!(second.app.worker().run_due(later()).await.unwrap(), 1);

        // Twenty orders, placed through both instances.
        let other = second.partner(PRODUCTION_PARTNER);
        let mut placed = Vec::new();
        for n in 0..20 {
            let via = if n % 2 == 0 { &partner } else { &other };
            let order = via
                .customers()
                .by_id(PRODUCTION_CUSTOMER.parse().unwrap())
                .orders()
                .create(&reservation_order(&plan.to_string(), 1))
                .await
                .unwrap();
            placed.push(order.id);
        }
        let (a, b) = tokio::join!(
            first.app.worker().run_due_orders(later()),
            second.app.worker().run_due_orders(later())
        );
        assert_eq!(
            a.unwrap() + b.unwrap(),
            20,
            "every order provisioned once between them"
        );
        let mut made = std::collections::HashSet::new();
        for id in &placed {
            let order = customer.orders().by_id(id).get().await.unwrap();
            assert_eq!(order.status, "completed");
            assert!(made.insert(order.line_items[0].subscription_id.unwrap()));
        }
        let reservations = customer.subscriptions().get().await.unwrap().items.len();
        assert_eq!(
            reservations,
            1 + 1 + 20,
            "the SaaS, the plan, and one reservation per order"
        );

        // One instance claims an order and dies before provisioning it: the other cannot take it
        // while the lease holds, and takes it once it has passed.
        let last = customer
            .orders()
            .create(&reservation_order(&plan.to_string(), 1))
            .await
            .unwrap();
        let lease = Duration::from_secs(30);
        let claimed = first
            .app
            .store()
            .claim_orders(later(), Timestamp::now(), lease, 10)
            .await
            .unwrap();
        assert_eq!(claimed, std::slice::from_ref(&last.id));
        let taken = second
            .app
            .store()
            .claim_orders(later(), Timestamp::now(), lease, 10)
            .await
            .unwrap();
        assert!(taken.is_empty(), "the claim's lease holds");
        assert_eq!(
            second.app.worker().run_due_orders(later()).await.unwrap(),
            1
        );
        assert_eq!(
            customer
                .orders()
                .by_id(&last.id)
                .get()
                .await
                .unwrap()
                .status,
            "completed"
        );
        second.stop().await;
        first.stop().await;
    })
    .await;
}
