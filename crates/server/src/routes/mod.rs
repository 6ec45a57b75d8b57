//! The routes, each module beside its resource.

pub(crate) mod health;
pub(crate) mod subscriptions;
