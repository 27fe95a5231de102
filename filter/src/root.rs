//! The root context of one worker: loads the configuration, delivers the worker's usage
//! records to the control plane in batches on every tick, retrying until acknowledged, and
//! renews the leases calls ask it to.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};
use serde::{Deserialize, Serialize};
use trimio_wire::{ADMIT_PATH, AdmitRequest, AdmitResponse, ApiFamily, LeaseUse, Provider};
use trimio_wire::{USAGE_PATH, UsageAck};

use crate::call::Call;
use crate::config::Settings;
use crate::known_keys;
use crate::lease::{self, Slot};
use crate::shared::{Shared, call_control_plane, log};

/// A renewal on its way.
struct Renewed {
    slot: Slot,
    kind: (Provider, ApiFamily),
    replaced: LeaseUse,
}

/// A lease a call found half used, for a root context to renew.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Renewal {
    pub slot: Slot,
    pub provider: Provider,
    pub family: ApiFamily,
    pub model: Option<String>,
}

/// Most time a delivery may take before it is retried.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Root {
    shared: Option<Rc<Shared>>,
    /// A batch sent and not yet acknowledged: its callout token and serialized records.
    in_flight: Option<(u32, Vec<Vec<u8>>)>,
    /// A batch whose delivery failed, sent again before anything newer.
    retry: Option<Vec<Vec<u8>>>,
    /// Consecutive failed deliveries, for the retry back-off.
    failures: u32,
    /// Ticks left to wait before the next retry.
    backoff_ticks: u32,
    /// Renewals sent and not yet answered, by callout token: the slot, the provider and API
    /// family of the call that asked, and the lease given back with it.
    renewals: HashMap<u32, Renewed>,
}

impl Root {
    fn take_batch(&mut self, shared: &Shared) -> Vec<Vec<u8>> {
        if let Some(batch) = self.retry.take() {
            return batch;
        }
        let batch: Vec<Vec<u8>> = {
            let mut outbox = shared.outbox.borrow_mut();
            let take = outbox.len().min(shared.settings.config.batch_size);
            outbox.drain(..take).collect()
        };
        if !batch.is_empty() {
            shared.depth.give_back(batch.len() as u64);
        }
        batch
    }

    /// Sends the next batch unless one is in flight or a retry is backing off.
    fn deliver(&mut self) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        if self.in_flight.is_some() || self.backoff_ticks > 0 {
            return;
        }
        let batch = self.take_batch(&shared);
        if batch.is_empty() {
            return;
        }

