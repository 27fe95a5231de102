//! Teams: who is charged. Their budgets are in [`crate::budgets`].

mod api;

pub use api::{find_or_404, routes};

/// A team as stored. Its name is unique whatever its case: `payments` and `Payments` are
/// the same team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}
