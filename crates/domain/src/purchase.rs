//! Buying: carts and their checkout, orders, their provisioning and their cancellation.
//!
//! Every line a partner asks for is checked the same way, whether it is a cart's line (a failing
//! line keeps its place and carries a [`LineError`]) or a direct order's (the whole order is
//! refused with the error's ServiceFault code):
//!
//! - the catalog has the item (10001);
//! - the line is valid: a quantity of at least 1, a billing cycle and term that are the item's,
//!   and for a reservation a `subscriptionId` and a scope of `shared` or `single` (10010);
//! - a reservation's `subscriptionId` is an `azure` or `azurePlan` subscription of the customer
//!   that is `active` (10007), registered (10011 when `NotRegistered`, 10008 while `Registering`);
//! - a sandbox partner's customer stays within the sandbox limits: at most 5 subscriptions that
//!   are not `deleted`, at most 2 reservation instances (10009). Lines are counted in order, so a
//!   line over a limit fails while the lines before it pass.
//!
//! A checkout makes one order per order group. A reservation order is `pending` until the worker
//! provisions it (each line then makes a `reservation` subscription); a SaaS line makes its
//! subscription at once, `pending` until it is activated, and its order completes once every line
//! is. A sandbox partner may cancel an order: it becomes `cancelled`, its lines `unfulfilled`,
//! its subscriptions `deleted`.

use std::collections::BTreeMap;

use partner_center_model::catalog::{CatalogItem, PurchaseKind};
use partner_center_model::fault::codes;
use partner_center_model::purchase::CartErrorCode;
use partner_center_model::{
    RegistrationState, SubscriptionId, SubscriptionKind, SubscriptionStatus, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::catalog::{self, Catalog};
use crate::change::SubscriptionValues;
use crate::{Change, CustomerKey, Decision, SubscriptionKey};

/// The most lines a cart or an order may hold.
pub const MAX_LINES: usize = 50;
/// The most subscriptions (not `deleted`) a sandbox customer may have.
pub const MAX_SANDBOX_SUBSCRIPTIONS: usize = 5;
/// The most reservation instances (quantities of reservations not cancelled) a sandbox customer
/// may have.
pub const MAX_SANDBOX_RESERVATIONS: u64 = 2;

/// Whether a cart or an order may have `count` lines: at most [`MAX_LINES`].
///
/// # Errors
///
/// What is wrong, when it has more.
pub fn check_line_count(count: usize) -> Result<(), String> {
    if count > MAX_LINES {
        Err(format!(
            "at most {MAX_LINES} line items are allowed, {count} were sent"
        ))
    } else {
        Ok(())
    }
}

/// The ids a checkout gives the orders it places (one per order group), each made only when an
/// order takes it: a GUID and the GUIDs that follow it (its 62 low, random bits counted up,
/// wrapping within them), each as its 32 lower-case hex digits, the style of Partner Center's
/// order ids. From a version-7 GUID, ids made later sort later, so the orders' index (and their
/// jobs') grows at its end; another checkout's ids meet these only if their random bits do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderIds(u128);

impl OrderIds {
    /// The low 62 bits: the random part of a version-7 GUID below its variant.
    const COUNTED: u128 = (1 << 62) - 1;

    /// The ids that begin with the GUID `first` (as a `u128`, most significant byte first).
    #[must_use]
    pub const fn starting_at(first: u128) -> Self {
        Self(first)
    }

    /// The `n`th id (from 0).
    #[must_use]
    pub fn nth(self, n: usize) -> String {
        let counted = self.0.wrapping_add(n as u128) & Self::COUNTED;
        format!("{:032x}", (self.0 & !Self::COUNTED) | counted)
    }
}

/// A line as a client asks for it: a cart's line, or a direct order's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineRequest {
    /// The cart line's id, or the order line's number.
    pub id: i64,
    /// The catalog item (`catalogItemId` of a cart line, `offerId` of an order line).
    pub catalog_item_id: String,
    /// How many.
    pub quantity: i64,
    /// The billing cycle asked for, if any.
    pub billing_cycle: Option<String>,
    /// The term asked for, if any.
    pub term_duration: Option<String>,
    /// A name for what it makes, if any.
    pub friendly_name: Option<String>,
    /// The provisioning context, as sent (keys in any case).
    pub provisioning_context: BTreeMap<String, String>,
}

/// Why a line cannot be bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineError {
    /// The catalog has no such item.
    CatalogItemNotFound,
    /// The line is not valid (why).
    InvalidInput(String),
    /// The subscription it names is not an active Azure subscription of the customer.
    SubscriptionNotValid,
    /// The subscription it names is not registered for reservation purchase.
    SubscriptionNotRegistered,
    /// The subscription it names is still registering.
    SubscriptionRegistering,
    /// A sandbox limit would be passed (which).
    SandboxLimitExceeded(String),
    /// The item is not available for the subscription (its region is restricted).
    InventoryNotAvailable,
}

impl LineError {
    /// Its `CartErrorCode`, as a cart line carries it.
    #[must_use]
    pub fn cart_code(&self) -> i64 {
        match self {
            Self::CatalogItemNotFound => CartErrorCode::CatalogItemIdIsNotValid,
            Self::InventoryNotAvailable => CartErrorCode::InventoryNotAvailable,
            Self::SubscriptionNotValid => CartErrorCode::SubscriptionIsNotValid,
            Self::SubscriptionRegistering => CartErrorCode::SubscriptionIsNotEnabledForRi,
            Self::SandboxLimitExceeded(_) => CartErrorCode::SandboxLimitExceeded,
            Self::InvalidInput(_) => CartErrorCode::InvalidInput,
            Self::SubscriptionNotRegistered => CartErrorCode::SubscriptionNotRegistered,
        }
        .number()
    }

    /// The ServiceFault code a direct order is refused with.
    #[must_use]
    pub const fn order_code(&self) -> i64 {
        match self {
            Self::CatalogItemNotFound | Self::InvalidInput(_) => codes::INVALID_REQUEST,
            Self::InventoryNotAvailable => codes::INVENTORY_NOT_AVAILABLE,
            Self::SubscriptionRegistering => codes::NOT_ENABLED_FOR_RI,
            Self::SandboxLimitExceeded(_) => codes::SANDBOX_LIMIT,
            Self::SubscriptionNotValid => codes::NOT_VALID_SUBSCRIPTION,
            Self::SubscriptionNotRegistered => codes::NOT_REGISTERED,
        }
    }

    /// What it says.
    #[must_use]
    pub fn description(&self) -> String {
        match self {
            Self::CatalogItemNotFound => "The catalog item is not valid: the catalog has no such item.".into(),
            Self::InvalidInput(why) => format!("The line item is not valid: {why}."),
            Self::SubscriptionNotValid => {
                "This subscription is not a valid subscription: it must be an active Azure subscription of the customer.".into()
            }
            Self::SubscriptionNotRegistered => "This subscription is not registered.".into(),
            Self::SubscriptionRegistering => {
                "This subscription is not enabled for RI purchase: its registration is still in progress.".into()
            }
            Self::SandboxLimitExceeded(which) => format!("The sandbox limit has been met: {which}."),
            Self::InventoryNotAvailable => {
                "Inventory is not available for this catalog item in the subscription's region.".into()
            }
        }
    }
}

/// A subscription of the customer, as the limits and the checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionSummary {
    /// Its id.
    pub id: SubscriptionId,
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its status.
    pub status: SubscriptionStatus,
    /// Where its registration stands.
    pub registration: RegistrationState,
    /// How many.
    pub quantity: u32,
}

