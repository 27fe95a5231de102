//! `POST /v1/admin/prices/import?source=litellm`: the whole LiteLLM map as the body.
//!
//! The map is several megabytes, so this route alone takes bodies up to
//! [`MAX_IMPORT_BYTES`]. With `dry_run=true` the answer says what would be imported and
//! nothing is stored.

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::calendar::now_timestamp;
use crate::http::{ApiError, Params, RawBody};
use crate::pricing::import::{ImportAnswer, ImportError, Options, convert, stored};
use crate::state::AppState;

/// Largest map accepted: LiteLLM's is a few megabytes and grows with every provider added.
const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;
/// The only `source` understood.
const LITELLM: &str = "litellm";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/admin/prices/import",
        post(import).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    source: String,
    #[serde(default)]
    dry_run: bool,
    /// Comma-separated: `anthropic,openai,gemini` (the default).
    providers: Option<String>,
    /// Where the map was downloaded from; kept in every imported entry's `source`.
    source_url: Option<String>,
}

async fn import(
    State(state): State<AppState>,
    Params(query): Params<ImportQuery>,
    RawBody(body): RawBody,
) -> Result<Json<ImportAnswer>, ApiError> {
    let invalid = |error: ImportError| ApiError::BadRequest(error.to_string());
    if query.source != LITELLM {
        return Err(invalid(ImportError::Source(query.source)));
    }
    let options =
        Options::new(query.providers.as_deref(), query.source_url.as_deref()).map_err(invalid)?;

    // Reading a map of several megabytes is work for the blocking pool.
    let conversion = tokio::task::spawn_blocking(move || convert(&body, &options))
        .await
        .map_err(|error| {
            tracing::error!(%error, "the price import stopped before it finished");
            ApiError::Internal
        })?
        .map_err(invalid)?;

    if !query.dry_run {
        let _writes = state.write_lock().await;
        let prices = stored(&conversion);
        state
            .blocking(move |store| store.put_prices(&prices, &now_timestamp()))
            .await?;
        let mut memory = state.memory_mut();
        for converted in &conversion.prices {
            let (model, entry) = (converted.model.clone(), converted.entry.clone());
            memory.prices.set(model, entry, converted.rates.clone());
        }
    }

    tracing::info!(
        source = LITELLM,
        dry_run = query.dry_run,
        imported = conversion.prices.len(),
        skipped = conversion.skipped.len(),
        other_providers = conversion.other_providers,
        "prices imported"
    );
    Ok(Json(ImportAnswer::new(conversion, query.dry_run)))
}
