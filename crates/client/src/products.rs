//! Catalog discovery, as the .NET SDK's object model has it:
//! `partner.products().by_country("US")`, then `.by_target_view(view)`, or
//! `.by_id(product).skus().by_id(sku).availabilities()`, and `.check_inventory(request)`.

use partner_center_model::product::{
    Availability, InventoryCheckRequest, InventoryItems, Product, Sku,
};
use partner_center_model::{Collection, paths};
use reqwest::Method;

use crate::client::PartnerCenter;
use crate::error::Error;
use crate::pages::encode;

/// The catalog's products.
#[derive(Debug, Clone, Copy)]
pub struct ProductCollection<'a> {
    pub(crate) partner: &'a PartnerCenter,
}

impl<'a> ProductCollection<'a> {
    /// The products as sold in `country` (an ISO 3166 two-letter code, e.g. `US`).
    #[must_use]
    pub fn by_country(&self, country: &str) -> ProductsOfCountry<'a> {
        ProductsOfCountry {
            partner: self.partner,
            country: country.to_owned(),
        }
    }

    /// The products of a target view in a country (`GET /v1/products?country=&targetView=`):
    /// `AzureReservationsVM` for Azure reserved VM instances, `OnlineServices` for
    /// commercial-marketplace SaaS products.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for a view that is not allowed (403, code 400036), or the other errors of a
    /// call.
    pub async fn by_target_view(
        &self,
        country: &str,
        view: &str,
    ) -> Result<Collection<Product>, Error> {
        self.by_country(country).by_target_view(view).await
    }
}

/// The products as sold in a country.
#[derive(Debug, Clone)]
pub struct ProductsOfCountry<'a> {
    partner: &'a PartnerCenter,
    country: String,
}

impl<'a> ProductsOfCountry<'a> {
    /// The URL of `path` with the country.
    fn url(&self, path: &str) -> String {
        format!(
            "{}?country={}",
            self.partner.url(path),
            encode(&self.country)
        )
    }

    /// The products of a target view (`GET /v1/products?country=&targetView=`).
    ///
    /// # Errors
    ///
    /// As [`ProductCollection::by_target_view`].
    pub async fn by_target_view(&self, view: &str) -> Result<Collection<Product>, Error> {
        let url = format!("{}&targetView={}", self.url(paths::PRODUCTS), encode(view));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// One product, by its id.
    #[must_use]
    pub fn by_id(&self, product: &str) -> ProductOperations<'a> {
        ProductOperations {
            of: self.clone(),
            product: product.to_owned(),
        }
    }

    /// Checks the inventory of products' SKUs
    /// (`POST /v1/extensions/product/checkInventory?country=`): one item per SKU checked, restricted
    /// when it cannot be bought in the context given (for reservations: `customerId`,
    /// `azureSubscriptionId`, `armRegionName`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the context lacks an item a SKU needs (400, code 400026), or the other
    /// errors of a call.
    pub async fn check_inventory(
        &self,
        request: &InventoryCheckRequest,
    ) -> Result<InventoryItems, Error> {
        let url = self.url(paths::CHECK_INVENTORY);
        let answer = self.partner.call_json(Method::POST, &url, request).await?;
        self.partner.decode(&answer)
    }
}

/// One product.
#[derive(Debug, Clone)]
pub struct ProductOperations<'a> {
    of: ProductsOfCountry<'a>,
    product: String,
}

impl<'a> ProductOperations<'a> {
    /// Reads the product (`GET /v1/products/{id}?country=`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for no such product (404, code 400013), or the other errors of a call.
    pub async fn get(&self) -> Result<Product, Error> {
        let answer = self
            .of
            .partner
            .call(Method::GET, &self.of.url(&paths::product(&self.product)))
            .await?;
        self.of.partner.decode(&answer)
    }

    /// Its SKUs.
    #[must_use]
    pub fn skus(&self) -> SkuCollection<'a> {
        SkuCollection {
            product: self.clone(),
        }
    }
}

/// A product's SKUs.
#[derive(Debug, Clone)]
pub struct SkuCollection<'a> {
    product: ProductOperations<'a>,
}

impl<'a> SkuCollection<'a> {
    /// Reads the product's SKUs (`GET /v1/products/{id}/skus?country=`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for no such product (404, code 400013), or the other errors of a call.
    pub async fn get(&self) -> Result<Collection<Sku>, Error> {
        let of = &self.product.of;
        let answer = of
            .partner
            .call(Method::GET, &of.url(&paths::skus(&self.product.product)))
            .await?;
        of.partner.decode(&answer)
    }

    /// One SKU, by its id.
    #[must_use]
    pub fn by_id(&self, sku: &str) -> SkuOperations<'a> {
        SkuOperations {
            product: self.product.clone(),
            sku: sku.to_owned(),
        }
    }
}

/// One SKU of a product.
#[derive(Debug, Clone)]
pub struct SkuOperations<'a> {
    product: ProductOperations<'a>,
    sku: String,
}

impl SkuOperations<'_> {
    /// Reads the SKU (`GET /v1/products/{id}/skus/{id}?country=`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for no such product (400013) or SKU (400018), or the other errors of a call.
    pub async fn get(&self) -> Result<Sku, Error> {
        let of = &self.product.of;
        let path = paths::sku(&self.product.product, &self.sku);
        let answer = of.partner.call(Method::GET, &of.url(&path)).await?;
        of.partner.decode(&answer)
    }

    /// Reads the SKU's availabilities (`GET .../skus/{id}/availabilities?country=`); each one's
    /// `catalogItemId` is what a cart line buys.
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn availabilities(&self) -> Result<Collection<Availability>, Error> {
        let of = &self.product.of;
        let path = paths::availabilities(&self.product.product, &self.sku);
        let answer = of.partner.call(Method::GET, &of.url(&path)).await?;
        of.partner.decode(&answer)
    }

    /// Reads one availability (`GET .../availabilities/{id}?country=`).
    ///
    /// # Errors
    ///
    /// As [`Self::get`]; no such availability: 404, code 400019.
    pub async fn availability(&self, availability: &str) -> Result<Availability, Error> {
        let of = &self.product.of;
        let path = paths::availability(&self.product.product, &self.sku, availability);
        let answer = of.partner.call(Method::GET, &of.url(&path)).await?;
        of.partner.decode(&answer)
    }
}
