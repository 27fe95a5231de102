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

/// Quotes a cell when it needs it. A cell a spreadsheet would run as a formula (a project or
/// user name sent by a client could start with `=`) gets a leading apostrophe.
fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
