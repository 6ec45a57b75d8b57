//! How the store keeps what it keeps whole as text: a cart's and an order's lines (the domain's
//! own serde form, as JSON), a cart's orders, and catalog items (the fixture's form). Shared by
//! both backends, so that one database's text reads the same in either.

use partner_center_domain::purchase::{CartLine, CartStatus, OrderLine, OrderStatus};
use partner_center_model::catalog::CatalogItem;

use crate::StoreError;

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// A value as JSON text (the domain's and the model's types always serialise).
pub(crate) fn to_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// A cart's lines, read back.
pub(crate) fn cart_lines(text: &str) -> Result<Vec<CartLine>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("cart lines", e))
}

/// An order's lines, read back.
pub(crate) fn order_lines(text: &str) -> Result<Vec<OrderLine>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("order lines", e))
}

/// A cart's orders, read back.
pub(crate) fn order_ids(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("cart orders", e))
}

/// A catalog item, read back.
pub(crate) fn catalog_item(text: &str) -> Result<CatalogItem, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("catalog item", e))
}

/// A cart's status, read back.
pub(crate) fn cart_status(text: &str) -> Result<CartStatus, StoreError> {
    match text {
        "Active" => Ok(CartStatus::Active),
        "Ordered" => Ok(CartStatus::Ordered),
        other => Err(corrupt("cart status", other)),
    }
}

/// An order's status, read back.
pub(crate) fn order_status(text: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| corrupt("order status", text))
}
