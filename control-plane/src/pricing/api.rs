//! `/v1/admin/prices`: read the price table and change it at run time.
//!
//! A price set here wins over the shipped default for the same model key and persists. It
//! prices calls that arrive after it is set; calls already in the ledger keep their cost.

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Serialize;

use crate::calendar::now_timestamp;
use crate::http::{ApiError, Body};
use crate::pricing::{Origin, PriceEntry, Priced, Rates, import, validate_model};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/prices", get(list))
        .route("/v1/admin/prices/{model}", put(set).delete(remove))
        .merge(import::routes())
}

/// An entry with the model key it belongs to and where it comes from.
#[derive(Debug, Serialize)]
pub struct PriceView {
    pub model: String,
    #[serde(flatten)]
    pub entry: PriceEntry,
    pub origin: Origin,
}

impl PriceView {
    fn of(model: &str, priced: &Priced) -> PriceView {
        PriceView {
            model: model.to_owned(),
            entry: priced.entry.clone(),
            origin: priced.origin,
        }
    }
}

#[derive(Debug, Serialize)]
struct PriceList {
    prices: Vec<PriceView>,
}

#[derive(Debug, Serialize)]
struct Deleted {
    model: String,
    deleted: bool,
    /// The shipped default that applies again, if there is one.
    default: Option<PriceView>,
}

async fn list(State(state): State<AppState>) -> Json<PriceList> {
    let memory = state.memory();
    let prices = memory
        .prices
        .entries()
        .into_iter()
        .map(|(model, priced)| PriceView::of(model, priced));
    Json(PriceList {
        prices: prices.collect(),
    })
}

async fn set(
    State(state): State<AppState>,
    Path(model): Path<String>,
    Body(entry): Body<PriceEntry>,
) -> Result<Json<PriceView>, ApiError> {
    let invalid = |error: crate::pricing::PriceError| ApiError::BadRequest(error.to_string());
    validate_model(&model).map_err(invalid)?;
    let rates = Rates::compile(&entry).map_err(invalid)?;

    let _writes = state.write_lock().await;
    let (key, stored) = (model.clone(), entry.clone());
    state
        .blocking(move |store| store.put_price(&key, &stored, &now_timestamp()))
        .await?;

    let mut memory = state.memory_mut();
    memory.prices.set(model.clone(), entry, rates);
    tracing::info!(model = %model, "price set");
    let view = memory
        .prices
        .get(&model)
        .map(|priced| PriceView::of(&model, priced));
    view.map(Json).ok_or(ApiError::Internal)
}

async fn remove(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Json<Deleted>, ApiError> {
    let _writes = state.write_lock().await;
    let key = model.clone();
    let deleted = state
        .blocking(move |store| store.delete_price(&key))
        .await?;
    if !deleted {
        return Err(ApiError::NotFound(format!(
            "no price for \"{model}\" was set through the api; shipped defaults cannot be \
             deleted, only overridden with PUT"
        )));
    }

    let mut memory = state.memory_mut();
    memory.prices.remove(&model);
    tracing::info!(model = %model, "price deleted");
    let default = memory
        .prices
        .get(&model)
        .map(|priced| PriceView::of(&model, priced));
    Ok(Json(Deleted {
        model,
        deleted: true,
        default,
    }))
}
