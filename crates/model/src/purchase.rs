//! Buying: carts, their checkout, orders, their provisioning status and activation links; and the
//! request bodies that create them. JSON is camelCase; request bodies are read with property
//! names in any case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::collection::{Link, SelfLinks};
use crate::ids::{CustomerId, SubscriptionId};
use crate::resources::ResourceAttributes;

/// A cart line's error: why it cannot be bought (`CartError` in the SDKs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CartError {
    /// The `CartErrorCode`: 10001 no such catalog item, 10003 inventory not available, 10007 not
    /// a valid subscription, 10008 not enabled for reservations (registering), 10009 sandbox
    /// limit, 10010 invalid input, 10011 not registered.
    pub error_code: i64,
    /// What it means.
    pub error_description: String,
    /// `{"objectType":"CartError"}`.
    pub attributes: ResourceAttributes,
}

impl CartError {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "CartError";

    /// Its code, typed.
    #[must_use]
    pub fn code(&self) -> CartErrorCode {
        CartErrorCode::of(self.error_code)
    }
}

/// A `CartErrorCode`, as Partner Center's SDKs name them (the wire carries the number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CartErrorCode {
    /// 10001: the catalog has no such item.
    CatalogItemIdIsNotValid,
    /// 10002: no quota for it.
    QuotaNotAvailable,
    /// 10003: the item is not available in the subscription's region.
    InventoryNotAvailable,
    /// 10006: the line could not be processed.
    UnableToProcessCartLineItem,
    /// 10007: the subscription is not a valid (active Azure) subscription of the customer.
    SubscriptionIsNotValid,
    /// 10008: the subscription is not enabled for reservation purchases (its registration is in
    /// progress).
    SubscriptionIsNotEnabledForRi,
    /// 10009: a sandbox limit would be passed.
    SandboxLimitExceeded,
    /// 10010: the line is not valid.
    InvalidInput,
    /// 10011: the subscription is not registered for reservation purchase.
    SubscriptionNotRegistered,
    /// 10012: an attestation was not accepted.
    AttestationNotAccepted,
    /// 10015: more seats than a subscription may have.
    MaxAllowedSeatsPerSubscriptionExceeded,
    /// Any other code.
    Other(i64),
}

impl CartErrorCode {
    const KNOWN: [(Self, i64); 11] = [
        (Self::CatalogItemIdIsNotValid, 10_001),
        (Self::QuotaNotAvailable, 10_002),
        (Self::InventoryNotAvailable, 10_003),
        (Self::UnableToProcessCartLineItem, 10_006),
        (Self::SubscriptionIsNotValid, 10_007),
        (Self::SubscriptionIsNotEnabledForRi, 10_008),
        (Self::SandboxLimitExceeded, 10_009),
        (Self::InvalidInput, 10_010),
        (Self::SubscriptionNotRegistered, 10_011),
        (Self::AttestationNotAccepted, 10_012),
        (Self::MaxAllowedSeatsPerSubscriptionExceeded, 10_015),
    ];

    /// The code a number is.
    #[must_use]
    pub fn of(code: i64) -> Self {
        Self::KNOWN
            .iter()
            .find(|(_, n)| *n == code)
            .map_or(Self::Other(code), |(known, _)| *known)
    }

    /// Its number.
    #[must_use]
    pub fn number(self) -> i64 {
        match self {
            Self::Other(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(k, _)| *k == known)
                .map_or(0, |(_, n)| *n),
        }
    }
}

/// A cart's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CartLineItem {
    /// Its id, as sent.
    pub id: i64,
    /// The catalog item (`PRODUCT:SKU:AVAILABILITY`).
    pub catalog_item_id: String,
    /// How many.
    pub quantity: i64,
    /// `USD`.
    pub currency_code: String,
    /// `one_time`, `monthly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,
    /// `P1Y`, `P3Y`, `P1M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    /// A name for what it makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// What provisioning needs (`subscriptionId`, `scope`, `duration` for a reservation).
    #[serde(default)]
    pub provisioning_context: BTreeMap<String, String>,
    /// The order it goes into at checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_group: Option<String>,
    /// Why it cannot be bought, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CartError>,
}

