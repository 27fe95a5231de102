//! Request extractors whose rejections are JSON errors that say what to fix.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// A JSON body. The content type is not checked: the filter and scripts send plain JSON
/// without always saying so.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        serde_json::from_slice(&bytes).map(Body).map_err(|error| {
            let text = error.to_string();
            let hint = if text.contains("expected a string") {
                "; amounts of money are decimal strings, such as \"500\" or \"0.25\""
            } else {
                ""
            };
            ApiError::BadRequest(format!("invalid json body: {text}{hint}"))
        })
    }
}

/// The body's bytes, for a handler that reads them itself.
pub struct RawBody(pub Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                let message = format!(
                    "cannot read the request body: {}",
                    lower(&rejection.body_text())
                );
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge(message)
                } else {
                    ApiError::BadRequest(message)
                }
            })
    }
}

/// Query parameters.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| Params(params))
            .map_err(|rejection: QueryRejection| {
                ApiError::BadRequest(format!("invalid query: {}", lower(&rejection.body_text())))
            })
    }
}

/// Axum's messages start with a capital; ours do not.
fn lower(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reads a field that may be absent, null or set, telling the three apart:
/// absent is `None`, null is `Some(None)`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}