/// What a purchase for a customer is checked against, loaded (and, on PostgreSQL, locked) by the
/// store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerFacts {
    /// Whether the partner is an integration sandbox (then the sandbox limits apply).
    pub sandbox: bool,
    /// Every subscription of the customer.
    pub subscriptions: Vec<SubscriptionSummary>,
    /// The customer's orders that are `pending`.
    pub pending_orders: Vec<Order>,
}

impl CustomerFacts {
    fn subscription(&self, id: SubscriptionId) -> Option<&SubscriptionSummary> {
        self.subscriptions.iter().find(|s| s.id == id)
    }

    /// Subscriptions that count toward the sandbox limit: not `deleted`, and those pending
    /// orders will make.
    fn live_subscriptions(&self) -> usize {
        let made = self
            .subscriptions
            .iter()
            .filter(|s| s.status != SubscriptionStatus::Deleted)
            .count();
        let coming = self
            .pending_orders
            .iter()
            .flat_map(|o| &o.lines)
            .filter(|l| l.subscription_id.is_none())
            .count();
        made + coming
    }

    /// Reservation instances: quantities of reservations not deleted, and of those pending
    /// orders will make.
    fn reservation_instances(&self) -> u64 {
        let made: u64 = self
            .subscriptions
            .iter()
            .filter(|s| {
                s.kind == SubscriptionKind::Reservation && s.status != SubscriptionStatus::Deleted
            })
            .map(|s| u64::from(s.quantity))
            .sum();
        let coming: u64 = self
            .pending_orders
            .iter()
            .flat_map(|o| &o.lines)
            .filter(|l| l.kind == PurchaseKind::Reservation && l.subscription_id.is_none())
            .map(|l| u64::from(l.quantity))
            .sum();
        made + coming
    }
}

/// A line that passed its checks, normalised: the item's billing cycle and term, the context's
/// keys in their canonical case (`subscriptionId`, `scope`, `duration`) and the scope in lower
/// case.
#[derive(Debug, Clone, PartialEq)]
struct Checked<'a> {
    item: &'a CatalogItem,
    quantity: u32,
    context: BTreeMap<String, String>,
}

fn context_value<'a>(context: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.trim())
}

/// The context with its known keys in their canonical case.
fn canonical_context(context: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    context
        .iter()
        .map(|(key, value)| {
            let canonical = ["subscriptionId", "scope", "duration"]
                .into_iter()
                .find(|known| known.eq_ignore_ascii_case(key))
                .map_or_else(|| key.clone(), str::to_owned);
            let value = if canonical == "scope" {
                value.trim().to_lowercase()
            } else {
                value.trim().to_owned()
            };
            (canonical, value)
        })
        .collect()
}

/// Checks one line, the lines before it having taken `taken` of the limits.
fn check_line<'a>(
    line: &LineRequest,
    catalog: &'a Catalog,
    facts: &CustomerFacts,
    taken: &mut Taken,
) -> Result<Checked<'a>, LineError> {
    let item = catalog
        .find(&line.catalog_item_id)
        .ok_or(LineError::CatalogItemNotFound)?;
    let quantity = u32::try_from(line.quantity)
        .ok()
        .filter(|q| *q >= 1)
        .ok_or_else(|| LineError::InvalidInput(format!("quantity {} is below 1", line.quantity)))?;
    if let Some(cycle) = &line.billing_cycle
        && !cycle.trim().eq_ignore_ascii_case(&item.billing_cycle)
    {
        return Err(LineError::InvalidInput(format!(
            "billingCycle `{cycle}` is not the item's ({})",
            item.billing_cycle
        )));
    }
    if let Some(term) = &line.term_duration
        && !term.trim().eq_ignore_ascii_case(&item.term_duration)
    {
        return Err(LineError::InvalidInput(format!(
            "termDuration `{term}` is not the item's ({})",
            item.term_duration
        )));
    }
    let context = canonical_context(&line.provisioning_context);
    if item.kind == PurchaseKind::Reservation {
        let Some(subscription) = context_value(&context, "subscriptionId") else {
            return Err(LineError::InvalidInput(
                "a reservation needs provisioningContext.subscriptionId".into(),
            ));
        };
        if let Some(scope) = context_value(&context, "scope")
            && !["shared", "single"].contains(&scope)
        {
            return Err(LineError::InvalidInput(format!(
                "provisioningContext.scope `{scope}` is neither shared nor single"
            )));
        }
        let azure = subscription
            .parse::<SubscriptionId>()
            .ok()
            .and_then(|id| facts.subscription(id))
            .filter(|s| {
                matches!(
                    s.kind,
                    SubscriptionKind::Azure | SubscriptionKind::AzurePlan
                ) && s.status == SubscriptionStatus::Active
            })
            .ok_or(LineError::SubscriptionNotValid)?;
        match azure.registration {
            RegistrationState::NotRegistered => return Err(LineError::SubscriptionNotRegistered),
            RegistrationState::Registering => return Err(LineError::SubscriptionRegistering),
            RegistrationState::Registered => {}
        }
        if item.restricted {
            return Err(LineError::InventoryNotAvailable);
        }
    }
    if facts.sandbox {
        if taken.subscriptions + 1 > MAX_SANDBOX_SUBSCRIPTIONS {
            return Err(LineError::SandboxLimitExceeded(format!(
                "a sandbox customer may have at most {MAX_SANDBOX_SUBSCRIPTIONS} subscriptions"
            )));
        }
        if item.kind == PurchaseKind::Reservation
            && taken.reservations + u64::from(quantity) > MAX_SANDBOX_RESERVATIONS
        {
            return Err(LineError::SandboxLimitExceeded(format!(
                "a sandbox customer may have at most {MAX_SANDBOX_RESERVATIONS} reservation instances"
            )));
        }
    }
    taken.subscriptions += 1;
    if item.kind == PurchaseKind::Reservation {
        taken.reservations += u64::from(quantity);
    }
    Ok(Checked {
        item,
        quantity,
        context,
    })
}

/// What the lines checked so far take of the limits.
struct Taken {
    subscriptions: usize,
    reservations: u64,
}

/// Checks every line, in order.
fn check_lines<'a>(
    lines: &[LineRequest],
    catalog: &'a Catalog,
    facts: &CustomerFacts,
) -> Vec<Result<Checked<'a>, LineError>> {
    let mut taken = Taken {
        subscriptions: facts.live_subscriptions(),
        reservations: facts.reservation_instances(),
    };
    lines
        .iter()
        .map(|line| check_line(line, catalog, facts, &mut taken))
        .collect()
}

/// A cart's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CartStatus {
    /// It can be updated or checked out.
    Active,
    /// It was checked out.
    Ordered,
}

impl CartStatus {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Ordered => "Ordered",
        }
    }
}

/// A cart's line, as it was sent (normalised when it passed its checks), with its error if it
/// failed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// Its id, as sent.
    pub id: i64,
    /// The catalog item.
    pub catalog_item_id: String,
    /// How many.
    pub quantity: i64,
    /// The billing cycle.
    pub billing_cycle: Option<String>,
    /// The term.
    pub term_duration: Option<String>,
    /// A name for what it makes, if any.
    pub friendly_name: Option<String>,
    /// The provisioning context.
    pub provisioning_context: BTreeMap<String, String>,
    /// The order group it goes into, when the catalog has the item.
    pub order_group: Option<String>,
    /// Why it cannot be bought, if it cannot.
    pub error: Option<LineError>,
}

