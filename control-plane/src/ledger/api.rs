//! `POST /v1/filter/usage` (the filter delivers usage) and `GET /v1/admin/calls/{id}`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use trimio_wire::{ApiFamily, Provider, USAGE_PATH, Usage, UsageAck, UsageFlags};

use crate::http::{ApiError, RawBody};
use crate::ledger::delivery::Delivery;
use crate::ledger::ingest::ingest;
use crate::ledger::record::LedgerRow;
use crate::money::format_usd;
use crate::state::AppState;

pub fn filter_routes() -> Router<AppState> {
    Router::new().route(USAGE_PATH, post(deliver))
}

pub fn admin_routes() -> Router<AppState> {
    Router::new().route("/v1/admin/calls/{request_id}", get(call))
}

/// 200 whenever the batch could be read, impossible records counted in `rejected`; 400 only
/// for a body that is not a batch.
async fn deliver(
    State(state): State<AppState>,
    RawBody(body): RawBody,
) -> Result<Json<UsageAck>, ApiError> {
    let delivery = Delivery::read(&body).map_err(|error| {
        tracing::warn!(%error, "usage body refused: not a batch");
        ApiError::BadRequest(format!(
            "invalid json body: {error}; send {{\"records\": [usage records]}}"
        ))
    })?;
    Ok(Json(ingest(&state, delivery).await?))
}

/// One call as the admin API shows it.
#[derive(Debug, Serialize)]
struct CallView {
    request_id: String,
    team_id: Option<String>,
    team: Option<String>,
    key_id: Option<String>,
    project: Option<String>,
    user: Option<String>,
    provider: Provider,
    family: ApiFamily,
    model: Option<String>,
    request_model: Option<String>,
    usage: Usage,
    cost_usd: Option<String>,
    unpriced: bool,
    estimated: bool,
    flags: UsageFlags,
    service_tier: Option<String>,
    inference_geo: Option<String>,
    status: u16,
    streamed: bool,
    started_at_ms: u64,
    duration_ms: u64,
    /// Size of the request body the client sent.
    request_bytes: u64,
    /// What admission reserved for the call; `None` when it held no reservation.
    reserved_usd: Option<String>,
}

async fn call(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    let id = request_id.clone();
    let Some(row) = state.blocking(move |store| store.call(&id)).await? else {
        return Err(ApiError::NotFound(format!(
            "no call with request_id \"{request_id}\""
        )));
    };
    let team = row.team_id.as_deref().and_then(|team_id| {
        state
            .memory()
            .registry
            .team(team_id)
            .map(|team| team.name.clone())
    });
    Ok(Json(view(row, team)))
}

fn view(row: LedgerRow, team: Option<String>) -> CallView {
    CallView {
        request_id: row.request_id,
        team_id: row.team_id,
        team,
        key_id: row.key_id,
        project: row.project,
        user: row.user,
        provider: row.provider,
        family: row.family,
        model: row.model,
        request_model: row.request_model,
        usage: row.usage,
        cost_usd: row.cost_pico.map(|cost| format_usd(cost.into())),
        unpriced: row.unpriced,
        estimated: row.flags.estimated,
        flags: row.flags,
        service_tier: row.service_tier,
        inference_geo: row.inference_geo,
        status: row.status,
        streamed: row.streamed,
        started_at_ms: row.started_at_ms,
        duration_ms: row.duration_ms,
        request_bytes: row.request_bytes,
        reserved_usd: row.reserved_pico.map(|pico| format_usd(pico.into())),
    }
}
