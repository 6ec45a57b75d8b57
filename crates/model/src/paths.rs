//! Route templates, the paths built from them, and the `Location` of a registration.
//!
//! The templates are in axum's `{param}` form, which the service routes with; the functions build
//! the concrete paths a client calls, so that both sides spell every route the same way.

use crate::ids::{CustomerId, SubscriptionId};

/// `POST`: register a subscription for Reserved Instance purchase.
pub const REGISTRATIONS: &str =
    "/v1/customers/{customer_id}/subscriptions/{subscription_id}/registrations";
/// `GET`: the subscription's registration status.
pub const REGISTRATION_STATUS: &str =
    "/v1/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus";
/// `POST`: activate a third-party SaaS subscription in an integration sandbox.
pub const ACTIVATE: &str = "/v1/customers/{customer_id}/subscriptions/{subscription_id}/activate";

/// `GET`: the partner's customers (seek-paged), or those a filter finds.
pub const CUSTOMERS: &str = "/v1/customers";
/// `GET`: a customer.
pub const CUSTOMER: &str = "/v1/customers/{customer_id}";
/// `GET`: a customer's subscriptions (`?order_id=`: those an order created).
pub const SUBSCRIPTIONS: &str = "/v1/customers/{customer_id}/subscriptions";
/// `GET`: a subscription.
pub const SUBSCRIPTION: &str = "/v1/customers/{customer_id}/subscriptions/{subscription_id}";

/// `POST`: create a cart.
pub const CARTS: &str = "/v1/customers/{customer_id}/carts";
/// `GET`: a cart; `PUT`: replace its lines.
pub const CART: &str = "/v1/customers/{customer_id}/carts/{cart_id}";
/// `POST`: check a cart out.
pub const CHECKOUT: &str = "/v1/customers/{customer_id}/carts/{cart_id}/checkout";
/// `GET`: a customer's orders; `POST`: place an order.
pub const ORDERS: &str = "/v1/customers/{customer_id}/orders";
/// `GET`: an order; `PATCH`: cancel it (sandbox).
pub const ORDER: &str = "/v1/customers/{customer_id}/orders/{order_id}";
/// `GET`: an order's provisioning status, line by line.
pub const PROVISIONING_STATUS: &str =
    "/v1/customers/{customer_id}/orders/{order_id}/provisioningstatus";
/// `GET`: the activation links of an order's line.
pub const ORDER_ACTIVATION_LINKS: &str =
    "/v1/customers/{customer_id}/orders/{order_id}/lineitems/{line_item_number}/activationlinks";
/// `GET`: the activation links of a subscription an order made.
pub const SUBSCRIPTION_ACTIVATION_LINKS: &str =
    "/v1/customers/{customer_id}/subscriptions/{subscription_id}/activationlinks";

/// `GET`: the products of a target view (`?country=US&targetView=AzureReservationsVM`).
pub const PRODUCTS: &str = "/v1/products";
/// `GET`: a product.
pub const PRODUCT: &str = "/v1/products/{product_id}";
/// `GET`: a product's SKUs.
pub const SKUS: &str = "/v1/products/{product_id}/skus";
/// `GET`: a SKU.
pub const SKU: &str = "/v1/products/{product_id}/skus/{sku_id}";
/// `GET`: a SKU's availabilities.
pub const AVAILABILITIES: &str = "/v1/products/{product_id}/skus/{sku_id}/availabilities";
/// `GET`: an availability.
pub const AVAILABILITY: &str =
    "/v1/products/{product_id}/skus/{sku_id}/availabilities/{availability_id}";
/// `POST`: check the inventory of products' SKUs (Partner Center writes `checkInventory`; the
/// path matches in any case).
pub const CHECK_INVENTORY: &str = "/v1/extensions/product/checkinventory";

/// The version prefix of every Partner Center path.
pub const VERSION_PREFIX: &str = "/v1";

/// The path of the [`CUSTOMERS`] collection.
#[must_use]
pub fn customers() -> String {
    CUSTOMERS.to_owned()
}

/// The path of a [`CUSTOMER`].
#[must_use]
pub fn customer(customer: CustomerId) -> String {
    format!("{CUSTOMERS}/{customer}")
}

/// The path of a customer's [`SUBSCRIPTIONS`].
#[must_use]
pub fn subscriptions(customer: CustomerId) -> String {
    format!("{CUSTOMERS}/{customer}/subscriptions")
}

/// The path of a [`SUBSCRIPTION`].
#[must_use]
pub fn subscription(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("{CUSTOMERS}/{customer}/subscriptions/{subscription}")
}

