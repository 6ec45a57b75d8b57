//! Catalog discovery: products by target view, a product, its SKUs and their availabilities
//! (`GET /v1/products...?country=US`), and the inventory check
//! (`POST /v1/extensions/product/checkInventory?country=US`), over the catalog the purchases use
//! (`partner_center_domain::discovery`). Any partner may read them: they name no customer.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use partner_center_domain::catalog::Catalog;
use partner_center_domain::discovery::{
    self, AvailabilityView, Missing, ProductView, Restriction, SkuView, View,
};
use partner_center_model::catalog::PurchaseKind;
use partner_center_model::collection::Link;
use partner_center_model::fault::codes;
use partner_center_model::product::{
    Availability, AvailabilityLinks, CurrencyInfo, InventoryCheckRequest, InventoryItem,
    InventoryItems, InventoryRestriction, ItemType, Product, ProductLinks, Sku, SkuLinks, Term,
};
use partner_center_model::resources::ResourceAttributes;
use partner_center_model::{Collection, paths};
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::{
    AvailabilityPathParams, DiscoveryQueryParams, ProductPathParams, ProductsQueryParams,
    SkuPathParams, VersionPathParams,
};
use crate::render::reply;
use crate::routes::body::{invalid_body, json_bytes, parse};
use crate::routes::request::{NoScope, PartnerRequest};
use crate::wire::IgnoredBody;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::PRODUCTS, get(list_products))
        .route(paths::PRODUCT, get(get_product))
        .route(paths::SKUS, get(list_skus))
        .route(paths::SKU, get(get_sku))
        .route(paths::AVAILABILITIES, get(list_availabilities))
        .route(paths::AVAILABILITY, get(get_availability))
        .route(paths::CHECK_INVENTORY, post(check_inventory))
}

/// The query every discovery route reads (names in any case, as ASP.NET binds them).
#[derive(Debug, Default)]
pub(crate) struct DiscoveryQuery {
    country: String,
    target_view: Option<String>,
}

/// 400, code 2000, about the query.
fn invalid_query(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::INVALID_INPUT,
        format!("The query is not valid: {why}."),
    )
}

impl DiscoveryQuery {
    /// Reads `country` (required), `targetView`, and `targetSegment` (only `commercial` may be
    /// read: 403, 400030); `reservationScope` is accepted and ignored.
    fn read(
        query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Self, ApiError> {
        let Query(query) = query.map_err(|e| invalid_query(e.body_text()))?;
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let country = discovery::country(param("country")).map_err(invalid_query)?;
        if let Some(segment) = param("targetSegment")
            && !discovery::segment_allowed(segment)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                codes::SEGMENT_NOT_ALLOWED,
                "Access to the requested targetSegment is not allowed.",
            ));
        }
        Ok(Self {
            country,
            target_view: param("targetView").map(str::to_owned),
        })
    }

    /// A link to `path`, with the country, as Partner Center writes it.
    fn link(&self, path: &str) -> Link {
        Link::get(format!(
            "{}?country={}",
            paths::unversioned(path),
            self.country
        ))
    }
}

/// The answer to what is missing.
fn missing(missing: Missing) -> ApiError {
    match missing {
        Missing::Product => ApiError::new(
            StatusCode::NOT_FOUND,
            codes::PRODUCT_NOT_FOUND,
            "Product was not found.",
        ),
        Missing::Sku => ApiError::new(
            StatusCode::NOT_FOUND,
            codes::SKU_NOT_FOUND,
            "Sku was not found.",
        ),
        Missing::Availability => ApiError::new(
            StatusCode::NOT_FOUND,
            codes::AVAILABILITY_NOT_FOUND,
            "Availability not found.",
        ),
    }
}

fn item_type(id: &str) -> ItemType {
    ItemType {
        id: id.to_owned(),
        display_name: id.to_owned(),
        sub_type: None,
    }
}

