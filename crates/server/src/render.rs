//! Bodies as Partner Center writes them: handlers and errors attach a typed [`Payload`] to their
//! response, and the correlation layer renders it once, in the negotiated media type.

use axum::body::Body as HttpBody;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use partner_center_model::{MediaType, ServiceFault, XmlForm};
use serde::Serialize;

/// A Partner Center body: its JSON and its XML form.
pub(crate) trait Body: Send + Sync + 'static {
    /// The JSON form.
    fn json(&self) -> Result<Vec<u8>, serde_json::Error>;
    /// The XML form.
    fn xml(&self) -> String;
}

impl<T: Serialize + XmlForm + Send + Sync + 'static> Body for T {
    fn json(&self) -> Result<Vec<u8>, serde_json::Error> {
        // Room for the common bodies (a registration status is about 130 bytes, past the 128
        // serde_json starts with): written without growing the vector.
        let mut bytes = Vec::with_capacity(256);
        serde_json::to_writer(&mut bytes, self)?;
        Ok(bytes)
    }

    fn xml(&self) -> String {
        self.to_xml()
    }
}

/// A Partner Center body, rendered in the negotiated media type by the correlation layer once
/// the response is complete. Every body of the Partner Center routes, and every ServiceFault,
/// goes this way.
#[derive(Clone)]
pub(crate) struct Payload(Arc<dyn Body>);

impl Payload {
    fn render(&self, media: MediaType) -> Result<Vec<u8>, serde_json::Error> {
        if media.is_xml() {
            Ok(self.0.xml().into_bytes())
        } else {
            self.0.json()
        }
    }
}

/// A response with `status` and a body to render in the negotiated media type.
pub(crate) fn reply(status: StatusCode, body: impl Body) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(Payload(Arc::new(body)));
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
            *response.body_mut() = HttpBody::from(bytes);
        }
        Err(err) => {
            // A body that cannot be serialised is a bug: the client gets the 500 ServiceFault
            // every internal failure gets, and the cause is logged.
            tracing::error!(error = %err, "cannot render a response body");
            *response = reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                ServiceFault::new(
                    partner_center_model::fault::codes::UNEXPECTED,
                    "Unexpected service error. Try again later.",
                ),
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
