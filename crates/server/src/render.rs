//! Bodies as Partner Center writes them: handlers and errors attach a typed [`Payload`] to their
//! response, and the correlation layer renders it once, in the negotiated media type.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use partner_center_model::{
    MediaType, ServiceFault, SubscriptionActivationResult, SubscriptionRegistrationStatus, XmlForm,
};
use serde::Serialize;

/// A Partner Center body, rendered in the negotiated media type by [`correlate`] once the
/// response is complete. Every body of the three routes, and every ServiceFault, goes this way.
#[derive(Debug, Clone)]
pub(crate) enum Payload {
    RegistrationStatus(SubscriptionRegistrationStatus),
    Activation(SubscriptionActivationResult),
    Fault(ServiceFault),
}

impl Payload {
    fn render(&self, media: MediaType) -> Result<Vec<u8>, serde_json::Error> {
        Ok(match (self, media.is_xml()) {
            (Self::RegistrationStatus(body), false) => serde_json::to_vec(body)?,
            (Self::Activation(body), false) => serde_json::to_vec(body)?,
            (Self::Fault(body), false) => serde_json::to_vec(body)?,
            (Self::RegistrationStatus(body), true) => body.to_xml().into_bytes(),
            (Self::Activation(body), true) => body.to_xml().into_bytes(),
            (Self::Fault(body), true) => body.to_xml().into_bytes(),
        })
    }
}

/// A response with `status` and a body to render in the negotiated media type.
pub(crate) fn reply(status: StatusCode, payload: Payload) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(payload);
    response
}

/// Renders a response's pending [`Payload`], if it has one.
pub(crate) fn render(response: &mut Response, media: MediaType) {
    let Some(payload) = response.extensions_mut().remove::<Payload>() else {
        return;
    };
    match payload.render(media) {
        Ok(bytes) => {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(media.content_type()),
            );
            *response.body_mut() = Body::from(bytes);
        }
        Err(err) => {
            // A body that cannot be serialised is a bug: the client gets the 500 ServiceFault
            // every internal failure gets, and the cause is logged.
            tracing::error!(error = %err, "cannot render a response body");
            *response = reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                Payload::Fault(ServiceFault::new(
                    partner_center_model::fault::codes::UNEXPECTED,
                    "Unexpected service error. Try again later.",
                )),
            );
            render(response, MediaType::Json);
        }
    }
}

/// A JSON response with Partner Center's content type, for bodies that are not Partner Center's own.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            bytes,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "cannot render a response body");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
