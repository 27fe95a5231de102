//! Gives an OpenAI Chat client exactly the stream it asked for when the gateway added
//! `stream_options.include_usage` to its request.
//!
//! With that option the provider adds `"usage":null` to every chunk and sends one more chunk,
//! with `"choices":[]` and the usage. The stripper removes the top-level `"usage":null` member
//! (with its one adjacent comma) from each `data:` JSON event and drops the usage-only event
//! whole. Every other byte passes unchanged, line breaks, comments and `data: [DONE]` included.
//! It holds back only the event that has not ended yet; an event larger than the bound is passed
//! through unread as it arrives.

use std::ops::Range;

use memchr::memchr2;

use crate::json::{Member, Object, trim};
use crate::limits::Limits;

/// Rewrites an OpenAI Chat event stream as it passes; see the module documentation.
#[derive(Debug)]
pub struct UsageStripper {
    /// Bytes not yet written: the current event from `start`.
    pending: Vec<u8>,
    start: usize,
    /// How far `pending` has been searched for line breaks.
    scanned: usize,
    /// The current line has no bytes yet.
    line_empty: bool,
    /// The last line break was a CR: an LF right after it belongs to it.
    after_cr: bool,
    /// A blank line ended with a CR; the event ends after a possible LF.
    ending: bool,
    /// The current event outgrew the bound and passes through unread.
    passing: bool,
    limit: usize,
}

impl UsageStripper {
    pub fn new() -> Self {
        UsageStripper {
            pending: Vec::new(),
            start: 0,
            scanned: 0,
            line_empty: true,
            after_cr: false,
            ending: false,
            passing: false,
            limit: Limits::default().max_event_bytes,
        }
    }

    /// Reads the next chunk of the provider's stream and appends what the client gets to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(input);
        self.scan(out);

        if self.passing {
            out.extend_from_slice(
                self.pending
                    .get(self.start..self.scanned)
                    .unwrap_or_default(),
            );
            self.start = self.scanned;
        }
        self.pending.drain(..self.start);
        self.scanned = self.scanned.saturating_sub(self.start);
        self.start = 0;
    }

    /// Ends the stream: the last event, ended or not, is written.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.scan(out);
        let rest = self.pending.get(self.start..).unwrap_or_default();
        if self.passing {
            out.extend_from_slice(rest);
        } else {
            strip_event(rest, out);
        }
        *self = UsageStripper::new();
    }

    fn scan(&mut self, out: &mut Vec<u8>) {
        while let Some(&b) = self.pending.get(self.scanned) {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    self.scanned += 1;
                    if self.ending {
                        self.end_event(out);
                    }
                    continue;
                }
            }
            if self.ending {
                self.end_event(out);
                continue;
            }

            match b {
                b'\n' | b'\r' => {
                    self.scanned += 1;
                    self.after_cr = b == b'\r';
                    if !self.line_empty {
                        self.line_empty = true;
                    } else if self.after_cr {
                        self.ending = true;
                    } else {
                        self.end_event(out);
                    }
                }
                _ => {
                    let rest = self.pending.get(self.scanned..).unwrap_or_default();
                    self.scanned += memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                    self.line_empty = false;
                }
            }
            if self.scanned.saturating_sub(self.start) > self.limit {
                self.passing = true;
            }
        }
    }

    /// The event from `start` ends at `scanned`: write it.
    fn end_event(&mut self, out: &mut Vec<u8>) {
        let event = self
            .pending
            .get(self.start..self.scanned)
            .unwrap_or_default();
        if self.passing {
            out.extend_from_slice(event);
        } else {
            strip_event(event, out);
        }
        self.start = self.scanned;
        self.ending = false;
        self.passing = false;
        self.line_empty = true;
    }
}

impl Default for UsageStripper {
    fn default() -> Self {
        UsageStripper::new()
    }
}

/// What to do with the data of one event.
#[derive(Debug, PartialEq, Eq)]
enum Edit {
    Keep,
    Drop,
    Remove(Range<usize>),
}

/// Writes one whole event (its blank line included) as the client should get it.
fn strip_event(event: &[u8], out: &mut Vec<u8>) {
    let data_lines: Vec<Range<usize>> = lines(event).filter_map(|l| data_value(event, l)).collect();
    let edit = match data_lines.as_slice() {
        [one] => match edit(event.get(one.clone()).unwrap_or_default()) {
            Edit::Remove(range) => Edit::Remove(one.start + range.start..one.start + range.end),
            other => other,
        },
        [] => Edit::Keep,
        many => {
            let parts: Vec<&[u8]> = many.iter().filter_map(|r| event.get(r.clone())).collect();
            match edit(&parts.join(&b'\n')) {
                Edit::Drop => Edit::Drop,
                // A member spread over several lines is left as it is.
                Edit::Keep | Edit::Remove(_) => Edit::Keep,
            }
        }
    };

    match edit {
        Edit::Keep => out.extend_from_slice(event),
        Edit::Drop => {}
        Edit::Remove(range) => {
            out.extend_from_slice(event.get(..range.start).unwrap_or_default());
            out.extend_from_slice(event.get(range.end..).unwrap_or_default());
        }
    }
}

