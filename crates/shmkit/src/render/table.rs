//! Aligned text tables: left-aligned words, right-aligned numbers, two spaces between columns;
//! with a [`Layout`], util-linux's conventions: chosen columns, no header, raw output, and
//! lines that fit the terminal.

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
///
/// Columns given to [`Table::new`] are shown by default; those added with
/// [`Table::optional`] only when asked (`-o`, `--output-all`). A [`Layout`] picks the
/// columns, the header, raw output and the width to fit, the way util-linux tools do.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    defaults: usize,
    rows: Vec<Vec<String>>,
    marked: Vec<bool>,
}

/// A table's column names, as [`Table::columns`] gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Columns<'a> {
    /// Shown unless `-o` picks others.
    pub defaults: &'a [String],
    /// Shown only when asked (`-o`, `--output-all`).
    pub optional: &'a [String],
}

/// How a table is written: which columns, with or without the header, aligned or raw, and
/// how wide the line may be. The default is every default column, a header, aligned, any
/// width.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The columns to show, by header name (any case), in this order; a list whose every
    /// name starts with `+` adds those to the default columns. `None`: the default columns.
    pub columns: Option<Vec<String>>,
    /// Every column, default and optional (`--output-all`).
    pub all_columns: bool,
    /// Leave out the header line (`-n`).
    pub no_headings: bool,
    /// One space between cells, no padding, and spaces, backslashes and control characters
    /// escaped as `\xNN`, so every line splits on spaces (`--raw`).
    pub raw: bool,
    /// Fit lines into this many columns (the terminal's width) by truncating the widest
    /// columns with `…`; `None` for any width.
    pub width: Option<usize>,
}

/// A column name `-o` asked for that the table does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown column '{name}'; the columns are {known}")]
pub struct UnknownColumn {
    name: String,
    known: String,
}

