//! OpenAPI schemas of the types whose serde form is written by hand (feature `openapi`).

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::ids::{CustomerId, SubscriptionId};
use crate::resources::ActivationStatus;
use crate::subscription::{RegistrationState, RegistrationStatus, SubscriptionStatus};

impl PartialSchema for SubscriptionId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .description(Some(
                "A Partner Center subscription id, lower-case hyphenated.",
            ))
            .into()
    }
}

impl ToSchema for SubscriptionId {}

impl PartialSchema for CustomerId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .description(Some("A customer's Entra tenant id, lower-case hyphenated."))
            .into()
    }
}

impl ToSchema for CustomerId {}

impl PartialSchema for SubscriptionStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Self::ALL.iter().map(|s| s.as_str().to_owned())))
            .description(Some("A subscription's lifecycle status, lower case."))
            .into()
    }
}

impl ToSchema for SubscriptionStatus {}

impl PartialSchema for RegistrationStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(
                RegistrationState::ALL.iter().map(|s| s.as_str().to_owned()),
            ))
            .description(Some(
                "Where the subscription stands in its registration for Reserved Instance purchase.",
            ))
            .into()
    }
}

impl ToSchema for RegistrationStatus {}

impl PartialSchema for ActivationStatus {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([Self::Success.as_str()]))
            .description(Some("The outcome of the activation."))
            .into()
    }
}

impl ToSchema for ActivationStatus {}