/// A cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cart {
    /// Its id (a GUID).
    pub id: String,
    /// Whose.
    pub customer: CustomerKey,
    /// Its status.
    pub status: CartStatus,
    /// Its lines.
    pub lines: Vec<CartLine>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it expires (while `Active`).
    pub expires_at: Timestamp,
    /// The orders its checkout made.
    pub order_ids: Vec<String>,
}

impl Cart {
    /// Whether it is past its expiry at `now` (an expired cart is as if it did not exist).
    #[must_use]
    pub fn expired(&self, now: Timestamp) -> bool {
        self.status == CartStatus::Active && self.expires_at <= now
    }
}

/// The lines of a cart, checked: each as sent, normalised when it passed, with its error when it
/// failed.
fn cart_lines(lines: &[LineRequest], catalog: &Catalog, facts: &CustomerFacts) -> Vec<CartLine> {
    lines
        .iter()
        .zip(check_lines(lines, catalog, facts))
        .map(|(line, checked)| match checked {
            Ok(checked) => CartLine {
                id: line.id,
                catalog_item_id: checked.item.id.clone(),
                quantity: i64::from(checked.quantity),
                billing_cycle: Some(checked.item.billing_cycle.clone()),
                term_duration: Some(checked.item.term_duration.clone()),
                friendly_name: line.friendly_name.clone(),
                provisioning_context: checked.context,
                order_group: Some(catalog::order_group(checked.item)),
                error: None,
            },
            Err(error) => CartLine {
                id: line.id,
                catalog_item_id: line.catalog_item_id.trim().to_owned(),
                quantity: line.quantity,
                billing_cycle: line.billing_cycle.clone(),
                term_duration: line.term_duration.clone(),
                friendly_name: line.friendly_name.clone(),
                provisioning_context: canonical_context(&line.provisioning_context),
                order_group: catalog
                    .find(&line.catalog_item_id)
                    .map(catalog::order_group),
                error: Some(error),
            },
        })
        .collect()
}

/// What a cart request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOutcome {
    /// The partner has no such customer.
    CustomerNotFound,
    /// The customer has no such cart, or it expired.
    CartNotFound,
    /// The cart was checked out already.
    AlreadyOrdered,
    /// The cart (its id) was created or updated.
    Saved(String),
}

/// The customer a purchase is for, as the purchase rules see it: the catalog, the customer's
/// facts, and what the request names that the customer has (`()` when it names nothing, or the
/// cart or order it may not have). A store passes `None` for a customer the partner does not
/// have, and the rule answers that itself.
#[derive(Debug, Clone, Copy)]
pub struct Buyer<'a, T = ()> {
    /// What can be bought.
    pub catalog: &'a Catalog,
    /// What the customer has.
    pub facts: &'a CustomerFacts,
    /// What the request names, as found.
    pub found: T,
}

impl<'a> Buyer<'a> {
    /// A buyer of a request that names nothing the customer has.
    #[must_use]
    pub const fn new(catalog: &'a Catalog, facts: &'a CustomerFacts) -> Self {
        Self {
            catalog,
            facts,
            found: (),
        }
    }

    /// The same buyer, with what the request names (`None`: the customer has no such thing).
    #[must_use]
    pub fn with<T>(self, found: T) -> Buyer<'a, T> {
        Buyer {
            catalog: self.catalog,
            facts: self.facts,
            found,
        }
    }
}

/// Creates cart `id` for `customer` with `lines`, each checked (`None`: no such customer).
pub fn create_cart(
    customer: CustomerKey,
    id: String,
    lines: &[LineRequest],
    buyer: Option<Buyer<'_>>,
    now: Timestamp,
    lifetime: std::time::Duration,
) -> Decision<CartOutcome> {
    let Some(Buyer { catalog, facts, .. }) = buyer else {
        return Decision::answer(CartOutcome::CustomerNotFound);
    };
    let cart = Cart {
        id: id.clone(),
        customer,
        status: CartStatus::Active,
        lines: cart_lines(lines, catalog, facts),
        created_at: now,
        updated_at: now,
        expires_at: now.saturating_add(lifetime),
        order_ids: Vec::new(),
    };
    Decision::with(CartOutcome::Saved(id), Change::CartPut(cart))
}

/// Why a request on a cart has none it may change.
enum NoActiveCart {
    /// The partner has no such customer.
    Customer,
    /// The customer has no such cart, or it expired.
    Cart,
    /// The cart was checked out already (an ordered cart never expires).
    Ordered,
}

impl From<NoActiveCart> for CartOutcome {
    fn from(missing: NoActiveCart) -> Self {
        match missing {
            NoActiveCart::Customer => Self::CustomerNotFound,
            NoActiveCart::Cart => Self::CartNotFound,
            NoActiveCart::Ordered => Self::AlreadyOrdered,
        }
    }
}

impl From<NoActiveCart> for CheckoutOutcome {
    fn from(missing: NoActiveCart) -> Self {
        match missing {
            NoActiveCart::Customer => Self::CustomerNotFound,
            NoActiveCart::Cart => Self::CartNotFound,
            NoActiveCart::Ordered => Self::AlreadyOrdered,
        }
    }
}

/// The buyer's cart, when the customer has it and it is active and has not expired.
fn active_cart(
    buyer: Option<Buyer<'_, Option<Cart>>>,
    now: Timestamp,
) -> Result<(Buyer<'_>, Cart), NoActiveCart> {
    let buyer = buyer.ok_or(NoActiveCart::Customer)?;
    let cart = buyer.found.ok_or(NoActiveCart::Cart)?;
    if cart.status == CartStatus::Ordered {
        return Err(NoActiveCart::Ordered);
    }
    if cart.expired(now) {
        return Err(NoActiveCart::Cart);
    }
    Ok((Buyer::new(buyer.catalog, buyer.facts), cart))
}

/// Replaces the lines of the buyer's cart (`None`: no such customer; a found `None`: no such
/// cart), which must be active; its expiry moves to `lifetime` after now.
pub fn update_cart(
    buyer: Option<Buyer<'_, Option<Cart>>>,
    lines: &[LineRequest],
    now: Timestamp,
    lifetime: std::time::Duration,
) -> Decision<CartOutcome> {
    let (buyer, mut cart) = match active_cart(buyer, now) {
        Ok(active) => active,
        Err(missing) => return Decision::answer(missing.into()),
    };
    cart.lines = cart_lines(lines, buyer.catalog, buyer.facts);
    cart.updated_at = now;
    cart.expires_at = now.saturating_add(lifetime);
    Decision::with(CartOutcome::Saved(cart.id.clone()), Change::CartPut(cart))
}

/// What a checkout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// The partner has no such customer.
    CustomerNotFound,
    /// The customer has no such cart, or it expired.
    CartNotFound,
    /// The cart was checked out already.
    AlreadyOrdered,
    /// A line fails its checks now; nothing was bought (the cart shows the errors).
    LineErrors,
    /// The orders it made, one per order group.
    Ordered(Vec<String>),
}

