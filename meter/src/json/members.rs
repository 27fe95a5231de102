//! Streams a JSON body and hands over the top-level members a reader asked for, without
//! holding the rest of the body.
//!
//! The body is either one object, whose members are offered, or an array of objects (Gemini's
//! stream without `alt=sse`), where the members of each element object are offered in turn.
//! Memory is the current key (at most [`MAX_KEY_BYTES`]) and one captured value (at most the
//! configured limit); a larger value is skipped and flagged. A value that turns out malformed
//! before it ends is not flagged as too large, whatever part of it had arrived: so the flag
//! does not depend on where the body was cut.

use memchr::memchr2;

use super::value_end::ValueEnd;
use super::{Malformed, is_space};

/// Keys longer than this are never wanted; they are skipped without being held.
const MAX_KEY_BYTES: usize = 64;

/// Receives the members a scan was asked for.
pub(crate) trait MemberSink {
    /// Whether the value of the member named `key` (raw bytes between the quotes) is wanted.
    fn wants(&self, key: &[u8]) -> bool;
    /// A wanted member, its value complete (leading whitespace included).
    fn member(&mut self, key: &[u8], value: &[u8]);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    BeforeKey { first: bool },
    Key { escaped: bool },
    Colon,
    Value(ValueEnd),
    AfterValue,
    BeforeElement { first: bool },
    Element(ValueEnd),
    AfterElement,
    Done,
    Failed,
}

#[derive(Debug)]
pub(crate) struct MemberScanner {
    state: State,
    in_array: bool,
    key: Vec<u8>,
    key_overflow: bool,
    capture: Option<Vec<u8>>,
    limit: usize,
    /// A wanted value was larger than the limit and was skipped.
    too_large: bool,
    /// The wanted value being read has outgrown the limit.
    value_too_large: bool,
}