fn product_resource(product: &ProductView<'_>, query: &DiscoveryQuery) -> Product {
    let sub_type = match product.kind() {
        PurchaseKind::Reservation => "VirtualMachines",
        PurchaseKind::Saas => "SaaS",
    };
    Product {
        id: product.id.to_owned(),
        title: product.title(),
        description: product.description(),
        product_type: ItemType {
            sub_type: Some(Box::new(item_type(sub_type))),
            ..item_type("Azure")
        },
        is_microsoft_product: product.is_microsoft(),
        publisher_name: product.publisher(),
        links: ProductLinks {
            skus: query.link(&paths::skus(product.id)),
            self_link: query.link(&paths::product(product.id)),
        },
        attributes: ResourceAttributes::of(Product::OBJECT_TYPE),
    }
}

fn sku_resource(sku: &SkuView<'_>, query: &DiscoveryQuery) -> Sku {
    let (minimum, maximum) = sku.quantities();
    let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
    Sku {
        id: sku.id.to_owned(),
        product_id: sku.product_id.to_owned(),
        title: sku.title(),
        description: sku.description(),
        minimum_quantity: minimum,
        maximum_quantity: maximum,
        is_trial: false,
        supported_billing_cycles: sku.billing_cycles(),
        purchase_prerequisites: sku.purchase_prerequisites(),
        inventory_variables: names(sku.inventory_variables()),
        provisioning_variables: names(sku.provisioning_variables()),
        dynamic_attributes: sku.item().dynamic_attributes.clone(),
        links: SkuLinks {
            availabilities: query.link(&paths::availabilities(sku.product_id, sku.id)),
            self_link: query.link(&paths::sku(sku.product_id, sku.id)),
        },
        attributes: ResourceAttributes::of(Sku::OBJECT_TYPE),
    }
}

fn availability_resource(
    product: &str,
    sku: &str,
    availability: &AvailabilityView<'_>,
    query: &DiscoveryQuery,
) -> Availability {
    Availability {
        id: availability.id.to_owned(),
        product_id: product.to_owned(),
        sku_id: sku.to_owned(),
        catalog_item_id: availability.item.id.clone(),
        default_currency: CurrencyInfo {
            code: "USD".to_owned(),
            symbol: "$".to_owned(),
        },
        segment: "commercial".to_owned(),
        country: query.country.clone(),
        is_purchasable: true,
        is_renewable: availability.renewable(),
        terms: vec![Term {
            duration: availability.item.term_duration.clone(),
            description: availability.term_description(),
        }],
        links: AvailabilityLinks {
            self_link: query.link(&paths::availability(product, sku, availability.id)),
        },
        attributes: ResourceAttributes::of(Availability::OBJECT_TYPE),
    }
}

/// The catalog, as every discovery route reads it.
async fn catalog(state: &AppState) -> Result<Catalog, ApiError> {
    Ok(state.purchases().catalog().await?)
}

type QueryResult = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

/// The `{product_id}` of a product's routes.
#[derive(Debug, Deserialize)]
pub(crate) struct ProductPath {
    product_id: String,
}

/// The `{product_id}` and `{sku_id}` of a SKU's routes.
#[derive(Debug, Deserialize)]
pub(crate) struct SkuPath {
    product_id: String,
    sku_id: String,
}

/// The ids of an availability's route.
#[derive(Debug, Deserialize)]
pub(crate) struct AvailabilityPath {
    product_id: String,
    sku_id: String,
    availability_id: String,
}

/// Get the products of a target view.
///
/// `AzureReservationsVM` (and `AzureReservations`, `Azure`) lists the reservation products,
/// `OnlineServices` the commercial-marketplace SaaS products; Partner Center's other documented
/// views list nothing here, and an undocumented one is not allowed (403, code 400036).
#[utoipa::path(
    get,
    path = paths::templates::PRODUCTS,
    operation_id = "GetProducts",
    tag = "Products",
    params(VersionPathParams, ProductsQueryParams),
    responses((status = 200, description = "The view's products.", body = Collection<Product>)),
    security(("bearer" = []))
)]
pub(crate) async fn list_products(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    query: QueryResult,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let query = DiscoveryQuery::read(query)?;
    let name = query.target_view.as_deref().ok_or_else(|| {
        invalid_query(
            "the targetView query parameter is required (e.g. targetView=AzureReservationsVM)",
        )
    })?;
    let view = View::parse(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            codes::VIEW_NOT_ALLOWED,
            "Access to the requested targetView is not allowed.",
        )
    })?;
    let catalog = catalog(&state).await?;
    let items = discovery::products(&catalog, view)
        .iter()
        .map(|product| product_resource(product, &query))
        .collect();
    let own = format!(
        "{}?country={}&targetView={}",
        paths::unversioned(paths::PRODUCTS),
        query.country,
        name.trim()
    );
    Ok(reply(
        StatusCode::OK,
        Collection::new(items, Some(Link::get(own))),
    ))
}

