//! Sends the outbox: each pending delivery is posted to its target, retried with backoff
//! until it is taken or its tries run out. A delivery is marked sent only after the target
//! answered 2xx, so a crash in between sends it again: targets see each alert at least once
//! and can tell repeats by the `x-trimio-alert-id` header (and the `id` of a JSON body).

use std::time::Duration;

use crate::alerts::{Attempt, DueDelivery, payload};
use crate::calendar::now_timestamp;
use crate::state::AppState;

/// Header naming the alert, the same on every try.
pub const ALERT_ID_HEADER: &str = "x-trimio-alert-id";
/// Tries before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 12;
/// Longest a target may take to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// First wait after a failure; it doubles each time up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 15 * 60 * 1_000;
/// Deliveries taken per round.
const BATCH: usize = 50;
/// How often the outbox is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(1);

/// Sends alerts over HTTP.
pub struct DeliveryWorker {
    client: reqwest::Client,
}

impl DeliveryWorker {
    pub fn new() -> Result<DeliveryWorker, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("trimio-control-plane/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(DeliveryWorker { client })
    }

    /// Posts one delivery and says how it ended. Errors never carry the URL, which may hold
    /// a secret.
    async fn send(&self, due: &DueDelivery, team: &str, now_ms: i64) -> Attempt {
        let body = payload::body(&due.alert, team, due.target.format);
        let sent = self
            .client
            .post(&due.target.url)
            .header(ALERT_ID_HEADER, &due.alert.id)
            .json(&body)
            .send()
            .await;
        let error = match sent {
            Ok(response) if response.status().is_success() => {
                return Attempt::Sent {
                    at: now_timestamp(),
                };
            }
            Ok(response) => format!("the target answered {}", response.status()),
            Err(error) => format!("cannot reach the target: {}", error.without_url()),
        };
        let attempts = due.attempts + 1;
        if attempts >= MAX_ATTEMPTS {
            return Attempt::Failed { error };
        }
        let shift = (attempts - 1).min(20);
        let backoff = (FIRST_BACKOFF_MS << shift).min(MAX_BACKOFF_MS);
        Attempt::Retry {
            error,
            next_ms: now_ms + backoff,
        }
    }
}

/// Sends due deliveries until the task is stopped.
pub async fn run_deliveries(state: AppState, worker: DeliveryWorker) {
    loop {
        let sent = round(&state, &worker).await;
        if sent < BATCH {
            tokio::select! {
                () = state.alerts_written() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

/// One round: every delivery due now, at most [`BATCH`]. Returns how many were tried.
async fn round(state: &AppState, worker: &DeliveryWorker) -> usize {
    let now_ms = state.now_ms();
    let due = match state
        .blocking(move |store| store.due_deliveries(now_ms, BATCH))
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::error!(%error, "cannot read the alert outbox; retrying");
            return 0;
        }
    };
    let tried = due.len();
    for delivery in due {
        let team = state
            .memory()
            .registry
            .team(&delivery.alert.team_id)
            .map(|team| team.name.clone())
            .unwrap_or_else(|| delivery.alert.team_id.clone());
        let attempt = worker.send(&delivery, &team, state.now_ms()).await;
        match &attempt {
            Attempt::Sent { .. } => tracing::info!(
                alert.id = %delivery.alert.id,
                target.id = %delivery.target.id,
                team = %team,
                kind = delivery.alert.kind.name(),
                "alert delivered"
            ),
            Attempt::Retry { error, .. } => tracing::warn!(
                alert.id = %delivery.alert.id,
                target.id = %delivery.target.id,
                attempts = delivery.attempts + 1,
                %error,
                "alert not delivered; will retry"
            ),
            Attempt::Failed { error } => tracing::error!(
                alert.id = %delivery.alert.id,
                target.id = %delivery.target.id,
                attempts = delivery.attempts + 1,
                %error,
                "alert not delivered after every try; given up"
            ),
        }
        let (alert_id, target_id) = (delivery.alert.id.clone(), delivery.target.id.clone());
        if let Err(error) = state
            .blocking(move |store| store.finish_delivery(&alert_id, &target_id, &attempt))
            .await
        {
            tracing::error!(%error, "cannot record an alert delivery; it will be sent again");
        }
    }
    tried
}