/// The width of `text` on a terminal (East Asian wide characters count two).
pub fn display_width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` cut to at most `width` terminal columns, ending in `…` when cut.
fn truncate(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// A cell for `--raw`: spaces, backslashes and control characters as `\xNN` (like
/// util-linux), and an empty cell as `-`, so that splitting a line on spaces gives the cells.
fn raw_cell(text: &str) -> String {
    if text.is_empty() {
        return "-".to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' || c == '\\' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Table {
    /// A table with these columns, all shown by default.
    pub fn new(columns: &[(&str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|(h, _)| (*h).to_string()).collect(),
            aligns: columns.iter().map(|(_, a)| *a).collect(),
            defaults: columns.len(),
            rows: Vec::new(),
            marked: Vec::new(),
        }
    }

    /// Adds columns shown only when asked for; rows give their cells after the default ones.
    pub fn optional(mut self, columns: &[(&str, Align)]) -> Self {
        self.headers
            .extend(columns.iter().map(|(h, _)| (*h).to_string()));
        self.aligns.extend(columns.iter().map(|(_, a)| *a));
        self
    }

    /// The column names: the default ones, then the optional ones.
    pub fn columns(&self) -> Columns<'_> {
        let (defaults, optional) = self.headers.split_at(self.defaults.min(self.headers.len()));
        Columns { defaults, optional }
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

    /// The indices of the columns `layout` shows, or the name it gave that is not a column.
    pub fn chosen(&self, layout: &Layout) -> Result<Vec<usize>, UnknownColumn> {
        if layout.all_columns {
            return Ok((0..self.headers.len()).collect());
        }
        let defaults: Vec<usize> = (0..self.defaults.min(self.headers.len())).collect();
        let Some(names) = &layout.columns else {
            return Ok(defaults);
        };
        let adding = !names.is_empty() && names.iter().all(|n| n.starts_with('+'));
        let mut chosen = if adding { defaults } else { Vec::new() };
        for name in names {
            let name = name.trim().trim_start_matches('+');
            if name.is_empty() {
                continue;
            }
            let index = self
                .headers
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| UnknownColumn {
                    name: name.to_string(),
                    known: self.headers.join(", "),
                })?;
            if !chosen.contains(&index) {
                chosen.push(index);
            }
        }
        Ok(chosen)
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
        let all: Vec<usize> = (0..self.headers.len()).collect();
        self.write_columns(out, &all, &Layout::default(), style)
    }

    /// Writes the table as `layout` says; an unknown column is an `InvalidInput` error.
    pub fn write_layout(
        &self,
        out: &mut dyn Write,
        layout: &Layout,
        style: &dyn Fn(&str) -> String,
    ) -> io::Result<()> {
        let chosen = self
            .chosen(layout)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.write_columns(out, &chosen, layout, style)
    }

    fn write_columns(
        &self,
        out: &mut dyn Write,
        chosen: &[usize],
        layout: &Layout,
        style: &dyn Fn(&str) -> String,
    ) -> io::Result<()> {
        let pick = |cells: &[String]| -> Vec<String> {
            chosen.iter().map(|&i| cells[i].clone()).collect()
        };
        let headers = pick(&self.headers);
        let rows: Vec<Vec<String>> = self.rows.iter().map(|r| pick(r)).collect();
        if layout.raw {
            let line = |cells: &[String]| {
                cells
                    .iter()
                    .map(|c| raw_cell(c))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            if !layout.no_headings {
                writeln!(out, "{}", line(&headers))?;
            }
            for row in &rows {
                writeln!(out, "{}", line(row))?;
            }
            return Ok(());
        }
        let aligns: Vec<Align> = chosen.iter().map(|&i| self.aligns[i]).collect();
        let mut widths: Vec<usize> = if layout.no_headings {
            vec![0; headers.len()]
        } else {
            headers.iter().map(|h| display_width(h)).collect()
        };
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        if let Some(limit) = layout.width {
            fit(&mut widths, &headers, &aligns, limit);
        }
        let line = |cells: &[String]| -> String {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                let cell = truncate(cell, widths[i]);
                let pad = widths[i].saturating_sub(display_width(&cell));
                match aligns[i] {
                    Align::Left => {
                        text.push_str(&cell);
                        text.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        text.extend(std::iter::repeat_n(' ', pad));
                        text.push_str(&cell);
                    }
                }
            }
            text.trim_end().to_string()
        };
        if !layout.no_headings {
            writeln!(out, "{}", line(&headers))?;
        }
        for (row, marked) in rows.iter().zip(&self.marked) {
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

/// Shrinks the widest text columns, one character at a time, until the line fits `limit`
/// (libsmartcols truncates the same way). Numbers are never cut, nor a column below its
/// header's width (at least 4): a line that still does not fit is left to wrap.
fn fit(widths: &mut [usize], headers: &[String], aligns: &[Align], limit: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + 2 * w.len().saturating_sub(1);
    let floor: Vec<usize> = headers.iter().map(|h| display_width(h).max(4)).collect();
    while total(widths) > limit {
        let widest = (0..widths.len())
            .filter(|&i| aligns[i] == Align::Left && widths[i] > floor[i])
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
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

    fn sample() -> Table {
        let mut t = Table::new(&[
            ("KIND", Align::Left),
            ("NAME", Align::Left),
            ("SIZE", Align::Right),
        ])
        .optional(&[("UID", Align::Right)]);
        t.row(vec![
            "posix".into(),
            "/a name".into(),
            "4.0K".into(),
            "0".into(),
        ]);
        t.row(vec![
            "sysv".into(),
            "0x0000162e id=5".into(),
            "27B".into(),
            "1000".into(),
        ]);
        t
    }

    fn written(t: &Table, layout: &Layout) -> String {
        let mut out = Vec::new();
        t.write_layout(&mut out, layout, &|l| l.to_string())
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn output_picks_columns_in_the_order_given_and_plus_adds_to_the_defaults() {
        let t = sample();
        let only = Layout {
            columns: Some(vec!["size".into(), "KIND".into()]),
            ..Layout::default()
        };
        assert_eq!(written(&t, &only), "SIZE  KIND\n4.0K  posix\n 27B  sysv\n");
        let plus = Layout {
            columns: Some(vec!["+UID".into()]),
            no_headings: true,
            ..Layout::default()
        };
        assert_eq!(
            written(&t, &plus),
            "posix  /a name          4.0K     0\nsysv   0x0000162e id=5   27B  1000\n"
        );
        let all = Layout {
            all_columns: true,
            ..Layout::default()
        };
        assert!(written(&t, &all).starts_with("KIND   NAME             SIZE   UID\n"));
        let bad = Layout {
            columns: Some(vec!["NOPE".into()]),
            ..Layout::default()
        };
        assert_eq!(
            t.chosen(&bad).unwrap_err().to_string(),
            "unknown column 'NOPE'; the columns are KIND, NAME, SIZE, UID"
        );
    }

    #[test]
    fn raw_separates_by_one_space_and_escapes_spaces() {
        let layout = Layout {
            columns: Some(vec!["NAME".into(), "SIZE".into()]),
            raw: true,
            ..Layout::default()
        };
        assert_eq!(
            written(&sample(), &layout),
            "NAME SIZE\n/a\\x20name 4.0K\n0x0000162e\\x20id=5 27B\n"
        );
    }

    #[test]
    fn a_narrow_terminal_truncates_the_widest_text_column() {
        let mut t = Table::new(&[
            ("KIND", Align::Left),
            ("NAME", Align::Left),
            ("SIZE", Align::Right),
        ]);
        t.row(vec![
            "posix".into(),
            "/a-very-long-name-that-does-not-fit".into(),
            "4.0K".into(),
        ]);
        let layout = Layout {
            width: Some(30),
            ..Layout::default()
        };
        let text = written(&t, &layout);
        for line in text.lines() {
            assert!(display_width(line) <= 30, "{line:?}");
        }
        assert!(text.contains("/a-very-long-nam…  4.0K"), "{text}");
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let mut t = Table::new(&[("NAME", Align::Left), ("SIZE", Align::Right)]);
        t.row(vec!["共享内存".into(), "1".into()]);
        t.row(vec!["ab".into(), "2".into()]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME      SIZE\n共享内存     1\nab           2\n"
        );
    }

    #[test]
    fn sanitize_removes_control_characters() {
        assert_eq!(sanitize("a\nb\x1b[31m"), "a?b?[31m");
    }
}
