//! One call through the gateway: admission, credential swap, body inspection, metering, and
//! the usage record at its end.
//!
//! Admission is asked in one of two places. With `admission_reads_body` (Envoy lets a headers
//! `Pause` reach the body callbacks: `allow_on_headers_stop_iteration`), a request with a body
//! is held until its body has been read, and admission is asked with the model, the output cap
//! and the body's size; a body larger than `max_rewrite_body_bytes` is asked for on its size as
//! soon as it passes the bound. Without it, admission is asked from the request headers, with
//! `content-length` as the body's size, and the body is read as it passes. Either way the body
//! is held back until the call is admitted, and held whole only to ask an OpenAI Chat stream
//! for its usage. A body that ends with trailers ends there: what waited for its end happens
//! in the trailers callback. The response is never held back, except that a stream whose usage
//! the gateway asked for is rewritten event by event to the stream the client asked for.
//!
//! Known shortcoming: without `allow_on_headers_stop_iteration`, when a body that ends with
//! trailers has fully arrived before the admission answer, Envoy hands the filter the body and
//! then the trailers as it resumes the headers; if the filter held the body (an OpenAI Chat
//! stream), continuing from the trailers sends the provider an empty body (measured on Envoy
//! 1.40 over HTTP/2). HTTP/1.1 requests carry no trailers through Envoy's default codec, and
//! JSON API clients send none.

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel};
use trimio_meter::request::{RequestReader, ask_for_stream_usage};
use trimio_meter::{End, Limits, Meter, Reading, UsageStripper};
use trimio_wire::{
    ADMIT_PATH, AdmitResponse, ApiFamily, LeaseCharge, LeaseUse, Provider, UsageFlags, UsageRecord,
};

use crate::admission::{self, Facts};
use crate::config::FailureMode;
use crate::deny::{self, Refusal};
use crate::headers::{self, label, request_header, response_header};
use crate::key::{self, KeyError};
use crate::known_keys;
use crate::lease::{self, Local, Slot};
use crate::root::Renewal;
use crate::shared::{Shared, call_control_plane, log};

/// Response header that tells the client the id of its call's usage record.
pub const REQUEST_ID_HEADER: &str = "x-trimio-request-id";
/// Request header a client may set to attribute a call to a project of its key's team.
const PROJECT_HEADER: &str = "x-trimio-project";
/// Request header a client may set to attribute a call to a person, for reports.
const USER_HEADER: &str = "x-trimio-user";
/// Most request body bytes read to learn the model when nothing needs the whole body.
const REQUEST_PEEK_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Not asked yet: the headers are not seen, or the body is being read first.
    Unasked,
    /// Asked; the control plane's answer is awaited.
    Asking,
    Allowed,
    /// Answered locally; nothing goes upstream and no record is made.
    Refused,
}

pub struct Call {
    shared: Rc<Shared>,
    request_id: String,
    started_at_ms: u64,
    provider: Provider,
    family: ApiFamily,
    key_hash: String,
    project: Option<String>,
    user: Option<String>,
    admission: Admission,
    /// The lease the call is admitted under, and what it charged it.
    lease: Option<LeaseCharge>,
    /// The headers that may carry a key which the request has, to remove once admitted.
    key_headers: Vec<&'static str>,
    /// The path has a query string, which may carry the key.
    key_in_query: bool,
    /// The lease slot the call was decided against, when it was asked for instead.
    slot: Option<Slot>,
    /// Whether the call asks for a lease with it, and the lease it gives back.
    lease_asked: (bool, Option<LeaseUse>),
    /// The model the request path names (Gemini), for admission.
    path_model: Option<String>,
    /// The request's `content-length`, when it declares one.
    content_length: Option<u64>,
    /// Request body bytes as the client sent them, counted as they arrive, before any rewrite.
    request_bytes: u64,
    /// The whole request body is needed before it goes upstream (OpenAI Chat usage).
    hold_body: bool,
    /// Part of the body is held in Envoy's buffer, waiting for the rest: resuming now would
    /// send that part on before it could be rewritten.
    body_holding: bool,
    /// Bytes of the currently buffered request body already fed to `request`.
    body_fed: usize,
    /// Request body bytes that went upstream, counted as Envoy releases them.
    body_sent: usize,
    /// Size of the body Envoy holds for this filter right now.
    body_buffered: usize,
    request: RequestReader,
    usage_asked: bool,
    meter: Option<Meter>,
    stripper: Option<UsageStripper>,
    status: u16,
    response_done: bool,
}

