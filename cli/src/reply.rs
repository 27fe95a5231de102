//! What a command prints: the API's JSON for scripts, or text for people.

use std::io::{self, Write};

use serde_json::Value;

/// A command's answer, printed once.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A JSON document and its rendering for people.
    Document {
        /// Printed with `--json`, as the API sent it.
        json: String,
        /// Printed without `--json`.
        text: String,
        /// Printed on stderr with `--json`, where `text` (which holds it) is not shown.
        notice: Option<String>,
    },
    /// Printed as it is either way (a CSV report).
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

    pub fn print(&self, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        let printed = match self {
            Reply::Document { json: document, .. } if json => document,
            Reply::Document { text, .. } => text,
            Reply::Raw(raw) => raw,
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
            writeln!(err, "{notice}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(reply: &Reply, json: bool) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        reply.print(json, &mut out, &mut err).unwrap();
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
}
