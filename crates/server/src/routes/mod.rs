//! The routes, each module beside its resource, and the extractor that admits a request to them.

pub(crate) mod customers;
pub(crate) mod health;
pub(crate) mod request;
pub(crate) mod subscriptions;