impl MemberScanner {
    /// `limit` bounds one captured value, in bytes.
    pub(crate) fn new(limit: usize) -> Self {
        MemberScanner {
            state: State::Start,
            in_array: false,
            key: Vec::new(),
            key_overflow: false,
            capture: None,
            limit,
            too_large: false,
            value_too_large: false,
        }
    }

    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut impl MemberSink) {
        let mut rest = input;
        while !rest.is_empty() {
            match self.step(rest, sink) {
                Ok(used) => rest = rest.get(used..).unwrap_or_default(),
                Err(Malformed) => {
                    self.state = State::Failed;
                    self.capture = None;
                    self.value_too_large = false;
                    return;
                }
            }
        }
    }

    /// The body was not JSON of the expected shape; scanning stopped there.
    pub(crate) fn is_malformed(&self) -> bool {
        self.state == State::Failed
    }

    /// A wanted value was larger than the limit and was skipped (or is being skipped, when the
    /// body ends inside it).
    pub(crate) fn is_too_large(&self) -> bool {
        self.too_large || self.value_too_large
    }

    /// The top-level value ended.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the top-level value is an array (a stream of objects).
    pub(crate) fn is_array(&self) -> bool {
        self.in_array
    }

    /// Reads from the start of `input` and returns how many bytes were used. A step that uses
    /// nothing always moves to a state that does.
    fn step(&mut self, input: &[u8], sink: &mut impl MemberSink) -> Result<usize, Malformed> {
        let Some(&b) = input.first() else {
            return Ok(0);
        };
        if is_space(b) && self.skips_space() {
            return Ok(1);
        }

        match self.state {
            State::Start => match b {
                b'{' => self.state = State::BeforeKey { first: true },
                b'[' => {
                    self.in_array = true;
                    self.state = State::BeforeElement { first: true };
                }
                _ => return Err(Malformed),
            },
            State::BeforeKey { first } => match b {
                b'"' => {
                    self.key.clear();
                    self.key_overflow = false;
                    self.state = State::Key { escaped: false };
                }
                b'}' if first => self.close_object(),
                _ => return Err(Malformed),
            },
            State::Key { escaped } => return Ok(self.read_key(input, escaped)),
            State::Colon => match b {
                b':' => {
                    let wanted = !self.key_overflow && sink.wants(&self.key);
                    self.capture = wanted.then(Vec::new);
                    self.state = State::Value(ValueEnd::new());
                }
                _ => return Err(Malformed),
            },
            State::Value(mut value) => {
                let progress = value.scan(input)?;
                self.keep(input.get(..progress.used).unwrap_or_default());
                self.state = State::Value(value);
                if progress.done {
                    if let Some(captured) = self.capture.take() {
                        sink.member(&self.key, &captured);
                    }
                    self.too_large |= std::mem::take(&mut self.value_too_large);
                    self.state = State::AfterValue;
                }
                return Ok(progress.used);
            }
            State::AfterValue => match b {
                b',' => self.state = State::BeforeKey { first: false },
                b'}' => self.close_object(),
                _ => return Err(Malformed),
            },
            State::BeforeElement { first } => match b {
                b'{' => self.state = State::BeforeKey { first: true },
                b']' if first => self.state = State::Done,
                _ => {
                    self.state = State::Element(ValueEnd::new());
                    return Ok(0);
                }
            },
            State::Element(mut value) => {
                let progress = value.scan(input)?;
                self.state = if progress.done {
                    State::AfterElement
                } else {
                    State::Element(value)
                };
                return Ok(progress.used);
            }
            State::AfterElement => match b {
                b',' => self.state = State::BeforeElement { first: false },
                b']' => self.state = State::Done,
                _ => return Err(Malformed),
            },
            State::Done => return Err(Malformed),
            State::Failed => return Ok(input.len()),
        }
        Ok(1)
    }

    /// States where whitespace between tokens is skipped here rather than by a value scan.
    fn skips_space(&self) -> bool {
        !matches!(
            self.state,
            State::Key { .. } | State::Value(_) | State::Element(_)
        )
    }

    fn close_object(&mut self) {
        self.state = if self.in_array {
            State::AfterElement
        } else {
            State::Done
        };
    }

    fn read_key(&mut self, input: &[u8], mut escaped: bool) -> usize {
        let mut i = 0;
        while i < input.len() {
            if escaped {
                escaped = false;
                i += 1;
                continue;
            }
            let Some(off) = input.get(i..).and_then(|rest| memchr2(b'"', b'\\', rest)) else {
                i = input.len();
                break;
            };
            i += off;
            if input.get(i) == Some(&b'\\') {
                escaped = true;
                i += 1;
                continue;
            }
            self.keep_key(input.get(..i).unwrap_or_default());
            self.state = State::Colon;
            return i + 1;
        }
        self.keep_key(input.get(..i).unwrap_or_default());
        self.state = State::Key { escaped };
        i
    }

    fn keep_key(&mut self, bytes: &[u8]) {
        if self.key.len() + bytes.len() > MAX_KEY_BYTES {
            self.key_overflow = true;
        } else {
            self.key.extend_from_slice(bytes);
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        let Some(captured) = self.capture.as_mut() else {
            return;
        };
        if captured.len() + bytes.len() > self.limit {
            self.capture = None;
            self.value_too_large = true;
        } else {
            captured.extend_from_slice(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(String, String)>);

    impl MemberSink for Collect {
        fn wants(&self, key: &[u8]) -> bool {
            key == b"usage" || key == b"model"
        }
        fn member(&mut self, key: &[u8], value: &[u8]) {
            let key = String::from_utf8_lossy(key).into_owned();
            self.0
                .push((key, String::from_utf8_lossy(value).trim().to_owned()));
        }
    }

    fn scan_split(body: &[u8], split: usize, limit: usize) -> (Collect, MemberScanner) {
        let mut sink = Collect::default();
        let mut scanner = MemberScanner::new(limit);
        let (a, b) = body.split_at(split);
        scanner.feed(a, &mut sink);
        scanner.feed(b, &mut sink);
        (sink, scanner)
    }

    #[test]
    fn hands_over_wanted_members_at_every_split() {
        let body =
            br#" {"id":"x","content":[{"model":"no"}],"model" : "m1","n":12,"usage":{"a":1}} "#;
        for split in 0..=body.len() {
            let (sink, scanner) = scan_split(body, split, 1024);
            let want = vec![
                ("model".into(), "\"m1\"".into()),
                ("usage".into(), r#"{"a":1}"#.into()),
            ];
            assert_eq!(sink.0, want, "split {split}");
            assert!(scanner.is_done() && !scanner.is_malformed());
        }
    }

    #[test]
    fn reads_each_object_of_an_array() {
        let body = b"[{\"model\":\"a\"}\r\n,\r\n{\"usage\":1,\"x\":[1]}, 7]";
        for split in 0..=body.len() {
            let (sink, scanner) = scan_split(body, split, 1024);
            assert_eq!(sink.0.len(), 2, "split {split}");
            assert!(scanner.is_done() && scanner.is_array());
        }
    }

    #[test]
    fn skips_a_value_over_the_limit() {
        let (sink, scanner) = scan_split(br#"{"usage":"0123456789","model":"m"}"#, 5, 8);
        assert_eq!(sink.0, vec![("model".to_owned(), "\"m\"".to_owned())]);
        assert!(scanner.is_too_large() && scanner.is_done());
    }

    #[test]
    fn a_value_cut_short_by_bad_bytes_is_malformed_not_too_large_at_every_split() {
        // Found by fuzzing (`json`): the flag depended on whether the value's first bytes came
        // in an earlier chunk than the bad byte.
        let body = [&b"{\n  \"usage\":"[..], &[b'2'; 51], b"\xff2\x00\x00\n"].concat();
        for split in 0..=body.len() {
            let (_, scanner) = scan_split(&body, split, 48);
            assert!(scanner.is_malformed(), "split {split}");
            assert!(!scanner.is_too_large(), "split {split}");
        }
    }

    #[test]
    fn a_body_that_ends_inside_an_oversize_value_is_too_large() {
        let body = br#"{"usage":"0123456789"#;
        for split in 0..=body.len() {
            let (_, scanner) = scan_split(body, split, 8);
            assert!(
                scanner.is_too_large() && !scanner.is_done(),
                "split {split}"
            );
        }
    }

    #[test]
    fn stops_at_malformed_input() {
        for body in [&b"{\"a\" 1}"[..], b"{\"a\":1}x", b"nope", b"{\"a\":1,}"] {
            let (_, scanner) = scan_split(body, 0, 64);
            assert!(scanner.is_malformed(), "{}", String::from_utf8_lossy(body));
        }
    }
}
