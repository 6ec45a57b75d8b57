//! The ServiceFault error body and the error codes the service emits.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Partner Center's error body (`ApiFault` in the SDKs, `ServiceFault` in the Swagger model).
///
/// ```json
/// {"code":800041,"description":"This item has already been activated.","data":[],"source":"PartnerFD"}
/// ```
///
/// `code` is written as a JSON number, as on the real wire; it is read from a number or a string,
/// because the documentation types it as a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceFault {
    /// What kind of error occurred; see [`codes`].
    #[serde(deserialize_with = "number_or_string")]
    #[cfg_attr(feature = "openapi", schema(example = 800_041))]
    pub code: i64,
    /// A human-readable explanation.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "This item has already been activated.")
    )]
    pub description: String,
    /// Extra details; usually empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub data: Vec<String>,
    /// The component that produced the error.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true, example = "PartnerFD"))]
    pub source: String,
}

impl ServiceFault {
    /// `source` of most errors, Partner Center's front door.
    pub const SOURCE_FRONT_DOOR: &'static str = "PartnerFD";
    /// `source` of input-validation errors (code 2000), as Partner Center writes it.
    pub const SOURCE_CONTROLLERS: &'static str = "PartnerApiServiceControllers";
    /// The resource type name (the XML root element).
    pub const OBJECT_TYPE: &'static str = "ServiceFault";

    /// A fault with no data, from the source Partner Center uses for `code`.
    #[must_use]
    pub fn new(code: i64, description: impl Into<String>) -> Self {
        let source = if code == codes::INVALID_INPUT {
            Self::SOURCE_CONTROLLERS
        } else {
            Self::SOURCE_FRONT_DOOR
        };
        Self {
            code,
            description: description.into(),
            data: Vec::new(),
            source: source.to_owned(),
        }
    }
}

impl fmt::Display for ServiceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.description, self.code)
    }
}

