//! The HTTP surface: the filter's endpoints, the admin API and `/healthz`.

mod auth;
mod error;
mod extract;

pub use error::ApiError;
pub use extract::{Body, Params, RawBody, present};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;

use crate::state::AppState;
use crate::{admission, alerts, budgets, keys, ledger, pricing, reports, teams};

/// Largest request body accepted: a usage batch of many thousand records.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Every route of the control plane.
pub fn app(state: AppState) -> Router {
    let filter = Router::new()
        .merge(admission::routes())
        .merge(ledger::filter_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_filter,
        ));
    let admin = Router::new()
        .merge(teams::routes())
        .merge(keys::routes())
        .merge(pricing::routes())
        .merge(ledger::admin_routes())
        .merge(reports::routes())
        .merge(reports::forecast_routes())
        .merge(budgets::routes())
        .merge(alerts::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(filter)
        .merge(admin)
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[cfg(test)]
mod tests;