/// Get a product.
#[utoipa::path(
    get,
    path = paths::templates::PRODUCT,
    operation_id = "GetProduct",
    tag = "Products",
    params(ProductPathParams, DiscoveryQueryParams),
    responses((status = 200, description = "The product.", body = Product)),
    security(("bearer" = []))
)]
pub(crate) async fn get_product(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    Path(path): Path<ProductPath>,
    query: QueryResult,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let query = DiscoveryQuery::read(query)?;
    let catalog = catalog(&state).await?;
    let product =
        discovery::product(&catalog, &path.product_id).ok_or_else(|| missing(Missing::Product))?;
    Ok(reply(StatusCode::OK, product_resource(&product, &query)))
}

/// Get a product's SKUs.
#[utoipa::path(
    get,
    path = paths::templates::SKUS,
    operation_id = "GetSkus",
    tag = "Products",
    params(ProductPathParams, DiscoveryQueryParams),
    responses((status = 200, description = "The product's SKUs.", body = Collection<Sku>)),
    security(("bearer" = []))
)]
pub(crate) async fn list_skus(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    Path(path): Path<ProductPath>,
    query: QueryResult,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let query = DiscoveryQuery::read(query)?;
    let catalog = catalog(&state).await?;
    let product =
        discovery::product(&catalog, &path.product_id).ok_or_else(|| missing(Missing::Product))?;
    let items = product
        .skus()
        .iter()
        .map(|sku| sku_resource(sku, &query))
        .collect();
    let own = query.link(&paths::skus(product.id));
    Ok(reply(StatusCode::OK, Collection::new(items, Some(own))))
}

/// Get a SKU of a product.
#[utoipa::path(
    get,
    path = paths::templates::SKU,
    operation_id = "GetSku",
    tag = "Products",
    params(SkuPathParams, DiscoveryQueryParams),
    responses((status = 200, description = "The SKU.", body = Sku)),
    security(("bearer" = []))
)]
pub(crate) async fn get_sku(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    Path(path): Path<SkuPath>,
    query: QueryResult,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let query = DiscoveryQuery::read(query)?;
    let catalog = catalog(&state).await?;
    let sku = discovery::sku(&catalog, &path.product_id, &path.sku_id).map_err(missing)?;
    Ok(reply(StatusCode::OK, sku_resource(&sku, &query)))
}

/// Get a SKU's availabilities.
///
/// Each availability's `catalogItemId` is what a cart line (or an order line's `offerId`) buys.
#[utoipa::path(
    get,
    path = paths::templates::AVAILABILITIES,
    operation_id = "GetAvailabilities",
    tag = "Products",
    params(SkuPathParams, DiscoveryQueryParams),
    responses((status = 200, description = "The SKU's availabilities.", body = Collection<Availability>)),
    security(("bearer" = []))
)]
pub(crate) async fn list_availabilities(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    Path(path): Path<SkuPath>,
    query: QueryResult,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let query = DiscoveryQuery::read(query)?;
    let catalog = catalog(&state).await?;
    let sku = discovery::sku(&catalog, &path.product_id, &path.sku_id).map_err(missing)?;
    let items = sku
        .availabilities()
        .iter()
        .map(|a| availability_resource(sku.product_id, sku.id, a, &query))
        .collect();
    let own = query.link(&paths::availabilities(sku.product_id, sku.id));
    Ok(reply(StatusCode::OK, Collection::new(items, Some(own))))
}

