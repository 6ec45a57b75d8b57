//! What both stores load for a purchase decision about a customer the partner has.

use std::borrow::Borrow;

use partner_center_domain::catalog::Catalog;
use partner_center_domain::purchase::{Buyer, CustomerFacts};

/// A customer the partner has, as a purchase decision takes it: its row id (locked, on
/// PostgreSQL), its facts and the catalog, held as the store keeps it (`C`: owned or shared).
pub(crate) struct Context<C> {
    pub(crate) customer_ref: i64,
    pub(crate) facts: CustomerFacts,
    pub(crate) catalog: C,
}

impl<C: Borrow<Catalog>> Context<C> {
    /// The buyer of a request that names nothing the customer has.
    pub(crate) fn buyer(&self) -> Buyer<'_> {
        Buyer::new(self.catalog.borrow(), &self.facts)
    }
}
