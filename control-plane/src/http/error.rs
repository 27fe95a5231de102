//! Errors as the admin and filter APIs return them: `{"error": "..."}` with a status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// What a client is told. Internal details go to the log, never into a response.
#[derive(Debug)]
pub enum ApiError {
    /// The request is wrong; the message says how to fix it.
    BadRequest(String),
    /// Missing or wrong bearer token.
    Unauthorized(&'static str),
    NotFound(String),
    /// The request clashes with what exists (a taken name).
    Conflict(String),
    /// The body is larger than the API takes.
    TooLarge(String),
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// Something failed inside; already logged.
    Internal,
}

impl ApiError {
    /// Logs a store failure for the operator and hides it from the client. The store's own
    /// conflict and not-found answers pass through, since they are the caller's doing.
    pub fn store(error: StoreError) -> ApiError {
        match error {
            StoreError::Conflict(what) => ApiError::Conflict(format!("{what} already exists")),
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} was not found")),
            error => {
                tracing::error!(%error, "store failed");
                ApiError::Internal
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        ApiError::store(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::Unauthorized(message) => (StatusCode::UNAUTHORIZED, message.to_owned()),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, message),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, message),
            ApiError::TooLarge(message) => (StatusCode::PAYLOAD_TOO_LARGE, message),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "this route does not take that method".to_owned(),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the details are in the control plane's log".to_owned(),
            ),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
