//! The admin API's bodies: what `/admin/v1` (enabled with `serve --admin-token`) accepts and
//! answers, shared by the service, which serves them, and the SDK's admin client, which reads them.
//! [`paths::admin`](crate::paths::admin) builds the routes.
//!
//! JSON, camelCase. A request body (`Put*`, [`FaultRule`], [`Fixture`](crate::Fixture)) refuses
//! unknown fields, so that a misspelt field is an error rather than silently ignored; an answer is
//! read leniently, so that a client keeps working when the service adds a field. Times are RFC 3339
//! strings with milliseconds (`2026-01-02T03:04:05.678Z`), as the service writes them.
//!
//! | Route | Takes | Answers |
//! |---|---|---|
//! | `GET /partners` | | `[`[`Partner`]`]` |
//! | `PUT /partners/{tenant}` | [`PutPartner`] | [`Partner`] (201 created, 200 updated) |
//! | `GET /partners/{tenant}/customers` | | `[`[`Customer`]`]` |
//! | `PUT .../customers/{customer}` | [`PutCustomer`] | [`Customer`] (201, 200) |
//! | `GET .../subscriptions` | | `[`[`Subscription`]`]` |
//! | `GET .../subscriptions/{subscription}` | | [`SubscriptionDetail`] |
//! | `PUT .../subscriptions/{subscription}` | [`PutSubscription`] | [`Subscription`] (201, 200) |
//! | `POST .../registration/advance`, `.../registration/fail` | | [`Subscription`] |
//! | `POST /fixtures` | [`Fixture`](crate::Fixture) | [`SeedReport`] |
//! | `GET /faults` | | `[`[`ActiveFaultRule`]`]` |
//! | `POST /faults` | [`FaultRule`] | [`ActiveFaultRule`] (201) |
//! | `GET /requests` | [`RequestsQuery`] (query string) | `[`[`JournalEntry`]`]` |
//! | `GET /catalog` | | `[`[`CatalogItem`](crate::catalog::CatalogItem)`]` |
//! | `GET .../customers/{customer}/carts` | | `[`[`Cart`](crate::purchase::Cart)`]` (newest first, expired ones too) |
//! | `GET .../customers/{customer}/orders` | | `[`[`Order`](crate::purchase::Order)`]` (newest first) |
//! | `GET .../orders/{order}` | | [`OrderDetail`] |
//! | `POST .../orders/{order}/advance` | | [`OrderDetail`] (a pending order, provisioned now) |
//!
//! `DELETE`s and `POST /reset` answer 204 without a body; errors are [`ServiceFault`](crate::ServiceFault)s.

use serde::{Deserialize, Serialize};

use crate::fault::codes;
use crate::ids::{CustomerId, SubscriptionId, TenantId};
use crate::subscription::{RegistrationState, SubscriptionKind, SubscriptionStatus};

/// A partner: the tenant whose tokens the Partner Center routes accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Partner {
    /// The partner's Entra tenant id.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Whether the account is an integration sandbox (required to activate SaaS subscriptions).
    #[serde(default)]
    pub sandbox: bool,
}

/// The body of `PUT /admin/v1/partners/{tenant}`: creates or updates the partner (the tenant id is
/// the path's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPartner {
    /// Display name.
    pub name: String,
    /// Whether the account is an integration sandbox; default `false`.
    #[serde(default)]
    pub sandbox: bool,
}

/// A customer of a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// The customer's Entra tenant id.
    pub id: CustomerId,
    /// Display name.
    #[serde(default)]
    pub company_name: String,
    /// Its domain, when it was given one (else derived from the company name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// The body of `PUT /admin/v1/partners/{tenant}/customers/{customer}`: creates or updates the
/// customer (the ids are the path's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutCustomer {
    /// Display name; default empty.
    #[serde(default)]
    pub company_name: String,
    /// Its domain; when absent, derived from the company name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// A subscription of a customer, with where its registration stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The Partner Center subscription id.
    pub id: SubscriptionId,
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its lifecycle status.
    pub status: SubscriptionStatus,
    /// The offer's display name.
    #[serde(default)]
    pub offer_name: String,
    /// The offer or catalog item, when it has its own (else the kind's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    /// The name the partner gave it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// How many.
    #[serde(default = "one")]
    pub quantity: u32,
    /// The order that created it, when it was bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Where its registration for Reserved Instance purchase stands.
    pub registration_status: RegistrationState,
    /// When it was activated (RFC 3339), if it was; written as `null` when not.
    #[serde(default)]
    pub activated_at: Option<String>,
}

