//! The object model, as the .NET SDK's: `partner.customers().by_id(c).subscriptions().by_id(s)`,
//! then `.registration()`, `.registration_status()` or `.activate()`.

use std::time::{Duration, Instant};

use partner_center_model::{
    Collection, Customer, CustomerId, RegistrationStatus, Subscription,
    SubscriptionActivationResult, SubscriptionId, SubscriptionRegistrationStatus, paths,
};
use reqwest::Method;
use reqwest::header::LOCATION;

use crate::client::PartnerCenter;
use crate::error::Error;
use crate::pages::{CustomerPages, CustomerQuery};
use crate::purchases::{CartCollection, OrderCollection};
use partner_center_model::purchase::OrderLineItemActivationLink;

/// The partner's customers.
#[derive(Debug, Clone, Copy)]
pub struct CustomerCollection<'a> {
    pub(crate) partner: &'a PartnerCenter,
}

impl<'a> CustomerCollection<'a> {
    /// Every customer of the partner (`GET /v1/customers`), read page after page as they are
    /// consumed.
    #[must_use]
    pub fn get(&self) -> CustomerPages<'a> {
        self.query(&CustomerQuery::new())
    }

    /// The customers `query` selects, read page after page as they are consumed.
    #[must_use]
    pub fn query(&self, query: &CustomerQuery) -> CustomerPages<'a> {
        CustomerPages::new(self.partner, query)
    }

    /// One customer, by its tenant id.
    #[must_use]
    pub fn by_id(&self, customer: CustomerId) -> CustomerOperations<'a> {
        CustomerOperations {
            partner: self.partner,
            customer,
        }
    }
}

/// One customer.
#[derive(Debug, Clone, Copy)]
pub struct CustomerOperations<'a> {
    partner: &'a PartnerCenter,
    customer: CustomerId,
}

impl<'a> CustomerOperations<'a> {
    /// Reads the customer (`GET /v1/customers/{id}`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for a customer the partner does not have (404, code 60003), or the other
    /// errors of a call.
    pub async fn get(&self) -> Result<Customer, Error> {
        let url = self.partner.url(&paths::customer(self.customer));
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// The customer's carts.
    #[must_use]
    pub fn carts(&self) -> CartCollection<'a> {
        CartCollection {
            partner: self.partner,
            customer: self.customer,
        }
    }

    /// The customer's orders.
    #[must_use]
    pub fn orders(&self) -> OrderCollection<'a> {
        OrderCollection {
            partner: self.partner,
            customer: self.customer,
        }
    }

    /// The customer's subscriptions.
    #[must_use]
    pub fn subscriptions(&self) -> SubscriptionCollection<'a> {
        SubscriptionCollection {
            partner: self.partner,
            customer: self.customer,
        }
    }
}

/// A customer's subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionCollection<'a> {
    partner: &'a PartnerCenter,
    customer: CustomerId,
}

impl<'a> SubscriptionCollection<'a> {
    /// Reads the customer's subscriptions (`GET .../subscriptions`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for a customer the partner does not have (404, code 60003), or the other
    /// errors of a call.
    pub async fn get(&self) -> Result<Collection<Subscription>, Error> {
        self.list(None).await
    }

    /// Reads the customer's subscriptions that the order `order_id` created
    /// (`GET .../subscriptions?order_id=`).
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn by_order(&self, order_id: &str) -> Result<Collection<Subscription>, Error> {
        self.list(Some(order_id)).await
    }

    async fn list(&self, order_id: Option<&str>) -> Result<Collection<Subscription>, Error> {
        let mut url = self.partner.url(&paths::subscriptions(self.customer));
        if let Some(order_id) = order_id {
            url = format!("{url}?order_id={}", crate::pages::encode(order_id));
        }
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// One subscription, by its id.
    #[must_use]
    pub fn by_id(&self, subscription: SubscriptionId) -> SubscriptionOperations<'a> {
        SubscriptionOperations {
            partner: self.partner,
            customer: self.customer,
            subscription,
        }
    }
}

/// One subscription of a customer.
#[derive(Debug, Clone, Copy)]
pub struct SubscriptionOperations<'a> {
    partner: &'a PartnerCenter,
    customer: CustomerId,
    subscription: SubscriptionId,
}

