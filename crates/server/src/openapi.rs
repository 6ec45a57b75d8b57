//! The OpenAPI 3.1 description of the three routes, generated from the code: the operations from
//! the handlers' `#[utoipa::path]` attributes, the schemas from the model types, and what every
//! operation shares (error responses, correlation headers, media types, XML names) from the
//! constants the service itself uses. Served at `/openapi.json`; a copy is kept in
//! `docs/openapi.json` and a test keeps it current.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::StatusCode;
use partner_center_model::headers::MAX_ID_HEADER_LEN;
use partner_center_model::xml::{ARRAYS_NAMESPACE, NAMESPACE};
use partner_center_model::{MediaType, ServiceFault};
use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToSchema};

use crate::routes::{carts, customers, orders, products, subscriptions};

/// A GUID as the routes accept it: 8-4-4-4-12 hexadecimal digits in any case, optionally in braces.
pub(crate) const GUID_PATTERN: &str = r"^(\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$";

/// The API version in the path: `1` or `1.0`.
pub(crate) struct ApiVersion;

impl PartialSchema for ApiVersion {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["1", "1.0"]))
            .into()
    }
}

impl ToSchema for ApiVersion {}

fn path_parameter(
    name: &str,
    description: &str,
    schema: RefOr<Schema>,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn query_parameter(
    name: &str,
    description: &str,
    schema: RefOr<Schema>,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn guid(example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(GUID_PATTERN))
        .examples([example])
        .into()
}

fn version_parameter() -> utoipa::openapi::path::Parameter {
    path_parameter(
        "version",
        "The API version: `1` or `1.0`.",
        ApiVersion::schema(),
    )
}

fn customer_parameter() -> utoipa::openapi::path::Parameter {
    path_parameter(
        "customer_id",
        "The customer's Entra tenant id: a GUID, in any case, optionally in braces.",
        guid("c2f6e3b1-0000-4000-8000-000000000002"),
    )
}

/// The path parameter of the routes that name no customer.
pub(crate) struct VersionPathParams;

impl IntoParams for VersionPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![version_parameter()]
    }
}

/// The path parameters of the routes on a customer.
pub(crate) struct CustomerPathParams;

impl IntoParams for CustomerPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![version_parameter(), customer_parameter()]
    }
}

/// The path parameters of the routes on a subscription.
pub(crate) struct SubscriptionPathParams;

impl IntoParams for SubscriptionPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            version_parameter(),
            customer_parameter(),
            path_parameter(
                "subscription_id",
                "The Partner Center subscription id: a GUID, in any case, optionally in braces.",
                guid("d3a7f4c2-0000-4000-8000-000000000003"),
            ),
        ]
    }
}

fn id_parameter(name: &str, description: &str, example: &str) -> utoipa::openapi::path::Parameter {
    path_parameter(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(128))
            .examples([example])
            .into(),
    )
}

/// The path parameters of the routes on a cart.
pub(crate) struct CartPathParams;

impl IntoParams for CartPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            version_parameter(),
            customer_parameter(),
            id_parameter(
                "cart_id",
                "The cart's id (a GUID, in any case).",
                "0a1b2c3d-0000-4000-8000-000000000001",
            ),
        ]
    }
}

fn order_parameter() -> utoipa::openapi::path::Parameter {
    id_parameter(
        "order_id",
        "The order's id.",
        "Cs_jyTxubLpvdJXdo8xcQZN6I2RsLrgZ",
    )
}

/// The path parameters of the routes on an order.
pub(crate) struct OrderPathParams;

impl IntoParams for OrderPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![version_parameter(), customer_parameter(), order_parameter()]
    }
}

/// The path parameters of the routes on an order's line.
pub(crate) struct OrderLinePathParams;

impl IntoParams for OrderLinePathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            version_parameter(),
            customer_parameter(),
            order_parameter(),
            path_parameter(
                "line_item_number",
                "The line's number in the order, from 0.",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .into(),
            ),
        ]
    }
}

fn catalog_id_parameter(
    name: &str,
    description: &str,
    example: &str,
) -> utoipa::openapi::path::Parameter {
    path_parameter(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .examples([example])
            .into(),
    )
}

fn product_parameters() -> Vec<utoipa::openapi::path::Parameter> {
    vec![
        version_parameter(),
        catalog_id_parameter("product_id", "The product's id.", "DZH318Z0BQ36"),
    ]
}

/// The path parameters of the routes on a product.
pub(crate) struct ProductPathParams;

impl IntoParams for ProductPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        product_parameters()
    }
}

/// The path parameters of the routes on a SKU.
pub(crate) struct SkuPathParams;

impl IntoParams for SkuPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = product_parameters();
        params.push(catalog_id_parameter(
            "sku_id",
            "The SKU's id, unique within its product.",
            "0048",
        ));
        params
    }
}