/// A cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Cart {
    /// Its id.
    pub id: String,
    /// When it was created (RFC 3339).
    pub creation_timestamp: String,
    /// When it last changed.
    pub last_modified_timestamp: String,
    /// When it expires.
    pub expiration_timestamp: String,
    /// `Active` (it can be updated and checked out) or `Ordered`.
    pub status: String,
    /// Its lines.
    pub line_items: Vec<CartLineItem>,
    /// Where it is.
    pub links: SelfLinks,
    /// `{"objectType":"Cart"}`.
    pub attributes: ResourceAttributes,
}

impl Cart {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "Cart";

    /// The lines that cannot be bought, with why.
    pub fn line_errors(&self) -> impl Iterator<Item = (&CartLineItem, &CartError)> {
        self.line_items
            .iter()
            .filter_map(|line| line.error.as_ref().map(|error| (line, error)))
    }
}

/// An order's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLineItem {
    /// Its number in the order, from 0.
    pub line_item_number: u32,
    /// The catalog item bought.
    pub offer_id: String,
    /// The subscription it made, once it made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<SubscriptionId>,
    /// The name of what it makes.
    pub friendly_name: String,
    /// How many.
    pub quantity: u32,
    /// Its term.
    pub term_duration: String,
    /// What provisioning needs.
    #[serde(default)]
    pub provisioning_context: BTreeMap<String, String>,
    /// Its subscription, and (SaaS) its activation links.
    #[serde(default)]
    pub links: OrderLineItemLinks,
}

/// An order line's links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLineItemLinks {
    /// The subscription it made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<Link>,
    /// Its activation links (a SaaS line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_links: Option<Link>,
}

/// An order's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLinks {
    /// Where it is.
    #[serde(rename = "self")]
    pub self_link: Link,
    /// Its provisioning status.
    pub provisioning_status: Link,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Its id.
    pub id: String,
    /// The customer it is for.
    pub reference_customer_id: CustomerId,
    /// `one_time` or `monthly`.
    pub billing_cycle: String,
    /// `USD`.
    pub currency_code: String,
    /// `$`.
    pub currency_symbol: String,
    /// Its lines.
    pub line_items: Vec<OrderLineItem>,
    /// When it was placed (RFC 3339).
    pub creation_date: String,
    /// `pending`, `completed` or `cancelled`.
    pub status: String,
    /// Where it is, and its provisioning status.
    pub links: OrderLinks,
    /// `{"objectType":"Order"}`.
    pub attributes: ResourceAttributes,
}

impl Order {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "Order";
}

/// An order a checkout could not place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderError {
    /// The order group.
    pub order_group_id: String,
    /// The error's code.
    pub code: i64,
    /// What it means.
    pub description: String,
}

/// What a checkout made: one order per order group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CartCheckoutResult {
    /// The orders placed.
    pub orders: Vec<Order>,
    /// Orders that could not be placed (none: a checkout buys all or nothing).
    #[serde(default)]
    pub order_errors: Vec<OrderError>,
    /// `{"objectType":"CartCheckoutResult"}`.
    pub attributes: ResourceAttributes,
}

impl CartCheckoutResult {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "CartCheckoutResult";
}

/// How many of a line are provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QuantityProvisioningStatus {
    /// How many.
    pub quantity: u32,
    /// `fulfilled`, `prefulfillmentPending` or `unfulfilled`.
    pub status: String,
}

