//! Buying, as the .NET SDK's object model has it: `customer.carts()` (create, then `by_id(id)` to
//! read, update and check out), `customer.orders()` (create directly, list, then `by_id(id)` to
//! read, follow the provisioning, wait for it, cancel in the sandbox, and read a SaaS line's
//! activation links).

use std::time::Instant;

use partner_center_model::purchase::{
    Cart, CartCheckoutResult, CartRequest, Order, OrderLineItemActivationLink,
    OrderLineItemProvisioningStatus, OrderPatch, OrderRequest,
};
use partner_center_model::{Collection, CustomerId, paths};
use reqwest::Method;

use crate::client::PartnerCenter;
use crate::error::Error;
use crate::operations::WaitOptions;

/// A customer's carts.
#[derive(Debug, Clone, Copy)]
pub struct CartCollection<'a> {
    pub(crate) partner: &'a PartnerCenter,
    pub(crate) customer: CustomerId,
}

impl<'a> CartCollection<'a> {
    /// Creates a cart (`POST .../carts`). Each line is checked: one that cannot be bought keeps
    /// its place with an `error` ([`Cart::line_errors`]); the cart is still created.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for a customer the partner does not have (404, code 60003) or a malformed
    /// request (400, code 2000), or the other errors of a call.
    pub async fn create(&self, cart: &CartRequest) -> Result<Cart, Error> {
        let url = self.partner.url(&paths::carts(self.customer));
        let answer = self.partner.call_json(Method::POST, &url, cart).await?;
        self.partner.decode(&answer)
    }

    /// One cart, by its id.
    #[must_use]
    pub fn by_id(&self, cart: &str) -> CartOperations<'a> {
        CartOperations {
            partner: self.partner,
            customer: self.customer,
            cart: cart.to_owned(),
        }
    }
}

/// One cart of a customer.
#[derive(Debug, Clone)]
pub struct CartOperations<'a> {
    partner: &'a PartnerCenter,
    customer: CustomerId,
    cart: String,
}

impl CartOperations<'_> {
    /// Reads the cart (`GET .../carts/{id}`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for no such cart, or one that expired (404, code 800008), or the other
    /// errors of a call.
    pub async fn get(&self) -> Result<Cart, Error> {
        let url = self.partner.url(&paths::cart(self.customer, &self.cart));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// Replaces the cart's lines (`PUT .../carts/{id}`), each checked again.
    ///
    /// # Errors
    ///
    /// As [`Self::get`]; a cart checked out already: 400, code 800065.
    pub async fn update(&self, cart: &CartRequest) -> Result<Cart, Error> {
        let url = self.partner.url(&paths::cart(self.customer, &self.cart));
        let answer = self.partner.call_json(Method::PUT, &url, cart).await?;
        self.partner.decode(&answer)
    }

    /// Checks the cart out (`POST .../carts/{id}/checkout`): one order per order group.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when a line cannot be bought (400, code 800009: nothing was bought; read the
    /// cart for why), the cart was checked out already (400, code 800065), or as [`Self::get`].
    pub async fn checkout(&self) -> Result<CartCheckoutResult, Error> {
        let url = self
            .partner
            .url(&paths::checkout(self.customer, &self.cart));
        // Partner Center's SDKs post the JSON string "success"; the body is ignored.
        let answer = self
            .partner
            .call_json(Method::POST, &url, "success")
            .await?;
        self.partner.decode(&answer)
    }
}

/// A customer's orders.
#[derive(Debug, Clone, Copy)]
pub struct OrderCollection<'a> {
    pub(crate) partner: &'a PartnerCenter,
    pub(crate) customer: CustomerId,
}