/// Checks out the buyer's cart (`None`: no such customer; a found `None`: no such cart): the
/// lines are checked again, and if every one passes, one order per order group is placed, with
/// ids from `order_ids`, and the cart becomes `Ordered`.
pub fn checkout(
    buyer: Option<Buyer<'_, Option<Cart>>>,
    order_ids: OrderIds,
    now: Timestamp,
) -> Decision<CheckoutOutcome> {
    let (Buyer { catalog, facts, .. }, mut cart) = match active_cart(buyer, now) {
        Ok(active) => active,
        Err(missing) => return Decision::answer(missing.into()),
    };
    let requests: Vec<LineRequest> = cart.lines.iter().map(request_of).collect();
    let checked = check_lines(&requests, catalog, facts);
    if checked.iter().any(Result::is_err) || checked.is_empty() {
        cart.lines = cart_lines(&requests, catalog, facts);
        if cart.lines.is_empty() {
            // An empty cart has nothing to buy: its checkout is refused like an erroneous one.
            return Decision::answer(CheckoutOutcome::LineErrors);
        }
        cart.updated_at = now;
        return Decision::with(CheckoutOutcome::LineErrors, Change::CartPut(cart));
    }
    // One order per order group, in the order the groups first appear.
    let mut groups: Vec<(String, Vec<(&LineRequest, Checked<'_>)>)> = Vec::new();
    for (request, checked) in requests.iter().zip(checked.into_iter().flatten()) {
        let group = catalog::order_group(checked.item);
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, lines)) => lines.push((request, checked)),
            None => groups.push((group, vec![(request, checked)])),
        }
    }
    let mut changes = Vec::new();
    let mut placed = Vec::new();
    for (n, (_, lines)) in groups.into_iter().enumerate() {
        let order_id = order_ids.nth(n);
        let order = new_order(cart.customer, order_id.clone(), &lines, now);
        changes.extend(order_changes(order, now));
        placed.push(order_id);
    }
    cart.status = CartStatus::Ordered;
    cart.updated_at = now;
    cart.order_ids.clone_from(&placed);
    changes.push(Change::CartPut(cart));
    Decision {
        outcome: CheckoutOutcome::Ordered(placed),
        changes,
    }
}

fn request_of(line: &CartLine) -> LineRequest {
    LineRequest {
        id: line.id,
        catalog_item_id: line.catalog_item_id.clone(),
        quantity: line.quantity,
        billing_cycle: line.billing_cycle.clone(),
        term_duration: line.term_duration.clone(),
        friendly_name: line.friendly_name.clone(),
        provisioning_context: line.provisioning_context.clone(),
    }
}

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Some line is not fulfilled yet.
    Pending,
    /// Every line is fulfilled.
    Completed,
    /// Cancelled (sandbox only).
    Cancelled,
}

impl OrderStatus {
    /// The wire (and storage) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Every status.
    pub const ALL: [Self; 3] = [Self::Pending, Self::Completed, Self::Cancelled];
}

/// An order line's provisioning status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineStatus {
    /// Not provisioned yet.
    PrefulfillmentPending,
    /// Provisioned.
    Fulfilled,
    /// Cancelled.
    Unfulfilled,
}

impl LineStatus {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PrefulfillmentPending => "prefulfillmentPending",
            Self::Fulfilled => "fulfilled",
            Self::Unfulfilled => "unfulfilled",
        }
    }
}

/// An order's line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Its number in the order, from 0.
    pub number: u32,
    /// The catalog item bought.
    pub offer_id: String,
    /// What it makes.
    pub kind: PurchaseKind,
    /// The name of what it makes.
    pub friendly_name: String,
    /// How many.
    pub quantity: u32,
    /// Its term.
    pub term_duration: String,
    /// Its billing cycle.
    pub billing_cycle: String,
    /// The provisioning context.
    pub provisioning_context: BTreeMap<String, String>,
    /// The subscription it made, once it made it.
    pub subscription_id: Option<SubscriptionId>,
    /// How its provisioning stands.
    pub status: LineStatus,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Its id.
    pub id: String,
    /// Whose.
    pub customer: CustomerKey,
    /// `one_time` or `monthly`.
    pub billing_cycle: String,
    /// Its status.
    pub status: OrderStatus,
    /// Its lines.
    pub lines: Vec<OrderLine>,
    /// When it was placed.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// The id of the subscription line `number` of order `order_id` makes: a GUID derived from both