impl Call {
    pub fn new(shared: Rc<Shared>) -> Self {
        Call {
            request_id: shared.next_request_id(),
            shared,
            started_at_ms: 0,
            provider: Provider::Openai,
            family: ApiFamily::Other,
            key_hash: String::new(),
            project: None,
            user: None,
            admission: Admission::Unasked,
            lease: None,
            key_headers: Vec::new(),
            key_in_query: false,
            slot: None,
            lease_asked: (false, None),
            path_model: None,
            content_length: None,
            request_bytes: 0,
            hold_body: false,
            body_holding: false,
            body_fed: 0,
            body_sent: 0,
            body_buffered: 0,
            request: RequestReader::new(),
            usage_asked: false,
            meter: None,
            stripper: None,
            status: 0,
            response_done: false,
        }
    }

    fn now_ms(&self) -> u64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn refuse(&mut self, refusal: Refusal, message: Option<&str>) {
        let reply = deny::reply(self.provider, refusal, message);
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        self.admission = Admission::Refused;
        self.shared.metrics.denied.inc();
        self.send_http_response(reply.status, headers, Some(&reply.body));
    }

    /// Asks the control plane whether the call may go, telling it the body's size; when the
    /// question cannot be sent, the failure mode decides at once. `resume` as for `allow`.
    fn ask(&mut self, prompt_bytes: Option<u64>, resume: bool) {
        if self.shared.settings.config.leases && self.admit_under_lease(prompt_bytes, resume) {
            return;
        }
        self.admission = Admission::Asking;
        if self.ask_admission(prompt_bytes).is_err() {
            self.admission_unavailable(resume);
        }
    }

    /// Admits the call under its key's lease, if it fits; else notes what to ask for with it.
    /// Decided once per call: a call the lease did not take at its headers is asked for.
    fn admit_under_lease(&mut self, prompt_bytes: Option<u64>, resume: bool) -> bool {
        if self.slot.is_some() {
            return false;
        }
        let slot = Slot::new(&self.key_hash, self.project.as_deref());
        let now = lease::Now {
            ms: self.now_ms(),
            timeout_ms: self.shared.settings.config.control_plane.timeout_ms,
        };
        match lease::admit(&slot, prompt_bytes, now) {
            Local::Admitted {
                charge,
                project,
                renew,
            } => {
                if renew {
                    self.request_renewal(slot);
                }
                if project.is_some() {
                    self.project = project;
                }
                self.lease = Some(charge);
                self.shared.metrics.admitted_by_lease.inc();
                self.allow(resume);
                true
            }
            Local::Ask { lease, previous } => {
                self.lease_asked = (lease, previous);
                self.slot = Some(slot);
                false
            }
        }
    }

    /// Hands the lease's renewal to the root contexts, off this call's path.
    fn request_renewal(&self, slot: Slot) {
        let renewal = Renewal {
            slot,
            provider: self.provider,
            family: self.family,
            model: self
                .request
                .facts()
                .model
                .or_else(|| self.path_model.clone()),
        };
        if let Ok(bytes) = serde_json::to_vec(&renewal) {
            let _ = self.enqueue_shared_queue(self.shared.renewal_queue_id, Some(&bytes));
        }
    }

