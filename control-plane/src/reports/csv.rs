//! CSV as spreadsheets read it (RFC 4180), safe to open.

/// One CSV document: a header line, then one line per row, each ending in CRLF.
pub fn render(header: &[String], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for line in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = line.iter().map(|cell| field(cell)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Characters a spreadsheet may read as the start of a formula (or, tab and carriage return,
/// skip before one).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];
/// Characters that end a cell or a line in some reader: the comma, the semicolon that
/// spreadsheets in many locales split on, the tab of pasted text, quotes and line breaks.
const NEEDS_QUOTES: [char; 6] = [',', ';', '\t', '"', '\r', '\n'];

/// Quotes a cell when it needs it. A cell a spreadsheet would run as a formula (a project or
/// user name sent by a client could start with `=`) gets a leading apostrophe first, so the
/// quoted text still starts with it.
fn field(value: &str) -> String {
    let value = if value.starts_with(FORMULA_STARTS) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains(NEEDS_QUOTES) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_formula_start_is_defused_and_every_separator_quoted() {
        let cases = [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "\"'\tx\""),
            ("\rx", "\"'\rx\""),
            ("=A1,B1", "\"'=A1,B1\""),
            ("a;b", "\"a;b\""),
            ("a,b", "\"a,b\""),
            ("a\nb", "\"a\nb\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("a=b", "a=b"),
            ("0.018369", "0.018369"),
            ("", ""),
        ];
        for (value, written) in cases {
            assert_eq!(field(value), written, "{value:?}");
        }
    }

    #[test]
    fn quotes_what_needs_quoting_and_defuses_formulas() {
        let header = vec!["team".to_owned(), "cost_usd".to_owned()];
        let rows = vec![
            vec!["payments".to_owned(), "0.018369".to_owned()],
            vec!["a,b \"c\"".to_owned(), "0".to_owned()],
            vec!["=HYPERLINK(1)".to_owned(), "".to_owned()],
        ];
        assert_eq!(
            render(&header, &rows),
            "team,cost_usd\r\npayments,0.018369\r\n\"a,b \"\"c\"\"\",0\r\n'=HYPERLINK(1),\r\n"
        );
    }
}