fn one() -> u32 {
    1
}

/// The body of `PUT /admin/v1/partners/{tenant}/customers/{customer}/subscriptions/{subscription}`:
/// creates the subscription, or updates its kind, status and offer name (its registration is
/// left as it is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutSubscription {
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its lifecycle status.
    pub status: SubscriptionStatus,
    /// The offer's display name; default empty (the kind's).
    #[serde(default)]
    pub offer_name: String,
    /// The offer or catalog item; when absent, the kind's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<String>,
    /// The name the partner gave it; when absent, the offer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    /// How many, at least 1; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<std::num::NonZeroU32>,
}

/// One registration of a subscription, as its history records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// How it stands: `Registering`, `Registered` or `Failed`.
    pub state: String,
    /// When it was accepted (RFC 3339).
    pub requested_at: String,
    /// When it completed or failed (RFC 3339); `null` while it is under way.
    #[serde(default)]
    pub completed_at: Option<String>,
}

/// A subscription with its registrations and the requests on it still in the journal: the answer
/// of `GET .../subscriptions/{subscription}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionDetail {
    /// The subscription (its fields are the detail's own, flattened).
    #[serde(flatten)]
    pub subscription: Subscription,
    /// Its registrations, oldest first.
    pub registrations: Vec<Registration>,
    /// The requests on it still in the journal, newest first.
    pub requests: Vec<JournalEntry>,
}

/// An order with the subscriptions it made: the answer of `GET .../orders/{order}` and
/// `POST .../orders/{order}/advance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDetail {
    /// The order, as Partner Center answers it (its fields are the detail's own, flattened).
    #[serde(flatten)]
    pub order: crate::purchase::Order,
    /// The subscriptions it made.
    pub subscriptions: Vec<Subscription>,
}

/// What loading a fixture did: the answer of `POST /admin/v1/fixtures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedReport {
    /// Partners in the fixture.
    pub partners: u64,
    /// Customers in the fixture.
    pub customers: u64,
    /// Subscriptions in the fixture.
    pub subscriptions: u64,
    /// Rows created or changed (0 when the fixture was applied already).
    pub changed: u64,
}

/// What a fault does to a request it applies to; tagged by `type`.
///
/// ```json
/// {"type": "status", "status": 503, "code": 800003, "description": "Injected fault."}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum FaultEffect {
    /// Answer with this status and a ServiceFault.
    Status {
        /// The HTTP status, 400 to 599.
        status: u16,
        /// The ServiceFault's code; default 800003 ([`codes::UNEXPECTED`]).
        #[serde(default = "default_code")]
        code: i64,
        /// The ServiceFault's description; default `Injected fault.`.
        #[serde(default = "default_description")]
        description: String,
    },
    /// Answer as usual, this much later.
    Latency {
        /// The added latency, in milliseconds.
        ms: u64,
    },
    /// Close the connection without answering, before the request has any effect.
    Drop,
    /// Handle the request as usual, then close the connection without answering: the effect
    /// happens, the client never learns of it (what a retry with the same `MS-RequestId` is for).
    DropResponse,
    /// Accept a registration as usual, and make it end in failure (back to `NotRegistered`).
    FailRegistration,
}

fn default_code() -> i64 {
    codes::UNEXPECTED
}

fn default_description() -> String {
    "Injected fault.".to_owned()
}

impl FaultEffect {
    /// Its `type`: a short name, for logs, the journal ([`JournalEntry::fault`]) and metrics.
    #[must_use]
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Status { .. } => "status",
            Self::Latency { .. } => "latency",
            Self::Drop => "drop",
            Self::DropResponse => "dropResponse",
            Self::FailRegistration => "failRegistration",
        }
    }
}

/// A fault rule: which requests it applies to, and what it does to them. The body of
/// `POST /admin/v1/faults`, and an element of `serve --faults`.
///
/// ```json
/// {"route": "registrations", "count": 1, "effect": {"type": "status", "status": 500}}
/// ```
///
/// The service checks that it makes sense (a known route, a probability between 0 and 1, an error
/// status, `failRegistration` on registrations only) and refuses it otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// `registrations`, `registrationstatus`, `activate`, or `*` for all three.
    pub route: String,
    /// Only requests of this partner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<TenantId>,
    /// Only requests on this subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionId>,
    /// Apply to a matching request with this probability (0 to 1); default: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Apply to the next `count` matching requests only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// What it does.
    pub effect: FaultEffect,
}