/// (a 128-bit FNV-1a hash, as a version-4 GUID), so that provisioning an order again makes the
/// same subscriptions.
#[must_use]
pub fn subscription_id(order_id: &str, number: u32) -> SubscriptionId {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in order_id.bytes().chain(number.to_be_bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    SubscriptionId::from_uuid(uuid::Builder::from_random_bytes(hash.to_be_bytes()).into_uuid())
}

fn new_order(
    customer: CustomerKey,
    id: String,
    lines: &[(&LineRequest, Checked<'_>)],
    now: Timestamp,
) -> Order {
    let lines: Vec<OrderLine> = lines
        .iter()
        .zip(0u32..)
        .map(|((request, checked), number)| {
            let kind = checked.item.kind;
            OrderLine {
                number,
                offer_id: checked.item.id.clone(),
                kind,
                friendly_name: request
                    .friendly_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| checked.item.name.clone()),
                quantity: checked.quantity,
                term_duration: checked.item.term_duration.clone(),
                billing_cycle: checked.item.billing_cycle.clone(),
                provisioning_context: checked.context.clone(),
                // A SaaS line makes its subscription at once; a reservation when provisioned.
                subscription_id: (kind == PurchaseKind::Saas).then(|| subscription_id(&id, number)),
                status: LineStatus::PrefulfillmentPending,
            }
        })
        .collect();
    Order {
        billing_cycle: lines
            .first()
            .map_or_else(|| "one_time".to_owned(), |l| l.billing_cycle.clone()),
        id,
        customer,
        status: OrderStatus::Pending,
        lines,
        created_at: now,
        updated_at: now,
    }
}

/// The changes that place a new order: the order, the SaaS subscriptions it makes at once
/// (`pending`), and the job that provisions its reservations.
fn order_changes(order: Order, now: Timestamp) -> Vec<Change> {
    let mut changes = Vec::new();
    for line in &order.lines {
        if let (PurchaseKind::Saas, Some(id)) = (line.kind, line.subscription_id) {
            changes.push(Change::SubscriptionPut(bought(
                &order,
                line,
                id,
                SubscriptionStatus::Pending,
                now,
            )));
        }
    }
    let needs_provisioning = order
        .lines
        .iter()
        .any(|l| l.kind == PurchaseKind::Reservation);
    let id = order.id.clone();
    changes.push(Change::OrderPut(order));
    if needs_provisioning {
        changes.push(Change::OrderQueued {
            order_id: id,
            at: now,
        });
    }
    changes
}

/// The subscription `line` of `order` makes.
fn bought(
    order: &Order,
    line: &OrderLine,
    id: SubscriptionId,
    status: SubscriptionStatus,
    now: Timestamp,
) -> SubscriptionValues {
    SubscriptionValues {
        key: SubscriptionKey {
            partner: order.customer.partner,
            customer: order.customer.customer,
            subscription: id,
        },
        kind: match line.kind {
            PurchaseKind::Reservation => SubscriptionKind::Reservation,
            PurchaseKind::Saas => SubscriptionKind::Saas,
        },
        status,
        offer_name: line.friendly_name.clone(),
        offer_id: Some(line.offer_id.clone()),
        friendly_name: Some(line.friendly_name.clone()),
        quantity: line.quantity,
        order_id: Some(order.id.clone()),
        term_duration: Some(line.term_duration.clone()),
        at: now,
    }
}

/// What a direct order request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderOutcome {
    /// The partner has no such customer.
    CustomerNotFound,
    /// A line cannot be bought: the order is refused with its error (and the line's number).
    Refused(i64, LineError),
    /// The order (its id) was placed.
    Placed(String),
}

/// Places order `id` for `customer` with `lines` (`None`: no such customer), checked as a cart's
/// would be; any failing line refuses the whole order.
pub fn place_order(
    customer: CustomerKey,
    id: String,
    lines: &[LineRequest],
    buyer: Option<Buyer<'_>>,
    now: Timestamp,
) -> Decision<OrderOutcome> {
    let Some(Buyer { catalog, facts, .. }) = buyer else {
        return Decision::answer(OrderOutcome::CustomerNotFound);
    };
    let mut checked = Vec::with_capacity(lines.len());
    for (line, result) in lines.iter().zip(check_lines(lines, catalog, facts)) {
        match result {
            Ok(ok) => checked.push((line, ok)),
            Err(error) => return Decision::answer(OrderOutcome::Refused(line.id, error)),
        }
    }
    if checked.is_empty() {
        return Decision::answer(OrderOutcome::Refused(
            0,
            LineError::InvalidInput("an order needs at least one line item".into()),
        ));
    }
    let order = new_order(customer, id.clone(), &checked, now);
    Decision {
        outcome: OrderOutcome::Placed(id),
        changes: order_changes(order, now),
    }
}

/// The worker provisions a claimed order (`None`: it no longer exists): each reservation line
/// makes its `reservation` subscription and is fulfilled; the order completes once every line is.
/// A cancelled or completed order (its job ran twice) only loses its job.
pub fn provision(found: Option<Order>, order_id: &str, now: Timestamp) -> Decision<Option<Order>> {
    let dropped = Change::OrderJobDropped(order_id.to_owned());
    let Some(mut order) = found.filter(|o| o.status == OrderStatus::Pending) else {
        return Decision::with(None, dropped);
    };
    let mut changes = Vec::new();
    for line in &mut order.lines {
        if line.kind == PurchaseKind::Reservation
            && line.status == LineStatus::PrefulfillmentPending
        {
            let id = subscription_id(&order.id, line.number);
            line.subscription_id = Some(id);
            line.status = LineStatus::Fulfilled;
        }
    }
    for line in order
        .lines
        .iter()
        .filter(|l| l.kind == PurchaseKind::Reservation)
    {
        if let Some(id) = line.subscription_id {
            changes.push(Change::SubscriptionPut(bought(
                &order,
                line,
                id,
                SubscriptionStatus::Active,
                now,
            )));
        }
    }
    if order
        .lines
        .iter()
        .all(|l| l.status == LineStatus::Fulfilled)
    {
        order.status = OrderStatus::Completed;
    }
    order.updated_at = now;
    changes.push(Change::OrderPut(order.clone()));
    changes.push(dropped);
    Decision {
        outcome: Some(order),
        changes,
    }
}

/// When a SaaS subscription an order made is activated: its line is fulfilled, and the order
/// completes once every line is. The changes to add to the activation's.
#[must_use]
pub fn activated(
    order: Option<Order>,
    subscription: SubscriptionId,
    now: Timestamp,
) -> Vec<Change> {
    let Some(mut order) = order.filter(|o| o.status == OrderStatus::Pending) else {
        return Vec::new();
    };
    let mut touched = false;
    for line in &mut order.lines {
        if line.subscription_id == Some(subscription)
            && line.status == LineStatus::PrefulfillmentPending
        {
            line.status = LineStatus::Fulfilled;
            touched = true;
        }
    }
    if !touched {
        return Vec::new();
    }
    if order
        .lines
        .iter()
        .all(|l| l.status == LineStatus::Fulfilled)
    {
        order.status = OrderStatus::Completed;
    }
    order.updated_at = now;
    vec![Change::OrderPut(order)]
}

/// What a cancellation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The partner has no such customer.
    CustomerNotFound,
    /// The customer has no such order.
    OrderNotFound,
    /// The partner is not an integration sandbox: only sandboxes may cancel (800019).
    NotSandbox,
    /// The order (its id) is cancelled (now, or it was already).
    Cancelled(String),
}

