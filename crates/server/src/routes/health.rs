//! `/healthz` (the process is up) and `/readyz` (the store answers). No authentication.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use crate::AppState;
use crate::render::json;

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    json(StatusCode::OK, &Health { status: "ok" })
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.requests().ping().await {
        Ok(()) => json(StatusCode::OK, &Health { status: "ready" }),
        Err(err) => {
            tracing::warn!(error = %err, "not ready: the store does not answer");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Health {
                    status: "unavailable",
                },
            )
        }
    }
}
