//! Finds where one JSON value ends without building it, across any number of slices.
//!
//! Strings are skipped a run at a time; containers are followed by depth only, so a mismatched
//! bracket inside a skipped value goes unnoticed (values that are captured are checked by the
//! parser that reads them).

use memchr::memchr2;

use super::{Malformed, is_space};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Pending,
    Container,
    String,
    Scalar,
}

/// Where the scan of one value stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValueEnd {
    shape: Shape,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

/// How far one call to [`ValueEnd::scan`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes of the input that belong to the value (leading whitespace included).
    pub used: usize,
    /// Whether the value ended within the input.
    pub done: bool,
}

impl ValueEnd {
    pub(crate) fn new() -> Self {
        ValueEnd {
            shape: Shape::Pending,
            depth: 0,
            in_string: false,
            escaped: false,
        }
    }

    /// Reads `input` up to the end of the value. A number or literal ends before the byte that
    /// ends it, which is then not counted in `used`.
    pub(crate) fn scan(&mut self, input: &[u8]) -> Result<Progress, Malformed> {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                let Some(off) = input.get(i..).and_then(|rest| memchr2(b'"', b'\\', rest)) else {
                    return Ok(Progress {
                        used: input.len(),
                        done: false,
                    });
                };
                i += off + 1;
                if input.get(i - 1) == Some(&b'\\') {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.shape == Shape::String {
                        return Ok(Progress {
                            used: i,
                            done: true,
                        });
                    }
                }
                continue;
            }

            match self.shape {
                Shape::Pending => match b {
                    b'{' | b'[' => {
                        self.shape = Shape::Container;
                        self.depth = 1;
                    }
                    b'"' => {
                        self.shape = Shape::String;
                        self.in_string = true;
                    }
                    b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => self.shape = Shape::Scalar,
                    b if is_space(b) => {}
                    _ => return Err(Malformed),
                },
                Shape::Scalar => match b {
                    b',' | b'}' | b']' => {
                        return Ok(Progress {
                            used: i,
                            done: true,
                        });
                    }
                    b if is_space(b) => {
                        return Ok(Progress {
                            used: i,
                            done: true,
                        });
                    }
                    b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'+' | b'-' => {}
                    _ => return Err(Malformed),
                },
                Shape::Container => match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                    b'}' | b']' => {
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return Ok(Progress {
                                used: i + 1,
                                done: true,
                            });
                        }
                    }
                    _ => {}
                },
                // A string value returns as soon as its closing quote is read.
                Shape::String => {
                    return Ok(Progress {
                        used: i,
                        done: true,
                    });
                }
            }
            i += 1;
        }
        Ok(Progress {
            used: input.len(),
            done: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(input: &[u8]) -> Option<usize> {
        let mut v = ValueEnd::new();
        let p = v.scan(input).ok()?;
        p.done.then_some(p.used)
    }

    #[test]
    fn finds_the_end_of_each_kind() {
        assert_eq!(end_of(br#"{"a":[1,"}"]} tail"#), Some(13));
        assert_eq!(end_of(br#" "x\"y" ,"#), Some(7));
        assert_eq!(end_of(b"123,"), Some(3));
        assert_eq!(end_of(b"null}"), Some(4));
        assert_eq!(end_of(b"12"), None);
    }

    #[test]
    fn resumes_across_slices() {
        let input = br#"{"k":"a\"b\\","n":[{}]}"#;
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let mut v = ValueEnd::new();
            let first = v.scan(a).unwrap();
            assert!(!first.done || split == input.len());
            if !first.done {
                let second = v.scan(b).unwrap();
                assert_eq!(
                    (second.done, a.len() + second.used),
                    (true, input.len()),
                    "{split}"
                );
            }
        }
    }

    #[test]
    fn rejects_what_cannot_start_a_value() {
        assert_eq!(ValueEnd::new().scan(b"}"), Err(Malformed));
        assert_eq!(ValueEnd::new().scan(b"1@"), Err(Malformed));
    }
}