impl<'a> SubscriptionOperations<'a> {
    /// Reads the subscription (`GET .../subscriptions/{id}`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for an unknown customer (60003) or subscription (20003), or the other errors
    /// of a call.
    pub async fn get(&self) -> Result<Subscription, Error> {
        let url = self.url(paths::subscription);
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// Its registration for Reserved Instance purchase.
    #[must_use]
    pub fn registration(&self) -> RegistrationOperations<'a> {
        RegistrationOperations {
            subscription: *self,
        }
    }

    /// Its registration status.
    #[must_use]
    pub fn registration_status(&self) -> RegistrationStatusOperations<'a> {
        RegistrationStatusOperations {
            subscription: *self,
        }
    }

    /// Activates a third-party SaaS subscription in an integration sandbox
    /// (`POST .../activate`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the service refuses (not a sandbox: code 900127; already active: 800041;
    /// not a SaaS subscription: 800021; ...), or the other errors of a call.
    pub async fn activate(&self) -> Result<SubscriptionActivationResult, Error> {
        let url = self.url(paths::activate);
        let answer = self.partner.call(Method::POST, &url).await?;
        self.partner.decode(&answer)
    }

    /// Reads the subscription's activation links (`GET .../subscriptions/{id}/activationlinks`):
    /// one for a SaaS subscription that awaits activation (a placeholder in the integration
    /// sandbox, where [`Self::activate`] activates it), none otherwise.
    ///
    /// # Errors
    ///
    /// As [`Self::get`].
    pub async fn activation_links(&self) -> Result<Collection<OrderLineItemActivationLink>, Error> {
        let url = self.url(paths::subscription_activation_links);
        let answer = self.partner.call(Method::GET, &url).await?;
        self.partner.decode(&answer)
    }

    /// The URL of one of the subscription's routes, by its path function in [`paths`].
    fn url(&self, path: fn(CustomerId, SubscriptionId) -> String) -> String {
        self.partner.url(&path(self.customer, self.subscription))
    }
}

/// A subscription's registration.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationOperations<'a> {
    subscription: SubscriptionOperations<'a>,
}

/// How [`RegistrationOperations::register_and_wait`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// The pause between two reads of the status (at least 50 ms).
    pub interval: Duration,
    /// How long to wait in all.
    pub timeout: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(120),
        }
    }
}

impl RegistrationOperations<'_> {
    /// Registers the subscription for Reserved Instance purchase (`POST .../registrations`) and
    /// returns the `Location` of its registration status, as the service sent it (relative; see
    /// [`PartnerCenter::resolve`]).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the service refuses (not an Azure subscription: 800011; not active:
    /// 800012; ...), [`Error::Decode`] without a `Location`, or the other errors of a call.
    pub async fn register(&self) -> Result<String, Error> {
        let operations = self.subscription;
        let answer = operations
            .partner
            .call(Method::POST, &operations.url(paths::registrations))
            .await?;
        answer
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| Error::Decode("the registration was accepted without a Location".into()))
    }

    /// Registers the subscription, then reads its status at the `Location` every
    /// `options.interval` until it is no longer `Registering`, and returns it: `Registered`, or
    /// `NotRegistered` if the registration failed.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if it is still `Registering` after `options.timeout`; the errors of
    /// [`RegistrationOperations::register`] and of reading the status.
    pub async fn register_and_wait(
        &self,
        options: WaitOptions,
    ) -> Result<SubscriptionRegistrationStatus, Error> {
        let started = Instant::now();
        let partner = self.subscription.partner;
        let location = self.register().await?;
        let url = partner.resolve(&location);
        let interval = options.interval.max(Duration::from_millis(50));
        loop {
            let answer = partner.call(Method::GET, &url).await?;
            let status: SubscriptionRegistrationStatus = partner.decode(&answer)?;
            if status.status != RegistrationStatus::Registering {
                return Ok(status);
            }
            let waited = started.elapsed();
            if waited + interval > options.timeout {
                return Err(Error::Timeout {
                    waited,
                    last_status: status.status,
                });
            }
            tokio::time::sleep(interval).await;
        }
    }
}

/// A subscription's registration status.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationStatusOperations<'a> {
    subscription: SubscriptionOperations<'a>,
}

impl RegistrationStatusOperations<'_> {
    /// Reads the registration status (`GET .../registrationstatus`).
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for an unknown customer or subscription (404), or the other errors of a call.
    pub async fn get(&self) -> Result<SubscriptionRegistrationStatus, Error> {
        let operations = self.subscription;
        let answer = operations
            .partner
            .call(Method::GET, &operations.url(paths::registration_status))
            .await?;
        operations.partner.decode(&answer)
    }
}
