//! Budgets: how much a team, a project of a team or one key may spend in a period.
//!
//! A team's own budget covers every call of the team; a project budget the calls charged to
//! that project; a key budget the calls made with that key. A call must fit every budget
//! that covers it. A hard budget denies calls that would pass it; a warn-only budget never
//! denies and still alerts.

pub mod api;
mod book;
mod period;
#[cfg(test)]
mod tests;

pub use api::routes;
pub use book::{BudgetBook, BudgetState, CallCost, Crossing, Forecast, ForecastView, local_day};
pub use period::{PeriodError, PeriodKind, PeriodRule, Window, offset_text};

use serde::{Deserialize, Serialize};

use crate::money::PICO_PER_USD;

/// Largest budget accepted: 1,000,000,000 USD, in pico-dollars.
pub const MAX_BUDGET_PICO: i128 = 1_000_000_000 * PICO_PER_USD;
/// Alert thresholds a budget has unless told otherwise, in percent.
pub const DEFAULT_THRESHOLDS: [u16; 3] = [50, 80, 100];
/// Output tokens a strict budget reserves for a request that names no cap.
pub const DEFAULT_MAX_TOKENS: u64 = 32_000;
/// Largest threshold accepted, in percent.
pub const MAX_THRESHOLD: u16 = 1000;

/// What a budget covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every call of the team.
    Team,
    /// Calls charged to this project of the team.
    Project(String),
    /// Calls made with this key (its id).
    Key(String),
}

impl Scope {
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Team => "team",
            Scope::Project(_) => "project",
            Scope::Key(_) => "key",
        }
    }

    pub fn project(&self) -> Option<&str> {
        match self {
            Scope::Project(project) => Some(project),
            _ => None,
        }
    }

    pub fn key_id(&self) -> Option<&str> {
        match self {
            Scope::Key(key_id) => Some(key_id),
            _ => None,
        }
    }

    /// Whether a call of the budget's team, charged to `project` and made with `key_id`,
    /// counts against a budget of this scope.
    pub fn covers(&self, project: Option<&str>, key_id: Option<&str>) -> bool {
        match self {
            Scope::Team => true,
            Scope::Project(own) => project == Some(own.as_str()),
            Scope::Key(own) => key_id == Some(own.as_str()),
        }
    }
}

/// Whether a budget stops calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Calls that would pass the budget are denied.
    #[default]
    Hard,
    /// Nothing is denied; alerts still go out.
    Warn,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hard => "hard",
            Mode::Warn => "warn",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "hard" => Some(Mode::Hard),
            "warn" => Some(Mode::Warn),
            _ => None,
        }
    }
}

/// A budget as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub id: String,
    pub team_id: String,
    pub scope: Scope,
    /// Pico-dollars per period, at most [`MAX_BUDGET_PICO`].
    pub amount_pico: i128,
    pub rule: PeriodRule,
    pub mode: Mode,
    /// Reserve the worst case of every call, so the budget is never passed.
    pub strict: bool,
    /// Output tokens a strict budget reserves when a request names no cap.
    pub default_max_tokens: u64,
    /// Alert thresholds in percent, ascending, no repeats.
    pub thresholds: Vec<u16>,
    pub created_at: String,
    pub updated_at: String,
}

impl Budget {
    /// Whether calls that would pass it are denied.
    pub fn is_hard(&self) -> bool {
        self.mode == Mode::Hard
    }

    /// What the budget belongs to, for a sentence: `team "payments"`, `project "checkout" of
    /// team "payments"`, `key "laptop" of team "payments"`.
    pub fn subject(&self, team: &str, key_name: Option<&str>) -> String {
        match &self.scope {
            Scope::Team => format!("team \"{team}\""),
            Scope::Project(project) => format!("project \"{project}\" of team \"{team}\""),
            Scope::Key(key_id) => {
                format!("key \"{}\" of team \"{team}\"", key_name.unwrap_or(key_id))
            }
        }
    }
}

/// Sorts thresholds and drops repeats; refuses values outside `1..=MAX_THRESHOLD`.
pub fn normalize_thresholds(mut thresholds: Vec<u16>) -> Result<Vec<u16>, String> {
    if thresholds.len() > 20 {
        return Err("thresholds: at most 20 values".to_owned());
    }
    if let Some(bad) = thresholds.iter().find(|t| **t == 0 || **t > MAX_THRESHOLD) {
        return Err(format!(
            "thresholds: {bad} is not a percentage from 1 to {MAX_THRESHOLD}"
        ));
    }
    thresholds.sort_unstable();
    thresholds.dedup();
    Ok(thresholds)
}

/// A hard monthly UTC budget with the default settings, for tests.
#[cfg(test)]
pub fn budget_for_tests(id: &str, team_id: &str, scope: Scope, amount_pico: i128) -> Budget {
    Budget {
        id: id.into(),
        team_id: team_id.into(),
        scope,
        amount_pico,
        rule: PeriodRule::new(PeriodKind::Month, "UTC", None).unwrap(),
        mode: Mode::Hard,
        strict: false,
        default_max_tokens: DEFAULT_MAX_TOKENS,
        thresholds: DEFAULT_THRESHOLDS.to_vec(),
        created_at: "2025-12-01T00:00:00Z".into(),
        updated_at: "2025-12-01T00:00:00Z".into(),
    }
}
