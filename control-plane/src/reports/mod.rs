//! Spend reports: the rollups of a date range grouped by team, project, model, user or day,
//! as JSON or CSV.

mod api;
mod csv;
mod query;
mod summary;

pub use api::routes;
