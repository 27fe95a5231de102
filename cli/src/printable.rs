//! Text from the control plane made safe to print on a terminal: a name, a message or a report
//! cell must not be able to move the cursor, set the window title, clear the screen, reorder
//! what is shown around it, or start a line of its own.

/// Text with control characters (C0, DEL, C1), bidirectional overrides and Unicode line
/// separators written as Rust escapes (`\u{1b}`, `\n`), so the text prints on one line as it is.
pub fn printable(text: &str) -> String {
    if !text.chars().any(unsafe_char) {
        return text.to_owned();
    }
    text.chars().flat_map(escaped).collect()
}

/// [`printable`], cut to at most `limit` characters, with `…` where it was cut.
pub fn printable_cut(text: &str, limit: usize) -> String {
    let mut shown = text.chars().flat_map(escaped);
    let mut out: String = shown.by_ref().take(limit).collect();
    if shown.next().is_some() {
        out.push('…');
    }
    out
}

/// Text rendered for people (tables, summaries): every line break kept, everything else
/// [`printable`] would escape escaped. The renderers already escape each field; this keeps a
/// field that missed it from reaching the terminal raw.
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A JSON document that parses to the same value, with nothing a terminal acts on: characters
/// [`printable`] escapes are written as JSON escapes (`\u009b`), and tabs and carriage returns
/// between tokens as spaces. Valid JSON holds raw control characters only as whitespace
/// between tokens, and the rest only inside strings, where an escape means the same.
pub fn printable_json(json: &str) -> String {
    if !json.chars().any(|c| c != '\n' && unsafe_char(c)) {
        return json.to_owned();
    }
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '\n' => out.push(c),
            '\0'..='\u{1f}' => out.push(' '),
            c if unsafe_char(c) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// CSV for a terminal: the CSV's own line ends (`\r\n`, or `\n`) kept, and every other
/// character [`printable`] escapes escaped, such as a carriage return inside a quoted cell.
/// CSV written to a file or a pipe is not passed through this: there it stays byte for byte.
pub fn printable_csv(csv: &str) -> String {
    let mut out = String::with_capacity(csv.len());
    let mut rest = csv;
    while let Some(end) = rest.find('\n') {
        let (line, ending) = match rest[..end].strip_suffix('\r') {
            Some(line) => (line, "\r\n"),
            None => (&rest[..end], "\n"),
        };
        out.push_str(&printable(line));
        out.push_str(ending);
        rest = &rest[end + 1..];
    }
    out.push_str(&printable(rest));
    out
}

/// Characters a terminal acts on or that change how the text around them is shown.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Arabic letter mark, left-to-right and right-to-left marks.
            '\u{061c}' | '\u{200e}' | '\u{200f}'
            // Bidirectional embeddings, overrides and isolates.
            | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
        )
}

fn escaped(c: char) -> EscapedChar {
    if unsafe_char(c) {
        EscapedChar::Escaped(c.escape_default())
    } else {
        EscapedChar::Plain(Some(c))
    }
}

/// One character as printed: itself, or its escape.
enum EscapedChar {
    Plain(Option<char>),
    Escaped(std::char::EscapeDefault),
}

impl Iterator for EscapedChar {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            EscapedChar::Plain(c) => c.take(),
            EscapedChar::Escaped(escape) => escape.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// What a hostile server sends: a window title (OSC), a screen clear and a cursor move
    /// (CSI, 7-bit and 8-bit), a bell, a forged line, and a right-to-left override.
    const HOSTILE: &str = "x\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}H\r\nerror: forged\u{202e}cba";

    fn no_raw_controls(text: &str) {
        assert!(!text.chars().any(unsafe_char), "{text:?}");
    }

    #[test]
    fn escapes_what_a_terminal_acts_on() {
        assert_eq!(
            printable(HOSTILE),
            "x\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}H\\r\\nerror: forged\\u{202e}cba"
        );
        assert_eq!(printable("payments – ü ✓"), "payments – ü ✓");
        assert_eq!(printable(&printable(HOSTILE)), printable(HOSTILE));
    }

    #[test]
    fn cuts_after_escaping() {
        assert_eq!(printable_cut("abcdef", 3), "abc…");
        assert_eq!(printable_cut("abc", 3), "abc");
        assert_eq!(printable_cut("a\nb", 10), "a\\nb");
        let long = "é".repeat(5_000_000);
        assert_eq!(printable_cut(&long, 200).chars().count(), 201);
    }

    #[test]
    fn keeps_line_breaks_of_rendered_text_only() {
        assert_eq!(
            printable_lines("NAME\nx\u{1b}]0;t\u{7}\r\ny\u{202e}\n"),
            "NAME\nx\\u{1b}]0;t\\u{7}\\r\ny\\u{202e}\n"
        );
    }

    #[test]
    fn json_keeps_its_value() {
        let document = json!({"error": HOSTILE, "del": "\u{7f}", "n": 1}).to_string();
        let raw = format!("{{\r\n\t\"doc\": {document}\n}}");
        let shown = printable_json(&raw);

        shown.split('\n').for_each(no_raw_controls);
        let parsed: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(parsed, serde_json::from_str::<Value>(&raw).unwrap());
        assert!(shown.contains(r"\u009bH"), "{shown}");
        assert!(shown.contains(r"\u202ecba"), "{shown}");
        assert_eq!(printable_json("{\"a\":\"b\"}\n"), "{\"a\":\"b\"}\n");
    }

    #[test]
    fn csv_keeps_its_line_ends_and_escapes_the_rest() {
        let csv = "user,calls\r\n\"'\rx\",1\r\n\"\u{1b}[2J\",2\r\nlast,3";
        assert_eq!(
            printable_csv(csv),
            "user,calls\r\n\"'\\rx\",1\r\n\"\\u{1b}[2J\",2\r\nlast,3"
        );
        assert_eq!(printable_csv("a,b\n1,2\n"), "a,b\n1,2\n");
    }
}
