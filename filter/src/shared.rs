//! State shared by a worker's root context and its HTTP contexts: the settings, the usage
//! records waiting for delivery, the metrics and the request id source.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

use std::time::Duration;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::Context;
use proxy_wasm::types::{LogLevel, MetricType, Status};

use trimio_wire::{ApiFamily, Provider};

use crate::config::Settings;
use crate::lease::Slot;

/// One per worker thread; HTTP contexts hold it through an `Rc`.
pub struct Shared {
    pub settings: Settings,
    /// Serialized usage records of this worker's calls, oldest first, until its root context
    /// takes them for delivery. Kept on the worker, so a record costs no lock and no
    /// cross-thread wake-up; `depth` bounds them across workers.
    pub outbox: RefCell<VecDeque<Vec<u8>>>,
    /// The Envoy shared queue of leases to renew, which any worker's root context serves.
    pub renewal_queue_id: u32,
    /// The lease slots this worker's calls used, with a provider and API family of theirs,
    /// for giving their leases back once they end.
    pub slots: RefCell<HashMap<Slot, (Provider, ApiFamily)>>,
    pub metrics: Metrics,
    /// How many records wait in every worker's outbox.
    pub depth: QueueDepth,
    ids: RequestIds,
}

impl Shared {
    pub fn new(settings: Settings, renewal_queue_id: u32, seed: u64) -> Self {
        let depth = QueueDepth::new(&settings.config.queue_name);
        Shared {
            settings,
            outbox: RefCell::new(VecDeque::new()),
            slots: RefCell::new(HashMap::new()),
            renewal_queue_id,
            metrics: Metrics::define(),
            depth,
            ids: RequestIds::new(seed),
        }
    }

    /// Notes a lease slot this worker stored a lease in, with the provider and API family of
    /// the call it came for, so that its root context gives the lease back when it ends.
    pub fn note_slot(&self, slot: &Slot, kind: (Provider, ApiFamily)) {
        let mut slots = self.slots.borrow_mut();
        if slots.len() < crate::lease::MAX_ENTRIES as usize && !slots.contains_key(slot) {
            slots.insert(slot.clone(), kind);
        }
    }

    pub fn next_request_id(&self) -> String {
        self.ids.next()
    }
}

/// The number of records waiting in every worker's outbox, kept in Envoy's shared data so
/// every worker counts against one bound, and shown as the gauge `trimio.records_waiting`.
pub struct QueueDepth {
    key: String,
    gauge: Option<u32>,
}

impl QueueDepth {
    fn new(queue_name: &str) -> Self {
        QueueDepth {
            key: format!("trimio.queue_depth.{queue_name}"),
            gauge: hostcalls::define_metric(MetricType::Gauge, "trimio.records_waiting").ok(),
        }
    }

    /// Counts one more record unless `max` are waiting; whether it may be queued.
    pub fn take_place(&self, max: u64) -> bool {
        self.update(|n| (n < max).then(|| n + 1))
    }

    /// Counts `n` records out of the queue.
    pub fn give_back(&self, n: u64) {
        self.update(|depth| Some(depth.saturating_sub(n)));
    }

    /// Applies `change` with compare-and-swap, so concurrent workers never lose a count.
    /// Without shared data (a host that refuses it) nothing is bounded.
    fn update(&self, change: impl Fn(u64) -> Option<u64>) -> bool {
        for _ in 0..64 {
            let Ok((bytes, cas)) = hostcalls::get_shared_data(&self.key) else {
                return true;
            };
            let current = bytes
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map_or(0, u64::from_le_bytes);
            let Some(next) = change(current) else {
                return false;
            };
            match hostcalls::set_shared_data(&self.key, Some(&next.to_le_bytes()), cas) {
                Ok(()) => {
                    if let Some(gauge) = self.gauge {
                        let _ = hostcalls::record_metric(gauge, next);
                    }
                    return true;
                }
                Err(proxy_wasm::types::Status::CasMismatch) => continue,
                Err(_) => return true,
            }
        }
        true
    }
}

/// Call ids: 128 random bits each, so that no client can guess another call's id (a record
/// whose id is already held is ignored as a duplicate). A counter on a random seed stands in
/// should the host ever refuse randomness.
struct RequestIds {
    seed: u64,
    counter: Cell<u64>,
}

impl RequestIds {
    fn new(seed: u64) -> Self {
        RequestIds {
            seed,
            counter: Cell::new(0),
        }
    }

    fn next(&self) -> String {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_ok() {
            return hex::encode(bytes);
        }
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        format!("{:016x}{:016x}", self.seed, n)
    }
}

/// Envoy counters, visible in its `/stats` as `wasmcustom.trimio.*`.
pub struct Metrics {
    pub admitted: Metric,
    pub admitted_by_lease: Metric,
    pub lease_renewals: Metric,
    pub lease_renewal_failures: Metric,
    pub denied: Metric,
    pub admission_failures: Metric,
    pub records_queued: Metric,
    pub records_dropped: Metric,
    pub records_delivered: Metric,
    pub delivery_failures: Metric,
    pub records_duplicate: Metric,
    pub records_rejected: Metric,
}

impl Metrics {
    fn define() -> Self {
        Metrics {
            admitted: Metric::counter("trimio.calls_admitted"),
            admitted_by_lease: Metric::counter("trimio.calls_admitted_by_lease"),
            lease_renewals: Metric::counter("trimio.lease_renewals"),
            lease_renewal_failures: Metric::counter("trimio.lease_renewal_failures"),
            denied: Metric::counter("trimio.calls_denied"),
            admission_failures: Metric::counter("trimio.admission_failures"),
            records_queued: Metric::counter("trimio.records_queued"),
            records_dropped: Metric::counter("trimio.records_dropped"),
            records_delivered: Metric::counter("trimio.records_delivered"),
            delivery_failures: Metric::counter("trimio.delivery_failures"),
            records_duplicate: Metric::counter("trimio.records_duplicate"),
            records_rejected: Metric::counter("trimio.records_rejected"),
        }
    }
}

/// A counter; a host that refuses to define it leaves it inert rather than failing calls.
pub struct Metric(Option<u32>);

impl Metric {
    fn counter(name: &str) -> Self {
        Metric(hostcalls::define_metric(MetricType::Counter, name).ok())
    }

    pub fn add(&self, n: u64) {
        if let Some(id) = self.0 {
            let _ = hostcalls::increment_metric(id, n as i64);
        }
    }

    pub fn inc(&self) {
        self.add(1);
    }
}

/// Posts `body` to the control plane's `path` through its Envoy cluster, with the filter's
/// headers; the callout's token. `timeout` is the admission timeout unless given.
pub fn call_control_plane(
    ctx: &impl Context,
    settings: &Settings,
    path: &str,
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<u32, Status> {
    let control_plane = &settings.config.control_plane;
    ctx.dispatch_http_call(
        &control_plane.cluster,
        settings.control_plane_headers(path),
        Some(body),
        vec![],
        timeout.unwrap_or(Duration::from_millis(control_plane.timeout_ms)),
    )
}

/// Logs through the host at the level Envoy is configured for.
pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}
