//! The routes, each module beside its resource, and the extractor that admits a request to them.

pub(crate) mod body;
pub(crate) mod carts;
pub(crate) mod customers;
pub(crate) mod health;
pub(crate) mod orders;
pub(crate) mod products;
pub(crate) mod request;
pub(crate) mod subscriptions;
