//! `/v1/admin/teams/{team}/alert-targets`, `/v1/admin/alert-targets/{id}` and
//! `/v1/admin/alerts`: where a team's alerts go, and every alert sent.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::alerts::{AlertRecord, AlertTarget, TargetFormat};
use crate::calendar::now_timestamp;
use crate::http::{ApiError, Body, Params};
use crate::money::format_usd;
use crate::names;
use crate::random;
use crate::state::AppState;
use crate::teams::find_or_404;

/// Longest webhook URL accepted.
const MAX_URL_LEN: usize = 2048;
/// Targets a team may have.
const MAX_TARGETS: usize = 20;
/// Most alerts one history request returns.
const MAX_LIMIT: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/admin/teams/{team}/alert-targets",
            get(list_targets).post(add_target),
        )
        .route("/v1/admin/alert-targets/{id}", delete(remove_target))
        .route("/v1/admin/alerts", get(history))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTarget {
    url: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// A target as the API shows it: the URL cut after its host, since webhook URLs carry
/// secrets.
#[derive(Debug, Serialize)]
struct TargetView {
    id: String,
    team_id: String,
    team: String,
    name: String,
    format: &'static str,
    url: String,
    created_at: String,
}

impl TargetView {
    fn of(target: &AlertTarget, team: &str) -> TargetView {
        TargetView {
            id: target.id.clone(),
            team_id: target.team_id.clone(),
            team: team.to_owned(),
            name: target.name.clone(),
            format: target.format.as_str(),
            url: shown_url(&target.url),
            created_at: target.created_at.clone(),
        }
    }
}

/// `https://hooks.slack.com/…`: scheme and host only.
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}/…",
                parsed.scheme(),
                parsed.host_str().unwrap_or_default()
            )
        }
        Err(_) => "…".to_owned(),
    }
}

#[derive(Debug, Serialize)]
struct TargetList {
    targets: Vec<TargetView>,
}

async fn list_targets(
    State(state): State<AppState>,
    Path(team): Path<String>,
) -> Result<Json<TargetList>, ApiError> {
    let memory = state.memory();
    let team = find_or_404(&memory, &team)?;
    let targets = memory
        .targets
        .iter()
        .filter(|target| target.team_id == team.id)
        .map(|target| TargetView::of(target, &team.name))
        .collect();
    Ok(Json(TargetList { targets }))
}

async fn add_target(
    State(state): State<AppState>,
    Path(team): Path<String>,
    Body(request): Body<NewTarget>,
) -> Result<(StatusCode, Json<TargetView>), ApiError> {
    let bad = ApiError::BadRequest;
    let parsed = reqwest::Url::parse(&request.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
        .ok_or_else(|| bad("url must be an http or https URL with a host".to_owned()))?;
    if request.url.len() > MAX_URL_LEN {
        return Err(bad(format!("url is longer than {MAX_URL_LEN} characters")));
    }
    let format = match request.format.as_deref() {
        None => TargetFormat::Json,
        Some(text) => TargetFormat::parse(text).ok_or_else(|| {
            bad(format!(
                "format \"{text}\" is not a target format; use \"slack\" or \"json\""
            ))
        })?,
    };
    let name = request.name.unwrap_or_else(|| "default".to_owned());
    names::validate("name", &name).map_err(|error| bad(error.to_string()))?;

    let _writes = state.write_lock().await;
    let team = {
        let memory = state.memory();
        let team = find_or_404(&memory, &team)?.clone();
        let count = memory
            .targets
            .iter()
            .filter(|t| t.team_id == team.id)
            .count();
        if count >= MAX_TARGETS {
            return Err(ApiError::Conflict(format!(
                "team \"{}\" has {MAX_TARGETS} alert targets already; remove one first",
                team.name
            )));
        }
        team
    };
    let id = random::id("tgt").map_err(|error| {
        tracing::error!(%error, "cannot create a target id");
        ApiError::Internal
    })?;
    let target = AlertTarget {
        id,
        team_id: team.id.clone(),
        name,
        format,
        url: parsed.to_string(),
        created_at: now_timestamp(),
    };
    let stored = target.clone();
    state
        .blocking(move |store| store.insert_target(&stored))
        .await?;
    tracing::info!(
        team = %team.name,
        target.id = %target.id,
        format = target.format.as_str(),
        host = parsed.host_str().unwrap_or_default(),
        "alert target added"
    );
    let view = TargetView::of(&target, &team.name);
    state.memory_mut().targets.push(target);
    Ok((StatusCode::CREATED, Json(view)))
}

async fn remove_target(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _writes = state.write_lock().await;
    if !state.memory().targets.iter().any(|t| t.id == id) {
        return Err(ApiError::NotFound(format!(
            "no alert target \"{id}\"; list a team's with GET /v1/admin/teams/NAME/alert-targets"
        )));
    }
    let stored = id.clone();
    state
        .blocking(move |store| store.delete_target(&stored, &now_timestamp()))
        .await?;
    state.memory_mut().targets.retain(|t| t.id != id);
    tracing::info!(target.id = %id, "alert target removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct History {
    alerts: Vec<AlertView>,
}

#[derive(Debug, Serialize)]
struct AlertView {
    id: String,
    team_id: String,
    team: String,
    budget_id: String,
    scope: &'static str,
    project: Option<String>,
    key_id: Option<String>,
    kind: &'static str,
    threshold_percent: Option<u16>,
    period_start: String,
    period_end: String,
    spend_usd: String,
    amount_usd: String,
    projected_usd: Option<String>,
    exhausted_on: Option<String>,
    message: String,
    created_at: String,
    deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Serialize)]
struct DeliveryView {
    target_id: String,
    state: String,
    attempts: u32,
    last_error: Option<String>,
    sent_at: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    Params(query): Params<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let team_id = match &query.team {
        Some(team) => Some(find_or_404(&state.memory(), team)?.id.clone()),
        None => None,
    };
    let records = state
        .blocking(move |store| store.alerts(team_id.as_deref(), limit))
        .await?;
    let memory = state.memory();
    let alerts = records
        .into_iter()
        .map(|AlertRecord { alert, deliveries }| AlertView {
            team: memory
                .registry
                .team(&alert.team_id)
                .map_or_else(String::new, |team| team.name.clone()),
            id: alert.id,
            team_id: alert.team_id,
            budget_id: alert.budget_id,
            scope: alert.scope,
            project: alert.project,
            key_id: alert.key_id,
            kind: alert.kind.name(),
            threshold_percent: Some(alert.kind.threshold()).filter(|t| *t > 0),
            period_start: alert.period_start,
            period_end: alert.period_end,
            spend_usd: format_usd(alert.spend_pico),
            amount_usd: format_usd(alert.amount_pico),
            projected_usd: alert.projected_pico.map(format_usd),
            exhausted_on: alert.exhausted_on,
            message: alert.message,
            created_at: alert.created_at,
            deliveries: deliveries
                .into_iter()
                .map(|d| DeliveryView {
                    target_id: d.target_id,
                    state: d.state,
                    attempts: d.attempts,
                    last_error: d.last_error,
                    sent_at: d.sent_at,
                })
                .collect(),
        })
        .collect();
    Ok(Json(History { alerts }))
}