/// A fault rule in force: with its id and how many applications it has left. What
/// `GET /admin/v1/faults` lists and `POST /admin/v1/faults` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveFaultRule {
    /// Its id, to delete it by.
    pub id: u64,
    /// The rule (its fields are this object's own, flattened).
    #[serde(flatten)]
    pub rule: FaultRule,
    /// How many more times it applies, for a rule with a `count`; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// One request the service answered, as the request journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// When it arrived (RFC 3339, milliseconds).
    pub time: String,
    /// The HTTP method.
    pub method: String,
    /// The path as requested (cut at 256 bytes).
    pub path: String,
    /// The route template it matched, if any.
    pub route: Option<String>,
    /// The authenticated partner, if it got that far.
    pub partner: Option<TenantId>,
    /// `MS-RequestId` (cut at 128 bytes).
    pub request_id: String,
    /// `MS-CorrelationId` (cut at 128 bytes).
    pub correlation_id: String,
    /// The subscription in the path, if any.
    pub subscription: Option<SubscriptionId>,
    /// The response status.
    pub status: u16,
    /// How long the service took, in milliseconds.
    pub latency_ms: f64,
    /// The fault injected into it ([`FaultEffect::label`]), if one was.
    pub fault: Option<String>,
    /// Whether it repeated an earlier request's `MS-RequestId` and got that request's outcome.
    pub replayed: bool,
}

