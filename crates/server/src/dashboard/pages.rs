//! The dashboard's handlers: one per page, one per button. The buttons call what the admin API's
//! routes call ([`admin::settle_registration`], [`admin::provision_order`]), so the rules are the
//! same whichever an operator uses.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use partner_center_domain::purchase::{Cart, Order};
use partner_center_domain::subscription::{SubscriptionRecord, defaults};
use partner_center_domain::{CustomerKey, Lookup, SubscriptionKey};
use partner_center_model::admin::FaultEffect;
use partner_center_model::{RegistrationEnding, RegistrationState, TenantId};
use serde::Deserialize;

use super::session::{Action, Posted, Session, now};
use super::views::{self, Chrome, Section, badge, when};
use super::{Problem, paths, sessions};
use crate::AppState;
use crate::admin;
use crate::ops::journal::Query as JournalQuery;

/// The most journal entries a page shows.
const JOURNAL_PAGE: usize = 200;

/// The most requests a subscription's page shows.
const SUBSCRIPTION_REQUESTS: usize = 50;

#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    #[serde(default)]
    token: String,
}

/// `?refresh=off` stops a page reloading itself.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Refresh {
    refresh: Option<String>,
}

impl Refresh {
    fn on(&self) -> bool {
        self.refresh.as_deref() != Some("off")
    }
}

/// The journal page's query.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct JournalFilter {
    #[serde(rename = "correlationId")]
    correlation_id: Option<String>,
    refresh: Option<String>,
}

fn not_found(what: impl std::fmt::Display) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("{what} not found."))
}

fn id<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, Problem> {
    value
        .parse()
        .map_err(|_| not_found(format_args!("{what} {value}")))
}

fn customer_key(tenant: &str, customer: &str) -> Result<CustomerKey, Problem> {
    Ok(CustomerKey {
        partner: id(tenant, "Partner")?,
        customer: id(customer, "Customer")?,
    })
}

fn subscription_key(
    (tenant, customer, subscription): &(String, String, String),
) -> Result<SubscriptionKey, Problem> {
    let key = customer_key(tenant, customer)?;
    Ok(SubscriptionKey {
        partner: key.partner,
        customer: key.customer,
        subscription: id(subscription, "Subscription")?,
    })
}

fn found<T>(lookup: Lookup<T>, key: &SubscriptionKey) -> Result<T, Problem> {
    match lookup {
        Lookup::Found(value) => Ok(value),
        Lookup::CustomerNotFound => Err(not_found(format_args!("Customer {}", key.customer))),
        Lookup::SubscriptionNotFound => {
            Err(not_found(format_args!("Subscription {}", key.subscription)))
        }
    }
}

/// The way to a partner's page and to its customer's, with their names.
async fn crumbs(
    state: &AppState,
    tenant: TenantId,
    customer: Option<CustomerKey>,
) -> Result<Vec<(String, String)>, Problem> {
    let partner = state
        .requests()
        .partner(tenant)
        .await?
        .ok_or_else(|| not_found(format_args!("Partner {tenant}")))?;
    let mut crumbs = vec![
        ("Partners".to_owned(), paths::ROOT.to_owned()),
        (partner.name, paths::partner(tenant)),
    ];
    if let Some(key) = customer {
        let customer = state
            .requests()
            .customer(key)
            .await?
            .ok_or_else(|| not_found(format_args!("Customer {}", key.customer)))?;
        crumbs.push((customer.company_name, paths::customer(key)));
    }
    Ok(crumbs)
}

/// `GET /admin/signin`: the form, or the start page for who is signed in already.
pub(crate) async fn sign_in_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if sessions(&state).of(&headers, now()).is_some() {
        return Redirect::to(paths::ROOT).into_response();
    }
    views::sign_in(None).into_response()
}

/// `POST /admin/signin`: the admin token (compared in constant time) starts a session; anything
/// else shows the form again, with an error and nothing else.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Posted(form): Posted<SignIn>,
) -> Response {
    let right = state
        .admin_token()
        .is_some_and(|expected| crate::admin::is_admin_token(expected, &form.token));
    if !right {
        tracing::warn!("dashboard sign-in with a wrong admin token refused");
        return (
            StatusCode::UNAUTHORIZED,
            views::sign_in(Some("That is not the admin token.")),
        )
            .into_response();
    }
    let sessions = sessions(&state);
    let session = sessions.start(now());
    tracing::info!("an operator signed in to the dashboard");
    (
        [(header::SET_COOKIE, sessions.set_cookie(&session))],
        Redirect::to(paths::ROOT),
    )
        .into_response()
}