/// The path of a customer's [`CARTS`].
#[must_use]
pub fn carts(customer: CustomerId) -> String {
    format!("{CUSTOMERS}/{customer}/carts")
}

/// The path of a [`CART`].
#[must_use]
pub fn cart(customer: CustomerId, cart: &str) -> String {
    format!("{CUSTOMERS}/{customer}/carts/{cart}")
}

/// The path of a cart's [`CHECKOUT`].
#[must_use]
pub fn checkout(customer: CustomerId, cart: &str) -> String {
    format!("{CUSTOMERS}/{customer}/carts/{cart}/checkout")
}

/// The path of a customer's [`ORDERS`].
#[must_use]
pub fn orders(customer: CustomerId) -> String {
    format!("{CUSTOMERS}/{customer}/orders")
}

/// The path of an [`ORDER`].
#[must_use]
pub fn order(customer: CustomerId, order: &str) -> String {
    format!("{CUSTOMERS}/{customer}/orders/{order}")
}

/// The path of an order's [`PROVISIONING_STATUS`].
#[must_use]
pub fn provisioning_status(customer: CustomerId, order: &str) -> String {
    format!("{CUSTOMERS}/{customer}/orders/{order}/provisioningstatus")
}

/// The path of an order line's [`ORDER_ACTIVATION_LINKS`].
#[must_use]
pub fn order_activation_links(customer: CustomerId, order: &str, line: u32) -> String {
    format!("{CUSTOMERS}/{customer}/orders/{order}/lineitems/{line}/activationlinks")
}

/// The path of a subscription's [`SUBSCRIPTION_ACTIVATION_LINKS`].
#[must_use]
pub fn subscription_activation_links(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("{CUSTOMERS}/{customer}/subscriptions/{subscription}/activationlinks")
}

/// The path of a [`PRODUCT`].
#[must_use]
pub fn product(product: &str) -> String {
    format!("{PRODUCTS}/{product}")
}

/// The path of a product's [`SKUS`].
#[must_use]
pub fn skus(product: &str) -> String {
    format!("{PRODUCTS}/{product}/skus")
}

/// The path of a [`SKU`].
#[must_use]
pub fn sku(product: &str, sku: &str) -> String {
    format!("{PRODUCTS}/{product}/skus/{sku}")
}

/// The path of a SKU's [`AVAILABILITIES`].
#[must_use]
pub fn availabilities(product: &str, sku: &str) -> String {
    format!("{PRODUCTS}/{product}/skus/{sku}/availabilities")
}

/// The path of an [`AVAILABILITY`].
#[must_use]
pub fn availability(product: &str, sku: &str, availability: &str) -> String {
    format!("{PRODUCTS}/{product}/skus/{sku}/availabilities/{availability}")
}

/// A path as a resource's links write it: relative, without the version prefix
/// (`/customers/{id}`), as Partner Center does.
#[must_use]
pub fn unversioned(path: &str) -> &str {
    path.strip_prefix(VERSION_PREFIX).unwrap_or(path)
}

/// The path of a subscription's [`REGISTRATIONS`] route.
#[must_use]
pub fn registrations(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("/v1/customers/{customer}/subscriptions/{subscription}/registrations")
}

/// The path of a subscription's [`REGISTRATION_STATUS`] route.
#[must_use]
pub fn registration_status(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("/v1/customers/{customer}/subscriptions/{subscription}/registrationstatus")
}

/// The path of a subscription's [`ACTIVATE`] route.
#[must_use]
pub fn activate(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("/v1/customers/{customer}/subscriptions/{subscription}/activate")
}

/// The admin API's routes (enabled with `serve --admin-token`), and their paths; the bodies are
/// in [`crate::admin`].
pub mod admin {
    use crate::ids::{CustomerId, SubscriptionId, TenantId};

