//! The meter of one response: fed the body as it passes, it gives a [`Reading`] at the end.

use trimio_wire::{ApiFamily, UsageFlags};

use crate::decode::{Coding, DecodeError, Decoder};
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
    /// A content coding the meter cannot undo: the body is not read and the reading says so.
    Undecodable,
}

/// Reads the usage of one response from its body bytes, in any chunking, holding at most one
/// event or one JSON member value (see [`Limits`]), plus the state of a content coding's
/// decoder when the body is compressed.
#[derive(Debug)]
pub struct Meter {
    sse: bool,
    body: Body,
    protocol: Option<Protocol>,
    /// Undoes the body's content coding, when it has one.
    decoder: Option<Decoder>,
    limits: Limits,
    reading: Option<Reading>,
}

impl Meter {
    /// Called at response headers with the status and the response's content type, for a body
    /// without a content coding.
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
        Meter::with_encoding(family, status, content_type, None, limits)
    }

    /// As [`Meter::new`], for a body in the content coding `content_encoding` names.
    ///
    /// `gzip`, `deflate` (zlib-wrapped, or raw) and `br` are decoded as the body streams; no
    /// header, `identity` and an empty header mean no coding. Any other coding, or several in
    /// turn (`gzip, br`), is not read: the reading has no model and no usage, and is flagged
    /// `malformed` and `estimated`. A stream found corrupt partway is flagged `malformed`, and
    /// one whose chunk decodes to more than [`Limits::max_decoded_bytes_per_chunk`] is flagged
    /// `too_large`; either keeps what was read before.
    pub fn with_encoding(
        family: ApiFamily,
        status: u16,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        limits: Limits,
    ) -> Meter {
        let sse = content_type.is_some_and(is_event_stream);
        let protocol = if status >= 400 {
            None
        } else {
            Protocol::for_family(family)
        };
        let coding = Coding::from_header(content_encoding);

        let body = match (&protocol, coding, sse) {
            (None, _, _) => Body::Skipped,
            (Some(_), Coding::Unsupported, _) => Body::Undecodable,
            (Some(_), _, true) => Body::Sse(Framer::new(limits.max_event_bytes)),
            (Some(_), _, false) => Body::Json(MemberScanner::new(limits.max_json_value_bytes)),
        };
        let decoder = match body {
            Body::Sse(_) | Body::Json(_) => Decoder::new(coding),
            Body::Skipped | Body::Undecodable => None,
        };
        Meter {
            sse,
            body,
            protocol,
            decoder,
            limits,
            reading: None,
        }
    }

    /// Reads the next body chunk, split anywhere (inside a UTF-8 character, a CRLF or a
    /// compressed stream's header too).
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.reading.is_some() {
            return;
        }
        let (body, Some(protocol)) = (&mut self.body, &mut self.protocol) else {
            return;
        };
        match &mut self.decoder {
            Some(decoder) => {
                let limit = self.limits.max_decoded_bytes_per_chunk;
                decoder.feed(chunk, limit, &mut |plain| read_plain(body, protocol, plain));
            }
            None => read_plain(body, protocol, chunk),
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
            Body::Sse(_) | Body::Skipped | Body::Undecodable => self.sse,
        };
        let unread = matches!(self.body, Body::Undecodable);
        let Some(protocol) = self.protocol.as_ref().filter(|_| !unread) else {
            let flags = UsageFlags {
                estimated: unread,
                malformed: unread,
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
                    scanner.is_too_large(),
                )
            }
            Body::Sse(framer) => (Framing::Sse, false, framer.too_large),
            Body::Skipped | Body::Undecodable => (Framing::Sse, false, false),
        };
        let (undecoded, overgrown) = self.decoding_trouble(end);
        let report = protocol.report(end, framing);
        settle(
            report,
            end,
            streamed,
            malformed || undecoded,
            too_large || overgrown,
        )
    }

    /// Whether the content coding was found corrupt (or cut short in a body that ended), and
    /// whether a chunk decoded to more than the bound.
    fn decoding_trouble(&self, end: End) -> (bool, bool) {
        let Some(decoder) = &self.decoder else {
            return (false, false);
        };
        match decoder.error() {
            Some(DecodeError::Corrupt(_)) => (true, false),
            Some(DecodeError::TooLarge(_)) => (false, true),
            None => (end == End::Complete && !decoder.is_complete(), false),
        }
    }
}

/// Hands body bytes, decoded if they were coded, to the reader of the body's framing.
fn read_plain(body: &mut Body, protocol: &mut Protocol, bytes: &[u8]) {
    match body {
        Body::Sse(framer) => framer.feed(bytes, &mut |e| protocol.event(e)),
        Body::Json(scanner) => scanner.feed(bytes, protocol),
        Body::Skipped | Body::Undecodable => {}
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
