//! Aligned plain-text tables and `name  value` blocks for people. Every cell, title and value
//! is shown through [`printable`], so a name sent by a client cannot move the cursor or break
//! a row.

use crate::printable::printable;

/// Where a column's cells sit: text to the left, numbers to the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Columns separated by two spaces, a header row in capitals, no trailing spaces.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(title, align)| (printable(title), *align))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a column after the ones given to [`Table::new`]; only before the first row.
    pub fn column(&mut self, title: &str, align: Align) {
        self.columns.push((printable(title), align));
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells.into_iter().map(|cell| printable(&cell)).collect();
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(title, _)| title.chars().count())
            .collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }

        let header: Vec<String> = self
            .columns
            .iter()
            .map(|(title, _)| title.clone())
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                let pad = widths[index].saturating_sub(cell.chars().count());
                match self.columns[index].1 {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `name  value` lines with the values lined up.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (name, value) in pairs {
        let line = format!("{name:<width$}  {}", printable(value));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let mut table = Table::new(&[("NAME", Align::Left), ("COST USD", Align::Right)]);
        table.row(vec!["payments".into(), "12.5".into()]);
        table.row(vec!["ml".into(), "0.018369".into()]);
        assert_eq!(
            table.render(),
            "NAME      COST USD\n\
             payments      12.5\n\
             ml        0.018369\n"
        );
    }

    #[test]
    fn pads_short_rows_and_trims_line_ends() {
        let mut table = Table::new(&[("A", Align::Left), ("B", Align::Left)]);
        table.column("C", Align::Left);
        table.row(vec!["x".into()]);
        assert_eq!(table.render(), "A  B  C\nx\n");
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut table = Table::new(&[("URL", Align::Left), ("N", Align::Left)]);
        table.row(vec!["https://hooks.slack.com/…".into(), "1".into()]);
        table.row(vec!["http://a".into(), "2".into()]);
        let rendered = table.render();
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[1].chars().count(), lines[2].chars().count());
    }

    #[test]
    fn escapes_control_characters() {
        let mut table = Table::new(&[("USER", Align::Left)]);
        table.row(vec!["eve\u{1b}[2J\nx".into()]);
        assert_eq!(table.render(), "USER\neve\\u{1b}[2J\\nx\n");
    }

    #[test]
    fn lines_up_fields() {
        assert_eq!(
            fields(&[("team", "payments".into()), ("budget usd", "500".into())]),
            "team        payments\nbudget usd  500\n"
        );
    }
}