    /// Keeps the lease the control plane answered with, or forgets the one asked for.
    fn keep_lease(&self, answer: &AdmitResponse) {
        let Some(slot) = &self.slot else {
            return;
        };
        match answer {
            AdmitResponse::Allow {
                lease: Some(granted),
                project,
                ..
            } => {
                let entry = lease::Entry::new(granted.clone(), project.clone(), self.now_ms());
                let kind = (self.provider, self.family);
                if let Some(used) = lease::swap(slot, &entry, self.lease_asked.1.as_ref()) {
                    lease::give_back(self, &self.shared.settings, slot, kind, used);
                }
                self.shared.note_slot(slot, kind);
            }
            _ if self.lease_asked.0 => lease::clear(slot),
            _ => {}
        }
    }

    fn ask_admission(&mut self, prompt_bytes: Option<u64>) -> Result<(), ()> {
        let read = self.request.facts();
        let facts = Facts {
            model: read.model.or_else(|| self.path_model.clone()),
            prompt_bytes,
            max_tokens: read.max_tokens,
            project: self.project.clone(),
        };
        let settings = &self.shared.settings;
        let mut request = admission::request(
            &self.request_id,
            &self.key_hash,
            self.provider,
            self.family,
            facts,
            settings.config.control_plane.timeout_ms,
        );
        (request.lease, request.previous) = self.lease_asked.clone();
        let body = serde_json::to_vec(&request).map_err(|_| ())?;
        call_control_plane(self, settings, ADMIT_PATH, &body, None)
            .map(|_| ())
            .map_err(|status| {
                log(
                    LogLevel::Warn,
                    &format!("admission callout failed: status={status:?}"),
                );
            })
    }

    /// The control plane could not answer: the deployment's failure mode decides.
    fn admission_unavailable(&mut self, resume: bool) {
        self.shared.metrics.admission_failures.inc();
        let ttl_ms = self
            .shared
            .settings
            .config
            .fail_open_key_ttl_s
            .saturating_mul(1000);
        let now = self.now_ms();
        let known = known_keys::last_admitted(&self.key_hash)
            .is_some_and(|at| now.saturating_sub(at) <= ttl_ms);
        match self.shared.settings.config.failure_mode {
            FailureMode::Open if known => self.allow(resume),
            _ => self.refuse(Refusal::Unavailable, None),
        }
    }

    /// Swaps the virtual key for the provider credential and lets the call go on; `resume`
    /// when the call is paused waiting for this (not from inside the headers callback).
    fn allow(&mut self, resume: bool) {
        let Some(credential) = self.shared.settings.credential(self.provider) else {
            self.refuse(Refusal::ProviderNotConfigured, None);
            return;
        };
        let (name, value) = key::credential_header(self.provider, credential);
        for header in std::mem::take(&mut self.key_headers) {
            if header != name {
                self.set_http_request_header(header, None);
            }
        }
        self.set_http_request_header(name, Some(&value));
        if self.key_in_query
            && let Some(path) = request_header(self, ":path")
            && let Some(stripped) = key::strip_key_param(&path)
        {
            self.set_http_request_header(":path", Some(&stripped));
        }
        self.admission = Admission::Allowed;
        self.shared.metrics.admitted.inc();

        // Without `allow_on_headers_stop_iteration` no body callback runs until the headers
        // are resumed, so only a body already being held waits for its end instead.
        if resume && !self.body_holding {
            self.release_body();
            self.resume_http_request();
        }
    }

    /// Envoy passes the buffered body on: count it as sent, start reading afresh.
    fn release_body(&mut self) {
        self.body_sent += self.body_buffered;
        self.body_buffered = 0;
        self.body_fed = 0;
    }

    /// The provider named by the matched route (`route.name` in Envoy's route configuration),
    /// when it names one.
    fn routed_provider(&self) -> Option<Provider> {
        let name = self.get_property(vec!["xds", "route_name"])?;
        match name.as_slice() {
            b"anthropic" => Some(Provider::Anthropic),
            b"openai" => Some(Provider::Openai),
            b"gemini" => Some(Provider::Gemini),
            _ => None,
        }
    }

    fn read_new_body(&mut self, body_size: usize, limit: usize) {
        let end = body_size.min(limit);
        if end > self.body_fed
            && let Some(bytes) = self.get_http_request_body(self.body_fed, end - self.body_fed)
        {
            self.request.feed(&bytes);
        }
        self.body_fed = self.body_fed.max(end);
    }

