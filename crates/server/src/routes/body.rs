//! [`PartnerJson`], the request body of the purchase routes: JSON, property names in any case,
//! and a 400 ServiceFault naming the property for anything malformed; never a 500.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use partner_center_model::fault::codes;
use partner_center_model::purchase::canonical_properties;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;
use crate::wire::{MAX_BODY_BYTES, read_body};

/// A JSON request body: `Content-Type` `application/json` or `text/json` (or none), at most
/// [`MAX_BODY_BYTES`] (413), property names matched in any case, unknown properties ignored.
#[derive(Debug)]
pub(crate) struct PartnerJson<T>(pub(crate) T);

/// 400, code 2000, about the request body.
pub(crate) fn invalid_body(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        codes::INVALID_INPUT,
        format!("The request body is not valid: {why}."),
    )
}

/// Whether a `Content-Type` is one of JSON's.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(essence.as_str(), "application/json" | "text/json")
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads `bytes` as a `T` (a purchase request body): JSON, property names in any case; the error
/// names the property.
///
/// # Errors
///
/// A 400 ServiceFault (code 2000) saying what is wrong.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid_body("it is empty; send a JSON object"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid_body(format!("it is not JSON ({e})")))?;
    if !value.is_object() {
        return Err(invalid_body("it must be a JSON object"));
    }
    serde_path_to_error::deserialize(canonical_properties(value)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            invalid_body(e.into_inner())
        } else {
            invalid_body(format!("property `{path}`: {}", e.into_inner()))
        }
    })
}

/// A request's body, when its `Content-Type` is JSON's (or absent; else 415), within the body
/// limits (see [`read_body`]).
pub(crate) async fn json_bytes(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let json = content_type.to_str().is_ok_and(is_json);
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::UNSPECIFIED,
                "The request body must be JSON: send Content-Type application/json.",
            ));
        }
    }
    read_body(request.into_body(), MAX_BODY_BYTES, state).await
}

impl<T: DeserializeOwned> FromRequest<AppState> for PartnerJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state).await?;
        parse(&bytes).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use partner_center_model::purchase::{CartRequest, OrderPatch, OrderRequest};

    use super::*;

    fn message<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        parse::<T>(body.as_bytes())
            .unwrap_err()
            .fault()
            .description
            .clone()
    }

    #[test]
    fn property_names_match_in_any_case_and_unknown_ones_are_ignored() {
        let cart: CartRequest = parse(
            br#"{"LineItems": [{"ID": 3, "CatalogItemId": "A:B:C", "QUANTITY": 2,
                 "ProvisioningContext": {"SubscriptionId": "x"}, "Extra": true}], "id": "ignored"}"#,
        )
        .unwrap();
        let line = &cart.line_items[0];
        assert_eq!(
            (line.id, line.catalog_item_id.as_str(), line.quantity),
            (3, "A:B:C", 2)
        );
        // The context's own keys are the client's: kept as sent (the domain reads them in any case).
        assert_eq!(line.provisioning_context["SubscriptionId"], "x");
        let order: OrderRequest = parse(
            br#"{"BillingCycle": "one_time", "lineitems": [{"OfferId": "A:B:C", "Quantity": 1}]}"#,
        )
        .unwrap();
        assert_eq!(order.line_items[0].offer_id, "A:B:C");
        assert_eq!(order.billing_cycle.as_deref(), Some("one_time"));
    }

    #[test]
    fn malformed_bodies_name_what_is_wrong() {
        assert!(message::<CartRequest>("").contains("empty"));
        assert!(message::<CartRequest>("{").contains("not JSON"));
        assert!(message::<CartRequest>("{}").contains("missing field `lineItems`"));
        let m = message::<CartRequest>(r#"{"lineItems": [{"quantity": 1}]}"#);
        assert!(
            m.contains("lineItems[0]") && m.contains("catalogItemId"),
            "{m}"
        );
        let m = message::<CartRequest>(
            r#"{"lineItems": [{"catalogItemId": "A:B:C", "quantity": "two"}]}"#,
        );
        assert!(m.contains("lineItems[0].quantity"), "{m}");
        let m = message::<CartRequest>(
            r#"{"lineItems": [{"catalogItemId": "A:B:C", "quantity": 1.5}]}"#,
        );
        assert!(m.contains("lineItems[0].quantity"), "{m}");
        let m = message::<CartRequest>(r#"{"lineItems": {"catalogItemId": "A:B:C"}}"#);
        assert!(m.contains("lineItems"), "{m}");
        let m = message::<CartRequest>(
            r#"{"lineItems": [{"catalogItemId": "A:B:C", "quantity": 1, "provisioningContext": {"scope": 1}}]}"#,
        );
        assert!(m.contains("provisioningContext.scope"), "{m}");
        assert!(message::<OrderPatch>(r#"["cancelled"]"#).contains("JSON object"));
        assert!(message::<OrderPatch>(r#""cancelled""#).contains("JSON object"));
        let m = message::<OrderRequest>(
            r#"{"lineItems": [{"offerId": "A:B:C", "quantity": 99999999999999999999}]}"#,
        );
        assert!(m.contains("lineItems[0].quantity"), "{m}");
    }

    #[test]
    fn only_json_content_types_are_read() {
        for json in [
            "application/json",
            "text/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(json), "{json}");
        }
        for other in ["text/plain", "application/xml", "multipart/form-data", ""] {
            assert!(!is_json(other), "{other}");
        }
    }
}