/// The path parameters of an availability's route.
pub(crate) struct AvailabilityPathParams;

impl IntoParams for AvailabilityPathParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = SkuPathParams::into_params(|| None);
        params.push(catalog_id_parameter(
            "availability_id",
            "The availability's id.",
            "DZH318Z08C0T",
        ));
        params
    }
}

fn discovery_parameters() -> Vec<utoipa::openapi::path::Parameter> {
    vec![
        ParameterBuilder::new()
            .name("country")
            .parameter_in(ParameterIn::Query)
            .required(Required::True)
            .description(Some(
                "The country: an ISO 3166 two-letter code, in any case (e.g. US).",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z]{2}$"))
                    .examples(["US"]),
            ))
            .build(),
        query_parameter(
            "targetSegment",
            "`commercial` (the default); any other segment is not allowed (403, code 400030).",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["commercial"]))
                .into(),
        ),
        query_parameter(
            "reservationScope",
            "`AzurePlan`: accepted (every reservation applies to Azure plans here).",
            String::schema(),
        ),
    ]
}

/// The query of the discovery routes on a product, SKU or availability, and of the inventory
/// check.
pub(crate) struct DiscoveryQueryParams;

impl IntoParams for DiscoveryQueryParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        discovery_parameters()
    }
}

/// The query of the products list.
pub(crate) struct ProductsQueryParams;

impl IntoParams for ProductsQueryParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        let mut params = discovery_parameters();
        params.push(
            ParameterBuilder::new()
                .name("targetView")
                .parameter_in(ParameterIn::Query)
                .required(Required::True)
                .description(Some("`AzureReservationsVM`, `AzureReservations` or `Azure`: the reservation products; `OnlineServices`: the SaaS products; Partner Center's other documented views list nothing here; any other view is not allowed (403, code 400036)."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .examples(["AzureReservationsVM"]),
                ))
                .build(),
        );
        params
    }
}

/// The query of the customers list.
pub(crate) struct CustomersQueryParams;

impl IntoParams for CustomersQueryParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![
            query_parameter(
                "size",
                "Customers per page, 1 to 500 (200 by default); 0 with a filter: all of them.",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(500))
                    .into(),
            ),
            query_parameter(
                "seekOperation",
                "`Next`: the page after the one whose token the MS-ContinuationToken header carries.",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["Next"]))
                    .into(),
            ),
            query_parameter(
                "filter",
                "URL-encoded JSON: {\"Field\": \"CompanyName\"|\"Domain\", \"Value\": \"...\", \"Operator\": \"starts_with\"}.",
                String::schema(),
            ),
            ParameterBuilder::new()
                .name("MS-ContinuationToken")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "With seekOperation=Next: the continuationToken of the previous page.",
                ))
                .schema(Some(String::schema()))
                .build(),
        ]
    }
}

/// The query of the subscriptions list.
pub(crate) struct SubscriptionsQueryParams;

impl IntoParams for SubscriptionsQueryParams {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![query_parameter(
            "order_id",
            "Only the subscriptions this order created.",
            String::schema(),
        )]
    }
}

/// The three routes' description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Partner Center: subscription registration and sandbox activation",
        description = "Register an Azure subscription for Reserved Instance purchase, read its registration status, and activate a third-party SaaS subscription in an integration sandbox: Microsoft Partner Center's API, as this service implements it.",
        license(name = "MIT OR Apache-2.0"),
    ),
    servers(
        (url = "https://api.partnercenter.microsoft.com", description = "Partner Center"),
        (url = "http://127.0.0.1:8080", description = "This service, as `partner-center serve` starts it"),
    ),
    paths(
        customers::list_customers,
        customers::get_customer,
        subscriptions::list_subscriptions,
        subscriptions::get_subscription,
        subscriptions::register,
        subscriptions::registration_status,
        subscriptions::activate,
        carts::create_cart,
        carts::get_cart,
        carts::update_cart,
        carts::checkout,
        orders::create_order,
        orders::list_orders,
        orders::get_order,
        orders::cancel_order,
        orders::provisioning_status,
        orders::order_activation_links,
        orders::subscription_activation_links,
        products::list_products,
        products::get_product,
        products::list_skus,
        products::get_sku,
        products::list_availabilities,
        products::get_availability,
        products::check_inventory
    ),
    components(schemas(ServiceFault)),
    modifiers(&Shared),
    tags(
        (name = "Customers", description = "The partner's customers"),
        (name = "Subscriptions", description = "A customer's subscriptions"),
        (name = "Carts", description = "Carts and their checkout"),
        (name = "Orders", description = "Orders, their provisioning and their cancellation"),
        (name = "Products", description = "Catalog discovery: products, SKUs, availabilities, inventory")
    )
)]
struct ApiDoc;

