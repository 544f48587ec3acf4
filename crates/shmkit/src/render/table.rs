//! Aligned text tables: left-aligned words, right-aligned numbers, two spaces between columns.

use std::io::{self, Write};

/// How a column aligns its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers and sizes.
    Right,
}

/// A table built row by row and written once its widths are known.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
    marked: Vec<bool>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| (*h).to_string()).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            rows: Vec::new(),
            marked: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
        self.marked.push(false);
    }

    /// Marks the last row added, for [`Table::write_styled`] to emphasise (a leak, a failure).
    pub fn mark_last(&mut self) {
        if let Some(m) = self.marked.last_mut() {
            *m = true;
        }
    }

    /// How many rows were added.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no rows were added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the header and rows, each line trimmed of trailing spaces.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        self.write_styled(out, &|line| line.to_string())
    }

    /// Like [`Table::write`], passing each marked row's whole line through `style` after
    /// alignment (so colour codes do not disturb the widths).
    pub fn write_styled(
        &self,
        out: &mut dyn Write,
        style: &dyn Fn(&str) -> String,
    ) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let pad = widths[i].saturating_sub(cell.chars().count());
                match self.aligns[i] {
                    Align::Left => {
                        text.push_str(cell);
                        text.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        text.extend(std::iter::repeat_n(' ', pad));
                        text.push_str(cell);
                    }
                }
            }
            text.trim_end().to_string()
        };
        writeln!(out, "{}", line(&self.headers))?;
        for (row, marked) in self.rows.iter().zip(&self.marked) {
            let text = line(row);
            if *marked {
                writeln!(out, "{}", style(&text))?;
            } else {
                writeln!(out, "{text}")?;
            }
        }
        Ok(())
    }
}

/// Makes a cell printable on one line: control characters (a newline in a command name, an
/// escape sequence in a file name) become `?`, so a hostile name cannot break a table or the
/// terminal.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_text_left_and_numbers_right() {
        let mut t = Table::new(&[("KIND", Align::Left), ("SIZE", Align::Right)]);
        t.row(vec!["sysv".into(), "27B".into()]);
        t.row(vec!["shared-anon".into(), "2.0G".into()]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "KIND         SIZE\nsysv          27B\nshared-anon  2.0G\n"
        );
    }

    #[test]
    fn sanitize_removes_control_characters() {
        assert_eq!(sanitize("a\nb\x1b[31m"), "a?b?[31m");
    }
}
