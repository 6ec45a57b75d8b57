//! Orders: place one directly (`POST .../orders`), list and read them, their provisioning status,
//! cancel one in the sandbox (`PATCH .../orders/{order_id}`), and the activation links of the SaaS
//! subscriptions they make.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use partner_center_domain::purchase::{
    self, CancelOutcome, LineRequest, Order as OrderRecord, OrderIds, OrderLine, OrderOutcome,
};
use partner_center_domain::subscription;
use partner_center_domain::{CustomerKey, Lookup};
use partner_center_model::catalog::PurchaseKind;
use partner_center_model::collection::Link;
use partner_center_model::fault::codes;
use partner_center_model::purchase::{
    Order, OrderLineItem, OrderLineItemActivationLink, OrderLineItemLinks,
    OrderLineItemProvisioningStatus, OrderLinks, OrderPatch, OrderRequest,
    QuantityProvisioningStatus,
};
use partner_center_model::resources::ResourceAttributes;
use partner_center_model::{Collection, SubscriptionId, Timestamp, paths};
use partner_center_store::Saved;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::{
    CustomerPathParams, OrderLinePathParams, OrderPathParams, SubscriptionPathParams,
};
use crate::render::reply;
use crate::routes::body::{PartnerJson, invalid_body};
use crate::routes::request::{CustomerScope, PartnerRequest, SubscriptionScope};
use crate::wire::IgnoredBody;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::ORDERS, get(list_orders).post(create_order))
        .route(paths::ORDER, get(get_order).patch(cancel_order))
        .route(paths::PROVISIONING_STATUS, get(provisioning_status))
        .route(paths::ORDER_ACTIVATION_LINKS, get(order_activation_links))
        .route(
            paths::SUBSCRIPTION_ACTIVATION_LINKS,
            get(subscription_activation_links),
        )
}

/// Where a SaaS subscription's customer would activate it. In the integration sandbox there is no
/// ISV, so, as Partner Center's sandbox, the link is a placeholder: `POST .../activate` is how the
/// subscription is activated.
const SANDBOX_LANDING_PAGE: &str = "https://saas-landing.sandbox.invalid/activate";

/// A new order id: the first of [`new_ids`].
pub(crate) fn new_id() -> String {
    new_ids().nth(0)
}

/// New order ids, from a version-7 GUID: ids made later sort later (see [`OrderIds`]).
pub(crate) fn new_ids() -> OrderIds {
    OrderIds::starting_at(uuid::Uuid::now_v7().as_u128())
}

/// The `{order_id}` of an order route.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderPath {
    order_id: String,
}

/// The `{order_id}` and `{line_item_number}` of an order line's route.
#[derive(Debug, Deserialize)]
pub(crate) struct OrderLinePath {
    order_id: String,
    line_item_number: String,
}

fn line_resource(order: &OrderRecord, line: &OrderLine) -> OrderLineItem {
    let customer = order.customer.customer;
    OrderLineItem {
        line_item_number: line.number,
        offer_id: line.offer_id.clone(),
        subscription_id: line.subscription_id,
        friendly_name: line.friendly_name.clone(),
        quantity: line.quantity,
        term_duration: line.term_duration.clone(),
        provisioning_context: line.provisioning_context.clone(),
        links: OrderLineItemLinks {
            subscription: line.subscription_id.map(|id| {
                Link::get(paths::unversioned(&paths::subscription(customer, id)).to_owned())
            }),
            activation_links: (line.kind == PurchaseKind::Saas).then(|| {
                let path = paths::order_activation_links(customer, &order.id, line.number);
                Link::get(paths::unversioned(&path).to_owned())
            }),
        },
    }
}

/// An order as the partner sees it.
pub(crate) fn resource(order: &OrderRecord) -> Order {
    let customer = order.customer.customer;
    let own = paths::order(customer, &order.id);
    let provisioning = paths::provisioning_status(customer, &order.id);
    Order {
        id: order.id.clone(),
        reference_customer_id: customer,
        billing_cycle: order.billing_cycle.clone(),
        currency_code: "USD".to_owned(),
        currency_symbol: "$".to_owned(),
        line_items: order
            .lines
            .iter()
            .map(|line| line_resource(order, line))
            .collect(),
        creation_date: order.created_at.to_rfc3339(),
        status: order.status.as_str().to_owned(),
        links: OrderLinks {
            self_link: Link::get(paths::unversioned(&own).to_owned()),
            provisioning_status: Link::get(paths::unversioned(&provisioning).to_owned()),
        },
        attributes: ResourceAttributes::of(Order::OBJECT_TYPE),
    }
}

