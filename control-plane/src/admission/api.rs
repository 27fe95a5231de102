//! `POST /v1/filter/admit`: always 200 with a decision.

use std::time::Instant;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use trimio_wire::{ADMIT_PATH, AdmitRequest, AdmitResponse};

use crate::admission::decide;
use crate::calendar::Period;
use crate::http::{ApiError, Body};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(ADMIT_PATH, post(admit))
}

async fn admit(
    State(state): State<AppState>,
    Body(request): Body<AdmitRequest>,
) -> Result<Json<AdmitResponse>, ApiError> {
    let period = Period::current();
    let decision = decide(&mut state.memory_mut(), &request, Instant::now(), period);
    Ok(Json(decision))
}