/// What every operation shares.
struct Shared;

/// The error responses every operation may answer, with a ServiceFault body.
const ERRORS: &[(StatusCode, &str)] = &[
    (
        StatusCode::BAD_REQUEST,
        "An input is not valid (code 2000: an id that is not a GUID, an unusable MS-RequestId or MS-CorrelationId, a page size, filter or continuation token that is not valid), or the operation does not apply to the subscription (see docs/error-codes.md).",
    ),
    (
        StatusCode::UNAUTHORIZED,
        "The bearer token is missing (code 800001) or not valid (code 400), or an App+User token lacks multi-factor authentication (code 900421).",
    ),
    (
        StatusCode::FORBIDDEN,
        "The token's tenant is not a partner of this service (code 2032), or an App+User token lacks the user_impersonation scope (code 900150).",
    ),
    (
        StatusCode::NOT_FOUND,
        "The partner has no such customer (code 60003), the customer no such subscription (code 20003), or the version is not 1 or 1.0 (code 1000).",
    ),
    (
        StatusCode::NOT_ACCEPTABLE,
        "The Accept header allows none of application/json, text/json, application/xml and text/xml.",
    ),
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        "The request body is larger than 64 KiB (bodies are otherwise ignored).",
    ),
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "An unexpected failure (code 800003); nothing of it is disclosed.",
    ),
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The database cannot be reached or is overloaded (code 0); retry after the Retry-After seconds with the same MS-RequestId.",
    ),
];

/// The headers on every response.
const RESPONSE_HEADERS: &[(&str, &str)] = &[
    (
        "MS-RequestId",
        "The request's MS-RequestId, or a new GUID when it had none.",
    ),
    (
        "MS-CorrelationId",
        "The request's MS-CorrelationId, or a new GUID when it had none.",
    ),
    (
        "MS-CV",
        "A Correlation Vector v1: the request's extended with `.0`, or a fresh one.",
    ),
    ("MS-ServerId", "An identifier of the serving instance."),
];

/// The optional request headers every operation reads.
const REQUEST_HEADERS: &[(&str, &str, bool)] = &[
    (
        "MS-RequestId",
        "Identifies the call; a POST repeated with the same value is answered as the first was, without a second effect.",
        true,
    ),
    (
        "MS-CorrelationId",
        "Identifies a chain of calls, for logs.",
        true,
    ),
    (
        "MS-CV",
        "A Correlation Vector; an invalid one is replaced, not refused.",
        false,
    ),
];

impl Modify for Shared {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An Entra ID access token for https://api.partnercenter.microsoft.com (App-only or App+User)."))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_shared(operation);
            }
        }
    }
}

fn add_shared(operation: &mut Operation) {
    for (name, description, bounded) in REQUEST_HEADERS {
        let mut schema = ObjectBuilder::new().schema_type(Type::String);
        if *bounded {
            // At most 128 characters, none of them a control character (else 400).
            schema = schema
                .max_length(Some(MAX_ID_HEADER_LEN))
                .pattern(Some(r"^[^\u0000-\u001F\u007F]*$"));
        }
        let parameter = ParameterBuilder::new()
            .name(*name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(*description))
            .schema(Some(schema))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(RefOr::T(parameter));
    }
    for (status, description) in ERRORS {
        let fault = ResponseBuilder::new()
            .description(*description)
            .content(
                MediaType::Json.essence(),
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(ServiceFault::name())))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.as_str().to_owned())
            .or_insert(RefOr::T(fault));
    }
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        // Every body in every media type the service negotiates.
        if let Some(json) = response.content.get(MediaType::Json.essence()).cloned() {
            for media in MediaType::ALL {
                response
                    .content
                    .entry(media.essence().to_owned())
                    .or_insert_with(|| json.clone());
            }
        }
        for (name, description) in RESPONSE_HEADERS {
            let header = HeaderBuilder::new()
                .schema(Some(String::schema()))
                .description(Some(*description))
                .build();
            response
                .headers
                .insert((*name).to_owned(), RefOr::T(header));
        }
    }
}

