//! `GET /v1/admin/reports/forecast`: per team and project, the spend of the current period,
//! its daily burn, where it ends at that rate, and the day the budget runs out.
//!
//! A team or project with a budget is reported over its budget's period; one without, over
//! the calendar month in UTC.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::budgets::{BudgetState, ForecastView, PeriodKind, PeriodRule, Scope, Window};
use crate::calendar::{Period, day_string, timestamp_of_ms};
use crate::http::{ApiError, Params};
use crate::money::{add_pico, format_usd};
use crate::state::AppState;
use crate::teams::find_or_404;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/admin/reports/forecast", get(forecast))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForecastQuery {
    #[serde(default)]
    team: Option<String>,
}

#[derive(Debug, Serialize)]
struct ForecastReport {
    as_of: String,
    rows: Vec<Row>,
}

#[derive(Debug, Serialize)]
struct Row {
    team_id: String,
    team: String,
    project: Option<String>,
    budget_id: Option<String>,
    amount_usd: Option<String>,
    period_start: String,
    period_end: String,
    spend_usd: String,
    #[serde(flatten)]
    forecast: ForecastView,
}

async fn forecast(
    State(state): State<AppState>,
    Params(query): Params<ForecastQuery>,
) -> Result<Json<ForecastReport>, ApiError> {
    let now_ms = state.now_ms();
    let only_team = match &query.team {
        Some(team) => Some(find_or_404(&state.memory(), team)?.id.clone()),
        None => None,
    };
    let month = Period::at_ms(now_ms);
    let (from, to) = (day_string(month.start), day_string(month.end));
    // Month spend by team and project, for what has no budget of its own.
    let by_project = state
        .blocking(move |store| {
            let mut sums: BTreeMap<(String, String), i128> = BTreeMap::new();
            store.scan_rollups(&from, &to, &mut |rollup| {
                if let (Some(team_id), Some(project)) = (rollup.team_id, rollup.project) {
                    let sum = sums.entry((team_id, project)).or_default();
                    *sum = add_pico(*sum, rollup.totals.cost_pico);
                }
            })?;
            Ok(sums)
        })
        .await?;

    let month_window = PeriodRule::new(PeriodKind::Month, "UTC", None)
        .map_err(|_| ApiError::Internal)?
        .window_at(now_ms);
    let memory = state.memory();
    let mut rows = Vec::new();
    for team in memory.registry.teams() {
        if only_team.as_ref().is_some_and(|id| *id != team.id) {
            continue;
        }
        let row = |project: Option<String>, budget: Option<&BudgetState>, month_spend: i128| {
            let (window, spent, amount): (&Window, i128, Option<i128>) = match budget {
                Some(state) => (
                    &state.window,
                    state.spent_pico,
                    Some(state.budget.amount_pico),
                ),
                None => (&month_window, month_spend, None),
            };
            Row {
                team_id: team.id.clone(),
                team: team.name.clone(),
                project,
                budget_id: budget.map(|state| state.budget.id.clone()),
                amount_usd: amount.map(format_usd),
                period_start: window.start_text(),
                period_end: window.end_text(),
                spend_usd: format_usd(spent),
                forecast: ForecastView::of(window, spent, amount, now_ms),
            }
        };
        let team_month = memory.spend.of(&team.id, month).cost_pico;
        rows.push(row(None, memory.budgets.team_budget(&team.id), team_month));

        let mut projects: BTreeSet<String> = by_project
            .keys()
            .filter(|(team_id, _)| *team_id == team.id)
            .map(|(_, project)| project.clone())
            .collect();
        let project_budgets: BTreeMap<String, &BudgetState> = memory
            .budgets
            .of_team(&team.id)
            .filter_map(|state| match &state.budget.scope {
                Scope::Project(project) => Some((project.clone(), state)),
                _ => None,
            })
            .collect();
        projects.extend(project_budgets.keys().cloned());
        for project in projects {
            let spent = by_project
                .get(&(team.id.clone(), project.clone()))
                .copied()
                .unwrap_or(0);
            let budget = project_budgets.get(&project).copied();
            rows.push(row(Some(project), budget, spent));
        }
    }
    Ok(Json(ForecastReport {
        as_of: timestamp_of_ms(now_ms),
        rows,
    }))
}