/// An order line's provisioning status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLineItemProvisioningStatus {
    /// The line.
    pub line_item_number: u32,
    /// `fulfilled`, `prefulfillmentPending` or `unfulfilled`.
    pub status: String,
    /// Its quantity, and how it stands.
    pub quantity_provisioning_information: Vec<QuantityProvisioningStatus>,
    /// `{"objectType":"OrderLineItemProvisioningStatus"}`.
    pub attributes: ResourceAttributes,
}

impl OrderLineItemProvisioningStatus {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "OrderLineItemProvisioningStatus";
}

/// A SaaS order line's activation link: in the integration sandbox there is no ISV, so the link is
/// a placeholder, and `POST .../activate` is how the subscription is activated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLineItemActivationLink {
    /// The line.
    pub line_item_number: u32,
    /// Where the customer would activate it.
    pub link: Link,
    /// `{"objectType":"OrderLineItemActivationLink"}`.
    pub attributes: ResourceAttributes,
}

impl OrderLineItemActivationLink {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "OrderLineItemActivationLink";
}

/// A cart line as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CartLineItemRequest {
    /// Its id (any number the client chooses).
    #[serde(default)]
    pub id: i64,
    /// The catalog item.
    pub catalog_item_id: String,
    /// How many.
    pub quantity: i64,
    /// The billing cycle (the item's, if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,
    /// The term (the item's, if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    /// A name for what it makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// What provisioning needs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provisioning_context: BTreeMap<String, String>,
}

/// The body of `POST .../carts` and `PUT .../carts/{id}`: its lines (other members of a cart sent
/// back are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CartRequest {
    /// The lines, at most 50.
    pub line_items: Vec<CartLineItemRequest>,
}

/// A line of a direct order, as a client sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderLineItemRequest {
    /// Its number (from 0).
    #[serde(default)]
    pub line_item_number: i64,
    /// The catalog item.
    pub offer_id: String,
    /// How many.
    pub quantity: i64,
    /// A name for what it makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// The term (the item's, if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    /// What provisioning needs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provisioning_context: BTreeMap<String, String>,
}

/// The body of `POST .../orders`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderRequest {
    /// The billing cycle (the items', if given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,
    /// The lines, at most 50.
    pub line_items: Vec<OrderLineItemRequest>,
}

/// The body of `PATCH .../orders/{id}`: `{"status": "cancelled"}` (other members are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderPatch {
    /// `cancelled`.
    pub status: String,
}

/// Every property name of the purchase request bodies, as they are spelled canonically: a body's
/// property names are matched against these in any case (as ASP.NET's binder does), so that
/// `LineItems` and `lineItems` read the same.
pub const REQUEST_PROPERTIES: &[&str] = &[
    "lineItems",
    "id",
    "catalogItemId",
    "quantity",
    "billingCycle",
    "termDuration",
    "friendlyName",
    "provisioningContext",
    "lineItemNumber",
    "offerId",
    "status",
    "targetItems",
    "productId",
    "skuId",
    "inventoryContext",
];

/// The request properties whose members are the client's own (their names are kept as sent).
pub const OPAQUE_PROPERTIES: &[&str] = &["provisioningContext", "inventoryContext"];

/// `value` with every property name that matches one of [`REQUEST_PROPERTIES`] in any case spelled
/// as that one, recursively (but not inside [`OPAQUE_PROPERTIES`]). Of two members that become one
/// name, the last wins, as in ASP.NET.
#[must_use]
pub fn canonical_properties(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(members) => serde_json::Value::Object(
            members
                .into_iter()
                .map(|(name, value)| {
                    // A name already spelt as the known one is kept, not copied.
                    let canonical = match REQUEST_PROPERTIES
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(&name))
                    {
                        Some(known) if **known != name => (*known).to_owned(),
                        _ => name,
                    };
                    let value = if OPAQUE_PROPERTIES.contains(&canonical.as_str()) {
                        value
                    } else {
                        canonical_properties(value)
                    };
                    (canonical, value)
                })
                .collect(),
        ),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(canonical_properties).collect())
        }
        other => other,
    }
}
