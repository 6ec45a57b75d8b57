//! The customer resources: `GET /v1/customers/{id}`, and the seek-paged `GET /v1/customers` with
//! its filter.

use serde::{Deserialize, Serialize};

use crate::collection::SelfLinks;
use crate::ids::CustomerId;
use crate::resources::ResourceAttributes;

/// A customer of the calling partner.
///
/// ```json
/// {"id": "<cid>", "commerceId": "<guid>",
///  "companyProfile": {"tenantId": "<cid>", "domain": "fabrikam.onmicrosoft.com", "companyName": "Fabrikam",
///                     "links": {"self": {...}}, "attributes": {"objectType": "CustomerCompanyProfile"}},
///  "relationshipToPartner": "reseller", "allowDelegatedAccess": true,
///  "links": {"self": {"uri": "/customers/<cid>", "method": "GET", "headers": []}},
///  "attributes": {"objectType": "Customer"}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// The customer's tenant id.
    pub id: CustomerId,
    /// The customer's commerce account id.
    pub commerce_id: String,
    /// Its company profile.
    pub company_profile: CustomerCompanyProfile,
    /// How the partner relates to it (`reseller`).
    pub relationship_to_partner: String,
    /// Whether the partner has delegated admin rights; written only when the customer is read by
    /// id, as Partner Center does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_delegated_access: Option<bool>,
    /// Where it is.
    pub links: SelfLinks,
    /// `{"objectType":"Customer"}`.
    pub attributes: ResourceAttributes,
}

impl Customer {
    /// The resource type name (the XML root element, and the item name in collections).
    pub const OBJECT_TYPE: &'static str = "Customer";
}

/// A customer's company profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CustomerCompanyProfile {
    /// The customer's tenant id.
    pub tenant_id: CustomerId,
    /// Its primary domain (`fabrikam.onmicrosoft.com`).
    pub domain: String,
    /// Its company name.
    pub company_name: String,
    /// Where it is (`/customers/{id}/profiles/company`).
    pub links: SelfLinks,
    /// `{"objectType":"CustomerCompanyProfile"}`.
    pub attributes: ResourceAttributes,
}

impl CustomerCompanyProfile {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "CustomerCompanyProfile";
}

/// What `GET /v1/customers?filter=` searches: the JSON
/// `{"Field": "CompanyName"|"Domain", "Value": "...", "Operator": "starts_with"}` (property names
/// in any case), URL-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomerFilter {
    /// The field searched: `CompanyName` or `Domain`.
    pub field: String,
    /// The prefix looked for, in any case.
    pub value: String,
    /// `starts_with`, the only operator Partner Center documents for customers.
    pub operator: String,
}