    /// Where every admin route starts.
    pub const PREFIX: &str = "/admin/v1";
    /// `GET`: every partner.
    pub const PARTNERS: &str = "/admin/v1/partners";
    /// `PUT`: create or update a partner; `DELETE`: delete it and everything that is its.
    pub const PARTNER: &str = "/admin/v1/partners/{tenant}";
    /// `GET`: a partner's customers.
    pub const CUSTOMERS: &str = "/admin/v1/partners/{tenant}/customers";
    /// `PUT`: create or update a customer; `DELETE`: delete it and its subscriptions.
    pub const CUSTOMER: &str = "/admin/v1/partners/{tenant}/customers/{customer}";
    /// `GET`: a customer's subscriptions.
    pub const SUBSCRIPTIONS: &str =
        "/admin/v1/partners/{tenant}/customers/{customer}/subscriptions";
    /// `GET`: a subscription with its registrations and requests; `PUT`: create or update it;
    /// `DELETE`: delete it.
    pub const SUBSCRIPTION: &str =
        "/admin/v1/partners/{tenant}/customers/{customer}/subscriptions/{subscription}";
    /// `POST`: complete the subscription's registration in progress now.
    pub const ADVANCE_REGISTRATION: &str = "/admin/v1/partners/{tenant}/customers/{customer}/subscriptions/{subscription}/registration/advance";
    /// `POST`: end the subscription's registration in progress in failure.
    pub const FAIL_REGISTRATION: &str = "/admin/v1/partners/{tenant}/customers/{customer}/subscriptions/{subscription}/registration/fail";
    /// `POST`: delete every partner, customer, subscription and registration, and the journal.
    pub const RESET: &str = "/admin/v1/reset";
    /// `POST`: load a fixture.
    pub const FIXTURES: &str = "/admin/v1/fixtures";
    /// `GET`: the fault rules in force; `POST`: add one; `DELETE`: delete them all.
    pub const FAULTS: &str = "/admin/v1/faults";
    /// `DELETE`: delete a fault rule.
    pub const FAULT: &str = "/admin/v1/faults/{id}";
    /// `GET`: search the request journal.
    pub const REQUESTS: &str = "/admin/v1/requests";
    /// `GET`: the catalog the service offers.
    pub const CATALOG: &str = "/admin/v1/catalog";
    /// `GET`: a customer's carts.
    pub const CARTS: &str = "/admin/v1/partners/{tenant}/customers/{customer}/carts";
    /// `GET`: a customer's orders.
    pub const ORDERS: &str = "/admin/v1/partners/{tenant}/customers/{customer}/orders";
    /// `GET`: an order, with the subscriptions it made.
    pub const ORDER: &str = "/admin/v1/partners/{tenant}/customers/{customer}/orders/{order}";
    /// `POST`: provision a pending order now (a `manual` order).
    pub const ADVANCE_ORDER: &str =
        "/admin/v1/partners/{tenant}/customers/{customer}/orders/{order}/advance";

    /// The path of a partner ([`PARTNER`]).
    #[must_use]
    pub fn partner(tenant: TenantId) -> String {
        format!("{PARTNERS}/{tenant}")
    }

    /// The path of a partner's customers ([`CUSTOMERS`]).
    #[must_use]
    pub fn customers(tenant: TenantId) -> String {
        format!("{PARTNERS}/{tenant}/customers")
    }

    /// The path of a customer ([`CUSTOMER`]).
    #[must_use]
    pub fn customer(tenant: TenantId, customer: CustomerId) -> String {
        format!("{PARTNERS}/{tenant}/customers/{customer}")
    }

    /// The path of a customer's subscriptions ([`SUBSCRIPTIONS`]).
    #[must_use]
    pub fn subscriptions(tenant: TenantId, customer: CustomerId) -> String {
        format!("{PARTNERS}/{tenant}/customers/{customer}/subscriptions")
    }