    /// Asks an OpenAI Chat stream for its usage, once the whole body is here; the size of the
    /// rewritten body when it was rewritten.
    fn ask_for_usage(&mut self, body_size: usize) -> Option<usize> {
        let body = self.get_http_request_body(0, body_size)?;
        let rewritten = ask_for_stream_usage(&body)?;
        self.set_http_request_body(0, body_size, &rewritten);
        self.usage_asked = true;
        Some(rewritten.len())
    }

    /// The whole body is here (its last chunk, or trailers after it): rewrite it if its usage is
    /// to be asked for, and ask admission if it waited for the body.
    fn body_complete(&mut self) {
        self.body_holding = false;
        if self.hold_body
            && let Some(rewritten) = self.ask_for_usage(self.body_buffered)
        {
            self.body_buffered = rewritten;
        }
        // Envoy may run the trailers callback again as it resumes; the body is done with.
        self.hold_body = false;
        if self.admission == Admission::Unasked {
            self.ask(Some(self.request_bytes), false);
        }
    }

    /// Lets the buffered body go on once the call is admitted; holds it until then.
    fn pass_body(&mut self) -> Action {
        if self.admission == Admission::Allowed {
            self.release_body();
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn end(&self) -> End {
        if self.response_done {
            return End::Complete;
        }
        let details = self
            .get_property(vec!["response", "code_details"])
            .unwrap_or_default();
        if String::from_utf8_lossy(&details).contains("downstream") {
            End::ClientAborted
        } else {
            End::UpstreamReset
        }
    }

    fn record(&mut self) -> UsageRecord {
        let end = self.end();
        let reading = match self.meter.as_mut() {
            Some(meter) => meter.finish(end),
            None => Reading {
                model: None,
                usage: Default::default(),
                service_tier: None,
                inference_geo: None,
                streamed: false,
                flags: UsageFlags {
                    client_aborted: matches!(end, End::ClientAborted),
                    truncated: !matches!(end, End::ClientAborted),
                    ..UsageFlags::default()
                },
            },
        };
        let facts = self.request.facts();
        let mut usage = reading.usage;
        let mut model = reading.model;
        let unreported = reading.flags.estimated && self.family.is_billable();
        if unreported && usage.prompt_tokens() == 0 {
            // The provider never said what the prompt cost: estimate it from the request body
            // that went upstream, at four bytes a token.
            usage.input = (self.body_sent + self.body_buffered).div_ceil(4) as u64;
        }
        if unreported && model.is_none() {
            model = facts.model.clone();
        }
        UsageRecord {
            request_id: self.request_id.clone(),
            key_hash: std::mem::take(&mut self.key_hash),
            project: self.project.take(),
            user: self.user.take(),
            provider: self.provider,
            family: self.family,
            model,
            request_model: facts.model,
            usage,
            service_tier: reading.service_tier,
            inference_geo: reading.inference_geo,
            status: self.status,
            streamed: reading.streamed,
            flags: reading.flags,
            started_at_ms: self.started_at_ms,
            duration_ms: self.now_ms().saturating_sub(self.started_at_ms),
            request_bytes: self.request_bytes,
            lease: self.lease.take(),
        }
    }
}

impl Context for Call {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _: usize) {
        if self.admission != Admission::Asking {
            return;
        }
        let status = headers::call_response_header(self, ":status");
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        let answer = match status.as_deref() {
            Some("200") => serde_json::from_slice::<AdmitResponse>(&body).ok(),
            _ => None,
        };
        if let Some(answer) = &answer {
            self.keep_lease(answer);
        }
        match answer {
            Some(AdmitResponse::Allow { project, .. }) => {
                if project.is_some() {
                    self.project = project;
                }
                known_keys::remember(&self.key_hash, self.now_ms());
                self.allow(true);
            }
            Some(AdmitResponse::Deny { reason, message }) => {
                log(
                    LogLevel::Info,
                    &format!(
                        "call denied: reason={reason:?} provider={:?}",
                        self.provider
                    ),
                );
                // A key refused for any reason does not pass while failing open either.
                known_keys::forget(&self.key_hash);
                self.refuse(Refusal::from(reason), Some(&message));
            }
            None => {
                log(
                    LogLevel::Warn,
                    &format!("admission unanswered: status={status:?}"),
                );
                self.admission_unavailable(true);
            }
        }
    }
}

impl HttpContext for Call {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.started_at_ms = self.now_ms();
        // Every header in one read; each is then looked up here rather than asked of Envoy.
        let headers = headers::request_headers(self);
        let path = headers::first(&headers, ":path")
            .unwrap_or_default()
            .to_owned();
        let method = headers::first(&headers, ":method").unwrap_or_default();
        (self.family, self.provider) =
            ApiFamily::from_path(&path, self.shared.settings.config.default_provider);
        if let Some(routed) = self.routed_provider() {
            // The credential follows the upstream Envoy actually routes to; a path whose
            // family belongs to another provider is forwarded unbilled.
            if routed != self.provider {
                self.family = ApiFamily::Other;
            }
            self.provider = routed;
        }