        let mut body = Vec::with_capacity(batch.iter().map(Vec::len).sum::<usize>() + 16);
        body.extend_from_slice(b"{\"records\":[");
        for (i, record) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record);
        }
        body.extend_from_slice(b"]}");

        let sent = call_control_plane(
            self,
            &shared.settings,
            USAGE_PATH,
            &body,
            Some(DELIVERY_TIMEOUT),
        );
        match sent {
            Ok(token) => self.in_flight = Some((token, batch)),
            Err(status) => self.failed(batch, &format!("callout refused: {status:?}")),
        }
    }

    /// Sends every renewal waiting in the queue.
    fn renew(&mut self) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        while let Ok(Some(bytes)) = self.dequeue_shared_queue(shared.renewal_queue_id) {
            let Ok(renewal) = serde_json::from_slice::<Renewal>(&bytes) else {
                continue;
            };
            let previous = lease::in_use(&renewal.slot).filter(|used| !used.id.is_empty());
            let Some(previous) = previous else {
                continue;
            };
            let project = renewal.slot.project.clone();
            let request = AdmitRequest {
                request_id: String::new(),
                key_hash: renewal.slot.key_hash.clone(),
                provider: renewal.provider,
                family: renewal.family,
                model: renewal.model,
                prompt_bytes: None,
                max_tokens: None,
                project: (!project.is_empty()).then_some(project),
                wait_ms: None,
                lease: true,
                previous: Some(previous.clone()),
            };
            let Ok(body) = serde_json::to_vec(&request) else {
                continue;
            };
            match call_control_plane(self, &shared.settings, ADMIT_PATH, &body, None) {
                Ok(token) => {
                    let renewed = Renewed {
                        slot: renewal.slot,
                        kind: (renewal.provider, renewal.family),
                        replaced: previous,
                    };
                    self.renewals.insert(token, renewed);
                }
                Err(status) => {
                    shared.metrics.lease_renewal_failures.inc();
                    log(
                        LogLevel::Warn,
                        &format!("lease renewal not sent: status={status:?}"),
                    );
                    lease::renewal_failed(&renewal.slot, &previous.id);
                }
            }
        }
    }

    /// Gives back the leases of this worker's slots that ended unrenewed (their key went
    /// quiet), with what they used; the answer needs nothing done.
    fn give_back_ended(&mut self) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let now = lease::Now {
            ms: self
                .get_current_time()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            timeout_ms: shared.settings.config.control_plane.timeout_ms,
        };
        let slots: Vec<(Slot, (Provider, ApiFamily))> = shared
            .slots
            .borrow()
            .iter()
            .map(|(slot, kind)| (slot.clone(), *kind))
            .collect();
        for (slot, (provider, family)) in slots {
            let used = match lease::take_ended(&slot, now) {
                lease::Ended::Live => continue,
                lease::Ended::Gone => {
                    shared.slots.borrow_mut().remove(&slot);
                    continue;
                }
                lease::Ended::GiveBack(used) => used,
            };
            shared.slots.borrow_mut().remove(&slot);
            lease::give_back(self, &shared.settings, &slot, (provider, family), used);
        }
    }

    /// The control plane answered a renewal: keep the new lease, or drop the slot's so that
    /// its next call is asked for (and refused, when the key or its budget refuse it).
    fn renewed(&mut self, renewed: Renewed, body_size: usize) {
        let Renewed {
            slot,
            kind,
            replaced,
        } = renewed;
        let slot = &slot;
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let status = crate::headers::call_response_header(self, ":status");
        let answer = match status.as_deref() {
            Some("200") => self
                .get_http_call_response_body(0, body_size)
                .and_then(|body| serde_json::from_slice::<AdmitResponse>(&body).ok()),
            _ => None,
        };
        let now_ms = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        match answer {
            Some(AdmitResponse::Allow {
                lease: Some(granted),
                project,
                ..
            }) => {
                shared.metrics.lease_renewals.inc();
                known_keys::remember(&slot.key_hash, now_ms);
                let entry = lease::Entry::new(granted, project, now_ms);
                if let Some(used) = lease::swap(slot, &entry, Some(&replaced)) {
                    lease::give_back(self, &shared.settings, slot, kind, used);
                }
                shared.note_slot(slot, kind);
            }
            Some(AdmitResponse::Allow { lease: None, .. }) => lease::clear(slot),
            Some(AdmitResponse::Deny { reason, .. }) => {
                log(
                    LogLevel::Info,
                    &format!("lease not renewed: reason={reason:?}"),
                );
                known_keys::forget(&slot.key_hash);
                lease::clear(slot);
            }
            None => {
                shared.metrics.lease_renewal_failures.inc();
                log(
                    LogLevel::Warn,
                    &format!("lease renewal unanswered: status={status:?}"),
                );
                lease::renewal_failed(slot, &replaced.id);
            }
        }
    }

    fn failed(&mut self, batch: Vec<Vec<u8>>, why: &str) {
        if let Some(shared) = &self.shared {
            shared.metrics.delivery_failures.inc();
        }
        self.failures = self.failures.saturating_add(1);
        // 1, 2, 4, ... ticks, at most 32 between attempts.
        self.backoff_ticks = 1 << self.failures.min(5);
        if self.failures == 1 || self.failures.is_power_of_two() {
            log(
                LogLevel::Warn,
                &format!(
                    "usage delivery failed, will retry: records={} failures={} reason={why}",
                    batch.len(),
                    self.failures
                ),
            );
        }
        self.retry = Some(batch);
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _: usize) {
        if let Some(renewed) = self.renewals.remove(&token) {
            self.renewed(renewed, body_size);
            return;
        }
        let Some((expected, batch)) = self.in_flight.take() else {
            return;
        };
        if expected != token {
            self.in_flight = Some((expected, batch));
            return;
        }
        let status = crate::headers::call_response_header(self, ":status");
        if status.as_deref() == Some("200") {
            let body = self
                .get_http_call_response_body(0, body_size)
                .unwrap_or_default();
            if let (Some(shared), Ok(ack)) =
                (&self.shared, serde_json::from_slice::<UsageAck>(&body))
            {
                shared
                    .metrics
                    .records_duplicate
                    .add(u64::from(ack.duplicates));
                shared.metrics.records_rejected.add(u64::from(ack.rejected));
            }
            if self.failures > 0 {
                log(
                    LogLevel::Info,
                    &format!("usage delivery recovered: records={}", batch.len()),
                );
            }
            self.failures = 0;
            if let Some(shared) = &self.shared {
                shared.metrics.records_delivered.add(batch.len() as u64);
            }
            self.deliver();
        } else {
            let why = format!("status {}", status.as_deref().unwrap_or("none"));
            self.failed(batch, &why);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let settings = match Settings::load(&bytes, |name| std::env::var(name).ok()) {
            Ok(settings) => settings,
            Err(err) => {
                log(LogLevel::Error, &format!("trimio: {err}"));
                return false;
            }
        };
        for warning in &settings.warnings {
            log(LogLevel::Warn, &format!("trimio: {warning}"));
        }
        let renewal_queue_id =
            self.register_shared_queue(&format!("{}.lease_renewals", settings.config.queue_name));
        let tick = Duration::from_millis(settings.config.flush_interval_ms);
        if let Err(status) = proxy_wasm::hostcalls::set_tick_period(tick) {
            log(
                LogLevel::Error,
                &format!("trimio: cannot set the tick period: {status:?}"),
            );
            return false;
        }
        let mut seed = [0u8; 8];
        if getrandom::fill(&mut seed).is_err() {
            log(LogLevel::Error, "trimio: no randomness for request ids");
            return false;
        }
        log(
            LogLevel::Info,
            &format!(
                "trimio: configured: control_plane.cluster={} failure_mode={:?} \
                 admission_reads_body={}",
                settings.config.control_plane.cluster,
                settings.config.failure_mode,
                settings.config.admission_reads_body
            ),
        );
        self.shared = Some(Rc::new(Shared::new(
            settings,
            renewal_queue_id,
            u64::from_le_bytes(seed),
        )));
        true
    }

    fn on_tick(&mut self) {
        self.backoff_ticks = self.backoff_ticks.saturating_sub(1);
        self.renew();
        self.give_back_ended();
        self.deliver();
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        self.renew();
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        Some(Box::new(Call::new(shared)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