    /// The path of a subscription ([`SUBSCRIPTION`]).
    #[must_use]
    pub fn subscription(
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> String {
        format!("{PARTNERS}/{tenant}/customers/{customer}/subscriptions/{subscription}")
    }

    /// The path that completes a subscription's registration ([`ADVANCE_REGISTRATION`]).
    #[must_use]
    pub fn advance_registration(
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> String {
        format!(
            "{}/registration/advance",
            self::subscription(tenant, customer, subscription)
        )
    }

    /// The path that fails a subscription's registration ([`FAIL_REGISTRATION`]).
    #[must_use]
    pub fn fail_registration(
        tenant: TenantId,
        customer: CustomerId,
        subscription: SubscriptionId,
    ) -> String {
        format!(
            "{}/registration/fail",
            self::subscription(tenant, customer, subscription)
        )
    }

    /// The path of a customer's carts ([`CARTS`]).
    #[must_use]
    pub fn carts(tenant: TenantId, customer: CustomerId) -> String {
        format!("{}/carts", self::customer(tenant, customer))
    }

    /// The path of a customer's orders ([`ORDERS`]).
    #[must_use]
    pub fn orders(tenant: TenantId, customer: CustomerId) -> String {
        format!("{}/orders", self::customer(tenant, customer))
    }

    /// The path of an order ([`ORDER`]).
    #[must_use]
    pub fn order(tenant: TenantId, customer: CustomerId, order: &str) -> String {
        format!("{}/orders/{order}", self::customer(tenant, customer))
    }

    /// The path that provisions an order now ([`ADVANCE_ORDER`]).
    #[must_use]
    pub fn advance_order(tenant: TenantId, customer: CustomerId, order: &str) -> String {
        format!("{}/advance", self::order(tenant, customer, order))
    }

    /// The path of a fault rule ([`FAULT`]).
    #[must_use]
    pub fn fault(id: u64) -> String {
        format!("{FAULTS}/{id}")
    }
}

/// The routes as Partner Center's reference documents them, with the version as a parameter
/// (`1` or `1.0`); used by the published OpenAPI description.
pub mod templates {
    /// `POST`: register a subscription.
    pub const REGISTRATIONS: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/registrations";
    /// `GET`: the registration status.
    pub const REGISTRATION_STATUS: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/registrationstatus";
    /// `POST`: activate a sandbox SaaS subscription.
    pub const ACTIVATE: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/activate";
    /// `GET`: the customers.
    pub const CUSTOMERS: &str = "/v{version}/customers";
    /// `GET`: a customer.
    pub const CUSTOMER: &str = "/v{version}/customers/{customer_id}";
    /// `GET`: a customer's subscriptions.
    pub const SUBSCRIPTIONS: &str = "/v{version}/customers/{customer_id}/subscriptions";
    /// `GET`: a subscription.
    pub const SUBSCRIPTION: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}";
    /// `POST`: create a cart.
    pub const CARTS: &str = "/v{version}/customers/{customer_id}/carts";
    /// `GET`, `PUT`: a cart.
    pub const CART: &str = "/v{version}/customers/{customer_id}/carts/{cart_id}";
    /// `POST`: check a cart out.
    pub const CHECKOUT: &str = "/v{version}/customers/{customer_id}/carts/{cart_id}/checkout";
    /// `GET`, `POST`: a customer's orders.
    pub const ORDERS: &str = "/v{version}/customers/{customer_id}/orders";
    /// `GET`, `PATCH`: an order.
    pub const ORDER: &str = "/v{version}/customers/{customer_id}/orders/{order_id}";
    /// `GET`: an order's provisioning status.
    pub const PROVISIONING_STATUS: &str =
        "/v{version}/customers/{customer_id}/orders/{order_id}/provisioningstatus";
    /// `GET`: an order line's activation links.
    pub const ORDER_ACTIVATION_LINKS: &str = "/v{version}/customers/{customer_id}/orders/{order_id}/lineitems/{line_item_number}/activationlinks";
    /// `GET`: a subscription's activation links.
    pub const SUBSCRIPTION_ACTIVATION_LINKS: &str =
        "/v{version}/customers/{customer_id}/subscriptions/{subscription_id}/activationlinks";
    /// `GET`: products.
    pub const PRODUCTS: &str = "/v{version}/products";
    /// `GET`: a product.
    pub const PRODUCT: &str = "/v{version}/products/{product_id}";
    /// `GET`: a product's SKUs.
    pub const SKUS: &str = "/v{version}/products/{product_id}/skus";
    /// `GET`: a SKU.
    pub const SKU: &str = "/v{version}/products/{product_id}/skus/{sku_id}";
    /// `GET`: a SKU's availabilities.
    pub const AVAILABILITIES: &str =
        "/v{version}/products/{product_id}/skus/{sku_id}/availabilities";
    /// `GET`: an availability.
    pub const AVAILABILITY: &str =
        "/v{version}/products/{product_id}/skus/{sku_id}/availabilities/{availability_id}";
    /// `POST`: check inventory.
    pub const CHECK_INVENTORY: &str = "/v{version}/extensions/product/checkinventory";
}

/// The `Location` a registration answers with: relative, without the version segment, as Partner
/// Center writes it. Clients resolve it against their base URL plus `/v1`.
#[must_use]
pub fn registration_status_location(customer: CustomerId, subscription: SubscriptionId) -> String {
    format!("/customers/{customer}/subscriptions/{subscription}/registrationstatus")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;

    /// `template` with each `{name}` replaced by its value.
    fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
        values
            .iter()
            .fold(template.to_owned(), |path, (name, value)| {
                path.replace(&format!("{{{name}}}"), &value.to_string())
            })
    }

