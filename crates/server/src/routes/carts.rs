//! Carts: create (`POST .../carts`), read and replace (`GET`, `PUT .../carts/{cart_id}`), and
//! check out (`POST .../carts/{cart_id}/checkout`). Each line is checked by the domain core
//! (`partner_center_domain::purchase`); a failing line keeps its place and carries its error.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use partner_center_domain::purchase::{self, CartOutcome, CheckoutOutcome, LineRequest};
use partner_center_domain::{CustomerKey, purchase::Cart as CartRecord};
use partner_center_model::collection::{Link, SelfLinks};
use partner_center_model::fault::codes;
use partner_center_model::purchase::{
    Cart, CartCheckoutResult, CartError, CartLineItem, CartRequest,
};
use partner_center_model::resources::ResourceAttributes;
use partner_center_model::{Timestamp, paths};
use partner_center_store::Saved;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::{CartPathParams, CustomerPathParams};
use crate::render::reply;
use crate::routes::body::{PartnerJson, invalid_body};
use crate::routes::orders;
use crate::routes::request::{CustomerScope, PartnerRequest};
use crate::wire::IgnoredBody;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::CARTS, post(create_cart))
        .route(paths::CART, get(get_cart).put(update_cart))
        .route(paths::CHECKOUT, post(checkout))
}

/// The `{cart_id}` of a cart route.
#[derive(Debug, Deserialize)]
pub(crate) struct CartPath {
    cart_id: String,
}

impl CartPath {
    /// The cart id as stored: a GUID in its canonical lower-case form when it is one (cart ids
    /// are GUIDs, matched in any case), else as sent (it then names no cart).
    fn id(&self) -> String {
        uuid::Uuid::parse_str(self.cart_id.trim())
            .map_or_else(|_| self.cart_id.clone(), |id| id.hyphenated().to_string())
    }
}

/// A cart as the partner sees it.
pub(crate) fn resource(cart: &CartRecord) -> Cart {
    let path = paths::cart(cart.customer.customer, &cart.id);
    Cart {
        id: cart.id.clone(),
        creation_timestamp: cart.created_at.to_rfc3339(),
        last_modified_timestamp: cart.updated_at.to_rfc3339(),
        expiration_timestamp: cart.expires_at.to_rfc3339(),
        status: cart.status.as_str().to_owned(),
        line_items: cart
            .lines
            .iter()
            .map(|line| CartLineItem {
                id: line.id,
                catalog_item_id: line.catalog_item_id.clone(),
                quantity: line.quantity,
                currency_code: "USD".to_owned(),
                billing_cycle: line.billing_cycle.clone(),
                term_duration: line.term_duration.clone(),
                friendly_name: line.friendly_name.clone(),
                provisioning_context: line.provisioning_context.clone(),
                order_group: line.order_group.clone(),
                error: line.error.as_ref().map(|error| CartError {
                    error_code: error.cart_code(),
                    error_description: error.description(),
                    attributes: ResourceAttributes::of(CartError::OBJECT_TYPE),
                }),
            })
            .collect(),
        links: SelfLinks {
            self_link: Link::get(paths::unversioned(&path)),
        },
        attributes: ResourceAttributes::of(Cart::OBJECT_TYPE),
    }
}

/// A cart request's lines, as the domain core checks them: at most
/// [`purchase::MAX_LINES`](partner_center_domain::purchase::MAX_LINES) (else 400).
fn lines(request: CartRequest) -> Result<Vec<LineRequest>, ApiError> {
    purchase::check_line_count(request.line_items.len())
        .map_err(|why| invalid_body(format!("property `lineItems`: {why}")))?;
    Ok(request
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
        .collect())
}

/// 404, code 800008: no such cart (or it expired).
fn cart_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        codes::CART_NOT_FOUND,
        "Unable to retrieve cart Id: the customer has no such cart, or it has expired.",
    )
}

/// The saved cart, answered with `status` (as the write saved it, else as it is now); or the
/// error its outcome is.
async fn answer(
    state: &AppState,
    key: CustomerKey,
    outcome: CartOutcome,
    saved: &Saved,
    status: StatusCode,
) -> Result<Response, ApiError> {
    match outcome {
        CartOutcome::CustomerNotFound => Err(ApiError::customer_not_found(key.customer)),
        CartOutcome::CartNotFound => Err(cart_not_found()),
        CartOutcome::AlreadyOrdered => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::CART_ALREADY_SUBMITTED,
            "This cart was checked out already: it cannot be changed.",
        )),
        CartOutcome::Saved(id) => {
            if let Some(cart) = saved.cart(&id) {
                return Ok(reply(status, resource(cart)));
            }
            let cart = state
                .purchases()
                .cart(key, &id)
                .await?
                .ok_or_else(cart_not_found)?;
            Ok(reply(status, resource(&cart)))
        }
    }
}

