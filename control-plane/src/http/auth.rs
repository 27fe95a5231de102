//! Bearer tokens: the admin token on `/v1/admin/*`, the filter token on `/v1/filter/*`.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;
use crate::state::AppState;

/// Lets a request through only with the admin token.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if bearer(&request).is_some_and(|token| state.tokens().admin.matches(token)) {
        return next.run(request).await;
    }
    tracing::info!(path = %request.uri().path(), "admin request refused: missing or wrong token");
    ApiError::Unauthorized(
        "missing or wrong admin token; send the header Authorization: Bearer <admin token>",
    )
    .into_response()
}

/// Lets a request through with the filter token, or with anything when none is configured.
pub async fn require_filter(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = match &state.tokens().filter {
        None => true,
        Some(expected) => bearer(&request).is_some_and(|token| expected.matches(token)),
    };
    if allowed {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "filter request refused: missing or wrong token");
    ApiError::Unauthorized(
        "missing or wrong filter token; configure the filter with the control plane's filter token",
    )
    .into_response()
}

/// The token of an `Authorization: Bearer <token>` header (scheme matched in any case).
fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