    #[test]
    fn every_path_fills_its_template() {
        let t: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let c: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap();
        let s: SubscriptionId = "d3a7f4c2-0000-4000-8000-000000000003".parse().unwrap();
        let cs: &[(&str, &dyn std::fmt::Display)] = &[("customer_id", &c), ("subscription_id", &s)];
        assert_eq!(registrations(c, s), fill(REGISTRATIONS, cs));
        assert_eq!(registration_status(c, s), fill(REGISTRATION_STATUS, cs));
        assert_eq!(activate(c, s), fill(ACTIVATE, cs));
        let purchase: &[(&str, &dyn std::fmt::Display)] = &[
            ("customer_id", &c),
            ("subscription_id", &s),
            ("cart_id", &"k-1"),
            ("order_id", &"o-1"),
            ("line_item_number", &3),
        ];
        for (path, template) in [
            (carts(c), CARTS),
            (cart(c, "k-1"), CART),
            (checkout(c, "k-1"), CHECKOUT),
            (orders(c), ORDERS),
            (order(c, "o-1"), ORDER),
            (provisioning_status(c, "o-1"), PROVISIONING_STATUS),
            (order_activation_links(c, "o-1", 3), ORDER_ACTIVATION_LINKS),
            (
                subscription_activation_links(c, s),
                SUBSCRIPTION_ACTIVATION_LINKS,
            ),
        ] {
            assert_eq!(path, fill(template, purchase));
        }
        let discovery: &[(&str, &dyn std::fmt::Display)] = &[
            ("product_id", &"P1"),
            ("sku_id", &"S1"),
            ("availability_id", &"A1"),
        ];
        for (path, template) in [
            (product("P1"), PRODUCT),
            (skus("P1"), SKUS),
            (sku("P1", "S1"), SKU),
            (availabilities("P1", "S1"), AVAILABILITIES),
            (availability("P1", "S1", "A1"), AVAILABILITY),
        ] {
            assert_eq!(path, fill(template, discovery));
        }
        assert_eq!(
            format!("/v1{}", registration_status_location(c, s)),
            registration_status(c, s)
        );

        let tcs: &[(&str, &dyn std::fmt::Display)] =
            &[("tenant", &t), ("customer", &c), ("subscription", &s)];
        for (path, template) in [
            (admin::partner(t), admin::PARTNER),
            (admin::customers(t), admin::CUSTOMERS),
            (admin::customer(t, c), admin::CUSTOMER),
            (admin::subscriptions(t, c), admin::SUBSCRIPTIONS),
            (admin::subscription(t, c, s), admin::SUBSCRIPTION),
            (
                admin::advance_registration(t, c, s),
                admin::ADVANCE_REGISTRATION,
            ),
            (admin::fail_registration(t, c, s), admin::FAIL_REGISTRATION),
            (admin::fault(7), admin::FAULT),
            (admin::carts(t, c), admin::CARTS),
            (admin::orders(t, c), admin::ORDERS),
            (admin::order(t, c, "o-1"), admin::ORDER),
            (admin::advance_order(t, c, "o-1"), admin::ADVANCE_ORDER),
        ] {
            let expected = fill(template, &[tcs, &[("id", &7), ("order", &"o-1")]].concat());
            assert_eq!(path, expected);
            assert!(
                !expected.contains('{'),
                "{template} has a parameter no function fills"
            );
        }
        for route in [
            admin::PARTNERS,
            admin::PARTNER,
            admin::CUSTOMERS,
            admin::CUSTOMER,
            admin::SUBSCRIPTIONS,
            admin::SUBSCRIPTION,
            admin::ADVANCE_REGISTRATION,
            admin::FAIL_REGISTRATION,
            admin::RESET,
            admin::FIXTURES,
            admin::FAULTS,
            admin::FAULT,
            admin::REQUESTS,
            admin::CATALOG,
            admin::CARTS,
            admin::ORDERS,
            admin::ORDER,
            admin::ADVANCE_ORDER,
        ] {
            assert!(route.starts_with(&format!("{}/", admin::PREFIX)), "{route}");
        }
    }

    #[test]
    fn location_is_relative_unversioned_and_normalised() {
        let c: CustomerId = "{C2F6E3B1-0000-4000-8000-000000000002}".parse().unwrap();
        let s: SubscriptionId = "D3A7F4C2-0000-4000-8000-000000000003".parse().unwrap();
        assert_eq!(
            registration_status_location(c, s),
            "/customers/c2f6e3b1-0000-4000-8000-000000000002/subscriptions/d3a7f4c2-0000-4000-8000-000000000003/registrationstatus"
        );
    }
}