/// 404, code 20000: no such order.
fn order_not_found(order_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::ORDER_NOT_FOUND,
        format!("Order Id not found: the customer has no order {order_id}."),
    )
}

/// The customer's order `order_id`, or the 404 it is (60003 when the customer is not there).
/// The order as the write saved it, else as it is now.
async fn saved_or_found<'s>(
    state: &AppState,
    key: CustomerKey,
    order_id: &str,
    saved: &'s Saved,
) -> Result<std::borrow::Cow<'s, OrderRecord>, ApiError> {
    match saved.order(order_id) {
        Some(order) => Ok(std::borrow::Cow::Borrowed(order)),
        None => find_order(state, key, order_id)
            .await
            .map(std::borrow::Cow::Owned),
    }
}

async fn find_order(
    state: &AppState,
    key: CustomerKey,
    order_id: &str,
) -> Result<OrderRecord, ApiError> {
    if let Some(order) = state.purchases().order(key, order_id).await? {
        return Ok(order);
    }
    match state.requests().customer(key).await? {
        Some(_) => Err(order_not_found(order_id)),
        None => Err(ApiError::customer_not_found(key.customer)),
    }
}

/// A direct order's lines, as the domain core checks them.
fn lines(request: OrderRequest) -> Result<Vec<LineRequest>, ApiError> {
    purchase::check_line_count(request.line_items.len())
        .map_err(|why| invalid_body(format!("property `lineItems`: {why}")))?;
    Ok(request
        .line_items
        .into_iter()
        .map(|line| LineRequest {
            id: line.line_item_number,
            catalog_item_id: line.offer_id,
            quantity: line.quantity,
            billing_cycle: request.billing_cycle.clone(),
            term_duration: line.term_duration,
            friendly_name: line.friendly_name,
            provisioning_context: line.provisioning_context,
        })
        .collect())
}

/// Place an order.
///
/// Its lines are checked as a cart's; any line that fails refuses the whole order with its
/// ServiceFault (800002 no such item or invalid input, 800021 not an active Azure subscription of
/// the customer, 800030 not registered, 800013 still registering, 800010 inventory, 800018 sandbox
/// limit).
#[utoipa::path(
    post,
    path = paths::templates::ORDERS,
    operation_id = "CreateOrder",
    tag = "Orders",
    params(CustomerPathParams),
    request_body = OrderRequest,
    responses((status = 201, description = "The order placed.", body = Order)),
    security(("bearer" = []))
)]
pub(crate) async fn create_order(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    PartnerJson(body): PartnerJson<OrderRequest>,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let lines = lines(body)?;
    let now = Timestamp::now();
    let idempotency = request.idempotency(&state, "POST", paths::orders(key.customer), now);
    let mut recorded = state
        .purchases()
        .place_order(key, &new_id(), &lines, now, idempotency.as_ref())
        .await?;
    let replayed = recorded.replayed;
    let saved = std::mem::take(&mut recorded.saved);
    match request.replayed(&state, recorded) {
        OrderOutcome::CustomerNotFound => Err(ApiError::customer_not_found(key.customer)),
        OrderOutcome::Refused(line, error) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            error.order_code(),
            format!("Line item {line}: {}", error.description()),
        )),
        OrderOutcome::Placed(id) => {
            if !replayed {
                tracing::info!(order = %id, "order placed");
                state.worker().wake();
            }
            let order = saved_or_found(&state, key, &id, &saved).await?;
            Ok(reply(StatusCode::CREATED, resource(&order)))
        }
    }
}