/// Create a cart.
///
/// Each line is checked against the catalog, the customer's subscriptions and the sandbox limits;
/// a line that fails keeps its place with an `error` (`CartError`), and the cart is still created.
#[utoipa::path(
    post,
    path = paths::templates::CARTS,
    operation_id = "CreateCart",
    tag = "Carts",
    params(CustomerPathParams),
    request_body = CartRequest,
    responses((status = 201, description = "The cart, each line checked.", body = Cart)),
    security(("bearer" = []))
)]
pub(crate) async fn create_cart(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    PartnerJson(body): PartnerJson<CartRequest>,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let lines = lines(body)?;
    let now = Timestamp::now();
    let idempotency = request.idempotency(&state, "POST", paths::carts(key.customer), now);
    // Time-ordered (version 7), so that the carts' index grows at its end.
    let id = uuid::Uuid::now_v7().hyphenated().to_string();
    let mut recorded = state
        .purchases()
        .create_cart(
            key,
            &id,
            &lines,
            now,
            state.cart_lifetime(),
            idempotency.as_ref(),
        )
        .await?;
    let saved = std::mem::take(&mut recorded.saved);
    let outcome = request.replayed(&state, recorded);
    answer(&state, key, outcome, &saved, StatusCode::CREATED).await
}

/// Get a cart.
#[utoipa::path(
    get,
    path = paths::templates::CART,
    operation_id = "GetCart",
    tag = "Carts",
    params(CartPathParams),
    responses((status = 200, description = "The cart.", body = Cart)),
    security(("bearer" = []))
)]
pub(crate) async fn get_cart(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<CartPath>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let found = state.purchases().cart(key, &path.id()).await?;
    match found.filter(|cart| !cart.expired(Timestamp::now())) {
        Some(cart) => Ok(reply(StatusCode::OK, resource(&cart))),
        None => Err(missing_cart(&state, key).await),
    }
}

/// The 404 of a cart that is not there: 60003 when the customer is not either.
async fn missing_cart(state: &AppState, key: CustomerKey) -> ApiError {
    match state.requests().customer(key).await {
        Ok(Some(_)) => cart_not_found(),
        Ok(None) => ApiError::customer_not_found(key.customer),
        Err(err) => err.into(),
    }
}

/// Replace a cart's lines.
///
/// Only an `Active` cart; its lines are checked again, and its expiry moves to the cart lifetime
/// after now.
#[utoipa::path(
    put,
    path = paths::templates::CART,
    operation_id = "UpdateCart",
    tag = "Carts",
    params(CartPathParams),
    request_body = CartRequest,
    responses((status = 200, description = "The cart, each line checked.", body = Cart)),
    security(("bearer" = []))
)]
pub(crate) async fn update_cart(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<CartPath>,
    PartnerJson(body): PartnerJson<CartRequest>,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let lines = lines(body)?;
    let id = path.id();
    let now = Timestamp::now();
    let idempotency = request.idempotency(&state, "PUT", paths::cart(key.customer, &id), now);
    let mut recorded = state
        .purchases()
        .update_cart(
            key,
            &id,
            &lines,
            now,
            state.cart_lifetime(),
            idempotency.as_ref(),
        )
        .await?;
    let saved = std::mem::take(&mut recorded.saved);
    let outcome = request.replayed(&state, recorded);
    answer(&state, key, outcome, &saved, StatusCode::OK).await
}

/// Check a cart out.
///
/// Every line is checked again; if one fails, nothing is bought (400, code 800009; the cart, read
/// again, shows why). Otherwise one order is placed per order group and the cart becomes
/// `Ordered`. The body is ignored.
#[utoipa::path(
    post,
    path = paths::templates::CHECKOUT,
    operation_id = "CheckoutCart",
    tag = "Carts",
    params(CartPathParams),
    responses((status = 201, description = "The orders placed.", body = CartCheckoutResult)),
    security(("bearer" = []))
)]
pub(crate) async fn checkout(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    Path(path): Path<CartPath>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let id = path.id();
    let now = Timestamp::now();
    let idempotency = request.idempotency(&state, "POST", paths::checkout(key.customer, &id), now);
    let order_ids = orders::new_ids();
    let mut recorded = state
        .purchases()
        .checkout(key, &id, order_ids, now, idempotency.as_ref())
        .await?;
    let replayed = recorded.replayed;
    let saved = std::mem::take(&mut recorded.saved);
    match request.replayed(&state, recorded) {
        CheckoutOutcome::CustomerNotFound => Err(ApiError::customer_not_found(key.customer)),
        CheckoutOutcome::CartNotFound => Err(cart_not_found()),
        CheckoutOutcome::AlreadyOrdered => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::CART_ALREADY_SUBMITTED,
            format!("Cannot check out an already submitted cart {id}."),
        )),
        CheckoutOutcome::LineErrors => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::CART_ITEM_ERRORS,
            "Error in Cart item(s): read the cart for each line's error. Nothing was bought.",
        )),
        CheckoutOutcome::Ordered(ids) => {
            if !replayed {
                tracing::info!(cart = %id, orders = ids.len(), "cart checked out");
                state.worker().wake();
            }
            let mut placed = Vec::with_capacity(ids.len());
            for order_id in &ids {
                if let Some(order) = saved.order(order_id) {
                    placed.push(orders::resource(order));
                } else if let Some(order) = state.purchases().order(key, order_id).await? {
                    placed.push(orders::resource(&order));
                }
            }
            Ok(reply(
                StatusCode::CREATED,
                CartCheckoutResult {
                    orders: placed,
                    order_errors: Vec::new(),
                    attributes: ResourceAttributes::of(CartCheckoutResult::OBJECT_TYPE),
                },
            ))
        }
    }
}