impl<'a> OrderCollection<'a> {
    /// Places an order directly (`POST .../orders`); its lines are checked as a cart's, and any
    /// that fails refuses the whole order.
    ///
    /// # Errors
    ///
    /// [`Error::Api`]: 400 with code 800002 (no such item, invalid input), 800021 (not an active
    /// Azure subscription of the customer), 800030 (not registered), 800013 (still registering),
    /// 800018 (sandbox limit); or the other errors of a call.
    pub async fn create(&self, order: &OrderRequest) -> Result<Order, Error> {
        let url = self.partner.url(&paths::orders(self.customer));
        let answer = self.partner.call_json(Method::POST, &url, order).await?;
        self.partner.decode(&answer)
    }

    /// Reads the customer's orders, newest first (`GET .../orders`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for a customer the partner does not have (404, code 60003), or the other
    /// errors of a call.
    pub async fn get(&self) -> Result<Collection<Order>, Error> {
        let url = self.partner.url(&paths::orders(self.customer));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// One order, by its id.
    #[must_use]
    pub fn by_id(&self, order: &str) -> OrderOperations<'a> {
        OrderOperations {
            partner: self.partner,
            customer: self.customer,
            order: order.to_owned(),
        }
    }
}

/// One order of a customer.
#[derive(Debug, Clone)]
pub struct OrderOperations<'a> {
    partner: &'a PartnerCenter,
    customer: CustomerId,
    order: String,
}

impl OrderOperations<'_> {
    /// Reads the order (`GET .../orders/{id}`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for no such order (404, code 20000), or the other errors of a call.
    pub async fn get(&self) -> Result<Order, Error> {
        let url = self.partner.url(&paths::order(self.customer, &self.order));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// Reads each line's provisioning status (`GET .../orders/{id}/provisioningstatus`).
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn provisioning_status(
        &self,
    ) -> Result<Collection<OrderLineItemProvisioningStatus>, Error> {
        let url = self
            .partner
            .url(&paths::provisioning_status(self.customer, &self.order));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// Cancels the order (`PATCH .../orders/{id}` with `{"status": "cancelled"}`): integration
    /// sandboxes only. Its subscriptions are deleted.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for a partner that is not a sandbox (403, code 800019), or as [`Self::get`].
    pub async fn cancel(&self) -> Result<Order, Error> {
        let url = self.partner.url(&paths::order(self.customer, &self.order));
        let patch = OrderPatch {
            status: "cancelled".to_owned(),
        };
        let answer = self.partner.call_json(Method::PATCH, &url, &patch).await?;
        self.partner.decode(&answer)
    }

    /// Reads the activation links of the order's line `number`
    /// (`GET .../orders/{id}/lineitems/{n}/activationlinks`): one for a SaaS line that awaits
    /// activation (a placeholder in the integration sandbox: activate with
    /// [`SubscriptionOperations::activate`](crate::SubscriptionOperations::activate)).
    ///
    /// # Errors
    ///
    /// As [`Self::get`]; no such line: 404.
    pub async fn activation_links(
        &self,
        number: u32,
    ) -> Result<Collection<OrderLineItemActivationLink>, Error> {
        let url = self.partner.url(&paths::order_activation_links(
            self.customer,
            &self.order,
            number,
        ));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// Reads the order every `options.interval` until it is no longer `pending`, and returns it
    /// (`completed`, or `cancelled`), as
    /// [`register_and_wait`](crate::RegistrationOperations::register_and_wait) does for a
    /// registration. A reservation order completes once the service has provisioned it; a SaaS
    /// order once each of its subscriptions is activated.
    ///
    /// # Errors
    ///
    /// [`Error::OrderTimeout`] if it is still `pending` after `options.timeout`; the errors of
    /// [`Self::get`].
    pub async fn wait_for_order(&self, options: WaitOptions) -> Result<Order, Error> {
        let started = Instant::now();
        let interval = options.interval.max(std::time::Duration::from_millis(50));
        loop {
            let order = self.get().await?;
            if !order.status.eq_ignore_ascii_case("pending") {
                return Ok(order);
            }
            let waited = started.elapsed();
            if waited + interval > options.timeout {
                return Err(Error::OrderTimeout {
                    waited,
                    order: order.id,
                });
            }
            tokio::time::sleep(interval).await;
        }
    }
}
