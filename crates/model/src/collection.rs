//! What every part-two resource shares: links, and collections.
//!
//! A link is `{"uri": "...", "method": "GET", "headers": []}`; its `uri` is relative and has no
//! version prefix (`/customers/{id}`), except the customers collection's own `self` and `next`
//! (`/v1/customers?...`), as Partner Center writes them. A header inside a link is
//! `{"key": "...", "value": "..."}`. A collection is
//! `{"totalCount": N, "items": [...], "links": {...}, "attributes": {"objectType": "Collection"}}`,
//! where `totalCount` is the number of items in this answer.

use serde::{Deserialize, Serialize};

use crate::resources::ResourceAttributes;

/// A link to another resource, with the headers to send with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// The resource, relative to the API root (`/customers/...`).
    pub uri: String,
    /// The method to call it with.
    pub method: String,
    /// Headers to send (the customers collection's `next` link carries `MS-ContinuationToken`).
    #[serde(default)]
    pub headers: Vec<LinkHeader>,
}

impl Link {
    /// A `GET` link without headers.
    #[must_use]
    pub fn get(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            method: "GET".to_owned(),
            headers: Vec::new(),
        }
    }
}

/// A header of a [`Link`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LinkHeader {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: String,
}

/// A resource's own link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SelfLinks {
    /// Where the resource is.
    #[serde(rename = "self")]
    pub self_link: Link,
}

/// A collection's links: itself, and the next page when there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionLinks {
    /// This page.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<Link>,
    /// The next page (its headers carry the continuation token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
}

/// A collection of resources (`ResourceCollection` in the SDKs; with a continuation token, the
/// seek-based collection of the customers list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Collection<T> {
    /// How many items this answer holds.
    pub total_count: usize,
    /// The items.
    pub items: Vec<T>,
    /// This page and the next.
    #[serde(default)]
    pub links: CollectionLinks,
    /// `{"objectType":"Collection"}`.
    pub attributes: ResourceAttributes,
    /// When more items remain: the token that gets them (also in `links.next`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

impl<T> Collection<T> {
    /// The resource type name written in `attributes.objectType` (and the XML root element).
    pub const OBJECT_TYPE: &'static str = "Collection";

    /// A collection of `items`, whose own link is `self_link`.
    #[must_use]
    pub fn new(items: Vec<T>, self_link: Option<Link>) -> Self {
        Self {
            total_count: items.len(),
            items,
            links: CollectionLinks {
                self_link,
                next: None,
            },
            attributes: ResourceAttributes::of(Self::OBJECT_TYPE),
            continuation_token: None,
        }
    }
}
