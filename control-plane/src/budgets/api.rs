//! `/v1/admin/budgets`: budgets of teams, projects and keys, with where each stands.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::budgets::{
    Budget, BudgetState, DEFAULT_MAX_TOKENS, DEFAULT_THRESHOLDS, ForecastView, MAX_BUDGET_PICO,
    Mode, PeriodKind, PeriodRule, Scope, normalize_thresholds,
};
use crate::calendar::now_timestamp;
use crate::http::{ApiError, Body, Params};
use crate::money::{DecimalError, format_usd, parse_usd};
use crate::names;
use crate::random;
use crate::state::{AppState, Memory, budget_spend};
use crate::store::StoreError;
use crate::teams::find_or_404;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/budgets", get(list).post(create))
        .route(
            "/v1/admin/budgets/{id}",
            get(read).patch(update).delete(remove),
        )
}

/// Largest `default_max_tokens` accepted.
const MAX_TOKENS_LIMIT: u64 = 100_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBudget {
    team: String,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    amount_usd: String,
    #[serde(flatten)]
    settings: Settings,
}

/// Settings a budget may be created or changed with; absent is the default (create) or
/// unchanged (change).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    start_day: Option<u8>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    strict: Option<bool>,
    #[serde(default)]
    default_max_tokens: Option<u64>,
    #[serde(default)]
    thresholds: Option<Vec<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBudget {
    #[serde(default)]
    amount_usd: Option<String>,
    #[serde(flatten)]
    settings: Settings,
}

/// A budget as the API shows it.
#[derive(Debug, Serialize)]
pub struct BudgetView {
    id: String,
    team_id: String,
    team: String,
    scope: &'static str,
    project: Option<String>,
    key_id: Option<String>,
    amount_usd: String,
    period: &'static str,
    time_zone: String,
    start_day: u8,
    mode: &'static str,
    strict: bool,
    default_max_tokens: u64,
    thresholds: Vec<u16>,
    created_at: String,
    updated_at: String,
    current: Current,
}

/// Where a budget stands in its current period.
#[derive(Debug, Serialize)]
pub struct Current {
    period_start: String,
    period_end: String,
    spend_usd: String,
    reserved_usd: String,
    remaining_usd: String,
    used_percent: String,
    #[serde(flatten)]
    forecast: ForecastView,
}

impl BudgetView {
    pub fn of(state: &BudgetState, memory: &Memory, now_ms: i64) -> BudgetView {
        let budget = &state.budget;
        let team = memory
            .registry
            .team(&budget.team_id)
            .map_or_else(String::new, |team| team.name.clone());
        BudgetView {
            id: budget.id.clone(),
            team_id: budget.team_id.clone(),
            team,
            scope: budget.scope.kind(),
            project: budget.scope.project().map(str::to_owned),
            key_id: budget.scope.key_id().map(str::to_owned),
            amount_usd: format_usd(budget.amount_pico),
            period: budget.rule.kind.as_str(),
            time_zone: budget.rule.time_zone.clone(),
            start_day: budget.rule.start_day,
            mode: budget.mode.as_str(),
            strict: budget.strict,
            default_max_tokens: budget.default_max_tokens,
            thresholds: budget.thresholds.clone(),
            created_at: budget.created_at.clone(),
            updated_at: budget.updated_at.clone(),
            current: Current::of(state, now_ms),
        }
    }
}

impl Current {
    fn of(state: &BudgetState, now_ms: i64) -> Current {
        let amount = state.budget.amount_pico;
        let spent = state.spent_pico;
        Current {
            period_start: state.window.start_text(),
            period_end: state.window.end_text(),
            spend_usd: format_usd(spent),
            reserved_usd: format_usd(state.held_pico),
            remaining_usd: format_usd((amount - spent).max(0)),
            used_percent: percent(spent, amount),
            forecast: ForecastView::of(&state.window, spent, Some(amount), now_ms),
        }
    }
}

/// `spent / amount` in percent with two decimals, as text.
pub fn percent(spent: i128, amount: i128) -> String {
    if amount <= 0 {
        return if spent > 0 { "100.00" } else { "0.00" }.to_owned();
    }
    let hundredths = spent.max(0) * 10_000 / amount;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    team: Option<String>,
}

#[derive(Debug, Serialize)]
struct BudgetList {
    budgets: Vec<BudgetView>,
}

