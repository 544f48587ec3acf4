//! Drawing: the title, free's line, buff/cache as bars, the objects table (its columns fitted
//! to the width, the least needed dropped first on a narrow screen), the footer and the
//! boxes (keys, stat, confirmation). It reads the state and never changes what is shown.

use super::{App, Mode};
use crate::command::top::batch;
use crate::command::top::model::{self, Growth, Line};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Padding, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use shmkit::render::size;
use shmkit::scan::Object;

/// The columns a table can show, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Kind,
    Address,
    Container,
    Size,
    Rss,
    Rate,
    Since,
    Age,
    Holders,
    Status,
}

impl Col {
    fn title(self) -> &'static str {
        match self {
            Col::Kind => "KIND",
            Col::Address => "ADDRESS",
            Col::Container => "CONTAINER",
            Col::Size => "SIZE",
            Col::Rss => "RSS",
            Col::Rate => "GROWTH/S",
            Col::Since => "SINCE START",
            Col::Age => "AGE",
            Col::Holders => "HOLDERS",
            Col::Status => "STATUS",
        }
    }

    fn right(self) -> bool {
        matches!(
            self,
            Col::Size | Col::Rss | Col::Rate | Col::Since | Col::Age
        )
    }

    /// The widest a cell may be before it is cut.
    fn cap(self) -> usize {
        match self {
            Col::Address => 64,
            Col::Container => 24,
            Col::Holders => 24,
            _ => 16,
        }
    }

    fn cell(self, o: &Object, g: &Growth, now: i64) -> String {
        match self {
            Col::Kind => o.kind.to_string(),
            Col::Address => model::label(o),
            Col::Container => model::container(o).unwrap_or_else(|| "-".to_string()),
            Col::Size => size::human(o.size),
            Col::Rss => o.resident.map_or("-".into(), size::human),
            Col::Rate => model::rate_cell(g),
            Col::Since => model::since_cell(g),
            Col::Age => o.created.map_or("-".into(), |c| {
                crate::command::ls::age(now.saturating_sub(c))
            }),
            Col::Holders => model::holders_cell(o),
            Col::Status => model::status(o).to_string(),
        }
    }
}

/// The columns that fit in `width`, each with its width: the address takes what is left,
/// and when too little is left the least needed columns go first.
fn fit_columns(width: usize, natural: &[(Col, usize)]) -> Vec<(Col, usize)> {
    const DROP_ORDER: [Col; 5] = [
        Col::Age,
        Col::Since,
        Col::Size,
        Col::Container,
        Col::Holders,
    ];
    let mut cols: Vec<(Col, usize)> = natural.to_vec();
    let address_natural = natural
        .iter()
        .find(|(c, _)| *c == Col::Address)
        .map_or(0, |(_, w)| *w);
    let address_min = address_natural.min(22);
    let others = |cols: &[(Col, usize)]| -> usize {
        cols.iter()
            .filter(|(c, _)| *c != Col::Address)
            .map(|(_, w)| w + 1)
            .sum()
    };
    for drop in DROP_ORDER {
        if width >= others(&cols) + address_min {
            break;
        }
        cols.retain(|(c, _)| *c != drop);
    }
    let left = width.saturating_sub(others(&cols));
    for (c, w) in &mut cols {
        if *c == Col::Address {
            *w = left.min(address_natural).max(address_min.min(left));
        }
    }
    cols
}

pub(super) fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let bar_rows = buff_cache_rows(app);
    let [title, free, bars, table, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(bar_rows),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_title(f, app, title);
    draw_free(f, app, free);
    draw_bars(f, app, bars);
    draw_table(f, app, table);
    draw_footer(f, app, footer);
    match &app.mode {
        Mode::Help => draw_help(f, area),
        Mode::Stat {
            title,
            text,
            scroll,
        } => draw_box(f, area, &format!(" stat {title} "), text, *scroll),
        Mode::Confirm { question, .. } => draw_box(
            f,
            area,
            " remove ",
            &format!("{question}\n\nOnly if `shmkit rm` would. y: remove   any other key: keep"),
            0,
        ),
        Mode::Normal | Mode::Filter => {}
    }
}