/// How the data of one event changes: a usage-only chunk goes, a `"usage":null` member goes
/// with one adjacent comma, anything else stays.
fn edit(data: &[u8]) -> Edit {
    let Ok(object) = Object::parse(data) else {
        return Edit::Keep;
    };
    let value = |name: &[u8]| {
        object
            .get(data, name)
            .and_then(|m| data.get(m.value.clone()))
    };

    let no_choices = value(b"choices").is_some_and(is_empty_array);
    let has_usage = value(b"usage").is_some_and(|v| v != b"null");
    if no_choices && has_usage {
        return Edit::Drop;
    }

    let members = &object.members;
    let is_null_usage = |m: &Member| {
        data.get(m.key.clone()) == Some(b"usage") && data.get(m.value.clone()) == Some(b"null")
    };
    let Some(i) = members.iter().position(is_null_usage) else {
        return Edit::Keep;
    };
    let (Some(member), next, previous) = (
        members.get(i),
        members.get(i + 1),
        i.checked_sub(1).and_then(|p| members.get(p)),
    ) else {
        return Edit::Keep;
    };
    match (previous, next) {
        (_, Some(next)) => Edit::Remove(member.whole.start..next.whole.start),
        (Some(previous), None) => Edit::Remove(previous.whole.end..member.whole.end),
        (None, None) => Edit::Remove(member.whole.clone()),
    }
}

fn is_empty_array(value: &[u8]) -> bool {
    let inner = value.strip_prefix(b"[").and_then(|v| v.strip_suffix(b"]"));
    inner.is_some_and(|inner| trim(inner).is_empty())
}

/// The content ranges of the lines of `event`, without their line breaks.
fn lines(event: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = event.get(at..).filter(|r| !r.is_empty())?;
        let len = memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        let line = at..at + len;
        let crlf = rest.get(len..len + 2) == Some(b"\r\n");
        at += len + if crlf { 2 } else { 1 };
        Some(line)
    })
}

/// The value range of a `data` line (after the colon and one optional space).
fn data_value(event: &[u8], line: Range<usize>) -> Option<Range<usize>> {
    let text = event.get(line.clone())?;
    let value = text.strip_prefix(b"data")?;
    let value = match value {
        [] => value,
        [b':', b' ', rest @ ..] | [b':', rest @ ..] => rest,
        _ => return None,
    };
    Some(line.end - value.len()..line.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(input: &str) -> String {
        let mut stripper = UsageStripper::new();
        let mut out = Vec::new();
        stripper.push(input.as_bytes(), &mut out);
        stripper.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn removes_a_null_usage_wherever_it_stands() {
        assert_eq!(
            strip("data: {\"a\":1,\"usage\":null,\"b\":2}\n\n"),
            "data: {\"a\":1,\"b\":2}\n\n"
        );
        assert_eq!(
            strip("data: {\"a\":1, \"usage\": null }\n\n"),
            "data: {\"a\":1 }\n\n"
        );
        assert_eq!(strip("data:{\"usage\":null}\r\n\r\n"), "data:{}\r\n\r\n");
        assert_eq!(
            strip("data: {\"x\":{\"usage\":null}}\n\n"),
            "data: {\"x\":{\"usage\":null}}\n\n"
        );
    }

    #[test]
    fn drops_the_usage_only_event() {
        let input =
            ": keep\n\ndata: {\"choices\":[ ],\"usage\":{\"prompt_tokens\":1}}\n\ndata: [DONE]\n\n";
        assert_eq!(strip(input), ": keep\n\ndata: [DONE]\n\n");
    }

    #[test]
    fn keeps_what_it_does_not_understand() {
        let input = "event: x\ndata: not json\n\ndata: {\"choices\":[],\"usage\":null}\n\n";
        assert_eq!(
            strip(input),
            "event: x\ndata: not json\n\ndata: {\"choices\":[]}\n\n"
        );
    }

    #[test]
    fn holds_back_only_the_unfinished_event() {
        let mut stripper = UsageStripper::new();
        let mut out = Vec::new();
        stripper.push(b"data: {\"usage\":null,\"a\":1}\n\ndata: {\"us", &mut out);
        assert_eq!(out, b"data: {\"a\":1}\n\n");
        stripper.push(b"age\":null}\r", &mut out);
        stripper.push(b"\r", &mut out);
        assert_eq!(out, b"data: {\"a\":1}\n\n");
        stripper.push(b"\n", &mut out);
        assert_eq!(out, b"data: {\"a\":1}\n\ndata: {}\r\r\n");
        stripper.push(b"data: [DONE]\n\n", &mut out);
        assert_eq!(out, b"data: {\"a\":1}\n\ndata: {}\r\r\ndata: [DONE]\n\n");
    }

    #[test]
    fn passes_an_oversize_event_through_as_it_arrives() {
        let mut stripper = UsageStripper::new();
        let mut out = Vec::new();
        let big = format!("data: {{\"usage\":null,\"x\":\"{}", "a".repeat(300 * 1024));
        stripper.push(big.as_bytes(), &mut out);
        assert_eq!(out.len(), big.len());
        stripper.push(b"\"}\n\ndata: {\"usage\":null}\n\n", &mut out);
        assert!(out.ends_with(b"\"}\n\ndata: {}\n\n"));
    }
}
