//! Frames a byte stream into server-sent events in bounded memory.
//!
//! Lines end in `\n`, `\r\n` or `\r`, and a chunk boundary may fall anywhere, between `\r` and
//! `\n` included. `data:` lines are joined with `\n`; a blank line ends the event. Only the
//! `data` and `event` fields are kept; comments and other fields are skipped as they stream
//! past. An event whose data exceeds the limit is not held: its first and last few bytes are
//! kept so a reader can still find a trailing member, and it is flagged `too_large`.

use memchr::memchr2;

use super::Event;

/// The byte-order mark a stream may start with, which is not part of the first line.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];
/// Longest field name kept; `event` and `data` are shorter, so a longer name is ignored.
const MAX_FIELD_BYTES: usize = 5;
/// Longest event name kept; a longer one is cut and then matches no known name.
const MAX_NAME_BYTES: usize = 64;
/// Bytes of an oversize event's data kept from its start.
const HEAD_BYTES: usize = 1024;
/// Bytes of an oversize event's data kept from its end.
const TAIL_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Data,
    Event,
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Reading the field name, up to the colon.
    Name,
    /// Just after the colon: one space may follow.
    AfterColon(Field),
    Value(Field),
}

#[derive(Debug)]
pub(crate) struct Framer {
    limit: usize,
    bom_matched: usize,
    after_cr: bool,
    line: Line,
    field: Vec<u8>,
    field_overflow: bool,
    name: Vec<u8>,
    data: Vec<u8>,
    data_lines: usize,
    oversize: bool,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// An event was larger than the limit.
    pub(crate) too_large: bool,
}

