//! `/v1/admin/teams/{team}/keys` and `/v1/admin/keys/{id}`: issue, list and revoke keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::calendar::now_timestamp;
use crate::http::{ApiError, Body};
use crate::keys::{self, Key};
use crate::names;
use crate::state::AppState;
use crate::teams;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/teams/{team}/keys", get(list).post(create))
        .route("/v1/admin/keys/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    name: String,
    /// Every call made with the key is charged to this project.
    #[serde(default)]
    project: Option<String>,
}

/// A key just issued: the only response that ever holds the key itself.
#[derive(Debug, Serialize)]
struct IssuedView {
    id: String,
    key: String,
    prefix: String,
    team_id: String,
    team: String,
    name: String,
    project: Option<String>,
    created_at: String,
}

/// A key as listings show it: never the key or its hash.
#[derive(Debug, Serialize)]
struct KeyView {
    id: String,
    prefix: String,
    name: String,
    project: Option<String>,
    team_id: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl KeyView {
    fn of(key: &Key) -> KeyView {
        KeyView {
            id: key.id.clone(),
            prefix: key.prefix.clone(),
            name: key.name.clone(),
            project: key.project.clone(),
            team_id: key.team_id.clone(),
            created_at: key.created_at.clone(),
            revoked_at: key.revoked_at.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct KeyList {
    keys: Vec<KeyView>,
}

#[derive(Debug, Serialize)]
struct Revoked {
    id: String,
    revoked_at: String,
}

async fn create(
    State(state): State<AppState>,
    Path(team): Path<String>,
    Body(request): Body<CreateKey>,
) -> Result<(StatusCode, Json<IssuedView>), ApiError> {
    let invalid = |error: names::NameError| ApiError::BadRequest(error.to_string());
    names::validate("name", &request.name).map_err(invalid)?;
    if let Some(project) = &request.project {
        names::validate("project", project).map_err(invalid)?;
    }

    let _writes = state.write_lock().await;
    let (team_id, team_name) = {
        let memory = state.memory();
        let team = teams::find_or_404(&memory, &team)?;
        (team.id.clone(), team.name.clone())
    };
    let issued = keys::issue(
        &team_id,
        &request.name,
        request.project.as_deref(),
        &now_timestamp(),
    )
    .map_err(|error| {
        tracing::error!(%error, "cannot issue a key");
        ApiError::Internal
    })?;
    let stored = issued.key.clone();
    state
        .blocking(move |store| store.insert_key(&stored))
        .await?;

    let key = issued.key;
    state.memory_mut().registry.add_key(key.clone());
    tracing::info!(
        team = %team_name,
        key.id = %key.id,
        project = key.project.as_deref().unwrap_or_default(),
        "key issued"
    );
    let view = IssuedView {
        id: key.id,
        key: issued.secret.expose().to_owned(),
        prefix: key.prefix,
        team_id,
        team: team_name,
        name: key.name,
        project: key.project,
        created_at: key.created_at,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

async fn list(
    State(state): State<AppState>,
    Path(team): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    let memory = state.memory();
    let team = teams::find_or_404(&memory, &team)?;
    let keys = memory
        .registry
        .team_keys(&team.id)
        .into_iter()
        .map(KeyView::of)
        .collect();
    Ok(Json(KeyList { keys }))
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let _writes = state.write_lock().await;
    let existing = state
        .memory()
        .registry
        .key(&id)
        .map(|key| key.revoked_at.clone());
    let revoked_at = match existing {
        None => {
            return Err(ApiError::NotFound(format!(
                "no key \"{id}\"; use a key id from GET /v1/admin/teams/{{team}}/keys"
            )));
        }
        Some(Some(already)) => already,
        Some(None) => {
            let revoked_at = now_timestamp();
            let (key_id, at) = (id.clone(), revoked_at.clone());
            state
                .blocking(move |store| store.revoke_key(&key_id, &at))
                .await?;
            state.memory_mut().registry.revoke_key(&id, &revoked_at);
            tracing::info!(key.id = %id, "key revoked");
            revoked_at
        }
    };
    Ok(Json(Revoked { id, revoked_at }))
}
