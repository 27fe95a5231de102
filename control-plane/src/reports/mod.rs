//! Spend reports: the rollups of a date range grouped by team, project, model, user or day,
//! as JSON or CSV.

mod api;
mod csv;
mod forecast;
mod query;
mod summary;

pub use api::routes;
pub use forecast::routes as forecast_routes;