impl Framer {
    /// `limit` bounds the data of one event, in bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Framer {
            limit,
            bom_matched: 0,
            after_cr: false,
            line: Line::Name,
            field: Vec::new(),
            field_overflow: false,
            name: Vec::new(),
            data: Vec::new(),
            data_lines: 0,
            oversize: false,
            head: Vec::new(),
            tail: Vec::new(),
            too_large: false,
        }
    }

    pub(crate) fn feed(&mut self, input: &[u8], emit: &mut impl FnMut(Event<'_>)) {
        let mut input = input;
        while self.bom_matched < BOM.len() {
            let Some((&b, rest)) = input.split_first() else {
                return;
            };
            if BOM.get(self.bom_matched) == Some(&b) {
                self.bom_matched += 1;
                input = rest;
            } else {
                // Not a byte-order mark: what matched so far is text of the first line.
                let matched = BOM.get(..self.bom_matched).unwrap_or_default();
                self.bom_matched = BOM.len();
                self.scan(matched, emit);
            }
        }
        self.scan(input, emit);
    }

    /// Ends the stream: a last line or event left without its line break is taken as ended.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(Event<'_>)) {
        if self.line != Line::Name || !self.field.is_empty() || self.field_overflow {
            self.end_line(emit);
        }
        self.dispatch(emit);
    }

    fn scan(&mut self, input: &[u8], emit: &mut impl FnMut(Event<'_>)) {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    i += 1;
                    continue;
                }
            }

            if let Line::Value(field) = self.line
                && b != b'\r'
                && b != b'\n'
            {
                let rest = input.get(i..).unwrap_or_default();
                let len = memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
                self.value(field, rest.get(..len).unwrap_or_default());
                i += len;
                continue;
            }

            i += 1;
            match (self.line, b) {
                (_, b'\r' | b'\n') => {
                    self.end_line(emit);
                    self.after_cr = b == b'\r';
                }
                (Line::AfterColon(field), b' ') => self.line = Line::Value(field),
                (Line::AfterColon(field), _) => {
                    self.line = Line::Value(field);
                    self.value(field, &[b]);
                }
                (Line::Name, b':') => self.start_value(),
                (Line::Name, _) => self.field_byte(b),
                (Line::Value(_), _) => {}
            }
        }
    }

    fn field_byte(&mut self, b: u8) {
        if self.field.len() < MAX_FIELD_BYTES {
            self.field.push(b);
        } else {
            self.field_overflow = true;
        }
    }

    fn field_kind(&self) -> Field {
        match (self.field_overflow, self.field.as_slice()) {
            (false, b"data") => Field::Data,
            (false, b"event") => Field::Event,
            _ => Field::Ignored,
        }
    }

    fn start_value(&mut self) {
        let field = self.field_kind();
        match field {
            Field::Data => {
                if self.data_lines > 0 {
                    self.value(Field::Data, b"\n");
                }
                self.data_lines += 1;
            }
            Field::Event => self.name.clear(),
            Field::Ignored => {}
        }
        self.line = Line::AfterColon(field);
    }

    fn value(&mut self, field: Field, bytes: &[u8]) {
        match field {
            Field::Data => self.data(bytes),
            Field::Event => {
                let room = MAX_NAME_BYTES.saturating_sub(self.name.len());
                self.name
                    .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
            }
            Field::Ignored => {}
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        if self.oversize {
            self.keep_head(bytes);
            self.keep_tail(bytes);
            return;
        }
        if self.data.len() + bytes.len() <= self.limit {
            self.data.extend_from_slice(bytes);
            return;
        }

        self.oversize = true;
        self.too_large = true;
        let data = std::mem::take(&mut self.data);
        self.head.clear();
        self.keep_head(&data);
        self.keep_head(bytes);
        self.keep_tail(&data);
        self.keep_tail(bytes);
    }

    /// Keeps the first [`HEAD_BYTES`] of an oversize event's data, however they arrive (a
    /// limit under that size makes the event oversize before its head is complete).
    fn keep_head(&mut self, bytes: &[u8]) {
        let room = HEAD_BYTES.saturating_sub(self.head.len()).min(bytes.len());
        self.head
            .extend_from_slice(bytes.get(..room).unwrap_or_default());
    }

    fn keep_tail(&mut self, bytes: &[u8]) {
        if bytes.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail
                .extend_from_slice(bytes.get(bytes.len() - TAIL_BYTES..).unwrap_or_default());
            return;
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * TAIL_BYTES {
            let excess = self.tail.len() - TAIL_BYTES;
            self.tail.drain(..excess);
        }
    }

    fn end_line(&mut self, emit: &mut impl FnMut(Event<'_>)) {
        match self.line {
            Line::Name if self.field.is_empty() && !self.field_overflow => self.dispatch(emit),
            // A line with no colon names a field whose value is empty.
            Line::Name => {
                self.start_value();
            }
            Line::AfterColon(_) | Line::Value(_) => {}
        }
        self.line = Line::Name;
        self.field.clear();
        self.field_overflow = false;
    }

    fn dispatch(&mut self, emit: &mut impl FnMut(Event<'_>)) {
        if self.data_lines > 0 {
            let event = if self.oversize {
                let tail_from = self.tail.len().saturating_sub(TAIL_BYTES);
                Event::Oversize {
                    name: &self.name,
                    head: &self.head,
                    tail: self.tail.get(tail_from..).unwrap_or_default(),
                }
            } else {
                Event::Whole {
                    name: &self.name,
                    data: &self.data,
                }
            };
            emit(event);
        }

        self.name.clear();
        self.data.clear();
        self.data_lines = 0;
        self.oversize = false;
        self.head.clear();
        self.tail.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Whole(String, String),
        Oversize(String, usize, usize),
    }

    fn frame_with(chunks: &[&[u8]], limit: usize) -> (Vec<Seen>, bool) {
        let mut framer = Framer::new(limit);
        let mut seen = Vec::new();
        let mut emit = |event: Event<'_>| {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            seen.push(match event {
                Event::Whole { name, data } => Seen::Whole(text(name), text(data)),
                Event::Oversize { name, head, tail } => {
                    Seen::Oversize(text(name), head.len(), tail.len())
                }
            });
        };
        for chunk in chunks {
            framer.feed(chunk, &mut emit);
        }
        framer.finish(&mut emit);
        (seen, framer.too_large)
    }

    fn whole(name: &str, data: &str) -> Seen {
        Seen::Whole(name.to_owned(), data.to_owned())
    }

    #[test]
    fn frames_events_with_every_line_ending_at_every_split() {
        let expected = vec![whole("a", "1\n2"), whole("", "x"), whole("", "")];
        for ending in ["\n", "\r\n", "\r"] {
            let text = "\u{feff}event: a\ndata: 1\ndata:2\n\n: note\nid: 7\ndata: x\n\ndata\n\n"
                .replace('\n', ending);
            let bytes = text.as_bytes();
            for split in 0..=bytes.len() {
                let (a, b) = bytes.split_at(split);
                assert_eq!(
                    frame_with(&[a, b], 1024).0,
                    expected,
                    "{ending:?} split {split}"
                );
            }
        }
    }

    #[test]
    fn keeps_a_field_value_without_its_leading_space_only_once() {
        assert_eq!(
            frame_with(&[b"data:  two\n\n"], 64).0,
            vec![whole("", " two")]
        );
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        assert_eq!(frame_with(&[b"event: ping\n\nretry: 5\n\n"], 64).0, vec![]);
    }

    #[test]
    fn an_oversize_event_keeps_its_ends_and_the_next_event_is_read() {
        let big = format!("event: big\ndata: {}\n\ndata: ok\n\n", "x".repeat(100_000));
        let (seen, too_large) = frame_with(&[big.as_bytes()], 1000);
        assert_eq!(
            seen,
            vec![
                Seen::Oversize("big".into(), HEAD_BYTES, TAIL_BYTES),
                whole("", "ok")
            ]
        );
        assert!(too_large);
    }

    #[test]
    fn an_oversize_head_is_the_same_at_every_split_under_a_small_limit() {
        // Found by fuzzing (`sse`): with a limit under the head size, the head kept only what
        // had arrived when the event outgrew the limit.
        let event = format!("data: {{\"type\":\"{}\"}}\n\n", "y".repeat(200));
        let whole = frame_with(&[event.as_bytes()], 64).0;
        assert_eq!(whole, vec![Seen::Oversize(String::new(), 211, 211)]);
        for split in 0..=event.len() {
            let (a, b) = event.as_bytes().split_at(split);
            assert_eq!(frame_with(&[a, b], 64).0, whole, "split {split}");
        }
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_read_at_the_end() {
        assert_eq!(
            frame_with(&[b"data: [DONE]"], 64).0,
            vec![whole("", "[DONE]")]
        );
    }

    #[test]
    fn a_false_start_of_a_byte_order_mark_is_kept() {
        assert_eq!(frame_with(&[b"\xEF", b"data: 1\n\n"], 64).0, vec![]);
        assert_eq!(
            frame_with(&[b"\xEF\xBB", b"\xBFdata: 1\n\n"], 64).0,
            vec![whole("", "1")]
        );
    }
}