/// Get an availability of a SKU.
#[utoipa::path(
    get,
    path = paths::templates::AVAILABILITY,
    operation_id = "GetAvailability",
    tag = "Products",
    params(AvailabilityPathParams, DiscoveryQueryParams),
    responses((status = 200, description = "The availability.", body = Availability)),
    security(("bearer" = []))
)]
pub(crate) async fn get_availability(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    Path(path): Path<AvailabilityPath>,
    query: QueryResult,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let query = DiscoveryQuery::read(query)?;
    let catalog = catalog(&state).await?;
    let sku = discovery::sku(&catalog, &path.product_id, &path.sku_id).map_err(missing)?;
    let availability = sku
        .availability(&path.availability_id)
        .ok_or_else(|| missing(Missing::Availability))?;
    Ok(reply(
        StatusCode::OK,
        availability_resource(sku.product_id, sku.id, &availability, &query),
    ))
}

/// Check the inventory of products' SKUs.
///
/// Body: `{"TargetItems": [{"ProductId": "...", "SkuId": "..."}], "InventoryContext":
/// {"customerId": "...", "azureSubscriptionId": "...", "armRegionName": "eastus"}}` (keys in any
/// case; without `SkuId`, every SKU of the product). Answers a bare array, one item per SKU checked
/// (unknown ones left out): restricted when the region asked for is not the SKU's, or when the
/// catalog marks it so. No body: 400, code 2001; a context item a SKU's `inventoryVariables` need
/// is missing: 400, code 400026.
#[utoipa::path(
    post,
    path = paths::templates::CHECK_INVENTORY,
    operation_id = "CheckInventory",
    tag = "Products",
    params(VersionPathParams, DiscoveryQueryParams),
    request_body = InventoryCheckRequest,
    responses((status = 200, description = "What the check found, SKU by SKU.", body = InventoryItems)),
    security(("bearer" = []))
)]
pub(crate) async fn check_inventory(
    State(state): State<AppState>,
    _request: PartnerRequest<NoScope>,
    query: QueryResult,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    DiscoveryQuery::read(query)?;
    let bytes = json_bytes(request, &state).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            codes::BODY_MISSING,
            "The request body is missing.",
        ));
    }
    let body: InventoryCheckRequest = parse(&bytes)?;
    if body.target_items.len() > 100 {
        return Err(invalid_body(
            "property `targetItems`: at most 100 items are allowed",
        ));
    }
    let targets: Vec<(String, Option<String>)> = body
        .target_items
        .into_iter()
        .map(|t| (t.product_id, t.sku_id))
        .collect();
    let catalog = catalog(&state).await?;
    let checked = discovery::check_inventory(&catalog, &targets, &body.inventory_context).map_err(
        |missing| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                codes::INVENTORY_CONTEXT_MISSING,
                format!("A required inventory context item is missing: {missing}."),
            )
        },
    )?;
    let items = checked
        .into_iter()
        .map(|c| {
            let restrictions = match c.restriction {
                None => Vec::new(),
                Some(Restriction::Location(region)) => vec![InventoryRestriction {
                    reason_code: "NotAvailableForSubscription".to_owned(),
                    description: format!(
                        "Restriction identified of type 'Location' with values '{region}'."
                    ),
                    properties: [
                        ("type".to_owned(), "Location".to_owned()),
                        ("values".to_owned(), region),
                    ]
                    .into(),
                }],
                Some(Restriction::Marked) => vec![InventoryRestriction {
                    reason_code: "NotAvailableForSubscription".to_owned(),
                    description: "Restriction identified of type 'Sku': the SKU is not available for this subscription.".to_owned(),
                    properties: [("type".to_owned(), "Sku".to_owned())].into(),
                }],
            };
            InventoryItem {
                product_id: c.product_id,
                sku_id: c.sku_id,
                is_restricted: !restrictions.is_empty(),
                restrictions,
            }
        })
        .collect();
    Ok(reply(StatusCode::OK, InventoryItems(items)))
}