        let query = path.split_once('?').map(|(_, q)| q);
        let key = match key::read_key(&headers, query) {
            Ok(key) => key,
            Err(KeyError::Missing) => {
                self.refuse(Refusal::Unauthenticated, None);
                return Action::Pause;
            }
            Err(KeyError::Conflicting) => {
                self.refuse(Refusal::ConflictingKeys, None);
                return Action::Pause;
            }
        };
        self.key_hash = key::key_hash(&key);
        if self.shared.settings.credential(self.provider).is_none() {
            // Refused before admission, so nothing is reserved or charged for it.
            self.refuse(Refusal::ProviderNotConfigured, None);
            return Action::Pause;
        }
        self.key_headers = key::KEY_HEADERS
            .into_iter()
            .filter(|name| headers::first(&headers, name).is_some())
            .collect();
        self.key_in_query = query.is_some();
        let project = headers::first(&headers, PROJECT_HEADER);
        let user = headers::first(&headers, USER_HEADER);
        self.project = label(project.map(str::to_owned));
        self.user = label(user.map(str::to_owned));
        for (name, value) in [(PROJECT_HEADER, project), (USER_HEADER, user)] {
            if value.is_some() {
                self.set_http_request_header(name, None);
            }
        }

        self.path_model = admission::path_model(self.family, &path);
        self.content_length =
            headers::first(&headers, "content-length").and_then(|l| l.parse().ok());
        let config = &self.shared.settings.config;
        let too_large = self
            .content_length
            .is_some_and(|l| l > config.max_rewrite_body_bytes as u64);
        let reads_body = config.admission_reads_body && !end_of_stream && !too_large;
        self.hold_body = self.family == ApiFamily::OpenaiChat
            && method == "POST"
            && !end_of_stream
            && !too_large;
        if self.hold_body {
            // The body may grow when usage is asked for; Envoy frames it anew upstream. The
            // stream may need rewriting on its way back, which compressed bytes would prevent.
            self.set_http_request_header("content-length", None);
            self.set_http_request_header("accept-encoding", None);
        } else if let Some(accepted) = headers::first(&headers, "accept-encoding") {
            let narrowed = headers::metered_accept_encoding(accepted);
            if narrowed.as_deref() != Some(accepted) {
                self.set_http_request_header("accept-encoding", narrowed.as_deref());
            }
        }