/// The document, with what utoipa cannot say itself: response headers that are always present
/// are `required`, and the schemas carry their DataContractSerializer XML names.
fn document() -> Value {
    let mut value = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut() {
                let responses = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut);
                for response in responses.into_iter().flat_map(|r| r.values_mut()) {
                    let headers = response.get_mut("headers").and_then(Value::as_object_mut);
                    for (name, header) in headers.into_iter().flatten() {
                        let always =
                            RESPONSE_HEADERS.iter().any(|(n, _)| n == name) || name == "Location";
                        if always {
                            header["required"] = json!(true);
                        }
                    }
                }
            }
        }
    }
    if let Some(schemas) = value
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (property, definition) in properties.iter_mut() {
                let mut pascal = property.clone();
                if let Some(first) = pascal.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                let xml = if definition.get("type") == Some(&json!("array")) {
                    // Items are named after their type (a resource, by reference or, in a
                    // `Collection_T`, inline), or `a:string`.
                    let item = definition["items"]["$ref"]
                        .as_str()
                        .and_then(|r| r.rsplit('/').next())
                        .or_else(|| name.strip_prefix("Collection_"))
                        .map(str::to_owned);
                    definition["items"]["xml"] = match item {
                        Some(name) => json!({"name": name}),
                        None => {
                            json!({"name": "string", "namespace": ARRAYS_NAMESPACE, "prefix": "a"})
                        }
                    };
                    json!({"name": pascal, "wrapped": true})
                } else {
                    json!({"name": pascal})
                };
                definition["xml"] = xml;
            }
            // A collection's root is `Collection`, whatever it holds.
            let root = if name.starts_with("Collection_") {
                "Collection"
            } else {
                name.as_str()
            };
            schema["xml"] = json!({"name": root, "namespace": NAMESPACE});
        }
    }
    value
}

/// The document as served: pretty JSON, built once.
pub(crate) static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    Bytes::from(text)
});

/// `GET /openapi.json`.
pub(crate) async fn serve() -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            MediaType::Json.content_type(),
        )],
        DOCUMENT.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps `docs/openapi.json` equal to what the code generates. To regenerate it after a change:
    /// `PC_UPDATE_OPENAPI=1 cargo test -p partner-center-server openapi`.
    #[test]
    fn the_checked_in_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let generated = std::str::from_utf8(&DOCUMENT).unwrap();
        if std::env::var_os("PC_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "docs/openapi.json is out of date: run `PC_UPDATE_OPENAPI=1 cargo test -p partner-center-server openapi`"
        );
    }

    #[test]
    fn the_document_describes_the_customers_and_subscriptions_reads() {
        let doc = document();
        for (path, parameters) in [
            (
                "/v{version}/customers",
                [
                    "version",
                    "size",
                    "seekOperation",
                    "filter",
                    "MS-ContinuationToken",
                ]
                .as_slice(),
            ),
            (
                "/v{version}/customers/{customer_id}",
                &["version", "customer_id"],
            ),
            (
                "/v{version}/customers/{customer_id}/subscriptions",
                &["version", "customer_id", "order_id"],
            ),
            (
                "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}",
                &["version", "customer_id", "subscription_id"],
            ),
        ] {
            let operation = &doc["paths"][path]["get"];
            assert!(operation.is_object(), "{path}");
            for status in ["200", "400", "401", "403", "404", "406", "500", "503"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{path} {status}"
                );
            }
            let names: Vec<&str> = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for name in parameters {
                assert!(names.contains(name), "{path}: {name}");
            }
        }
        let customer = &doc["components"]["schemas"]["Customer"];
        assert_eq!(customer["xml"]["name"], "Customer");
        assert_eq!(
            customer["properties"]["companyProfile"]["xml"]["name"],
            "CompanyProfile"
        );
        let items = doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(name, _)| name.starts_with("Collection") && name.contains("Customer"))
            .map(|(_, schema)| schema)
            .unwrap();
        assert_eq!(items["xml"]["name"], "Collection");
        assert_eq!(
            items["properties"]["items"]["items"]["xml"]["name"],
            "Customer"
        );
    }

    #[test]
    fn the_document_describes_the_three_operations_and_their_errors() {
        let doc = document();
        for (path, method, success) in [
            (
                "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/registrations",
                "post",
                ["200", "202"].as_slice(),
            ),
            (
                "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus",
                "get",
                &["200"],
            ),
            (
                "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/activate",
                "post",
                &["200"],
            ),
        ] {
            let operation = &doc["paths"][path][method];
            assert!(operation.is_object(), "{method} {path}");
            for status in success
                .iter()
                .copied()
                .chain(["400", "401", "403", "404", "406", "500", "503"])
            {
                let response = &operation["responses"][status];
                assert!(response.is_object(), "{method} {path} {status}");
                assert_eq!(response["headers"]["MS-RequestId"]["required"], true);
            }
            let fault = &operation["responses"]["404"]["content"];
            for media in MediaType::ALL {
                assert_eq!(
                    fault[media.essence()]["schema"]["$ref"],
                    "#/components/schemas/ServiceFault"
                );
            }
            let names: Vec<&str> = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for name in [
                "version",
                "customer_id",
                "subscription_id",
                "MS-RequestId",
                "MS-CorrelationId",
                "MS-CV",
            ] {
                assert!(names.contains(&name), "{method} {path}: {name}");
            }
        }
        assert_eq!(
            doc["components"]["schemas"]["ServiceFault"]["xml"]["namespace"],
            NAMESPACE
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