/// A sandbox partner cancels `found` (`None`: no such customer; `Some(None)`: the customer has no
/// such order): it becomes `cancelled`, its lines `unfulfilled`, the subscriptions it made
/// `deleted`, and a pending provisioning is dropped. Cancelling a cancelled order changes nothing.
pub fn cancel(
    sandbox: bool,
    found: Option<Option<Order>>,
    now: Timestamp,
) -> Decision<CancelOutcome> {
    let Some(found) = found else {
        return Decision::answer(CancelOutcome::CustomerNotFound);
    };
    let Some(mut order) = found else {
        return Decision::answer(CancelOutcome::OrderNotFound);
    };
    if !sandbox {
        return Decision::answer(CancelOutcome::NotSandbox);
    }
    let id = order.id.clone();
    if order.status == OrderStatus::Cancelled {
        return Decision::answer(CancelOutcome::Cancelled(id));
    }
    let mut changes = Vec::new();
    for line in &mut order.lines {
        if let Some(subscription) = line.subscription_id {
            changes.push(Change::SubscriptionStatusSet {
                key: SubscriptionKey {
                    partner: order.customer.partner,
                    customer: order.customer.customer,
                    subscription,
                },
                status: SubscriptionStatus::Deleted,
                at: now,
            });
        }
        line.status = LineStatus::Unfulfilled;
    }
    order.status = OrderStatus::Cancelled;
    order.updated_at = now;
    changes.push(Change::OrderPut(order));
    changes.push(Change::OrderJobDropped(id.clone()));
    Decision {
        outcome: CancelOutcome::Cancelled(id),
        changes,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);
    /// Order ids that begin where the count wraps within the random bits.
    const IDS: OrderIds = OrderIds::starting_at(0x0190_0000_0000_7000_bfff_ffff_ffff_fffe);
    const DAY: Duration = Duration::from_secs(24 * 3600);
    const RESERVATION: &str = "DZH318Z0BQ36:0048:DZH318Z08C0T";
    const SAAS: &str = "DZH318Z0BXWC:0001:DZH318Z0BMJX";

    fn customer() -> CustomerKey {
        CustomerKey {
            partner: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
        }
    }

    fn azure() -> SubscriptionId {
        "d3a7f4c2-0000-4000-8000-000000000003".parse().unwrap()
    }

    fn summary(
        kind: SubscriptionKind,
        status: SubscriptionStatus,
        registration: RegistrationState,
    ) -> SubscriptionSummary {
        SubscriptionSummary {
            id: azure(),
            kind,
            status,
            registration,
            quantity: 1,
        }
    }

    /// A sandbox customer with one registered, active Azure plan.
    fn facts() -> CustomerFacts {
        CustomerFacts {
            sandbox: true,
            subscriptions: vec![summary(
                SubscriptionKind::AzurePlan,
                SubscriptionStatus::Active,
                RegistrationState::Registered,
            )],
            pending_orders: Vec::new(),
        }
    }

    fn reservation(quantity: i64) -> LineRequest {
        LineRequest {
            id: 0,
            catalog_item_id: RESERVATION.into(),
            quantity,
            provisioning_context: BTreeMap::from([
                ("SubscriptionID".into(), azure().to_string()),
                ("Scope".into(), " Shared ".into()),
            ]),
            ..LineRequest::default()
        }
    }

    fn saas(id: i64) -> LineRequest {
        LineRequest {
            id,
            catalog_item_id: SAAS.into(),
            quantity: 1,
            ..LineRequest::default()
        }
    }

    fn check(line: &LineRequest, facts: &CustomerFacts) -> Result<(), LineError> {
        check_lines(std::slice::from_ref(line), &Catalog::builtin(), facts)
            .remove(0)
            .map(drop)
    }

    #[test]
    fn a_reservation_line_needs_an_active_registered_azure_subscription_of_the_customer() {
        for kind in SubscriptionKind::ALL {
            for status in SubscriptionStatus::ALL {
                for registration in RegistrationState::ALL {
                    let facts = CustomerFacts {
                        subscriptions: vec![summary(*kind, *status, *registration)],
                        ..facts()
                    };
                    let expected = match (kind, status, registration) {
                        (
                            SubscriptionKind::Azure | SubscriptionKind::AzurePlan,
                            SubscriptionStatus::Active,
                            registration,
                        ) => match registration {
                            RegistrationState::NotRegistered => {
                                Err(LineError::SubscriptionNotRegistered)
                            }
                            RegistrationState::Registering => {
                                Err(LineError::SubscriptionRegistering)
                            }
                            RegistrationState::Registered => Ok(()),
                        },
                        _ => Err(LineError::SubscriptionNotValid),
                    };
                    assert_eq!(
                        check(&reservation(1), &facts),
                        expected,
                        "{kind:?} {status:?} {registration:?}"
                    );
                }
            }
        }
        // Another customer's subscription, or no GUID at all, is not the customer's.
        let mut elsewhere = reservation(1);
        elsewhere.provisioning_context = BTreeMap::from([(
            "subscriptionId".into(),
            SubscriptionId::new_random().to_string(),
        )]);
        assert_eq!(
            check(&elsewhere, &facts()),
            Err(LineError::SubscriptionNotValid)
        );
        elsewhere.provisioning_context = BTreeMap::from([("subscriptionId".into(), "x".into())]);
        assert_eq!(
            check(&elsewhere, &facts()),
            Err(LineError::SubscriptionNotValid)
        );
    }

    #[test]
    fn invalid_lines_say_why_and_each_error_has_its_codes() {
        let invalid = |line: LineRequest| match check(&line, &facts()) {
            Err(LineError::InvalidInput(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(invalid(reservation(0)).contains("quantity"));
        assert!(invalid(reservation(-5)).contains("quantity"));
        let mut line = reservation(1);
        line.billing_cycle = Some("monthly".into());
        assert!(invalid(line).contains("billingCycle"));
        let mut line = reservation(1);
        line.term_duration = Some("P3Y".into());
        assert!(invalid(line).contains("termDuration"));
        let mut line = reservation(1);
        line.provisioning_context.clear();
        assert!(invalid(line).contains("subscriptionId"));
        let mut line = reservation(1);
        line.provisioning_context
            .insert("scope".into(), "global".into());
        line.provisioning_context.remove("Scope");
        assert!(invalid(line).contains("scope"));
        let mut unknown = saas(0);
        unknown.catalog_item_id = "A:B:C".into();
        assert_eq!(
            check(&unknown, &facts()),
            Err(LineError::CatalogItemNotFound)
        );
        // Ids and enum values are read in any case; a SaaS line needs no context.
        let mut lower = reservation(1);
        lower.catalog_item_id = RESERVATION.to_lowercase();
        lower.billing_cycle = Some("ONE_TIME".into());
        lower.term_duration = Some("p1y".into());
        assert_eq!(check(&lower, &facts()), Ok(()));
        assert_eq!(check(&saas(0), &facts()), Ok(()));

        let errors = [
            (LineError::CatalogItemNotFound, 10_001, 800_002),
            (LineError::InventoryNotAvailable, 10_003, 800_010),
            (LineError::SubscriptionNotValid, 10_007, 800_021),
            (LineError::SubscriptionRegistering, 10_008, 800_013),
            (LineError::SandboxLimitExceeded("x".into()), 10_009, 800_018),
            (LineError::InvalidInput("x".into()), 10_010, 800_002),
            (LineError::SubscriptionNotRegistered, 10_011, 800_030),
        ];
        for (error, cart, order) in errors {
            assert_eq!(
                (error.cart_code(), error.order_code()),
                (cart, order),
                "{error:?}"
            );
            assert!(!error.description().is_empty());
        }
        assert!(check_line_count(MAX_LINES).is_ok());
        assert!(check_line_count(MAX_LINES + 1).unwrap_err().contains("50"));
    }

    #[test]
    fn a_restricted_item_has_no_inventory() {
        let mut items = Catalog::builtin().items().to_vec();
        items.iter_mut().for_each(|item| item.restricted = true);
        let catalog = Catalog::of(items);
        let checked = check_lines(&[reservation(1), saas(1)], &catalog, &facts());
        assert_eq!(
            checked[0].clone().map(drop),
            Err(LineError::InventoryNotAvailable)
        );
        assert!(
            checked[1].is_ok(),
            "only reservations are checked for inventory"
        );
    }

    #[test]
    fn sandbox_limits_count_lines_in_order_with_pending_orders() {
        let limited = |lines: &[LineRequest], facts: &CustomerFacts| -> Vec<i64> {
            check_lines(lines, &Catalog::builtin(), facts)
                .iter()
                .zip(lines)
                .filter(|(r, _)| matches!(r, Err(LineError::SandboxLimitExceeded(_))))
                .map(|(_, line)| line.id)
                .collect()
        };
        // One subscription: four more fit, the fifth line is over.
        let lines: Vec<LineRequest> = (0..5).map(saas).collect();
        assert_eq!(limited(&lines, &facts()), [4]);
        // Deleted subscriptions do not count; other statuses do.
        let mut with_deleted = facts();
        for status in [SubscriptionStatus::Deleted, SubscriptionStatus::Suspended] {
            with_deleted.subscriptions.push(SubscriptionSummary {
                id: SubscriptionId::new_random(),
                ..summary(
                    SubscriptionKind::Saas,
                    status,
                    RegistrationState::NotRegistered,
                )
            });
        }
        assert_eq!(limited(&lines, &with_deleted), [3, 4]);
        // Two reservation instances at most, made and coming.
        assert_eq!(limited(&[reservation(3)], &facts()), [0]);
        assert_eq!(limited(&[reservation(2)], &facts()), Vec::<i64>::new());
        let mut second = reservation(1);
        second.id = 1;
        assert_eq!(limited(&[reservation(2), second.clone()], &facts()), [1]);
        let placed = place_order(
            customer(),
            "o1".into(),
            &[reservation(1)],
            Some(Buyer::new(&Catalog::builtin(), &facts())),
            NOW,
        );
        let Some(Change::OrderPut(pending)) = placed
            .changes
            .iter()
            .find(|c| matches!(c, Change::OrderPut(_)))
            .cloned()
        else {
            panic!("{placed:?}");
        };
        let with_pending = CustomerFacts {
            pending_orders: vec![pending],
            ..facts()
        };
        assert_eq!(limited(&[reservation(2)], &with_pending), [0]);
        assert_eq!(limited(&[reservation(1)], &with_pending), Vec::<i64>::new());
        let reservations: Vec<SubscriptionSummary> = (0..2)
            .map(|_| SubscriptionSummary {
                id: SubscriptionId::new_random(),
                ..summary(
                    SubscriptionKind::Reservation,
                    SubscriptionStatus::Active,
                    RegistrationState::NotRegistered,
                )
            })
            .collect();
        let mut full = facts();
        full.subscriptions.extend(reservations);
        assert_eq!(limited(&[reservation(1)], &full), [0]);
        // A partner that is no sandbox has no limits.
        let production = CustomerFacts {
            sandbox: false,
            ..full
        };
        let many: Vec<LineRequest> = (0..20).map(saas).collect();
        assert!(limited(&many, &production).is_empty());
        assert!(limited(&[reservation(10)], &production).is_empty());
    }

    fn created(lines: &[LineRequest], facts: &CustomerFacts) -> Cart {
        let decision = create_cart(
            customer(),
            "k1".into(),
            lines,
            Some(Buyer::new(&Catalog::builtin(), facts)),
            NOW,
            DAY,
        );
        assert_eq!(decision.outcome, CartOutcome::Saved("k1".into()));
        match decision.changes.as_slice() {
            [Change::CartPut(cart)] => cart.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cart_keeps_each_line_in_place_normalised_or_with_its_error() {
        let mut unknown = saas(1);
        unknown.catalog_item_id = " nope ".into();
        let cart = created(&[reservation(1), unknown, saas(2)], &facts());
        assert_eq!(cart.status, CartStatus::Active);
        assert_eq!(cart.expires_at, NOW.saturating_add(DAY));
        let ids: Vec<i64> = cart.lines.iter().map(|l| l.id).collect();
        assert_eq!(ids, [0, 1, 2]);
        let first = &cart.lines[0];
        assert_eq!(first.error, None);
        assert_eq!(first.order_group.as_deref(), Some("0"));
        assert_eq!(first.billing_cycle.as_deref(), Some("one_time"));
        assert_eq!(
            first.provisioning_context,
            BTreeMap::from([
                ("scope".into(), "shared".into()),
                ("subscriptionId".into(), azure().to_string()),
            ])
        );
        assert_eq!(cart.lines[1].error, Some(LineError::CatalogItemNotFound));
        assert_eq!(cart.lines[1].catalog_item_id, "nope");
        assert_eq!(cart.lines[2].order_group.as_deref(), Some("1"));
        assert!(!cart.expired(NOW.saturating_add(DAY - Duration::from_millis(1))));
        assert!(cart.expired(NOW.saturating_add(DAY)));
    }

    #[test]
    fn only_an_active_cart_that_has_not_expired_is_updated_or_checked_out() {
        let cart = created(&[saas(0)], &facts());
        let catalog = Catalog::builtin();
        let later = NOW.saturating_add(Duration::from_secs(60));
        let facts = facts();
        let buyer = |cart: Option<Cart>| Some(Buyer::new(&catalog, &facts).with(cart));
        let updated = update_cart(buyer(Some(cart.clone())), &[saas(5)], later, DAY);
        assert_eq!(updated.outcome, CartOutcome::Saved("k1".into()));
        let [Change::CartPut(now)] = updated.changes.as_slice() else {
            panic!()
        };
        assert_eq!(
            (now.lines[0].id, now.created_at, now.expires_at),
            (5, NOW, later.saturating_add(DAY))
        );
        let expired = NOW.saturating_add(DAY);
        assert_eq!(
            update_cart(buyer(Some(cart.clone())), &[], expired, DAY).outcome,
            CartOutcome::CartNotFound
        );
        assert_eq!(
            checkout(buyer(Some(cart.clone())), IDS, expired).outcome,
            CheckoutOutcome::CartNotFound
        );
        assert_eq!(
            update_cart(buyer(None), &[], NOW, DAY).outcome,
            CartOutcome::CartNotFound
        );
        let ordered = Cart {
            status: CartStatus::Ordered,
            ..cart
        };
        // An ordered cart never expires, and is never changed again.
        assert_eq!(
            update_cart(buyer(Some(ordered.clone())), &[], expired, DAY),
            Decision::answer(CartOutcome::AlreadyOrdered)
        );
        assert_eq!(
            checkout(buyer(Some(ordered)), IDS, expired),
            Decision::answer(CheckoutOutcome::AlreadyOrdered)
        );
    }

    #[test]
    fn a_checkout_with_a_failing_line_buys_nothing_and_records_why() {
        let catalog = Catalog::builtin();
        // Fine when created; the subscription's registration was lost since.
        let cart = created(&[saas(0), reservation(1)], &facts());
        let lost = CustomerFacts {
            subscriptions: vec![summary(
                SubscriptionKind::AzurePlan,
                SubscriptionStatus::Active,
                RegistrationState::NotRegistered,
            )],
            ..facts()
        };
        let decision = checkout(Some(Buyer::new(&catalog, &lost).with(Some(cart))), IDS, NOW);
        assert_eq!(decision.outcome, CheckoutOutcome::LineErrors);
        let [Change::CartPut(recorded)] = decision.changes.as_slice() else {
            panic!("{decision:?}")
        };
        assert_eq!(recorded.status, CartStatus::Active);
        assert_eq!(
            recorded.lines[1].error,
            Some(LineError::SubscriptionNotRegistered)
        );
        // An empty cart has nothing to buy.
        let empty = created(&[], &facts());
        assert_eq!(
            checkout(
                Some(Buyer::new(&catalog, &facts()).with(Some(empty))),
                IDS,
                NOW
            ),
            Decision::answer(CheckoutOutcome::LineErrors)
        );
    }

    #[test]
    fn order_ids_follow_the_first_within_its_random_bits() {
        let ids: Vec<String> = (0..3).map(|n| IDS.nth(n)).collect();
        assert_eq!(
            ids,
            [
                "0190000000007000bffffffffffffffe",
                "0190000000007000bfffffffffffffff",
                // The variant's bits (`10`) and everything above them stay.
                "01900000000070008000000000000000",
            ]
        );
    }

    #[test]
    fn a_checkout_places_one_order_per_group_and_saas_subscriptions_at_once() {
        let catalog = Catalog::builtin();
        let cart = created(&[saas(0), reservation(1), saas(2)], &facts());
        let decision = checkout(
            Some(Buyer::new(&catalog, &facts()).with(Some(cart))),
            IDS,
            NOW,
        );
        let (o1, o2) = (IDS.nth(0), IDS.nth(1));
        assert_eq!(
            decision.outcome,
            CheckoutOutcome::Ordered(vec![o1.clone(), o2.clone()])
        );
        let orders: Vec<&Order> = decision
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::OrderPut(order) => Some(order),
                _ => None,
            })
            .collect();
        // The SaaS group first (its line came first), then the reservation's.
        assert_eq!(orders[0].id, o1);
        assert_eq!(orders[0].billing_cycle, "monthly");
        assert_eq!(orders[0].lines.len(), 2);
        assert_eq!(
            orders[0].lines.iter().map(|l| l.number).collect::<Vec<_>>(),
            [0, 1]
        );
        assert!(orders[0].lines.iter().all(|l| l.subscription_id.is_some()));
        assert_eq!(orders[1].billing_cycle, "one_time");
        assert_eq!(orders[1].lines[0].subscription_id, None);
        let pending_saas: Vec<&SubscriptionValues> = decision
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::SubscriptionPut(values) => Some(values),
                _ => None,
            })
            .collect();
        assert_eq!(pending_saas.len(), 2);
        assert!(
            pending_saas
                .iter()
                .all(|v| v.status == SubscriptionStatus::Pending
                    && v.kind == SubscriptionKind::Saas
                    && v.order_id.as_ref() == Some(&o1)
                    && v.offer_id.as_deref() == Some(SAAS))
        );
        let queued: Vec<&str> = decision
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::OrderQueued { order_id, .. } => Some(order_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            queued,
            [o2.as_str()],
            "only the reservation order is provisioned by the worker"
        );
        let Some(Change::CartPut(cart)) = decision.changes.last() else {
            panic!()
        };
        assert_eq!(
            (cart.status, cart.order_ids.clone()),
            (CartStatus::Ordered, vec![o1, o2])
        );
    }

    fn placed(lines: &[LineRequest]) -> Order {
        let decision = place_order(
            customer(),
            "o1".into(),
            lines,
            Some(Buyer::new(&Catalog::builtin(), &facts())),
            NOW,
        );
        assert_eq!(decision.outcome, OrderOutcome::Placed("o1".into()));
        decision
            .changes
            .into_iter()
            .find_map(|c| match c {
                Change::OrderPut(order) => Some(order),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn a_direct_order_is_refused_whole_by_its_first_failing_line() {
        let catalog = Catalog::builtin();
        let mut bad = saas(4);
        bad.quantity = 0;
        let facts = facts();
        let buyer = Some(Buyer::new(&catalog, &facts));
        let refused = place_order(customer(), "o".into(), &[saas(0), bad], buyer, NOW);
        assert!(matches!(
            refused.outcome,
            OrderOutcome::Refused(4, LineError::InvalidInput(_))
        ));
        assert!(refused.changes.is_empty());
        assert!(matches!(
            place_order(customer(), "o".into(), &[], buyer, NOW).outcome,
            OrderOutcome::Refused(0, LineError::InvalidInput(_))
        ));
        let mut named = saas(0);
        named.friendly_name = Some("Backups".into());
        assert_eq!(placed(&[named]).lines[0].friendly_name, "Backups");
    }

    #[test]
    fn provisioning_fulfils_reservation_lines_once_with_the_same_subscriptions() {
        let order = placed(&[reservation(1), saas(1)]);
        let first = provision(Some(order.clone()), "o1", NOW);
        let after = first.outcome.clone().unwrap();
        assert_eq!(after.lines[0].status, LineStatus::Fulfilled);
        assert_eq!(
            after.lines[0].subscription_id,
            Some(subscription_id("o1", 0))
        );
        // The SaaS line awaits its activation: the order stays pending.
        assert_eq!(after.lines[1].status, LineStatus::PrefulfillmentPending);
        assert_eq!(after.status, OrderStatus::Pending);
        let made: Vec<&SubscriptionValues> = first
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::SubscriptionPut(v) => Some(v),
                _ => None,
            })
            .collect();
        assert_eq!(made.len(), 1);
        assert_eq!(
            (made[0].kind, made[0].status),
            (SubscriptionKind::Reservation, SubscriptionStatus::Active)
        );
        assert_eq!(made[0].term_duration.as_deref(), Some("P1Y"));
        assert_eq!(
            first.changes.last(),
            Some(&Change::OrderJobDropped("o1".into()))
        );
        // Its job run again (the lease ran out) provisions nothing twice.
        let again = provision(Some(after.clone()), "o1", NOW);
        assert!(again.changes.iter().all(|c| !matches!(c, Change::SubscriptionPut(_)) || matches!(c, Change::SubscriptionPut(v) if v.key.subscription == subscription_id("o1", 0))));
        assert_eq!(again.outcome.unwrap().lines, after.lines);
        // The SaaS activation completes it; a cancelled or missing order only loses its job.
        let changes = activated(Some(after.clone()), subscription_id("o1", 1), NOW);
        let [Change::OrderPut(done)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(done.status, OrderStatus::Completed);
        assert!(activated(Some(done.clone()), subscription_id("o1", 1), NOW).is_empty());
        assert!(activated(Some(after), SubscriptionId::new_random(), NOW).is_empty());
        for gone in [None, Some(done.clone())] {
            assert_eq!(
                provision(gone, "o1", NOW),
                Decision::with(None, Change::OrderJobDropped("o1".into()))
            );
        }
        // A reservation-only order completes when provisioned.
        let only = placed(&[reservation(2)]);
        assert_eq!(
            provision(Some(only), "o1", NOW).outcome.unwrap().status,
            OrderStatus::Completed
        );
    }

    #[test]
    fn subscription_ids_are_derived_from_the_order_and_the_line() {
        assert_eq!(subscription_id("o1", 0), subscription_id("o1", 0));
        assert_ne!(subscription_id("o1", 0), subscription_id("o1", 1));
        assert_ne!(subscription_id("o1", 0), subscription_id("o2", 0));
        assert_eq!(
            subscription_id("o1", 0).to_string().as_bytes()[14],
            b'4',
            "a version-4 GUID"
        );
    }

    #[test]
    fn only_a_sandbox_cancels_and_a_cancelled_order_stays_as_it_is() {
        let order = placed(&[saas(0), saas(1)]);
        assert_eq!(
            cancel(true, Some(None), NOW),
            Decision::answer(CancelOutcome::OrderNotFound)
        );
        assert_eq!(
            cancel(false, Some(Some(order.clone())), NOW),
            Decision::answer(CancelOutcome::NotSandbox)
        );
        let decision = cancel(true, Some(Some(order)), NOW);
        assert_eq!(decision.outcome, CancelOutcome::Cancelled("o1".into()));
        let deleted: Vec<SubscriptionId> = decision
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::SubscriptionStatusSet {
                    key,
                    status: SubscriptionStatus::Deleted,
                    ..
                } => Some(key.subscription),
                _ => None,
            })
            .collect();
        assert_eq!(
            deleted,
            [subscription_id("o1", 0), subscription_id("o1", 1)]
        );
        let cancelled = decision
            .changes
            .iter()
            .find_map(|c| match c {
                Change::OrderPut(order) => Some(order.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
        assert!(
            cancelled
                .lines
                .iter()
                .all(|l| l.status == LineStatus::Unfulfilled)
        );
        assert!(
            decision
                .changes
                .contains(&Change::OrderJobDropped("o1".into()))
        );
        assert_eq!(
            cancel(true, Some(Some(cancelled)), NOW),
            Decision::answer(CancelOutcome::Cancelled("o1".into()))
        );
    }

    #[test]
    fn a_purchase_for_a_customer_the_partner_lacks_is_answered_without_a_change() {
        let lines = [saas(0)];
        let cart = created(&lines, &facts());
        let order = placed(&lines);
        assert_eq!(
            create_cart(customer(), "k".into(), &lines, None, NOW, DAY),
            Decision::answer(CartOutcome::CustomerNotFound)
        );
        assert_eq!(
            update_cart(None, &lines, NOW, DAY),
            Decision::answer(CartOutcome::CustomerNotFound)
        );
        assert_eq!(
            checkout(None, IDS, NOW),
            Decision::answer(CheckoutOutcome::CustomerNotFound)
        );
        assert_eq!(
            place_order(customer(), "o".into(), &lines, None, NOW),
            Decision::answer(OrderOutcome::CustomerNotFound)
        );
        // Whether or not the partner is a sandbox, and before the order is looked at.
        for sandbox in [true, false] {
            assert_eq!(
                cancel(sandbox, None, NOW),
                Decision::answer(CancelOutcome::CustomerNotFound)
            );
        }
        // The same requests for a customer the partner has do change things.
        let catalog = Catalog::builtin();
        let facts = facts();
        let buyer = Buyer::new(&catalog, &facts);
        assert!(
            !update_cart(Some(buyer.with(Some(cart))), &lines, NOW, DAY)
                .changes
                .is_empty()
        );
        assert!(!cancel(true, Some(Some(order)), NOW).changes.is_empty());
    }
}