fn draw_title(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![Span::styled(
        "shmkit top",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if let Some(s) = &app.sample {
        spans.push(Span::raw(format!("  {}", batch::clock(s.unix))));
    }
    // Holders of processes that were already running are read again every few samples (or
    // at once when a signal says they changed): say how old the oldest reading is.
    let holders_age = app.sample.as_ref().map(|s| {
        let age = s.refresh.since_full_time.as_secs_f64();
        format!("  holders read {}s ago", age.round())
    });
    let shown = app
        .lines
        .iter()
        .filter(|l| matches!(l, Line::Object(_)))
        .count();
    spans.push(Span::raw(format!(
        "  every {}  sample {}  {} of {} objects  sort {}{}",
        batch::seconds(app.interval),
        app.samples,
        shown,
        app.objects().len(),
        app.view.sort.as_str(),
        if app.view.reverse { " (reversed)" } else { "" }
    )));
    spans.extend(holders_age.map(Span::raw));
    let mut filters = Vec::new();
    if let [kind] = app.view.kinds.as_slice() {
        filters.push(format!("kind {kind}"));
    } else if !app.view.kinds.is_empty() {
        let names: Vec<&str> = app.view.kinds.iter().map(|k| k.as_str()).collect();
        filters.push(format!("kind {}", names.join(",")));
    }
    if let Some(c) = &app.view.container {
        filters.push(format!("container {c}"));
    }
    if !app.view.text.is_empty() {
        filters.push(format!(
            "/{}",
            shmkit::render::table::sanitize(&app.view.text)
        ));
    }
    if app.view.group {
        filters.push("grouped".into());
    }
    if !filters.is_empty() {
        spans.push(Span::raw(format!("  [{}]", filters.join(" "))));
    }
    if app.paused {
        spans.push(Span::styled(
            "  PAUSED",
            app.style(Color::Yellow).add_modifier(Modifier::BOLD),
        ));
    }
    f.render_widget(Paragraph::new(TextLine::from(spans)), area);
}

fn draw_free(f: &mut Frame, app: &App, area: Rect) {
    let text = match (&app.sample, &app.failure) {
        (_, Some(e)) => Span::styled(
            format!("scan failed: {}", shmkit::render::table::sanitize(e)),
            app.style(Color::Red),
        ),
        (None, None) => Span::raw("scanning ..."),
        (Some(s), None) => Span::raw(free_line(&s.report.free, area.width as usize)),
    };
    f.render_widget(Paragraph::new(TextLine::from(text)), area);
}

/// free's numbers on one line; swap only where it fits.
fn free_line(m: &shmkit::report::FreeHeader, width: usize) -> String {
    let h = size::human;
    let mem = format!(
        "Mem {}  used {}  free {}  shared {}  buff/cache {}  avail {}",
        h(m.total),
        h(m.used),
        h(m.free),
        h(m.shared),
        h(m.buff_cache),
        h(m.available)
    );
    let swap = format!("   Swap {}  used {}", h(m.swap_total), h(m.swap_used));
    if mem.chars().count() + swap.chars().count() <= width {
        mem + &swap
    } else {
        mem
    }
}

fn buff_cache_rows(app: &App) -> u16 {
    let parts = app
        .sample
        .as_ref()
        .map_or(6, |s| batch::buff_cache_parts(&s.report).len());
    parts.div_ceil(2) as u16
}

fn part_colour(name: &str) -> Color {
    match name {
        "clean page cache" => Color::Green,
        "mapped" => Color::Yellow,
        "dirty" => Color::LightRed,
        "buffers" => Color::Blue,
        "slab" => Color::Cyan,
        _ => Color::Magenta,
    }
}

/// buff/cache's parts as bars, two per line, each as long as its share of buff/cache.
fn draw_bars(f: &mut Frame, app: &App, area: Rect) {
    let Some(s) = &app.sample else {
        return;
    };
    let parts = batch::buff_cache_parts(&s.report);
    let total = s.report.free.buff_cache.max(1);
    let half = (area.width / 2) as usize;
    let mut lines = Vec::new();
    for pair in parts.chunks(2) {
        let mut spans = Vec::new();
        for (name, bytes) in pair {
            let label = format!("{name:>16} {:>6} ", size::human(*bytes));
            let pct = (*bytes as f64 * 100.0 / total as f64).min(100.0);
            let bar_width = half.saturating_sub(label.len() + 6).max(1);
            let filled = ((pct / 100.0) * bar_width as f64).round() as usize;
            spans.push(Span::raw(label));
            spans.push(Span::styled(
                "█".repeat(filled),
                app.style(part_colour(name)),
            ));
            spans.push(Span::styled(
                "░".repeat(bar_width - filled.min(bar_width)),
                app.style(Color::DarkGray),
            ));
            spans.push(Span::raw(format!("{pct:>4.0}% ")));
        }
        lines.push(TextLine::from(spans));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn draw_table(f: &mut Frame, app: &mut App, area: Rect) {
    let objects = app.objects();
    let now = app.sample.as_ref().map_or(0, |s| s.unix);
    let default_growth = Growth {
        per_second: None,
        since_start: None,
        new: false,
    };
    let mut cols = vec![Col::Kind, Col::Address];
    if objects.iter().any(|o| model::container(o).is_some()) {
        cols.push(Col::Container);
    }
    cols.extend([
        Col::Size,
        Col::Rss,
        Col::Rate,
        Col::Since,
        Col::Age,
        Col::Holders,
        Col::Status,
    ]);
    let cells: Vec<Option<Vec<String>>> = app
        .lines
        .iter()
        .map(|l| match l {
            Line::Object(i) => {
                let g = app.growth.get(*i).unwrap_or(&default_growth);
                Some(cols.iter().map(|c| c.cell(&objects[*i], g, now)).collect())
            }
            Line::Group { .. } => None,
        })
        .collect();
    let natural: Vec<(Col, usize)> = cols
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let widest = cells
                .iter()
                .flatten()
                .map(|row| row[j].chars().count())
                .max()
                .unwrap_or(0);
            (*c, widest.max(c.title().len()).min(c.cap()))
        })
        .collect();
    let fitted = fit_columns(area.width as usize, &natural);
    let keep: Vec<usize> = fitted
        .iter()
        .filter_map(|(c, _)| cols.iter().position(|x| x == c))
        .collect();
    let header = Row::new(fitted.iter().map(|(c, w)| aligned(c.title(), *c, *w)))
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let mut headings = Vec::new();
    let rows: Vec<Row> = app
        .lines
        .iter()
        .zip(&cells)
        .map(|(line, row)| match (line, row) {
            (
                Line::Group {
                    name,
                    objects,
                    resident,
                },
                _,
            ) => {
                // A table cell cannot span columns: the row stays empty here and its heading
                // is drawn across the whole width once the table is.
                headings.push(format!(
                    "[{}] {objects} objects, {} resident",
                    shmkit::render::table::sanitize(name),
                    size::human(*resident)
                ));
                Row::new(Vec::<Cell>::new())
            }
            (Line::Object(i), Some(row)) => {
                let cells = keep.iter().zip(&fitted).map(|(&j, (c, w))| {
                    let text = cut(&row[j], *w);
                    aligned(&text, *c, *w)
                });
                let o = &objects[*i];
                let style = if o.status.orphan {
                    app.style(Color::Red)
                } else {
                    Style::default()
                };
                Row::new(cells).style(style)
            }
            (Line::Object(_), None) => Row::new(Vec::<Cell>::new()),
        })
        .collect();
    let empty = rows.is_empty();
    let widths: Vec<Constraint> = fitted
        .iter()
        .map(|(_, w)| Constraint::Length(*w as u16))
        .collect();
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_stateful_widget(table, area, &mut app.table);
    let offset = app.table.offset();
    let mut heading = headings.into_iter();
    for (index, line) in app.lines.iter().enumerate() {
        if !matches!(line, Line::Group { .. }) {
            continue;
        }
        let Some(text) = heading.next() else {
            break;
        };
        // Below the header row, if scrolled into view.
        let Some(y) = index
            .checked_sub(offset)
            .and_then(|row| u16::try_from(row + 1).ok())
            .filter(|&row| row < area.height)
        else {
            continue;
        };
        let rect = Rect {
            y: area.y + y,
            height: 1,
            ..area
        };
        let mut style = Style::default().add_modifier(Modifier::BOLD);
        if app.table.selected() == Some(index) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        f.render_widget(Paragraph::new(text).style(style), rect);
    }
    if empty && app.sample.is_some() {
        let msg = Rect {
            y: area.y + 1,
            height: 1,
            ..area
        };
        f.render_widget(Paragraph::new("no shared-memory objects match"), msg);
    }
}

/// Cuts `text` to `width` characters, marking the cut with `~`.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('~');
    out
}

fn aligned<'a>(text: &str, col: Col, width: usize) -> Cell<'a> {
    if col.right() {
        Cell::from(format!("{text:>width$}"))
    } else {
        Cell::from(text.to_string())
    }
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let line = if matches!(app.mode, Mode::Filter) {
        TextLine::from(vec![
            Span::styled("filter: /", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(shmkit::render::table::sanitize(&app.view.text)),
            Span::styled("_", Style::default().add_modifier(Modifier::SLOW_BLINK)),
            Span::raw("   Enter keep   Esc clear"),
        ])
    } else if let Some(m) = &app.message {
        TextLine::from(Span::styled(
            shmkit::render::table::sanitize(m),
            Style::default().add_modifier(Modifier::BOLD),
        ))
    } else if area.width >= 100 {
        TextLine::from(
            "q quit  ? keys  r/g/a/n sort  k kind  c container  / find  G group  p pause  Enter stat  d remove",
        )
    } else {
        TextLine::from("q quit ? keys r/g/a/n sort k kind / find p pause Enter stat d remove")
    };
    f.render_widget(Paragraph::new(line), area);
}

/// The keys, as `?` lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("q, Ctrl-C", "quit (the terminal is left as it was)"),
    ("?, h", "this list"),
    ("arrows, PgUp, PgDn", "select an object (Home, End)"),
    ("r", "sort by resident (again: reverse)"),
    ("g", "sort by growth per second"),
    ("a", "sort by age, oldest first"),
    ("n", "sort by address or name"),
    ("k", "filter by kind: all, then each in turn"),
    ("c", "filter by container: all, then each in turn"),
    ("/", "filter by text: address, name, holder, status"),
    ("Esc", "clear every filter"),
    ("G", "group rows by container"),
    ("p, Space", "pause / resume sampling"),
    ("Enter", "shmkit stat of the selected object"),
    ("d, Delete", "remove the selected object if shmkit rm would"),
];

fn draw_help(f: &mut Frame, area: Rect) {
    let width = KEYS.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text: Vec<String> = KEYS
        .iter()
        .map(|(k, what)| format!("{k:>width$}  {what}"))
        .collect();
    text.push(String::new());
    text.push("GROWTH/S: resident bytes per second since the last sample.".into());
    text.push("SINCE START: since the first (a new object starts at 0).".into());
    text.push("Any key closes this.".into());
    draw_box(f, area, " keys ", &text.join("\n"), 0);
}

/// A bordered box in the middle of the screen, as wide as its text (or the screen).
fn draw_box(f: &mut Frame, area: Rect, title: &str, text: &str, scroll: u16) {
    let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 4;
    let width = longest.max(40).min(area.width);
    let lines = text.lines().count() as u16 + 2;
    let height = lines.min(area.height.saturating_sub(2)).max(3);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(text.to_string())
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .padding(Padding::horizontal(1))
                    .title(title.to_string()),
            ),
        rect,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_screens_drop_the_least_needed_columns_first() {
        let natural = [
            (Col::Kind, 11),
            (Col::Address, 30),
            (Col::Size, 6),
            (Col::Rss, 6),
            (Col::Rate, 8),
            (Col::Since, 11),
            (Col::Age, 4),
            (Col::Holders, 14),
            (Col::Status, 6),
        ];
        let wide = fit_columns(160, &natural);
        assert_eq!(wide.len(), natural.len());
        assert_eq!(wide[1], (Col::Address, 30));
        let narrow = fit_columns(80, &natural);
        let names: Vec<Col> = narrow.iter().map(|(c, _)| *c).collect();
        assert!(!names.contains(&Col::Age), "{names:?}");
        assert!(names.contains(&Col::Rss) && names.contains(&Col::Status));
        let used: usize = narrow.iter().map(|(_, w)| w + 1).sum();
        assert!(used <= 81, "{narrow:?}");
        assert!(narrow[1].1 >= 22, "the address keeps room: {narrow:?}");
    }

    #[test]
    fn cut_marks_what_it_cuts() {
        assert_eq!(cut("sysv:id=123", 20), "sysv:id=123");
        assert_eq!(cut("posix:/a-long-name", 8), "posix:/~");
    }
}