/// Get a customer's orders, newest first.
#[utoipa::path(
    get,
    path = paths::templates::ORDERS,
    operation_id = "GetOrders",
    tag = "Orders",
    params(CustomerPathParams),
    responses((status = 200, description = "The customer's orders.", body = Collection<Order>)),
    security(("bearer" = []))
)]
pub(crate) async fn list_orders(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let orders = state
        .purchases()
        .orders(key)
        .await?
        .ok_or_else(|| ApiError::customer_not_found(key.customer))?;
    let own = paths::orders(key.customer);
    Ok(reply(
        StatusCode::OK,
        Collection::new(
            orders.iter().map(resource).collect(),
            Some(Link::get(paths::unversioned(&own).to_owned())),
        ),
    ))
}

/// Get an order.
#[utoipa::path(
    get,
    path = paths::templates::ORDER,
    operation_id = "GetOrder",
    tag = "Orders",
    params(OrderPathParams),
    responses((status = 200, description = "The order.", body = Order)),
    security(("bearer" = []))
)]
pub(crate) async fn get_order(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<OrderPath>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let order = find_order(&state, request.customer_key(), &path.order_id).await?;
    Ok(reply(StatusCode::OK, resource(&order)))
}

/// Cancel an order (integration sandbox only).
///
/// With `{"status": "cancelled"}`: the order becomes `cancelled`, its lines `unfulfilled` and the
/// subscriptions it made `deleted`. Cancelling a cancelled order changes nothing. A partner that is
/// not an integration sandbox: 403, code 800019.
#[utoipa::path(
    patch,
    path = paths::templates::ORDER,
    operation_id = "CancelOrder",
    tag = "Orders",
    params(OrderPathParams),
    request_body = OrderPatch,
    responses((status = 200, description = "The order, cancelled.", body = Order)),
    security(("bearer" = []))
)]
pub(crate) async fn cancel_order(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<OrderPath>,
    PartnerJson(patch): PartnerJson<OrderPatch>,
) -> Result<Response, ApiError> {
    if !patch.status.trim().eq_ignore_ascii_case("cancelled") {
        return Err(invalid_body(format!(
            "property `status`: `{}` is not supported; the only change an order takes is `cancelled`",
            patch.status
        )));
    }
    let key = request.customer_key();
    let order_id = path.order_id;
    let now = Timestamp::now();
    let idempotency =
        request.idempotency(&state, "PATCH", paths::order(key.customer, &order_id), now);
    let mut recorded = state
        .purchases()
        .cancel_order(key, &order_id, now, idempotency.as_ref())
        .await?;
    let saved = std::mem::take(&mut recorded.saved);
    match request.replayed(&state, recorded) {
        CancelOutcome::CustomerNotFound => Err(ApiError::customer_not_found(key.customer)),
        CancelOutcome::OrderNotFound => Err(order_not_found(&order_id)),
        CancelOutcome::NotSandbox => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            codes::CANCEL_NOT_ALLOWED,
            "Non-Sandbox tenants are not allowed to cancel purchases other than software subscriptions and perpetual software.",
        )),
        CancelOutcome::Cancelled(id) => {
            let order = saved_or_found(&state, key, &id, &saved).await?;
            Ok(reply(StatusCode::OK, resource(&order)))
        }
    }
}

/// Get an order's provisioning status, line by line.
#[utoipa::path(
    get,
    path = paths::templates::PROVISIONING_STATUS,
    operation_id = "GetOrderProvisioningStatus",
    tag = "Orders",
    params(OrderPathParams),
    responses((status = 200, description = "Each line's provisioning status.", body = Collection<OrderLineItemProvisioningStatus>)),
    security(("bearer" = []))
)]
pub(crate) async fn provisioning_status(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<OrderPath>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let order = find_order(&state, key, &path.order_id).await?;
    let items = order
        .lines
        .iter()
        .map(|line| OrderLineItemProvisioningStatus {
            line_item_number: line.number,
            status: line.status.as_str().to_owned(),
            quantity_provisioning_information: vec![QuantityProvisioningStatus {
                quantity: line.quantity,
                status: line.status.as_str().to_owned(),
            }],
            attributes: ResourceAttributes::of(OrderLineItemProvisioningStatus::OBJECT_TYPE),
        })
        .collect();
    let own = paths::provisioning_status(key.customer, &order.id);
    Ok(reply(
        StatusCode::OK,
        Collection::new(items, Some(Link::get(paths::unversioned(&own).to_owned()))),
    ))
}

