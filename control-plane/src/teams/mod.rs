//! Teams: who is charged, and the monthly budget they may spend.

mod api;

pub use api::{find_or_404, routes};

use crate::money::PICO_PER_USD;

/// Largest monthly budget accepted: 1,000,000,000 USD, in pico-dollars.
pub const MAX_BUDGET_PICO: i128 = 1_000_000_000 * PICO_PER_USD;

/// A team as stored. Its name is unique whatever its case: `payments` and `Payments` are
/// the same team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// Pico-dollars per calendar month, at most [`MAX_BUDGET_PICO`]; `None` is unlimited.
    pub budget_pico: Option<i128>,
    /// RFC 3339, UTC.
    pub created_at: String,
}
