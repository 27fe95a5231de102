//! `POST /v1/filter/admit`: always 200 with a decision.
//!
//! A call that fits once calls in flight settle is held until they do, at most the
//! `wait_ms` the filter allows (and never more than [`MAX_WAIT`]), then denied. At most
//! [`crate::state::MAX_WAITERS`] wait at once; past that such a call is denied at once.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use trimio_wire::{ADMIT_PATH, AdmitRequest, AdmitResponse};

use crate::admission::{Decision, decide};
use crate::http::{ApiError, Body};
use crate::state::AppState;

/// Longest an admission is held, whatever the filter allows.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

pub fn routes() -> Router<AppState> {
    Router::new().route(ADMIT_PATH, post(admit))
}

async fn admit(
    State(state): State<AppState>,
    Body(request): Body<AdmitRequest>,
) -> Result<Json<AdmitResponse>, ApiError> {
    let wait = Duration::from_millis(request.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut place = None;
    loop {
        // Registered before deciding, so a release between the decision and the wait is
        // not missed.
        let settled = state.settled();
        tokio::pin!(settled);
        settled.as_mut().enable();

        let decision = decide(
            &mut state.memory_mut(),
            &request,
            Instant::now(),
            state.now_ms(),
        );
        if request.previous.is_some() && place.is_none() {
            // A lease given back may have released what others wait for.
            state.notify_settled();
        }
        match decision {
            Decision::Allow(answer) | Decision::Deny(answer) => return Ok(Json(answer)),
            Decision::Wait { deny } => {
                if place.is_none() {
                    place = state.wait_place();
                }
                if place.is_none() || tokio::time::Instant::now() >= deadline {
                    tracing::info!(
                        reason = "budget_held_in_flight",
                        "call denied: calls in flight still hold the rest of the budget"
                    );
                    return Ok(Json(deny));
                }
                tokio::select! {
                    () = &mut settled => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
        }
    }
}
