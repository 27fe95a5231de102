//! The meter of one response: fed the body as it passes, it gives a [`Reading`] at the end.

use trimio_wire::{ApiFamily, UsageFlags};

use crate::json::MemberScanner;
use crate::limits::Limits;
use crate::provider::{Framing, Protocol, Report};
use crate::reading::{End, Reading};
use crate::sse::Framer;

/// How the body is read.
#[derive(Debug)]
enum Body {
    Sse(Framer),
    Json(MemberScanner),
    /// An error or a call that is never billed: the body is not read.
    Skipped,
}

/// Reads the usage of one response from its body bytes, in any chunking, holding at most one
/// event or one JSON member value (see [`Limits`]).
#[derive(Debug)]
pub struct Meter {
    sse: bool,
    body: Body,
    protocol: Option<Protocol>,
    reading: Option<Reading>,
}

impl Meter {
    /// Called at response headers with the status and the response's content type.
    ///
    /// A `text/event-stream` body is read as server-sent events and anything else as JSON. A
    /// status of 400 or more, and families that are never billed, read nothing and report no
    /// model and no usage.
    pub fn new(
        family: ApiFamily,
        status: u16,
        content_type: Option<&str>,
        limits: Limits,
    ) -> Meter {
        let sse = content_type.is_some_and(is_event_stream);
        let protocol = if status >= 400 {
            None
        } else {
            Protocol::for_family(family)
        };
        let body = match (&protocol, sse) {
            (None, _) => Body::Skipped,
            (Some(_), true) => Body::Sse(Framer::new(limits.max_event_bytes)),
            (Some(_), false) => Body::Json(MemberScanner::new(limits.max_json_value_bytes)),
        };
        Meter {
            sse,
            body,
            protocol,
            reading: None,
        }
    }

    /// Reads the next body chunk, split anywhere (inside a UTF-8 character or a CRLF too).
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.reading.is_some() {
            return;
        }
        match (&mut self.body, &mut self.protocol) {
            (Body::Sse(framer), Some(protocol)) => framer.feed(chunk, &mut |e| protocol.event(e)),
            (Body::Json(scanner), Some(protocol)) => scanner.feed(chunk, protocol),
            _ => {}
        }
    }

    /// Ends the response and gives its reading. Later calls give the same reading.
    pub fn finish(&mut self, end: End) -> Reading {
        if let Some(reading) = &self.reading {
            return reading.clone();
        }
        if let (End::Complete, Body::Sse(framer), Some(protocol)) =
            (end, &mut self.body, &mut self.protocol)
        {
            framer.finish(&mut |e| protocol.event(e));
        }

        let reading = self.read(end);
        self.reading = Some(reading.clone());
        reading
    }

    fn read(&self, end: End) -> Reading {
        let streamed = match &self.body {
            Body::Json(scanner) => scanner.is_array(),
            Body::Sse(_) | Body::Skipped => self.sse,
        };
        let Some(protocol) = &self.protocol else {
            let flags = UsageFlags {
                client_aborted: end == End::ClientAborted,
                truncated: end == End::UpstreamReset,
                ..UsageFlags::default()
            };
            return Reading {
                streamed,
                flags,
                ..Reading::default()
            };
        };

        let (framing, malformed, too_large) = match &self.body {
            Body::Json(scanner) => {
                let incomplete = end == End::Complete && !scanner.is_done();
                let malformed = scanner.is_malformed() || incomplete;
                (
                    Framing::Json {
                        complete: scanner.is_done(),
                    },
                    malformed,
                    scanner.too_large,
                )
            }
            Body::Sse(framer) => (Framing::Sse, false, framer.too_large),
            Body::Skipped => (Framing::Sse, false, false),
        };
        let report = protocol.report(end, framing);
        settle(report, end, streamed, malformed, too_large)
    }
}

/// Turns what a family read into the reading: the usage as reported when the provider reported
/// its output, else with the output estimated and the reading flagged.
fn settle(report: Report, end: End, streamed: bool, malformed: bool, too_large: bool) -> Reading {
    let exact = report.output_reported && !report.stream_error;
    let flags = UsageFlags {
        estimated: !exact,
        malformed: malformed || report.malformed,
        too_large,
        client_aborted: end == End::ClientAborted && !report.closed,
        truncated: end != End::ClientAborted && !report.closed,
        stream_error: report.stream_error,
    };

    // A running total (Gemini) may already count part of the output; never report less.
    let mut usage = report.usage;
    if !report.output_reported {
        usage.output = usage.output.max(report.estimate.output_tokens());
        usage.reasoning = usage.reasoning.max(report.estimate.reasoning_tokens());
    }

    Reading {
        model: report.model,
        usage,
        service_tier: report.service_tier,
        inference_geo: report.inference_geo,
        streamed,
        flags,
    }
}

/// Whether a content type is `text/event-stream`, parameters and case aside.
fn is_event_stream(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().eq_ignore_ascii_case("text/event-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_event_streams_by_their_essence() {
        assert!(is_event_stream("text/event-stream"));
        assert!(is_event_stream("Text/Event-Stream ; charset=utf-8"));
        assert!(!is_event_stream("application/json"));
    }

    #[test]
    fn errors_cost_nothing_whatever_the_body() {
        let mut meter = Meter::new(
            ApiFamily::AnthropicMessages,
            529,
            Some("text/event-stream"),
            Limits::default(),
        );
        meter.feed(b"event: message_start\ndata: {\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":5}}}\n\n");
        let reading = meter.finish(End::Complete);
        assert_eq!(
            reading,
            Reading {
                streamed: true,
                ..Reading::default()
            }
        );
    }

    #[test]
    fn finishing_twice_gives_the_same_reading() {
        let mut meter = Meter::new(ApiFamily::OpenaiChat, 200, None, Limits::default());
        meter.feed(br#"{"model":"gpt","usage":{"prompt_tokens":3,"completion_tokens":2}}"#);
        let first = meter.finish(End::Complete);
        meter.feed(b"garbage");
        assert_eq!(meter.finish(End::UpstreamReset), first);
        assert_eq!(first.usage.output, 2);
        assert!(!first.flags.estimated && !first.flags.malformed);
    }
}
