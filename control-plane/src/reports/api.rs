//! `GET /v1/admin/reports/spend`: spend from the rollups, as JSON or CSV.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::calendar::{Period, day_string};
use crate::http::{ApiError, Params};
use crate::ledger::{EstimateTotals, Totals};
use crate::money::format_usd;
use crate::reports::csv;
use crate::reports::query::{Dimension, Format, ReportParams, ReportQuery};
use crate::reports::summary::{GroupKey, Summary};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/admin/reports/spend", get(spend))
}

/// Columns after the group columns, in order, in both formats.
const TOTAL_COLUMNS: [&str; 11] = [
    "calls",
    "unpriced_calls",
    "estimated_calls",
    "input",
    "output",
    "cache_read",
    "cache_write_5m",
    "cache_write_1h",
    "reasoning",
    "web_search_requests",
    "cost_usd",
];

async fn spend(
    State(state): State<AppState>,
    Params(params): Params<ReportParams>,
) -> Result<Response, ApiError> {
    let query = params
        .check(Period::current())
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;

    let (from, to) = (day_string(query.from), day_string(query.to));
    let group_by = query.group_by.clone();
    let (summary, estimates) = state
        .blocking(move |store| {
            let mut summary = Summary::default();
            store.scan_rollups(&from, &to, &mut |rollup| summary.add(&rollup, &group_by))?;
            let estimates = store.estimate_totals(&from, &to, None)?;
            Ok((summary, estimates))
        })
        .await?;

    let team_names: HashMap<String, String> = {
        let memory = state.memory();
        memory
            .registry
            .teams()
            .into_iter()
            .map(|team| (team.id.clone(), team.name.clone()))
            .collect()
    };
    let groups: Vec<Group<'_>> = summary
        .rows
        .iter()
        .map(|(key, totals)| Group {
            columns: group_columns(key, &query.group_by, &team_names),
            totals,
        })
        .collect();

    Ok(match query.format {
        Format::Json => {
            let mut report = json_report(&query, &groups, &summary.total);
            report["estimates"] = estimates_json(&estimates);
            Json(report).into_response()
        }
        Format::Csv => csv_report(&query, &groups),
    })
}

/// One row of a report: its named group values and its totals.
struct Group<'a> {
    /// Column name and value; `None` where the calls had no value.
    columns: Vec<(String, Option<String>)>,
    totals: &'a Totals,
}

/// The named group values of one row: a team shows as its id and its name.
fn group_columns(
    key: &GroupKey,
    group_by: &[Dimension],
    team_names: &HashMap<String, String>,
) -> Vec<(String, Option<String>)> {
    let mut columns = Vec::new();
    for (dimension, value) in group_by.iter().zip(key) {
        if *dimension == Dimension::Team {
            let name = value.as_ref().and_then(|id| team_names.get(id).cloned());
            columns.push(("team_id".to_owned(), value.clone()));
            columns.push(("team".to_owned(), name));
        } else {
            columns.push((dimension.as_str().to_owned(), value.clone()));
        }
    }
    columns
}

fn json_report(query: &ReportQuery, groups: &[Group<'_>], total: &Totals) -> Value {
    let rows: Vec<Value> = groups
        .iter()
        .map(|Group { columns, totals }| {
            let mut row = Map::new();
            for (name, value) in columns {
                row.insert(
                    name.clone(),
                    value.clone().map_or(Value::Null, Value::String),
                );
            }
            row.insert("calls".into(), json!(totals.calls));
            row.insert("unpriced_calls".into(), json!(totals.unpriced_calls));
            row.insert("estimated_calls".into(), json!(totals.estimated_calls));
            row.insert("usage".into(), json!(totals.usage));
            row.insert("cost_usd".into(), json!(format_usd(totals.cost_pico)));
            Value::Object(row)
        })
        .collect();
    let group_by: Vec<&str> = query
        .group_by
        .iter()
        .map(|dimension| dimension.as_str())
        .collect();
    json!({
        "from": day_string(query.from),
        "to": day_string(query.to),
        "group_by": group_by,
        "rows": rows,
        "total": {
            "calls": total.calls,
            "unpriced_calls": total.unpriced_calls,
            "estimated_calls": total.estimated_calls,
            "usage": total.usage,
            "cost_usd": format_usd(total.cost_pico),
        },
    })
}

/// How admission's estimates compared with what the calls cost: `bias_percent` above zero
/// means they held more than the calls spent.
fn estimates_json(totals: &EstimateTotals) -> Value {
    let percent = |basis_points: Option<i128>| {
        basis_points.map(|bp| {
            let sign = if bp < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", bp.abs() / 100, bp.abs() % 100)
        })
    };
    json!({
        "calls": totals.calls,
        "under_calls": totals.under_calls,
        "reserved_usd": format_usd(totals.reserved_pico),
        "cost_usd": format_usd(totals.cost_pico),
        "bias_percent": percent(totals.bias_basis_points()),
        "abs_error_percent": percent(totals.abs_error_basis_points()),
    })
}

fn csv_report(query: &ReportQuery, groups: &[Group<'_>]) -> Response {
    let mut header: Vec<String> = Vec::new();
    for dimension in &query.group_by {
        match dimension {
            Dimension::Team => header.extend(["team_id".to_owned(), "team".to_owned()]),
            other => header.push(other.as_str().to_owned()),
        }
    }
    header.extend(TOTAL_COLUMNS.iter().map(|column| (*column).to_owned()));

    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|Group { columns, totals }| {
            let mut cells: Vec<String> = columns
                .iter()
                .map(|(_, value)| value.clone().unwrap_or_default())
                .collect();
            let usage = &totals.usage;
            let counts = [
                totals.calls,
                totals.unpriced_calls,
                totals.estimated_calls,
                usage.input,
                usage.output,
                usage.cache_read,
                usage.cache_write_5m,
                usage.cache_write_1h,
                usage.reasoning,
                usage.web_search_requests,
            ];
            cells.extend(counts.iter().map(u64::to_string));
            cells.push(format_usd(totals.cost_pico));
            cells
        })
        .collect();

    let filename = format!(
        "attachment; filename=\"trimio-spend-{}-{}.csv\"",
        day_string(query.from),
        day_string(query.to)
    );
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, filename),
        ],
        csv::render(&header, &rows),
    )
        .into_response()
}
