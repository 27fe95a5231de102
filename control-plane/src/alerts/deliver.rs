//! Sends the outbox: each pending delivery is posted to its target, retried with backoff
//! until it is taken or its tries run out. A delivery is marked sent only after the target
//! answered 2xx, so a crash in between sends it again: targets see each alert at least once
//! and can tell repeats by the `x-trimio-alert-id` header (and the `id` of a JSON body).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

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
/// Due deliveries looked at per round.
const BATCH: usize = 500;
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
            Err(error) if error.is_timeout() => format!(
                "the target did not answer within {} seconds",
                SEND_TIMEOUT.as_secs()
            ),
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

/// Deliveries sent at once, over all targets.
const CONCURRENT: usize = 16;
/// Deliveries sent at once to one target, so a target that hangs holds up no other.
const PER_TARGET: usize = 2;

/// What is being sent right now.
#[derive(Default)]
struct InFlight {
    deliveries: HashSet<(String, String)>,
    per_target: HashMap<String, usize>,
}

/// Sends due deliveries until the task is stopped: at most [`CONCURRENT`] at once and
/// [`PER_TARGET`] to any one target.
pub async fn run_deliveries(state: AppState, worker: DeliveryWorker) {
    let worker = Arc::new(worker);
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let in_flight = Arc::new(Mutex::new(InFlight::default()));
    loop {
        round(&state, &worker, &slots, &in_flight).await;
        tokio::select! {
            () = state.alerts_written() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Starts every delivery due now that a slot allows, at most [`BATCH`] looked at.
async fn round(
    state: &AppState,
    worker: &Arc<DeliveryWorker>,
    slots: &Arc<Semaphore>,
    in_flight: &Arc<Mutex<InFlight>>,
) {
    let now_ms = state.now_ms();
    let due = match state
        .blocking(move |store| store.due_deliveries(now_ms, BATCH))
        .await
    {
        Ok(due) => due,
        Err(error) => {
            tracing::error!(%error, "cannot read the alert outbox; retrying");
            return;
        }
    };
    for delivery in due {
        let pair = (delivery.alert.id.clone(), delivery.target.id.clone());
        {
            let mut sending = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            let to_target = sending
                .per_target
                .get(&delivery.target.id)
                .copied()
                .unwrap_or(0);
            if sending.deliveries.contains(&pair) || to_target >= PER_TARGET {
                continue;
            }
            let Ok(slot) = Arc::clone(slots).try_acquire_owned() else {
                return;
            };
            sending.deliveries.insert(pair.clone());
            *sending
                .per_target
                .entry(delivery.target.id.clone())
                .or_default() += 1;
            let (state, worker, in_flight) =
                (state.clone(), Arc::clone(worker), Arc::clone(in_flight));
            tokio::spawn(async move {
                send_one(&state, &worker, delivery).await;
                let mut sending = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
                sending.deliveries.remove(&pair);
                if let Some(count) = sending.per_target.get_mut(&pair.1) {
                    *count -= 1;
                    if *count == 0 {
                        sending.per_target.remove(&pair.1);
                    }
                }
                drop(slot);
            });
        }
    }
}

/// Sends one delivery and records how it ended.
async fn send_one(state: &AppState, worker: &DeliveryWorker, delivery: DueDelivery) {
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
    // A retry may be due before the next poll.
    state.notify_alerts();
}
