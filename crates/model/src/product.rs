//! Catalog discovery: products, their SKUs and availabilities, and the inventory check, as Partner
//! Center's discovery routes answer them (`/v1/products...`, `/v1/extensions/product/checkInventory`).
//! A catalog item `P:S:A` is product `P`, SKU `S`, availability `A`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::collection::Link;
use crate::resources::ResourceAttributes;

/// A product's (or its sub-)type: `{"id": "Azure", "displayName": "Azure", "subType": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ItemType {
    /// `Azure`, `VirtualMachines`, `SaaS`, ...
    pub id: String,
    /// Its display name.
    pub display_name: String,
    /// Its sub-type, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub sub_type: Option<Box<ItemType>>,
}

/// A product's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductLinks {
    /// Its SKUs.
    pub skus: Link,
    /// Where it is.
    #[serde(rename = "self")]
    pub self_link: Link,
}

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Its id (`DZH318Z0BQ36`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// What it is.
    pub description: String,
    /// Its type: `Azure` with sub-type `VirtualMachines` (reservations) or `SaaS` (a
    /// commercial-marketplace product).
    pub product_type: ItemType,
    /// Whether Microsoft publishes it.
    pub is_microsoft_product: bool,
    /// Who publishes it.
    pub publisher_name: String,
    /// Its SKUs, and where it is.
    pub links: ProductLinks,
    /// `{"objectType":"Product"}`.
    pub attributes: ResourceAttributes,
}

impl Product {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "Product";
}

/// A SKU's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SkuLinks {
    /// Its availabilities.
    pub availabilities: Link,
    /// Where it is.
    #[serde(rename = "self")]
    pub self_link: Link,
}

/// A SKU of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    /// Its id, unique within its product (`0048`).
    pub id: String,
    /// Its product.
    pub product_id: String,
    /// Its title.
    pub title: String,
    /// What it is.
    pub description: String,
    /// The fewest that can be bought.
    pub minimum_quantity: u32,
    /// The most that can be bought.
    pub maximum_quantity: u32,
    /// Whether it is a trial.
    pub is_trial: bool,
    /// `one_time`, `monthly`, ...
    pub supported_billing_cycles: Vec<String>,
    /// `AzureSubscriptionRegistration`, `InventoryCheck`, ...
    pub purchase_prerequisites: Vec<String>,
    /// What an inventory check of it needs in its context: `CustomerId`, `AzureSubscriptionId`,
    /// `ArmRegionName`.
    pub inventory_variables: Vec<String>,
    /// What a purchase of it needs in its provisioning context: `Scope`, `SubscriptionId`,
    /// `Duration`.
    pub provisioning_variables: Vec<String>,
    /// Its attributes (`armSkuName`, `armRegionName`, `region`, `duration`, ...).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub dynamic_attributes: serde_json::Map<String, serde_json::Value>,
    /// Its availabilities, and where it is.
    pub links: SkuLinks,
    /// `{"objectType":"Sku"}`.
    pub attributes: ResourceAttributes,
}

impl Sku {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "Sku";
}

/// A currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CurrencyInfo {
    /// `USD`.
    pub code: String,
    /// `$`.
    pub symbol: String,
}

/// A term an availability is bought for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Term {
    /// `P1M`, `P1Y`, `P3Y`.
    pub duration: String,
    /// `1 Year Prepaid`, ...
    pub description: String,
}

/// An availability's links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityLinks {
    /// Where it is.
    #[serde(rename = "self")]
    pub self_link: Link,
}

/// An availability of a SKU: what is bought, by its `catalogItemId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    /// Its id.
    pub id: String,
    /// Its product.
    pub product_id: String,
    /// Its SKU.
    pub sku_id: String,
    /// `PRODUCT:SKU:AVAILABILITY`: what a cart line's `catalogItemId` (an order line's `offerId`)
    /// names.
    pub catalog_item_id: String,
    /// `{"code": "USD", "symbol": "$"}`.
    pub default_currency: CurrencyInfo,
    /// `commercial`.
    pub segment: String,
    /// The country asked for (ISO 3166 alpha-2, upper case).
    pub country: String,
    /// Whether it can be bought.
    pub is_purchasable: bool,
    /// Whether it renews.
    pub is_renewable: bool,
    /// Its terms.
    pub terms: Vec<Term>,
    /// Where it is.
    pub links: AvailabilityLinks,
    /// `{"objectType":"Availability"}`.
    pub attributes: ResourceAttributes,
}

impl Availability {
    /// The resource type name.
    pub const OBJECT_TYPE: &'static str = "Availability";
}

/// A product (and optionally one of its SKUs) an inventory check is about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryTarget {
    /// The product.
    pub product_id: String,
    /// The SKU; every SKU of the product when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_id: Option<String>,
}

/// The body of `POST /v1/extensions/product/checkInventory` (the .NET SDK's
/// `InventoryCheckRequest`; keys in any case).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryCheckRequest {
    /// What to check.
    pub target_items: Vec<InventoryTarget>,
    /// The context the SKUs' `inventoryVariables` ask for: `customerId`, `azureSubscriptionId`,
    /// `armRegionName` (keys in any case).
    #[serde(default)]
    pub inventory_context: BTreeMap<String, String>,
}

/// Why an item is restricted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryRestriction {
    /// `NotAvailableForSubscription`.
    pub reason_code: String,
    /// What it means.
    pub description: String,
    /// Its details (`type`: `Location`, `values`: the region asked for).
    pub properties: BTreeMap<String, String>,
}

/// What an inventory check found for one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    /// The product.
    pub product_id: String,
    /// The SKU.
    pub sku_id: String,
    /// Whether it cannot be bought in the context given.
    pub is_restricted: bool,
    /// Why (empty when it is not restricted).
    pub restrictions: Vec<InventoryRestriction>,
}

/// The answer of an inventory check: a bare JSON array of [`InventoryItem`]s (no collection around
/// it, as Partner Center answers it); in XML an `ArrayOfInventoryItem`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct InventoryItems(pub Vec<InventoryItem>);

impl InventoryItems {
    /// The XML root element.
    pub const OBJECT_TYPE: &'static str = "ArrayOfInventoryItem";
}
