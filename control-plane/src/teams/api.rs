//! `/v1/admin/teams`: create, list, read and change teams and their budgets.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::calendar::{Period, day_string, now_timestamp};
use crate::http::{ApiError, Body, present};
use crate::money::{DecimalError, format_usd, parse_usd};
use crate::names;
use crate::random;
use crate::state::{AppState, Memory};
use crate::store::StoreError;
use crate::teams::{MAX_BUDGET_PICO, Team};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/teams", get(list).post(create))
        .route("/v1/admin/teams/{team}", get(read).patch(update))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTeam {
    name: String,
    /// USD per calendar month; absent or null is unlimited.
    #[serde(default)]
    budget_usd: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTeam {
    /// Absent: unchanged. Null: unlimited.
    #[serde(default, deserialize_with = "present")]
    budget_usd: Option<Option<String>>,
}

/// A team as the API shows it, with its spend in the current period.
#[derive(Debug, Serialize)]
pub struct TeamView {
    id: String,
    name: String,
    budget_usd: Option<String>,
    spend_usd: String,
    period_start: String,
    period_end: String,
    created_at: String,
}

impl TeamView {
    fn of(team: &Team, memory: &Memory) -> TeamView {
        let period = Period::current();
        TeamView {
            id: team.id.clone(),
            name: team.name.clone(),
            budget_usd: team.budget_pico.map(format_usd),
            spend_usd: format_usd(memory.spend.of(&team.id, period).cost_pico),
            period_start: day_string(period.start),
            period_end: day_string(period.end),
            created_at: team.created_at.clone(),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Body(request): Body<CreateTeam>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    names::validate_team(&request.name).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let budget_pico = request
        .budget_usd
        .as_deref()
        .map(parse_budget)
        .transpose()?;

    let _writes = state.write_lock().await;
    if let Some(existing) = state.memory().registry.team_named(&request.name) {
        return Err(taken(&existing.name));
    }
    let id = random::id("team").map_err(|error| {
        tracing::error!(%error, "cannot create a team id");
        ApiError::Internal
    })?;
    let team = Team {
        id,
        name: request.name,
        budget_pico,
        created_at: now_timestamp(),
    };
    let stored = team.clone();
    match state
        .blocking(move |store| store.insert_team(&stored))
        .await
    {
        Err(StoreError::Conflict(_)) => return Err(taken(&team.name)),
        other => other?,
    }

    let mut memory = state.memory_mut();
    memory.registry.add_team(team.clone());
    tracing::info!(
        team = %team.name,
        team.id = %team.id,
        budget_usd = %budget_text(team.budget_pico),
        "team created"
    );
    Ok((StatusCode::CREATED, Json(TeamView::of(&team, &memory))))
}

#[derive(Debug, Serialize)]
struct TeamList {
    teams: Vec<TeamView>,
}

async fn list(State(state): State<AppState>) -> Json<TeamList> {
    let memory = state.memory();
    let teams = memory
        .registry
        .teams()
        .into_iter()
        .map(|team| TeamView::of(team, &memory))
        .collect();
    Json(TeamList { teams })
}

async fn read(
    State(state): State<AppState>,
    Path(team): Path<String>,
) -> Result<Json<TeamView>, ApiError> {
    let memory = state.memory();
    let team = find_or_404(&memory, &team)?;
    Ok(Json(TeamView::of(team, &memory)))
}

async fn update(
    State(state): State<AppState>,
    Path(team): Path<String>,
    Body(request): Body<UpdateTeam>,
) -> Result<Json<TeamView>, ApiError> {
    let Some(budget_usd) = request.budget_usd else {
        return Err(ApiError::BadRequest(
            "nothing to change; send {\"budget_usd\": \"50\"}, or null for no budget".to_owned(),
        ));
    };
    let budget_pico = budget_usd.as_deref().map(parse_budget).transpose()?;

    let _writes = state.write_lock().await;
    let team_id = find_or_404(&state.memory(), &team)?.id.clone();
    let stored_id = team_id.clone();
    state
        .blocking(move |store| store.set_budget(&stored_id, budget_pico))
        .await?;

    let mut memory = state.memory_mut();
    memory.registry.set_budget(&team_id, budget_pico);
    let team = find_or_404(&memory, &team_id)?;
    tracing::info!(team = %team.name, budget_usd = %budget_text(budget_pico), "budget changed");
    Ok(Json(TeamView::of(team, &memory)))
}

/// A team by id or by name in any case, or a 404 that says how to find one.
pub fn find_or_404<'a>(memory: &'a Memory, id_or_name: &str) -> Result<&'a Team, ApiError> {
    memory.registry.find_team(id_or_name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no team \"{id_or_name}\"; use a team id or name from GET /v1/admin/teams"
        ))
    })
}

/// A budget for the log.
fn budget_text(budget_pico: Option<i128>) -> String {
    budget_pico.map_or_else(|| "unlimited".to_owned(), format_usd)
}

/// `name` is the existing team's, which may differ from the one asked for in case.
fn taken(name: &str) -> ApiError {
    ApiError::Conflict(format!(
        "team \"{name}\" already exists (names are compared ignoring case); choose another name"
    ))
}

/// Budgets are whole pico-dollars up to [`MAX_BUDGET_PICO`].
fn parse_budget(text: &str) -> Result<i128, ApiError> {
    let above_limit = || {
        ApiError::BadRequest(format!(
            "budget_usd \"{text}\" is above the limit of 1000000000 usd per month"
        ))
    };
    let pico = parse_usd(text).map_err(|error| match error {
        DecimalError::TooLarge(_) => above_limit(),
        error => ApiError::BadRequest(format!("budget_usd {error}")),
    })?;
    if pico > MAX_BUDGET_PICO {
        return Err(above_limit());
    }
    Ok(pico)
}