fn number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code<'a> {
        Number(i64),
        Text(#[serde(borrow)] Cow<'a, str>),
    }
    match Code::deserialize(deserializer)? {
        Code::Number(n) => Ok(n),
        Code::Text(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// The error codes this service emits. `docs/error-codes.md` gives each one's HTTP status and meaning.
pub mod codes {
    /// No business error code applies; the HTTP status says it all (405, 406, 413).
    pub const UNSPECIFIED: i64 = 0;
    /// 401: the token is present but not valid (Partner Center's catalogue: "Access denied").
    pub const ACCESS_DENIED: i64 = 400;
    /// 404: no such route.
    pub const NOT_FOUND: i64 = 1000;
    /// 400: an input is malformed, e.g. an id that is not a GUID or an invalid header value.
    pub const INVALID_INPUT: i64 = 2000;
    /// 400: the request body is missing (an inventory check without one).
    pub const BODY_MISSING: i64 = 2001;
    /// 403: the token's tenant is not a partner of this service.
    pub const FORBIDDEN: i64 = 2032;
    /// 404: the customer has no such order.
    pub const ORDER_NOT_FOUND: i64 = 20000;
    /// 404: the subscription does not exist under this customer.
    pub const SUBSCRIPTION_NOT_FOUND: i64 = 20003;
    /// 404: the customer does not exist for this partner.
    pub const CUSTOMER_NOT_FOUND: i64 = 60003;
    /// 404: the catalog has no such product.
    pub const PRODUCT_NOT_FOUND: i64 = 400_013;
    /// 404: the product has no such SKU.
    pub const SKU_NOT_FOUND: i64 = 400_018;
    /// 404: the SKU has no such availability.
    pub const AVAILABILITY_NOT_FOUND: i64 = 400_019;
    /// 400: an inventory check whose context lacks an item a SKU's `inventoryVariables` need.
    pub const INVENTORY_CONTEXT_MISSING: i64 = 400_026;
    /// 403: a `targetSegment` other than `commercial`.
    pub const SEGMENT_NOT_ALLOWED: i64 = 400_030;
    /// 403: an undocumented `targetView`.
    pub const VIEW_NOT_ALLOWED: i64 = 400_036;
    /// 401: no bearer token was sent.
    pub const TOKEN_MISSING: i64 = 800_001;
    /// 400: a direct order's line is not valid (no such catalog item, a bad quantity or context).
    pub const INVALID_REQUEST: i64 = 800_002;
    /// 500: an unexpected failure; details are logged, never sent.
    pub const UNEXPECTED: i64 = 800_003;
    /// 404: the customer has no such cart, or it expired.
    pub const CART_NOT_FOUND: i64 = 800_008;
    /// 400: checkout of a cart with a line that fails its checks; nothing was bought.
    pub const CART_ITEM_ERRORS: i64 = 800_009;
    /// 400: a direct order of an item the subscription's region cannot have.
    pub const INVENTORY_NOT_AVAILABLE: i64 = 800_010;
    /// 400: a direct reservation order on a subscription whose registration is in progress.
    pub const NOT_ENABLED_FOR_RI: i64 = 800_013;
    /// 400: a direct order that would pass a sandbox limit.
    pub const SANDBOX_LIMIT: i64 = 800_018;
    /// 403: cancellation of an order by a partner that is not an integration sandbox.
    pub const CANCEL_NOT_ALLOWED: i64 = 800_019;
    /// 400: a direct reservation order on a subscription that is not registered.
    pub const NOT_REGISTERED: i64 = 800_030;
    /// 400: checkout of a cart that was checked out already.
    pub const CART_ALREADY_SUBMITTED: i64 = 800_065;
    /// 400: registration of a subscription that is not an Azure subscription.
    pub const NOT_AZURE_SUBSCRIPTION: i64 = 800_011;
    /// 400: registration of a subscription that is not active.
    pub const SUBSCRIPTION_NOT_ACTIVE: i64 = 800_012;
    /// 400: activation of a subscription that is not a third-party SaaS subscription; a direct
    /// reservation order on one that is not an active Azure subscription of the customer.
    pub const NOT_VALID_SUBSCRIPTION: i64 = 800_021;
    /// 400: activation of a subscription that is already active.
    pub const ALREADY_ACTIVATED: i64 = 800_041;
    /// 400: activation outside an integration-sandbox partner account.
    pub const NOT_SUPPORTED_IN_ENVIRONMENT: i64 = 900_127;
    /// 400: activation of a subscription whose status does not allow it (suspended, deleted, ...).
    pub const OPERATION_NOT_SUPPORTED: i64 = 900_141;
    /// 403: an App+User token without the `user_impersonation` scope.
    pub const ROLE_NOT_ALLOWED: i64 = 900_150;
    /// 401: an App+User token without multi-factor authentication (`amr` lacks `mfa`).
    pub const MFA_REQUIRED: i64 = 900_421;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_code_as_a_number_in_contract_order() {
        let fault = ServiceFault::new(
            codes::ALREADY_ACTIVATED,
            "This item has already been activated.",
        );
        assert_eq!(
            serde_json::to_string(&fault).unwrap(),
            r#"{"code":800041,"description":"This item has already been activated.","data":[],"source":"PartnerFD"}"#
        );
        assert_eq!(
            ServiceFault::new(codes::INVALID_INPUT, "x").source,
            "PartnerApiServiceControllers"
        );
    }

    #[test]
    fn reads_code_from_a_number_or_a_string() {
        let a: ServiceFault =
            serde_json::from_str(r#"{"code":"800041","description":"d"}"#).unwrap();
        let b: ServiceFault = serde_json::from_str(
            r#"{"code":800041,"description":"d","data":[],"source":"PartnerFD"}"#,
        )
        .unwrap();
        assert_eq!((a.code, b.code), (800_041, 800_041));
        assert!(serde_json::from_str::<ServiceFault>(r#"{"code":"x","description":"d"}"#).is_err());
    }
}
