//! Teams: who is charged, and the monthly budget they may spend.

mod api;

pub use api::{find_or_404, routes};

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// Pico-dollars per calendar month; `None` is unlimited.
    pub budget_pico: Option<i64>,
    /// RFC 3339, UTC.
    pub created_at: String,
}
