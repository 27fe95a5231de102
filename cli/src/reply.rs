//! What a command prints: the API's JSON for scripts, or text for people. Nothing is written
//! that a terminal would act on (see [`crate::printable`]), except CSV sent to a file or a
//! pipe, which stays byte for byte.

use std::io::{self, Write};

use serde_json::Value;

use crate::printable::{printable_csv, printable_json, printable_lines};

/// A command's answer, printed once.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A JSON document and its rendering for people.
    Document {
        /// Printed with `--json`, as the API sent it but for characters a terminal acts on, which
        /// are written as JSON escapes.
        json: String,
        /// Printed without `--json`.
        text: String,
        /// Printed on stderr with `--json`, where `text` (which holds it) is not shown.
        notice: Option<String>,
    },
    /// Printed as it is either way (a CSV report); on a terminal, with control characters other
    /// than its line ends escaped.
    Raw(String),
}

impl Reply {
    pub fn document(json: String, text: String) -> Reply {
        Reply::Document {
            json,
            text,
            notice: None,
        }
    }

    /// For answers that have no JSON of their own (a 204): `value` stands in for it.
    pub fn made(value: &Value, text: String) -> Reply {
        Reply::document(value.to_string(), text)
    }

    /// Writes the answer to `out` and, with `--json`, the notice to `err`. `terminal` says
    /// whether `out` is a terminal.
    pub fn print(
        &self,
        json: bool,
        terminal: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        let printed = match self {
            Reply::Document { json: document, .. } if json => printable_json(document),
            Reply::Document { text, .. } => printable_lines(text),
            Reply::Raw(raw) if terminal => printable_csv(raw),
            Reply::Raw(raw) => raw.clone(),
        };
        out.write_all(printed.as_bytes())?;
        if !printed.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;

        if let Reply::Document {
            notice: Some(notice),
            ..
        } = self
            && json
        {
            writeln!(err, "{}", printable_lines(notice))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(reply: &Reply, json: bool) -> (String, String) {
        printed_on(reply, json, false)
    }

    fn printed_on(reply: &Reply, json: bool, terminal: bool) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        reply.print(json, terminal, &mut out, &mut err).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn json_mode_prints_the_document_and_the_notice_apart() {
        let reply = Reply::Document {
            json: r#"{"key":"tmk_x"}"#.into(),
            text: "tmk_x\nshown once\n".into(),
            notice: Some("shown once".into()),
        };
        assert_eq!(
            printed(&reply, true),
            ("{\"key\":\"tmk_x\"}\n".into(), "shown once\n".into())
        );
        assert_eq!(
            printed(&reply, false),
            ("tmk_x\nshown once\n".into(), String::new())
        );
    }

    #[test]
    fn raw_is_printed_as_it_is() {
        let reply = Reply::Raw("a,b\r\n1,2\r\n".into());
        assert_eq!(printed(&reply, true).0, "a,b\r\n1,2\r\n");
    }

    #[test]
    fn csv_is_exact_in_a_pipe_and_escaped_on_a_terminal() {
        let csv = "user,calls\r\n\"'\rx\u{1b}[2J\",1\r\n";
        let reply = Reply::Raw(csv.into());
        assert_eq!(printed_on(&reply, false, false).0, csv);
        assert_eq!(
            printed_on(&reply, false, true).0,
            "user,calls\r\n\"'\\rx\\u{1b}[2J\",1\r\n"
        );
    }

    #[test]
    fn nothing_printed_is_acted_on_by_a_terminal() {
        let reply = Reply::Document {
            json: "{\"error\":\"\u{9b}2J\u{202e}\"}".into(),
            text: "a\u{1b}]0;pwned\u{7}\nb\n".into(),
            notice: Some("n\u{1b}[2J".into()),
        };
        let raw = |text: &str| text.chars().any(|c| c.is_control() && c != '\n');

        let (out, err) = printed_on(&reply, true, true);
        assert_eq!(out, "{\"error\":\"\\u009b2J\\u202e\"}\n");
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap()["error"],
            "\u{9b}2J\u{202e}"
        );
        assert!(!raw(&err), "{err:?}");

        let (out, _) = printed_on(&reply, false, true);
        assert_eq!(out, "a\\u{1b}]0;pwned\\u{7}\nb\n");
    }
}
