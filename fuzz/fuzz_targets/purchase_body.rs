//! The bodies of the purchase routes (carts, orders, an order's cancellation): any bytes are either
//! read or refused with a 400 ServiceFault (code 2000) naming what is wrong, never a panic; and
//! whatever is read, the domain core checks, line by line, without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partner_center_domain::CustomerKey;
use partner_center_domain::catalog::Catalog;
use partner_center_domain::purchase::{self, CustomerFacts, LineRequest};
use partner_center_model::Timestamp;
use partner_center_model::purchase::{CartRequest, OrderPatch, OrderRequest};
use partner_center_server::parse_request_body;

fn refused_with_2000<T>(result: Result<T, partner_center_server::ApiError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(err) => {
            assert_eq!(err.status().as_u16(), 400);
            assert_eq!(err.fault().code, 2000);
            assert!(
                err.fault()
                    .description
                    .starts_with("The request body is not valid")
            );
            None
        }
    }
}

fuzz_target!(|bytes: &[u8]| {
    let customer = CustomerKey {
        partner: partner_center_model::TenantId::new_random(),
        customer: partner_center_model::CustomerId::new_random(),
    };
    let facts = CustomerFacts {
        sandbox: true,
        ..CustomerFacts::default()
    };
    let catalog = Catalog::builtin();
    let now = Timestamp::from_millis(1_700_000_000_000);
    if let Some(cart) = refused_with_2000(parse_request_body::<CartRequest>(bytes)) {
        let lines: Vec<LineRequest> = cart
            .line_items
            .into_iter()
            .map(|line| LineRequest {
                id: line.id,
                catalog_item_id: line.catalog_item_id,
                quantity: line.quantity,
                billing_cycle: line.billing_cycle,
                term_duration: line.term_duration,
                friendly_name: line.friendly_name,
                provisioning_context: line.provisioning_context,
            })
            .collect();
        let decision = purchase::create_cart(
            customer,
            "cart".into(),
            &lines,
            Some(purchase::Buyer::new(&catalog, &facts)),
            now,
            std::time::Duration::from_secs(60),
        );
        assert_eq!(decision.changes.len(), 1);
    }
    if let Some(order) = refused_with_2000(parse_request_body::<OrderRequest>(bytes)) {
        let lines: Vec<LineRequest> = order
            .line_items
            .into_iter()
            .map(|line| LineRequest {
                id: line.line_item_number,
                catalog_item_id: line.offer_id,
                quantity: line.quantity,
                billing_cycle: order.billing_cycle.clone(),
                term_duration: line.term_duration,
                friendly_name: line.friendly_name,
                provisioning_context: line.provisioning_context,
            })
            .collect();
        let _ = purchase::place_order(
            customer,
            "order".into(),
            &lines,
            Some(purchase::Buyer::new(&catalog, &facts)),
            now,
        );
    }
    let _ = refused_with_2000(parse_request_body::<OrderPatch>(bytes));
});