async fn list(
    State(state): State<AppState>,
    Params(query): Params<ListQuery>,
) -> Result<Json<BudgetList>, ApiError> {
    let now_ms = state.now_ms();
    let memory = state.memory();
    let team_id = match &query.team {
        Some(team) => Some(find_or_404(&memory, team)?.id.clone()),
        None => None,
    };
    let mut states: Vec<&BudgetState> = match &team_id {
        Some(team_id) => memory.budgets.of_team(team_id).collect(),
        None => memory.budgets.all().collect(),
    };
    states.sort_by(|a, b| {
        (&a.budget.created_at, &a.budget.id).cmp(&(&b.budget.created_at, &b.budget.id))
    });
    let budgets = states
        .into_iter()
        .map(|state| BudgetView::of(state, &memory, now_ms))
        .collect();
    Ok(Json(BudgetList { budgets }))
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BudgetView>, ApiError> {
    let now_ms = state.now_ms();
    let memory = state.memory();
    let budget = memory.budgets.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(Json(BudgetView::of(budget, &memory, now_ms)))
}

async fn create(
    State(state): State<AppState>,
    Body(request): Body<CreateBudget>,
) -> Result<(StatusCode, Json<BudgetView>), ApiError> {
    let amount_pico = parse_amount(&request.amount_usd)?;
    let _writes = state.write_lock().await;
    let (team_id, scope) = {
        let memory = state.memory();
        let team = find_or_404(&memory, &request.team)?;
        let scope = match (&request.project, &request.key_id) {
            (Some(_), Some(_)) => {
                return Err(ApiError::BadRequest(
                    "a budget is for a team, a project or a key: send project or key_id, not \
                     both"
                        .to_owned(),
                ));
            }
            (Some(project), None) => {
                names::validate("project", project)
                    .map_err(|error| ApiError::BadRequest(error.to_string()))?;
                Scope::Project(project.clone())
            }
            (None, Some(key_id)) => match memory.registry.key(key_id) {
                Some(key) if key.team_id == team.id => Scope::Key(key_id.clone()),
                _ => {
                    return Err(ApiError::NotFound(format!(
                        "team \"{}\" has no key \"{key_id}\"; list its keys with GET \
                         /v1/admin/teams/{}/keys",
                        team.name, team.name
                    )));
                }
            },
            (None, None) => Scope::Team,
        };
        (team.id.clone(), scope)
    };
    let id = new_id()?;
    let budget = new_budget(id, team_id, scope, amount_pico, request.settings)?;
    let view = insert(&state, budget).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A budget from create settings, checked.
pub fn new_budget(
    id: String,
    team_id: String,
    scope: Scope,
    amount_pico: i128,
    settings: Settings,
) -> Result<Budget, ApiError> {
    let now = now_timestamp();
    let mut budget = Budget {
        id,
        team_id,
        scope,
        amount_pico,
        rule: PeriodRule::new(PeriodKind::Month, "UTC", None)
            .map_err(|error| ApiError::BadRequest(error.to_string()))?,
        mode: Mode::Hard,
        strict: false,
        default_max_tokens: DEFAULT_MAX_TOKENS,
        thresholds: DEFAULT_THRESHOLDS.to_vec(),
        created_at: now.clone(),
        updated_at: now,
    };
    apply(&mut budget, settings)?;
    Ok(budget)
}

/// Stores a new budget and puts it in memory with its spend so far.
pub async fn insert(state: &AppState, budget: Budget) -> Result<BudgetView, ApiError> {
    let now_ms = state.now_ms();
    let stored = budget.clone();
    let (window, spent) = match state
        .blocking(move |store| {
            store.insert_budget(&stored)?;
            budget_spend(store, &stored, now_ms)
        })
        .await
    {
        Err(StoreError::Conflict(_)) => return Err(taken(&budget.scope)),
        other => other?,
    };
    let id = budget.id.clone();
    log_change("budget set", &budget);
    let mut memory = state.memory_mut();
    memory.budgets.put(budget, window, spent);
    let state_now = memory.budgets.get(&id).ok_or(ApiError::Internal)?;
    Ok(BudgetView::of(state_now, &memory, now_ms))
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(request): Body<UpdateBudget>,
) -> Result<Json<BudgetView>, ApiError> {
    let amount = request
        .amount_usd
        .as_deref()
        .map(parse_amount)
        .transpose()?;
    let _writes = state.write_lock().await;
    let mut budget = state
        .memory()
        .budgets
        .get(&id)
        .map(|state| state.budget.clone())
        .ok_or_else(|| not_found(&id))?;
    if let Some(amount) = amount {
        budget.amount_pico = amount;
    }
    apply(&mut budget, request.settings)?;
    budget.updated_at = now_timestamp();
    Ok(Json(replace(&state, budget).await?))
}

/// Stores changed settings and puts the budget in memory with its spend in the (perhaps
/// new) period.
pub async fn replace(state: &AppState, budget: Budget) -> Result<BudgetView, ApiError> {
    let now_ms = state.now_ms();
    let stored = budget.clone();
    let (window, spent) = state
        .blocking(move |store| {
            store.update_budget(&stored)?;
            budget_spend(store, &stored, now_ms)
        })
        .await?;
    let id = budget.id.clone();
    log_change("budget changed", &budget);
    let mut memory = state.memory_mut();
    memory.budgets.put(budget, window, spent);
    let state_now = memory.budgets.get(&id).ok_or(ApiError::Internal)?;
    Ok(BudgetView::of(state_now, &memory, now_ms))
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let _writes = state.write_lock().await;
    if state.memory().budgets.get(&id).is_none() {
        return Err(not_found(&id));
    }
    delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a budget from the store and memory.
pub async fn delete(state: &AppState, id: &str) -> Result<(), ApiError> {
    let stored = id.to_owned();
    state
        .blocking(move |store| store.delete_budget(&stored))
        .await?;
    if let Some(budget) = state.memory_mut().budgets.remove(id) {
        log_change("budget deleted", &budget);
    }
    state.notify_settled();
    Ok(())
}

/// Applies the settings given, checked together.
fn apply(budget: &mut Budget, settings: Settings) -> Result<(), ApiError> {
    let bad = ApiError::BadRequest;
    let kind = match settings.period.as_deref() {
        Some(text) => PeriodKind::parse(text).ok_or_else(|| {
            bad(format!(
                "period \"{text}\" is not a budget period; use \"month\", \"week\" or \"day\""
            ))
        })?,
        None => budget.rule.kind,
    };
    let time_zone = settings
        .time_zone
        .unwrap_or_else(|| budget.rule.time_zone.clone());
    // A start day kept from another kind of period would mean something else.
    let start_day = match settings.start_day {
        Some(day) => Some(day),
        None if kind == budget.rule.kind => Some(budget.rule.start_day),
        None => None,
    };
    budget.rule =
        PeriodRule::new(kind, &time_zone, start_day).map_err(|error| bad(error.to_string()))?;
    if let Some(mode) = settings.mode {
        budget.mode = Mode::parse(&mode).ok_or_else(|| {
            bad(format!(
                "mode \"{mode}\" is not a budget mode; use \"hard\" or \"warn\""
            ))
        })?;
    }
    if let Some(strict) = settings.strict {
        budget.strict = strict;
    }
    if let Some(tokens) = settings.default_max_tokens {
        if tokens == 0 || tokens > MAX_TOKENS_LIMIT {
            return Err(bad(format!(
                "default_max_tokens {tokens} is outside 1 to {MAX_TOKENS_LIMIT}"
            )));
        }
        budget.default_max_tokens = tokens;
    }
    if let Some(thresholds) = settings.thresholds {
        budget.thresholds = normalize_thresholds(thresholds).map_err(bad)?;
    }
    Ok(())
}

/// Budgets are whole pico-dollars up to [`MAX_BUDGET_PICO`].
pub fn parse_amount(text: &str) -> Result<i128, ApiError> {
    let above_limit = || {
        ApiError::BadRequest(format!(
            "amount_usd \"{text}\" is above the limit of 1000000000 usd per period"
        ))
    };
    let pico = parse_usd(text).map_err(|error| match error {
        DecimalError::TooLarge(_) => above_limit(),
        error => ApiError::BadRequest(format!("amount_usd {error}")),
    })?;
    if pico > MAX_BUDGET_PICO {
        return Err(above_limit());
    }
    Ok(pico)
}

pub fn new_id() -> Result<String, ApiError> {
    random::id("bud").map_err(|error| {
        tracing::error!(%error, "cannot create a budget id");
        ApiError::Internal
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no budget \"{id}\"; list budgets with GET /v1/admin/budgets?team=NAME"
    ))
}

fn taken(scope: &Scope) -> ApiError {
    ApiError::Conflict(format!(
        "this {} already has a budget; change it with PATCH /v1/admin/budgets/ID (find the id \
         with GET /v1/admin/budgets?team=NAME)",
        scope.kind()
    ))
}

fn log_change(what: &'static str, budget: &Budget) {
    tracing::info!(
        budget.id = %budget.id,
        team.id = %budget.team_id,
        scope = budget.scope.kind(),
        amount_usd = %format_usd(budget.amount_pico),
        period = budget.rule.kind.as_str(),
        time_zone = %budget.rule.time_zone,
        mode = budget.mode.as_str(),
        strict = budget.strict,
        "{what}"
    );
}