/// What to look for in the request journal: the query string of `GET /admin/v1/requests`. Every
/// field narrows the search; none at all lists the whole journal, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestsQuery {
    /// Requests with this `MS-CorrelationId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Requests with this `MS-RequestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Requests on this subscription: a subscription id, which the service parses (and refuses
    /// with a 400 when it is not a GUID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// At most this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl RequestsQuery {
    /// This query, narrowed to the requests on `subscription`.
    #[must_use]
    pub fn with_subscription(mut self, subscription: SubscriptionId) -> Self {
        self.subscription = Some(subscription.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTNER: &str = "b1e5d2a0-0000-4000-8000-000000000001";
    const CUSTOMER: &str = "c2f6e3b1-0000-4000-8000-000000000002";
    const SUBSCRIPTION: &str = "d3a7f4c2-0000-4000-8000-000000000003";

    /// `value` serializes to exactly `json`, and `json` reads back as `value`.
    #[track_caller]
    fn exactly<T>(value: &T, json: &str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        assert_eq!(serde_json::to_string(value).unwrap(), json);
        assert_eq!(&serde_json::from_str::<T>(json).unwrap(), value);
    }

    fn subscription() -> Subscription {
        Subscription {
            id: SUBSCRIPTION.parse().unwrap(),
            kind: SubscriptionKind::AzurePlan,
            status: SubscriptionStatus::Active,
            offer_name: "Azure plan".into(),
            offer_id: None,
            friendly_name: None,
            quantity: 1,
            order_id: None,
            registration_status: RegistrationState::Registering,
            activated_at: None,
        }
    }

    fn entry() -> JournalEntry {
        JournalEntry {
            time: "2026-01-02T03:04:05.678Z".into(),
            method: "POST".into(),
            path: format!("/v1/customers/{CUSTOMER}/subscriptions/{SUBSCRIPTION}/registrations"),
            route: Some(crate::paths::REGISTRATIONS.into()),
            partner: Some(PARTNER.parse().unwrap()),
            request_id: "r-1".into(),
            correlation_id: "c-1".into(),
            subscription: Some(SUBSCRIPTION.parse().unwrap()),
            status: 202,
            latency_ms: 1.5,
            fault: Some("status".into()),
            replayed: false,
        }
    }

    #[test]
    fn partners_and_customers_answer_with_their_ids_and_are_put_without() {
        let partner = Partner {
            tenant_id: PARTNER.parse().unwrap(),
            name: "Contoso".into(),
            sandbox: true,
        };
        exactly(
            &partner,
            &format!(r#"{{"tenantId":"{PARTNER}","name":"Contoso","sandbox":true}}"#),
        );
        exactly(
            &PutPartner {
                name: "Contoso".into(),
                sandbox: false,
            },
            r#"{"name":"Contoso","sandbox":false}"#,
        );
        let put: PutPartner = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert!(!put.sandbox, "sandbox defaults to false");
        let err = serde_json::from_str::<PutPartner>(&format!(
            r#"{{"tenantId":"{PARTNER}","name":"x"}}"#
        ))
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `tenantId`"),
            "{err}"
        );

        exactly(
            &Customer {
                id: CUSTOMER.parse().unwrap(),
                company_name: "Fabrikam".into(),
                domain: None,
            },
            &format!(r#"{{"id":"{CUSTOMER}","companyName":"Fabrikam"}}"#),
        );
        exactly(
            &PutCustomer {
                company_name: "Fabrikam".into(),
                domain: None,
            },
            r#"{"companyName":"Fabrikam"}"#,
        );
        assert_eq!(
            serde_json::from_str::<PutCustomer>("{}").unwrap(),
            PutCustomer::default()
        );
        assert!(serde_json::from_str::<PutCustomer>(r#"{"id":"x"}"#).is_err());
    }

    #[test]
    fn a_subscription_writes_its_registration_status_and_a_null_activation() {
        exactly(
            &subscription(),
            &format!(
                r#"{{"id":"{SUBSCRIPTION}","kind":"azurePlan","status":"active","offerName":"Azure plan","quantity":1,"registrationStatus":"Registering","activatedAt":null}}"#
            ),
        );
        let activated = Subscription {
            activated_at: Some("2026-01-02T03:04:05.678Z".into()),
            ..subscription()
        };
        exactly(
            &activated,
            &format!(
                r#"{{"id":"{SUBSCRIPTION}","kind":"azurePlan","status":"active","offerName":"Azure plan","quantity":1,"registrationStatus":"Registering","activatedAt":"2026-01-02T03:04:05.678Z"}}"#
            ),
        );
        exactly(
            &PutSubscription {
                kind: SubscriptionKind::Saas,
                status: SubscriptionStatus::Pending,
                offer_name: String::new(),
                offer_id: None,
                friendly_name: None,
                quantity: None,
            },
            r#"{"kind":"saas","status":"pending","offerName":""}"#,
        );
        let err = serde_json::from_str::<PutSubscription>(r#"{"kind":"vm","status":"pending"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("`vm`"), "{err}");
        assert!(
            serde_json::from_str::<PutSubscription>(
                r#"{"kind":"saas","status":"pending","registrationStatus":"Registered"}"#
            )
            .is_err(),
            "the registration is not put"
        );
    }

    #[test]
    fn a_registration_keeps_its_state_and_times_as_strings() {
        exactly(
            &Registration {
                state: "Failed".into(),
                requested_at: "2026-01-02T03:04:05.678Z".into(),
                completed_at: Some("2026-01-02T03:04:06.000Z".into()),
            },
            r#"{"state":"Failed","requestedAt":"2026-01-02T03:04:05.678Z","completedAt":"2026-01-02T03:04:06.000Z"}"#,
        );
        exactly(
            &Registration {
                state: "Registering".into(),
                requested_at: "2026-01-02T03:04:05.678Z".into(),
                completed_at: None,
            },
            r#"{"state":"Registering","requestedAt":"2026-01-02T03:04:05.678Z","completedAt":null}"#,
        );
    }

    #[test]
    fn a_journal_entry_writes_every_field_nulls_included() {
        exactly(
            &entry(),
            &format!(
                concat!(
                    r#"{{"time":"2026-01-02T03:04:05.678Z","method":"POST","#,
                    r#""path":"/v1/customers/{c}/subscriptions/{s}/registrations","#,
                    r#""route":"/v1/customers/{{customer_id}}/subscriptions/{{subscription_id}}/registrations","#,
                    r#""partner":"{p}","requestId":"r-1","correlationId":"c-1","subscription":"{s}","#,
                    r#""status":202,"latencyMs":1.5,"fault":"status","replayed":false}}"#
                ),
                c = CUSTOMER,
                s = SUBSCRIPTION,
                p = PARTNER
            ),
        );
        let unmatched = JournalEntry {
            route: None,
            partner: None,
            subscription: None,
            fault: None,
            status: 404,
            latency_ms: 0.0,
            path: "/nowhere".into(),
            ..entry()
        };
        exactly(
            &unmatched,
            r#"{"time":"2026-01-02T03:04:05.678Z","method":"POST","path":"/nowhere","route":null,"partner":null,"requestId":"r-1","correlationId":"c-1","subscription":null,"status":404,"latencyMs":0.0,"fault":null,"replayed":false}"#,
        );
    }

    #[test]
    fn a_subscription_detail_is_the_subscription_with_its_history_and_requests() {
        let detail = SubscriptionDetail {
            subscription: subscription(),
            registrations: vec![Registration {
                state: "Registering".into(),
                requested_at: "2026-01-02T03:04:05.678Z".into(),
                completed_at: None,
            }],
            requests: vec![entry()],
        };
        let json = serde_json::to_string(&detail).unwrap();
        let expected_head = format!(
            r#"{{"id":"{SUBSCRIPTION}","kind":"azurePlan","status":"active","offerName":"Azure plan","quantity":1,"registrationStatus":"Registering","activatedAt":null,"registrations":[{{"state":"Registering","requestedAt":"2026-01-02T03:04:05.678Z","completedAt":null}}],"requests":[{{"time":"#
        );
        assert!(json.starts_with(&expected_head), "{json}");
        exactly(&detail, &json);
    }

    #[test]
    fn fault_rules_write_only_what_they_say_and_default_the_status_fault() {
        let rule = FaultRule {
            route: "registrations".into(),
            partner: None,
            subscription: None,
            probability: None,
            count: Some(1),
            effect: FaultEffect::Status {
                status: 500,
                code: codes::UNEXPECTED,
                description: "Injected fault.".into(),
            },
        };
        exactly(
            &rule,
            r#"{"route":"registrations","count":1,"effect":{"type":"status","status":500,"code":800003,"description":"Injected fault."}}"#,
        );
        let short: FaultRule = serde_json::from_str(
            r#"{"route":"registrations","count":1,"effect":{"type":"status","status":500}}"#,
        )
        .unwrap();
        assert_eq!(short, rule, "code and description have defaults");

        let scoped = FaultRule {
            route: "*".into(),
            partner: Some(PARTNER.parse().unwrap()),
            subscription: Some(SUBSCRIPTION.parse().unwrap()),
            probability: Some(0.5),
            count: None,
            effect: FaultEffect::Latency { ms: 300 },
        };
        exactly(
            &scoped,
            &format!(
                r#"{{"route":"*","partner":"{PARTNER}","subscription":"{SUBSCRIPTION}","probability":0.5,"effect":{{"type":"latency","ms":300}}}}"#
            ),
        );
        for (effect, json) in [
            (FaultEffect::Drop, r#"{"type":"drop"}"#),
            (FaultEffect::DropResponse, r#"{"type":"dropResponse"}"#),
            (
                FaultEffect::FailRegistration,
                r#"{"type":"failRegistration"}"#,
            ),
        ] {
            exactly(&effect, json);
            assert_eq!(json, format!(r#"{{"type":"{}"}}"#, effect.label()));
        }
        assert!(
            serde_json::from_str::<FaultRule>(r#"{"route":"*","effect":{"type":"drop"},"x":1}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<FaultRule>(
                r#"{"route":"*","effect":{"type":"latency","ms":1,"s":2}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn an_active_rule_is_the_rule_with_its_id_and_remaining_count() {
        let active = ActiveFaultRule {
            id: 7,
            rule: FaultRule {
                route: "activate".into(),
                partner: None,
                subscription: None,
                probability: None,
                count: Some(2),
                effect: FaultEffect::Drop,
            },
            remaining: Some(1),
        };
        exactly(
            &active,
            r#"{"id":7,"route":"activate","count":2,"effect":{"type":"drop"},"remaining":1}"#,
        );
        let always = ActiveFaultRule {
            remaining: None,
            rule: FaultRule {
                count: None,
                probability: Some(1.0),
                ..active.rule.clone()
            },
            ..active
        };
        exactly(
            &always,
            r#"{"id":7,"route":"activate","probability":1.0,"effect":{"type":"drop"}}"#,
        );
    }

    #[test]
    fn a_seed_report_counts_and_a_query_writes_only_its_filters() {
        exactly(
            &SeedReport {
                partners: 3,
                customers: 3,
                subscriptions: 10,
                changed: 0,
            },
            r#"{"partners":3,"customers":3,"subscriptions":10,"changed":0}"#,
        );
        exactly(&RequestsQuery::default(), "{}");
        let query = RequestsQuery {
            correlation_id: Some("c-1".into()),
            limit: Some(2),
            ..RequestsQuery::default()
        }
        .with_subscription(SUBSCRIPTION.parse().unwrap());
        exactly(
            &query,
            &format!(r#"{{"correlationId":"c-1","subscription":"{SUBSCRIPTION}","limit":2}}"#),
        );
    }
}
