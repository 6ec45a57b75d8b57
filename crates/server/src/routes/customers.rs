//! The partner's customers: `GET /v1/customers` (seek-paged, with a filter) and
//! `GET /v1/customers/{customer_id}`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use partner_center_domain::customer::{self, CustomerRecord, Filter};
use partner_center_model::collection::{Link, LinkHeader, SelfLinks};
use partner_center_model::fault::codes;
use partner_center_model::headers::MS_CONTINUATION_TOKEN;
use partner_center_model::resources::ResourceAttributes;
use partner_center_model::{Collection, Customer, CustomerCompanyProfile, TenantId, paths};

use crate::AppState;
use crate::error::ApiError;
use crate::openapi::{CustomerPathParams, CustomersQueryParams, VersionPathParams};
use crate::render::reply;
use crate::routes::request::{CustomerScope, NoScope, PartnerRequest};
use crate::wire::IgnoredBody;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(paths::CUSTOMERS, get(list_customers))
        .route(paths::CUSTOMER, get(get_customer))
}

/// A customer as the partner sees it (with `allowDelegatedAccess` when read by id).
fn resource(partner: TenantId, record: &CustomerRecord, by_id: bool) -> Customer {
    let path = paths::customer(record.id);
    let own = paths::unversioned(&path);
    Customer {
        id: record.id,
        commerce_id: customer::commerce_id(partner, record.id),
        company_profile: CustomerCompanyProfile {
            tenant_id: record.id,
            domain: customer::domain_of(record),
            company_name: record.company_name.clone(),
            links: SelfLinks {
                self_link: Link::get(format!("{own}/profiles/company")),
            },
            attributes: ResourceAttributes::of(CustomerCompanyProfile::OBJECT_TYPE),
        },
        relationship_to_partner: "reseller".to_owned(),
        allow_delegated_access: by_id.then_some(true),
        links: SelfLinks {
            self_link: Link::get(own),
        },
        attributes: ResourceAttributes::of(Customer::OBJECT_TYPE),
    }
}

/// 400, code 2000, saying what is wrong with the request.
fn invalid(description: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, codes::INVALID_INPUT, description)
}

/// Get a customer of the partner.
///
/// A customer of another partner, or none, is a 404 (code 60003) with the same body.
#[utoipa::path(
    get,
    path = paths::templates::CUSTOMER,
    operation_id = "GetCustomer",
    tag = "Customers",
    params(CustomerPathParams),
    responses((status = 200, description = "The customer.", body = Customer)),
    security(("bearer" = []))
)]
pub(crate) async fn get_customer(
    State(state): State<AppState>,
    request: PartnerRequest<CustomerScope>,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let key = request.customer_key();
    let record = state
        .requests()
        .customer(key)
        .await?
        .ok_or_else(|| ApiError::customer_not_found(key.customer))?;
    Ok(reply(StatusCode::OK, resource(key.partner, &record, true)))
}

/// How many positions the list reads at once when a filter selects among them.
const FILTER_BATCH: u32 = 500;

/// The partner's customers, a page at a time.
///
/// In the order they were added, `size` per page (1 to 500, 200 by default). When more remain the
/// answer carries `continuationToken` and `links.next`: call
/// `GET /v1/customers?size=N&seekOperation=Next` with header `MS-ContinuationToken: <token>`.
/// `filter` (URL-encoded JSON `{"Field": "CompanyName"|"Domain", "Value": "...", "Operator":
/// "starts_with"}`) keeps the customers whose field starts with the value, in any case; with
/// `size=0` it answers all of them at once.
#[utoipa::path(
    get,
    path = paths::templates::CUSTOMERS,
    operation_id = "GetCustomers",
    tag = "Customers",
    params(VersionPathParams, CustomersQueryParams),
    responses((status = 200, description = "A page of customers.", body = Collection<Customer>)),
    security(("bearer" = []))
)]
pub(crate) async fn list_customers(
    State(state): State<AppState>,
    request: PartnerRequest<NoScope>,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    _body: IgnoredBody,
) -> Result<Response, ApiError> {
    let Query(query) =
        query.map_err(|e| invalid(format!("The query is not valid: {}.", e.body_text())))?;
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let filter = param("filter")
        .map(Filter::parse)
        .transpose()
        .map_err(|refusal| invalid(refusal.0))?;
    let size = customer::page_size(param("size"), filter.is_some())
        .map_err(|refusal| invalid(refusal.0))?;
    let after = match param("seekOperation") {
        None => None,
        Some(seek) if seek.eq_ignore_ascii_case("Next") => {
            let token = headers
                .get(MS_CONTINUATION_TOKEN)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    invalid("seekOperation=Next needs the MS-ContinuationToken header.")
                })?;
            Some(
                state
                    .paging()
                    .read(request.partner, token)
                    .ok_or_else(|| invalid("The continuation token is not valid."))?,
            )
        }
        Some(other) => {
            return Err(invalid(format!(
                "seekOperation `{other}` is not supported: use Next."
            )));
        }
    };
    let (records, next) = page(&state, request.partner, after, size, filter.as_ref()).await?;
    let items: Vec<Customer> = records
        .iter()
        .map(|record| resource(request.partner, record, false))
        .collect();
    let mut collection = Collection::new(
        items,
        Some(Link::get(format!("{}?size={size}", paths::CUSTOMERS))),
    );
    if let Some(position) = next {
        let token = state.paging().token(request.partner, position);
        collection.links.next = Some(Link {
            uri: format!("{}?size={size}&seekOperation=Next", paths::CUSTOMERS),
            method: "GET".to_owned(),
            headers: vec![LinkHeader {
                key: "MS-ContinuationToken".to_owned(),
                value: token.clone(),
            }],
        });
        collection.continuation_token = Some(token);
    }
    Ok(reply(StatusCode::OK, collection))
}

/// Up to `size` customers (all of them when 0) after `after` that `filter` keeps, and the position
/// the next page starts after when more remain. Without a filter, one indexed read of `size + 1`
/// customers; with one, reads of [`FILTER_BATCH`] until the page is full and one more is found.
async fn page(
    state: &AppState,
    partner: TenantId,
    after: Option<i64>,
    size: usize,
    filter: Option<&Filter>,
) -> Result<(Vec<CustomerRecord>, Option<i64>), ApiError> {
    let batch = match (filter, size) {
        (None, 1..) => u32::try_from(size + 1).unwrap_or(FILTER_BATCH),
        _ => FILTER_BATCH,
    };
    let (mut items, mut cursor, mut last_returned) = (Vec::new(), after, None);
    loop {
        let read = state.requests().customers(partner, cursor, batch).await?;
        let exhausted = read.len() < batch as usize;
        for (position, record) in read {
            cursor = Some(position);
            if filter.is_some_and(|f| !f.matches(&record)) {
                continue;
            }
            if size != 0 && items.len() == size {
                // One more remains: the next page starts after the last one returned.
                return Ok((items, last_returned));
            }
            items.push(record);
            last_returned = Some(position);
        }
        if exhausted {
            return Ok((items, None));
        }
    }
}