        let leased = config.leases
            && (end_of_stream || self.content_length.is_some())
            && self.admit_under_lease(self.content_length.or(Some(0)), false);
        if leased {
            // Admitted on the body's declared size; a body held whole is held in the body
            // callbacks.
            return Action::Continue;
        }
        if reads_body {
            // The body callbacks run while the headers wait; admission is asked from there.
            return Action::Pause;
        }
        let prompt_bytes = if end_of_stream {
            Some(0)
        } else {
            self.content_length
        };
        self.ask(prompt_bytes, false);
        // A call admitted at once goes on; a body it needs whole is held in the body callbacks.
        if self.admission == Admission::Allowed {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.admission == Admission::Refused {
            return Action::Pause;
        }
        // Envoy hands over what it holds for this filter: the new bytes are those past what it
        // held at the last callback (nothing, if that callback let the body go on).
        self.request_bytes += body_size.saturating_sub(self.body_buffered) as u64;
        self.body_buffered = body_size;
        let waits_for_body = self.admission == Admission::Unasked;

        let max = self.shared.settings.config.max_rewrite_body_bytes;
        if body_size > max {
            // Too large to hold whole: an OpenAI Chat body passes unchanged (its output will be
            // estimated), and an admission that waited for the whole body is asked on its size.
            self.hold_body = false;
            self.body_holding = false;
            if waits_for_body {
                self.read_new_body(body_size, max);
                let size = self.request_bytes.max(self.content_length.unwrap_or(0));
                self.ask(Some(size), false);
            }
        } else if self.hold_body || waits_for_body {
            self.read_new_body(body_size, usize::MAX);
            if !end_of_stream {
                self.body_holding = self.hold_body;
                return Action::Pause;
            }
            self.body_complete();
            return self.pass_body();
        }

        self.read_new_body(body_size, REQUEST_PEEK_BYTES);
        self.pass_body()
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        if self.admission == Admission::Refused {
            return Action::Pause;
        }
        // The body ended without an end-of-stream chunk; it is complete now.
        if self.hold_body || self.admission == Admission::Unasked {
            self.body_complete();
        }
        self.pass_body()
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.admission != Admission::Allowed {
            return Action::Continue;
        }
        self.status = response_header(self, ":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = response_header(self, "content-type");
        let content_encoding = response_header(self, "content-encoding");
        self.meter = Some(Meter::with_encoding(
            self.family,
            self.status,
            content_type.as_deref(),
            content_encoding.as_deref(),
            Limits::default(),
        ));
        self.set_http_response_header(REQUEST_ID_HEADER, Some(&self.request_id));

        let event_stream = content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let encoded = content_encoding.is_some_and(|e| !e.eq_ignore_ascii_case("identity"));
        if self.usage_asked && event_stream && !encoded && (200..300).contains(&self.status) {
            self.stripper = Some(UsageStripper::new());
            self.set_http_response_header("content-length", None);
        }
        self.response_done = end_of_stream;
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.meter.is_none() {
            return Action::Continue;
        }
        let chunk = if body_size > 0 {
            self.get_http_response_body(0, body_size)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        if let Some(meter) = self.meter.as_mut() {
            meter.feed(&chunk);
        }

        if let Some(stripper) = self.stripper.as_mut() {
            let mut out = Vec::with_capacity(chunk.len());
            stripper.push(&chunk, &mut out);
            if end_of_stream {
                stripper.finish(&mut out);
            }
            if out != chunk {
                self.set_http_response_body(0, body_size, &out);
            }
        }
        if end_of_stream {
            self.response_done = true;
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        // A call whose client left while its admission was asked for is recorded too (status
        // 0, nothing used, flagged), so that what its admission reserved is released at once
        // rather than after an hour.
        if !matches!(self.admission, Admission::Allowed | Admission::Asking) {
            return;
        }
        let mut record = self.record();
        if self.admission == Admission::Asking {
            record.flags.client_aborted = true;
            record.flags.truncated = false;
        }
        let metrics = &self.shared.metrics;
        let depth = &self.shared.depth;
        let queued = if depth.take_place(self.shared.settings.config.max_queued_records) {
            match serde_json::to_vec(&record) {
                Ok(bytes) => {
                    self.shared.outbox.borrow_mut().push_back(bytes);
                    true
                }
                Err(_) => {
                    depth.give_back(1);
                    false
                }
            }
        } else {
            false
        };
        if queued {
            metrics.records_queued.inc();
        } else {
            metrics.records_dropped.inc();
            log(
                LogLevel::Error,
                &format!(
                    "usage record dropped (queue full or refused): request_id={}",
                    record.request_id
                ),
            );
        }
    }
}
