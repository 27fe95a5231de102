//! `/v1/admin/teams`: create, list, read and change teams and their budgets.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::budgets::{Scope, api as budget_api};
use crate::calendar::{day_string, now_timestamp};
use crate::http::{ApiError, Body, present};
use crate::money::format_usd;
use crate::names;
use crate::random;
use crate::state::{AppState, Memory};
use crate::store::StoreError;
use crate::teams::Team;

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

/// A team as the API shows it, with its spend in its budget's current period (the calendar
/// month in UTC when it has no budget of its own).
#[derive(Debug, Serialize)]
pub struct TeamView {
    id: String,
    name: String,
    budget_usd: Option<String>,
    budget_id: Option<String>,
    spend_usd: String,
    period_start: String,
    period_end: String,
    created_at: String,
}

impl TeamView {
    fn of(team: &Team, memory: &Memory) -> TeamView {
        let (budget_usd, budget_id, spend, start, end) = match memory.budgets.team_budget(&team.id)
        {
            Some(state) => (
                Some(format_usd(state.budget.amount_pico)),
                Some(state.budget.id.clone()),
                state.spent_pico,
                state.window.start_text(),
                state.window.end_text(),
            ),
            None => {
                let period = memory.spend.period();
                let (start, end) = (day_string(period.start), day_string(period.end));
                (
                    None,
                    None,
                    memory.spend.of(&team.id, period).cost_pico,
                    format!("{start}T00:00:00+00:00"),
                    format!("{end}T00:00:00+00:00"),
                )
            }
        };
        TeamView {
            id: team.id.clone(),
            name: team.name.clone(),
            budget_usd,
            budget_id,
            spend_usd: format_usd(spend),
            period_start: start,
            period_end: end,
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
        .map(budget_api::parse_amount)
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
        created_at: now_timestamp(),
    };
    let budget = match budget_pico {
        Some(amount) => Some(budget_api::new_budget(
            budget_api::new_id()?,
            team.id.clone(),
            Scope::Team,
            amount,
            Default::default(),
        )?),
        None => None,
    };
    let stored = (team.clone(), budget.clone());
    match state
        .blocking(move |store| store.insert_team(&stored.0, stored.1.as_ref()))
        .await
    {
        Err(StoreError::Conflict(_)) => return Err(taken(&team.name)),
        other => other?,
    }

    let mut memory = state.memory_mut();
    memory.registry.add_team(team.clone());
    if let Some(budget) = budget {
        // A new team has spent nothing.
        let window = budget.rule.window_at(state.now_ms());
        memory.budgets.put(budget, window, 0);
    }
    tracing::info!(
        team = %team.name,
        team.id = %team.id,
        budget_usd = %budget_text(budget_pico),
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
    let budget_pico = budget_usd
        .as_deref()
        .map(budget_api::parse_amount)
        .transpose()?;

    let _writes = state.write_lock().await;
    let (team_id, existing) = {
        let memory = state.memory();
        let team = find_or_404(&memory, &team)?;
        let existing = memory
            .budgets
            .team_budget(&team.id)
            .map(|state| state.budget.clone());
        (team.id.clone(), existing)
    };
    match (existing, budget_pico) {
        (Some(mut budget), Some(amount)) => {
            budget.amount_pico = amount;
            budget.updated_at = now_timestamp();
            budget_api::replace(&state, budget).await?;
        }
        (Some(budget), None) => budget_api::delete(&state, &budget.id).await?,
        (None, Some(amount)) => {
            let budget = budget_api::new_budget(
                budget_api::new_id()?,
                team_id.clone(),
                Scope::Team,
                amount,
                Default::default(),
            )?;
            budget_api::insert(&state, budget).await?;
        }
        (None, None) => {}
    }

    let memory = state.memory();
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
