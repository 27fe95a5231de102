//! What every family keeps besides its counts, and the report it gives at the end.

use serde_json::Value;
use trimio_wire::Usage;

use crate::estimate::OutputEstimate;
use crate::json::text;

/// Names, state and estimate seen so far in one response.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    pub(crate) model: Option<String>,
    pub(crate) service_tier: Option<String>,
    pub(crate) inference_geo: Option<String>,
    pub(crate) estimate: OutputEstimate,
    /// An event or member that was needed could not be parsed.
    pub(crate) malformed: bool,
    /// The provider reported an error in the stream.
    pub(crate) stream_error: bool,
    /// The stream's closing event arrived.
    pub(crate) closed: bool,
}

/// What one family read from a response, before the meter decides what to flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub(crate) model: Option<String>,
    pub(crate) service_tier: Option<String>,
    pub(crate) inference_geo: Option<String>,
    /// The counts as reported; `output` and `reasoning` are zero unless `output_reported`.
    pub(crate) usage: Usage,
    /// The provider reported the final output count.
    pub(crate) output_reported: bool,
    /// The response ended as its protocol says it should.
    pub(crate) closed: bool,
    pub(crate) stream_error: bool,
    pub(crate) malformed: bool,
    pub(crate) estimate: OutputEstimate,
}

impl Observed {
    /// Keeps the model named by `value`, when it names one.
    pub(crate) fn model(&mut self, value: Option<&Value>) {
        if let Some(model) = text(value) {
            self.model = Some(model);
        }
    }

    pub(crate) fn service_tier(&mut self, value: Option<&Value>) {
        if let Some(tier) = text(value) {
            self.service_tier = Some(tier);
        }
    }

    pub(crate) fn inference_geo(&mut self, value: Option<&Value>) {
        if let Some(geo) = text(value) {
            self.inference_geo = Some(geo);
        }
    }

    pub(crate) fn report(&self, usage: Usage, output_reported: bool, closed: bool) -> Report {
        Report {
            model: self.model.clone(),
            service_tier: self.service_tier.clone(),
            inference_geo: self.inference_geo.clone(),
            usage,
            output_reported,
            closed,
            stream_error: self.stream_error,
            malformed: self.malformed,
            estimate: self.estimate,
        }
    }
}
