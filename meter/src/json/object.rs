//! Locates the top-level members of one complete JSON object, so that a member can be edited
//! in place and every other byte kept as it was.

use std::ops::Range;

use memchr::memchr2;

use super::value_end::ValueEnd;
use super::{Malformed, is_space};

/// One member of an object, as byte ranges of the object's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// From the key's opening quote to the end of its value.
    pub whole: Range<usize>,
    /// The key, without its quotes, escapes left as they are.
    pub key: Range<usize>,
    /// The value, without surrounding whitespace.
    pub value: Range<usize>,
}

/// An object's braces and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    /// Index of the opening brace.
    pub open: usize,
    pub members: Vec<Member>,
}

impl Object {
    /// Reads `text`, which must be one object with nothing but whitespace around it.
    pub(crate) fn parse(text: &[u8]) -> Result<Object, Malformed> {
        let open = skip_space(text, 0);
        if text.get(open) != Some(&b'{') {
            return Err(Malformed);
        }

        let mut members = Vec::new();
        let mut at = skip_space(text, open + 1);
        if text.get(at) == Some(&b'}') {
            return ends_at(text, at + 1).map(|()| Object { open, members });
        }
        loop {
            let member = read_member(text, at)?;
            at = skip_space(text, member.whole.end);
            members.push(member);
            match text.get(at) {
                Some(b',') => at = skip_space(text, at + 1),
                Some(b'}') => return ends_at(text, at + 1).map(|()| Object { open, members }),
                _ => return Err(Malformed),
            }
        }
    }

    /// The last member named `key` (the one most parsers keep when a key repeats).
    pub(crate) fn get(&self, text: &[u8], key: &[u8]) -> Option<&Member> {
        self.members
            .iter()
            .rev()
            .find(|m| text.get(m.key.clone()) == Some(key))
    }
}

fn read_member(text: &[u8], start: usize) -> Result<Member, Malformed> {
    if text.get(start) != Some(&b'"') {
        return Err(Malformed);
    }
    let key_end = string_end(text, start + 1).ok_or(Malformed)?;

    let colon = skip_space(text, key_end + 1);
    if text.get(colon) != Some(&b':') {
        return Err(Malformed);
    }

    let value_start = skip_space(text, colon + 1);
    let rest = text.get(value_start..).ok_or(Malformed)?;
    let progress = ValueEnd::new().scan(rest)?;
    if !progress.done {
        return Err(Malformed);
    }
    let value_end = value_start + progress.used;

    Ok(Member {
        whole: start..value_end,
        key: start + 1..key_end,
        value: value_start..value_end,
    })
}

/// Index of the closing quote of a string whose content starts at `from`.
fn string_end(text: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at += memchr2(b'"', b'\\', text.get(at..)?)?;
        if text.get(at) == Some(&b'"') {
            return Some(at);
        }
        at += 2;
    }
}

fn skip_space(text: &[u8], from: usize) -> usize {
    let rest = text.get(from..).unwrap_or_default();
    from + rest
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(rest.len())
}

fn ends_at(text: &[u8], at: usize) -> Result<(), Malformed> {
    if skip_space(text, at) == text.len() {
        Ok(())
    } else {
        Err(Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_members() {
        let text = br#" { "a" : 1 , "b\"":{"x":[1,2]},"c":"s"} "#;
        let object = Object::parse(text).unwrap();
        let keys: Vec<&[u8]> = object
            .members
            .iter()
            .map(|m| &text[m.key.clone()])
            .collect();
        assert_eq!(keys, vec![&b"a"[..], br#"b\""#, b"c"]);
        let values: Vec<&[u8]> = object
            .members
            .iter()
            .map(|m| &text[m.value.clone()])
            .collect();
        assert_eq!(values, vec![&b"1"[..], br#"{"x":[1,2]}"#, br#""s""#]);
        assert_eq!(
            object.get(text, b"c").map(|m| m.whole.clone()),
            Some(31..38)
        );
    }

    #[test]
    fn reads_an_empty_object() {
        assert_eq!(Object::parse(b"{ }").unwrap().members, vec![]);
    }

    #[test]
    fn rejects_what_is_not_one_object() {
        for text in [
            &b"[DONE]"[..],
            b"{\"a\":1",
            b"{\"a\":1} x",
            b"{\"a\" 1}",
            b"",
            b"{\"a\":1,}",
        ] {
            assert!(
                Object::parse(text).is_err(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }
}