/// `POST /admin/signout`: ends the session, here and in any copy of its cookie.
pub(crate) async fn sign_out(State(state): State<AppState>, action: Action) -> Response {
    let sessions = sessions(&state);
    sessions.end(&action.session, now());
    (
        [(header::SET_COOKIE, sessions.clear_cookie())],
        Redirect::to(paths::SIGN_IN),
    )
        .into_response()
}

/// `GET /admin`: the partners, and how busy the service is.
pub(crate) async fn partners(
    State(state): State<AppState>,
    session: Session,
) -> Result<Markup, Problem> {
    let partners = state.admin_store().list_partners().await?;
    let queued = match state.queue().queue_depth().await {
        Ok(depth) => depth.to_string(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the registration queue depth");
            "?".to_owned()
        }
    };
    let chrome = Chrome {
        title: "Partners".to_owned(),
        session: &session,
        section: Section::Partners,
        crumbs: Vec::new(),
        here: paths::ROOT.to_owned(),
        auto_refresh: None,
    };
    let content = html! {
        div.cards {
            div.card { (views::count(partners.len(), "partner", "partners")) }
            div.card { b { (queued) } "registrations queued" }
            a.card href=(paths::JOURNAL) {
                (views::count(state.journal().len(), "request in the journal", "requests in the journal"))
            }
            a.card href=(paths::FAULTS) {
                (views::count(state.faults().list().len(), "fault rule in force", "fault rules in force"))
            }
        }
        section {
            h2 { "Partners" }
            @if partners.is_empty() {
                div.empty { "No partners. Load a fixture or add one with the admin API." }
            } @else {
                table #partners {
                    thead { tr { th { "Name" } th { "Tenant id" } th { "Account" } } }
                    tbody {
                        @for partner in &partners {
                            tr {
                                td { a href=(paths::partner(partner.tenant_id)) { (partner.name) } }
                                td { code { (partner.tenant_id) } }
                                td { @if partner.sandbox { (badge("sandbox")) } @else { (badge("production")) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(views::page(&chrome, content))
}

/// `GET /admin/partners/{tenant}`: a partner's customers.
pub(crate) async fn partner(
    State(state): State<AppState>,
    session: Session,
    Path(tenant): Path<String>,
) -> Result<Markup, Problem> {
    let tenant: TenantId = id(&tenant, "Partner")?;
    let mut crumbs = crumbs(&state, tenant, None).await?;
    let (name, _) = crumbs.pop().unwrap_or_default();
    let customers = state.requests().customers(tenant, None, u32::MAX).await?;
    let chrome = Chrome {
        title: name,
        session: &session,
        section: Section::Partners,
        crumbs,
        here: paths::partner(tenant),
        auto_refresh: None,
    };
    let content = html! {
        section {
            h2 { "Customers" small { (customers.len()) } }
            @if customers.is_empty() {
                div.empty { "No customers." }
            } @else {
                table #customers {
                    thead { tr { th { "Company" } th { "Customer id" } th { "Domain" } th { "Since" } } }
                    tbody {
                        @for (_, customer) in &customers {
                            @let key = CustomerKey { partner: tenant, customer: customer.id };
                            tr {
                                td { a href=(paths::customer(key)) { (customer.company_name) } }
                                td { code { (customer.id) } }
                                td { (customer.domain.as_deref().unwrap_or("—")) }
                                td { (when(customer.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(views::page(&chrome, content))
}

fn display_name(subscription: &SubscriptionRecord) -> &str {
    match (
        &subscription.friendly_name,
        subscription.offer_name.as_str(),
    ) {
        (Some(name), _) => name,
        (None, "") => defaults(subscription.kind).offer_name,
        (None, offer) => offer,
    }
}

/// A customer's subscriptions, with the buttons for those registering.
fn subscriptions_table(
    key: CustomerKey,
    subscriptions: &[SubscriptionRecord],
    session: &Session,
) -> Markup {
    html! {
        @if subscriptions.is_empty() {
            div.empty { "No subscriptions." }
        } @else {
            table #subscriptions {
                thead { tr {
                    th { "Subscription" } th { "Name" } th { "Kind" } th { "Status" }
                    th { "Registration" } th { "" }
                } }
                tbody {
                    @for subscription in subscriptions {
                        @let key = SubscriptionKey { partner: key.partner, customer: key.customer, subscription: subscription.id };
                        tr data-subscription=(subscription.id) {
                            td { a href=(paths::subscription(&key)) { code { (subscription.id) } } }
                            td { (display_name(subscription)) }
                            td { (subscription.kind) }
                            td { (badge(subscription.status.as_str())) }
                            td.registration { (badge(subscription.registration.as_str())) }
                            td {
                                @if subscription.registration == RegistrationState::Registering {
                                    (views::settle_buttons(&key, session.csrf(), "customer"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn carts_table(carts: &[Cart]) -> Markup {
    html! {
        @if carts.is_empty() {
            div.empty { "No carts." }
        } @else {
            table #carts {
                thead { tr { th { "Cart" } th { "Status" } th { "Lines" } th { "Expires" } th { "Orders" } } }
                tbody {
                    @for cart in carts {
                        tr {
                            td { code { (cart.id) } }
                            td { (badge(cart.status.as_str())) }
                            td { ul.lines {
                                @for line in &cart.lines {
                                    li {
                                        code { (line.catalog_item_id) } " × " (line.quantity)
                                        @if let Some(error) = &line.error { " " span.badge.bad { (format!("{error:?}")) } }
                                    }
                                }
                            } }
                            td { (when(cart.expires_at)) }
                            td { @for order in &cart.order_ids { code { (order) } " " } }
                        }
                    }
                }
            }
        }
    }
}

fn orders_table(key: CustomerKey, orders: &[Order], session: &Session) -> Markup {
    html! {
        @if orders.is_empty() {
            div.empty { "No orders." }
        } @else {
            table #orders {
                thead { tr { th { "Order" } th { "Status" } th { "Lines: provisioning" } th { "Placed" } th { "" } } }
                tbody {
                    @for order in orders {
                        tr data-order=(order.id) {
                            td { code { (order.id) } }
                            td.status { (badge(order.status.as_str())) }
                            td { ul.lines {
                                @for line in &order.lines {
                                    li {
                                        (line.number) ". " (line.friendly_name) " × " (line.quantity) " "
                                        span.muted { "(" (line.kind.as_str()) ")" } " "
                                        (badge(line.status.as_str()))
                                        @if let Some(subscription) = line.subscription_id {
                                            @let key = SubscriptionKey { partner: key.partner, customer: key.customer, subscription };
                                            " " a href=(paths::subscription(&key)) { "subscription" }
                                        }
                                    }
                                }
                            } }
                            td { (when(order.created_at)) }
                            td {
                                @if admin::provisionable(order) {
                                    form.inline method="post" action=(paths::advance_order(key, &order.id)) {
                                        input type="hidden" name="csrf" value=(session.csrf());
                                        button.go type="submit" { "Provision" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /admin/partners/{tenant}/customers/{customer}`: its subscriptions, carts and orders.
pub(crate) async fn customer(
    State(state): State<AppState>,
    session: Session,
    Path((tenant, customer)): Path<(String, String)>,
) -> Result<Markup, Problem> {
    let key = customer_key(&tenant, &customer)?;
    let mut crumbs = crumbs(&state, key.partner, Some(key)).await?;
    let (name, _) = crumbs.pop().unwrap_or_default();
    let missing = || not_found(format_args!("Customer {}", key.customer));
    let subscriptions = state
        .requests()
        .subscriptions(key, None)
        .await?
        .ok_or_else(missing)?;
    let carts = state.purchases().carts(key).await?.ok_or_else(missing)?;
    let orders = state.purchases().orders(key).await?.ok_or_else(missing)?;
    let chrome = Chrome {
        title: name,
        session: &session,
        section: Section::Partners,
        crumbs,
        here: paths::customer(key),
        auto_refresh: None,
    };
    let content = html! {
        section {
            h2 { "Subscriptions" small { (subscriptions.len()) } }
            (subscriptions_table(key, &subscriptions, &session))
        }
        section #orders-section {
            h2 { "Orders" small { (orders.len()) } }
            (orders_table(key, &orders, &session))
        }
        section {
            h2 { "Carts" small { (carts.len()) } }
            (carts_table(&carts))
        }
    };
    Ok(views::page(&chrome, content))
}

/// `GET .../subscriptions/{subscription}`: the subscription, its registrations and its requests.
pub(crate) async fn subscription(
    State(state): State<AppState>,
    session: Session,
    Path(ids): Path<(String, String, String)>,
    refresh: Result<Query<Refresh>, QueryRejection>,
) -> Result<Markup, Problem> {
    let key = subscription_key(&ids)?;
    let detail = found(state.admin_store().subscription(&key).await?, &key)?;
    let crumbs = crumbs(
        &state,
        key.partner,
        Some(CustomerKey {
            partner: key.partner,
            customer: key.customer,
        }),
    )
    .await?;
    let requests = state.journal().find(&JournalQuery {
        subscription: Some(key.subscription),
        limit: Some(SUBSCRIPTION_REQUESTS),
        ..JournalQuery::default()
    });
    let refresh = refresh.map(|Query(r)| r).unwrap_or_default();
    let sub = &detail.subscription;
    let chrome = Chrome {
        title: display_name(sub).to_owned(),
        session: &session,
        section: Section::Partners,
        crumbs,
        here: paths::subscription(&key),
        auto_refresh: Some(refresh.on()),
    };
    let content = html! {
        section {
            h2 { "Subscription" }
            dl.facts {
                dt { "Id" } dd { code { (sub.id) } }
                dt { "Kind" } dd { (sub.kind) }
                dt { "Status" } dd { (badge(sub.status.as_str())) }
                dt { "Registration" }
                dd #registration {
                    span #registration-state { (badge(sub.registration.as_str())) }
                    @if sub.registration == RegistrationState::Registering {
                        " " (views::settle_buttons(&key, session.csrf(), "subscription"))
                    }
                }
                dt { "Offer" }
                dd { (sub.offer_id.as_deref().unwrap_or(defaults(sub.kind).offer_id)) }
                dt { "Quantity" } dd { (sub.quantity) }
                @if let Some(order) = &sub.order_id { dt { "Order" } dd { code { (order) } } }
                dt { "Created" } dd { (when(sub.created_at)) }
                dt { "Activated" }
                dd { @match sub.activated_at { Some(at) => (when(at)), None => span.muted { "not activated" } } }
            }
        }
        section {
            h2 { "Registrations" small { (detail.registrations.len()) } }
            @if detail.registrations.is_empty() {
                div.empty { "Never registered." }
            } @else {
                table #registrations {
                    thead { tr { th { "Requested" } th { "Settled" } th { "State" } } }
                    tbody {
                        @for registration in detail.registrations.iter().rev() {
                            tr {
                                td { (when(registration.requested_at)) }
                                td { @match registration.completed_at { Some(at) => (when(at)), None => span.muted { "in progress" } } }
                                td { (badge(registration.state_name())) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Requests" small { "newest first, from the journal" } }
            (views::requests(&requests))
        }
    };
    Ok(views::page(&chrome, content))
}

/// Where a settle button sends the operator back to.
fn back(key: &SubscriptionKey, from: Option<&str>) -> Redirect {
    match from {
        Some("customer") => Redirect::to(&paths::customer(CustomerKey {
            partner: key.partner,
            customer: key.customer,
        })),
        _ => Redirect::to(&paths::subscription(key)),
    }
}

async fn settle(
    state: &AppState,
    ids: &(String, String, String),
    action: &Action,
    ending: RegistrationEnding,
) -> Result<Redirect, Problem> {
    let key = subscription_key(ids)?;
    admin::settle_registration(state, &key, ending).await?;
    Ok(back(&key, action.form.from.as_deref()))
}

/// `POST .../advance`: completes the registration in progress, as the admin API's route does.
pub(crate) async fn advance(
    State(state): State<AppState>,
    Path(ids): Path<(String, String, String)>,
    action: Action,
) -> Result<Redirect, Problem> {
    settle(&state, &ids, &action, RegistrationEnding::Registered).await
}

/// `POST .../fail`: ends the registration in progress in failure, as the admin API's route does.
pub(crate) async fn fail(
    State(state): State<AppState>,
    Path(ids): Path<(String, String, String)>,
    action: Action,
) -> Result<Redirect, Problem> {
    settle(&state, &ids, &action, RegistrationEnding::Failed).await
}

/// `POST .../orders/{order}/advance`: provisions a pending order, as the admin API's route does.
pub(crate) async fn advance_order(
    State(state): State<AppState>,
    Path((tenant, customer, order)): Path<(String, String, String)>,
    _: Action,
) -> Result<Redirect, Problem> {
    let key = customer_key(&tenant, &customer)?;
    let order = admin::order(&state, key, &order).await?;
    admin::provision_order(&state, &order).await?;
    Ok(Redirect::to(&format!(
        "{}#orders-section",
        paths::customer(key)
    )))
}

/// `GET /admin/journal`: the newest requests, those of one correlation id with `?correlationId=`.
pub(crate) async fn journal(
    State(state): State<AppState>,
    session: Session,
    filter: Result<Query<JournalFilter>, QueryRejection>,
) -> Markup {
    let filter = filter.map(|Query(f)| f).unwrap_or_default();
    let correlation_id = filter
        .correlation_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let entries = state.journal().find(&JournalQuery {
        correlation_id: correlation_id.map(str::to_owned),
        limit: Some(JOURNAL_PAGE),
        ..JournalQuery::default()
    });
    let here = match correlation_id {
        Some(c) => views::with_query(
            paths::JOURNAL,
            &format!("correlationId={}", views::encode(c)),
        ),
        None => paths::JOURNAL.to_owned(),
    };
    let refreshing = filter.refresh.as_deref() != Some("off");
    let chrome = Chrome {
        title: "Request journal".to_owned(),
        session: &session,
        section: Section::Journal,
        crumbs: Vec::new(),
        here,
        auto_refresh: Some(refreshing),
    };
    let content = html! {
        section {
            form.filter method="get" action=(paths::JOURNAL) {
                label for="correlationId" { "MS-CorrelationId" }
                input #correlationId type="text" name="correlationId" value=(correlation_id.unwrap_or_default()) placeholder="any";
                @if !refreshing { input type="hidden" name="refresh" value="off"; }
                button type="submit" { "Filter" }
                @if correlation_id.is_some() { a href=(paths::JOURNAL) { "Show all" } }
                span.muted style="margin-left:auto" {
                    (entries.len()) " shown of " (state.journal().len()) " kept"
                }
            }
            (views::requests(&entries))
        }
    };
    views::page(&chrome, content)
}

fn effect(effect: &FaultEffect) -> String {
    match effect {
        FaultEffect::Status {
            status,
            code,
            description,
        } => format!("status {status}, code {code}: {description}"),
        FaultEffect::Latency { ms } => format!("latency {ms} ms"),
        other => other.label().to_owned(),
    }
}

/// `GET /admin/faults`: the fault rules in force.
pub(crate) async fn faults(State(state): State<AppState>, session: Session) -> Markup {
    let rules = state.faults().list();
    let chrome = Chrome {
        title: "Fault rules".to_owned(),
        session: &session,
        section: Section::Faults,
        crumbs: Vec::new(),
        here: paths::FAULTS.to_owned(),
        auto_refresh: None,
    };
    let content = html! {
        section {
            h2 { "In force" small { (rules.len()) } }
            @if rules.is_empty() {
                div.empty { "No fault rules. Add them with " code { "--faults" } " or " code { "POST /admin/v1/faults" } "." }
            } @else {
                table #faults {
                    thead { tr {
                        th { "Id" } th { "Route" } th { "Partner" } th { "Subscription" }
                        th { "Probability" } th { "Left" } th { "Effect" }
                    } }
                    tbody {
                        @for active in &rules {
                            @let rule = &active.rule;
                            tr {
                                td { (active.id) }
                                td { code { (rule.route) } }
                                td { @match rule.partner { Some(p) => code { (p) }, None => span.muted { "any" } } }
                                td { @match rule.subscription { Some(s) => code { (s) }, None => span.muted { "any" } } }
                                td { @match rule.probability { Some(p) => (p), None => span.muted { "always" } } }
                                td { @match active.remaining { Some(n) => (n), None => span.muted { "no limit" } } }
                                td { (effect(&rule.effect)) }
                            }
                        }
                    }
                }
            }
        }
    };
    views::page(&chrome, content)
}