/// The activation link of line `number` of an order, for a subscription awaiting activation.
fn activation_link(number: u32, subscription: SubscriptionId) -> OrderLineItemActivationLink {
    OrderLineItemActivationLink {
        line_item_number: number,
        link: Link::get(format!(
            "{SANDBOX_LANDING_PAGE}?subscriptionId={subscription}"
        )),
        attributes: ResourceAttributes::of(OrderLineItemActivationLink::OBJECT_TYPE),
    }
}

/// Get the activation links of an order's line.
///
/// A SaaS line whose subscription awaits activation has one link; in the integration sandbox it is
/// a placeholder (activate with `POST .../subscriptions/{subscription_id}/activate`). Other lines
/// have none.
#[utoipa::path(
    get,
    path = paths::templates::ORDER_ACTIVATION_LINKS,
    operation_id = "GetOrderLineItemActivationLinks",
    tag = "Orders",
    params(OrderLinePathParams),
    responses((status = 200, description = "The line's activation links.", body = Collection<OrderLineItemActivationLink>)),
    security(("bearer" = []))
)]
pub(crate) async fn order_activation_links(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<OrderLinePath>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let order = find_order(&state, key, &path.order_id).await?;
    let line = path
        .line_item_number
        .parse::<u32>()
        .ok()
        .and_then(|number| order.lines.iter().find(|l| l.number == number))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
                format!(
                    "Order {} has no line item {}.",
                    order.id, path.line_item_number
                ),
            )
        })?;
    let items = match (line.kind, line.subscription_id) {
        (PurchaseKind::Saas, Some(subscription)) => {
            vec![activation_link(line.number, subscription)]
        }
        _ => Vec::new(),
    };
    let own = paths::order_activation_links(key.customer, &order.id, line.number);
    Ok(reply(
        StatusCode::OK,
        Collection::new(items, Some(Link::get(paths::unversioned(&own).to_owned()))),
    ))
}

/// Get the activation links of a subscription.
///
/// A SaaS subscription that awaits activation has one link (a placeholder in the integration
/// sandbox); any other subscription has none.
#[utoipa::path(
    get,
    path = paths::templates::SUBSCRIPTION_ACTIVATION_LINKS,
    operation_id = "GetSubscriptionActivationLinks",
    tag = "Subscriptions",
    params(SubscriptionPathParams),
    responses((status = 200, description = "The subscription's activation links.", body = Collection<OrderLineItemActivationLink>)),
    security(("bearer" = []))
)]
pub(crate) async fn subscription_activation_links(
    State(state): State<AppState>,
    request: PartnerRequest<SubscriptionScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.key();
    let record = match state.requests().find_subscription(&key).await? {
        Lookup::Found(record) => record,
        Lookup::CustomerNotFound => return Err(ApiError::customer_not_found(key.customer)),
        Lookup::SubscriptionNotFound => {
            return Err(ApiError::subscription_not_found(key.subscription));
        }
    };
    let mut items = Vec::new();
    if subscription::terms(&record).awaits_activation {
        // The line of the order that made it, if an order did.
        let number = match &record.order_id {
            Some(order_id) => state
                .purchases()
                .order(key.customer_key(), order_id)
                .await?
                .and_then(|order| {
                    order
                        .lines
                        .iter()
                        .find(|l| l.subscription_id == Some(key.subscription))
                        .map(|l| l.number)
                })
                .unwrap_or_default(),
            None => 0,
        };
        items.push(activation_link(number, key.subscription));
    }
    let own = paths::subscription_activation_links(key.customer, key.subscription);
    Ok(reply(
        StatusCode::OK,
        Collection::new(items, Some(Link::get(paths::unversioned(&own).to_owned()))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_distinct_version_7_guids_in_the_order_they_sort() {
        let first = new_ids();
        let ids: Vec<String> = (0..50).map(|n| first.nth(n)).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            let guid = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(guid.get_version_num(), 7, "{id}");
            assert_eq!(guid.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        // A later batch sorts after an earlier one (its time is not earlier).
        let later = new_ids().nth(0);
        assert!(later[..12] >= ids[49][..12]);
        assert_ne!(new_id(), new_id());
    }
}
