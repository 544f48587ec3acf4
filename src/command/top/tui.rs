//! The terminal interface: one loop that receives messages (samples from the collector, keys
//! from the input thread, results from workers), updates the state, and draws once per batch
//! of messages, so a storm of resize events costs one frame.
//!
//! The terminal is put back as it was (cooked mode, main screen, cursor shown) on every way
//! out: `q`, Ctrl-C, SIGTERM/SIGHUP/SIGINT, an error, and a panic in any thread.

use super::actions;
use super::batch;
use super::collector::{Collected, Collector, Control, Sample};
use super::model::{self, Growth, Identity, Line, SortKey, Tracker, View};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Padding, Paragraph, Row, Table, TableState, Wrap,
};
use ratatui::{Frame, Terminal};
use shmkit::render::size;
use shmkit::scan::{Kind, Object};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything the loop reacts to.
#[derive(Debug)]
enum Msg {
    Collected(Collected),
    Input(Event),
    /// SIGTERM, SIGHUP or SIGINT arrived (its number).
    Signal(i32),
    /// A `stat` worker finished.
    Stat {
        title: String,
        text: String,
    },
    /// A removal worker finished, with the line to show.
    Done(String),
}

/// Puts the terminal back as it was.
fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
}

/// Raw mode and the alternate screen while alive; restored on drop, even when unwinding.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> std::io::Result<TerminalGuard> {
        terminal::enable_raw_mode()?;
        let guard = TerminalGuard;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// A panic in any thread restores the terminal before the message is printed (so it is
/// readable) and ends the process: a half-dead interface on a raw terminal helps nobody.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
        std::process::exit(101);
    }));
}

/// Reads terminal events and signals, and sends them to the loop until told to stop.
fn start_input(tx: Sender<Msg>, stop: Arc<AtomicBool>, signalled: Arc<AtomicUsize>) {
    let spawned = std::thread::Builder::new()
        .name("shmkit-top-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let signal = signalled.swap(0, Ordering::Relaxed);
                if signal != 0 && tx.send(Msg::Signal(signal as i32)).is_err() {
                    return;
                }
                // A bounded wait, so a signal or a stop is noticed without a key press.
                match event::poll(Duration::from_millis(250)) {
                    Ok(true) => match event::read() {
                        Ok(ev) => {
                            if tx.send(Msg::Input(ev)).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                    Ok(false) => {}
                    Err(_) => return,
                }
            }
        });
    if spawned.is_err() {
        // Without input the loop still ends on a signal through the collector's messages.
        eprintln!("shmkit: cannot start the input thread");
    }
}

/// An overlay or an input mode on top of the table.
#[derive(Debug)]
enum Mode {
    Normal,
    /// Typing the text filter (the view's text is live-updated).
    Filter,
    Help,
    Stat {
        title: String,
        text: String,
        scroll: u16,
    },
    Confirm {
        object: Box<Object>,
        question: String,
    },
}

/// The interface's state.
struct App {
    interval: Duration,
    colour: bool,
    tx: Sender<Msg>,
    control: Sender<Control>,
    paused: bool,
    sample: Option<Box<Sample>>,
    samples: u64,
    tracker: Tracker,
    previous: Option<Instant>,
    growth: Vec<Growth>,
    view: View,
    lines: Vec<Line>,
    selected: Option<Identity>,
    table: TableState,
    mode: Mode,
    message: Option<String>,
    failure: Option<String>,
    quit: bool,
    exit: u8,
}

/// Runs the interface until the user quits; the exit code is 0, or 128 + the signal that
/// ended it.
pub fn run(
    root: PathBuf,
    interval: Duration,
    view: View,
    panic_after: Option<u64>,
) -> anyhow::Result<u8> {
    let (tx, rx) = mpsc::channel();
    let signalled = Arc::new(AtomicUsize::new(0));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
    ] {
        signal_hook::flag::register_usize(sig, Arc::clone(&signalled), sig as usize)?;
    }
    install_panic_hook();
    let guard = TerminalGuard::enter()?;
    let mut term = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    let collector = Collector::start(root, interval, tx.clone(), Msg::Collected, panic_after)?;
    let stop = Arc::new(AtomicBool::new(false));
    start_input(tx.clone(), Arc::clone(&stop), signalled);
    let mut app = App {
        interval,
        colour: std::env::var_os("NO_COLOR").is_none(),
        tx,
        control: collector.control.clone(),
        paused: false,
        sample: None,
        samples: 0,
        tracker: Tracker::new(),
        previous: None,
        growth: Vec::new(),
        view,
        lines: Vec::new(),
        selected: None,
        table: TableState::default(),
        mode: Mode::Normal,
        message: None,
        failure: None,
        quit: false,
        exit: 0,
    };
    let result = (|| -> anyhow::Result<()> {
        term.draw(|f| draw(f, &mut app))?;
        while let Ok(first) = rx.recv() {
            app.handle(first);
            while let Ok(more) = rx.try_recv() {
                app.handle(more);
            }
            if app.quit {
                break;
            }
            term.draw(|f| draw(f, &mut app))?;
        }
        Ok(())
    })();
    stop.store(true, Ordering::Relaxed);
    drop(term);
    drop(guard);
    collector.stop();
    result.map(|()| app.exit)
}

impl App {
    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Collected(Collected::Sample(sample)) => self.take(sample),
            Msg::Collected(Collected::Failed(e)) => self.failure = Some(e),
            Msg::Input(Event::Key(key)) if key.kind != KeyEventKind::Release => self.key(key),
            Msg::Input(_) => {}
            Msg::Signal(n) => {
                // The shell's convention for a death by signal, though the exit is orderly.
                self.exit = 128 + n as u8;
                self.quit = true;
            }
            Msg::Stat { title, text } => {
                // Only if the user still waits for it.
                if let Mode::Stat { title: t, .. } = &self.mode {
                    if *t == title {
                        self.mode = Mode::Stat {
                            title,
                            text,
                            scroll: 0,
                        };
                    }
                }
            }
            Msg::Done(line) => {
                self.message = Some(line);
                let _ = self.control.send(Control::Now);
            }
        }
    }

    fn take(&mut self, sample: Box<Sample>) {
        if self.paused {
            return;
        }
        let elapsed = self.previous.map_or(Duration::ZERO, |p| {
            sample.taken.saturating_duration_since(p)
        });
        self.previous = Some(sample.taken);
        let (growth, _) = self.tracker.update(&sample.scan.objects, elapsed);
        self.growth = growth;
        self.samples += 1;
        self.failure = None;
        self.sample = Some(sample);
        self.relayout();
    }

    fn objects(&self) -> &[Object] {
        self.sample.as_ref().map_or(&[], |s| &s.scan.objects)
    }

    /// Recomputes the rows and keeps the selection on the same object.
    fn relayout(&mut self) {
        self.lines = model::lines(&self.view, self.objects(), &self.growth);
        let position = self.selected.as_ref().and_then(|id| {
            self.lines.iter().position(|l| match l {
                Line::Object(i) => Identity::of(&self.objects()[*i]) == *id,
                Line::Group { .. } => false,
            })
        });
        let index = position.or_else(|| {
            let old = self.table.selected().unwrap_or(0);
            self.nearest_object(old.min(self.lines.len().saturating_sub(1)), 1)
        });
        self.select(index);
    }

    /// The first object line at or after `from` in `step`'s direction, else in the other.
    fn nearest_object(&self, from: usize, step: isize) -> Option<usize> {
        let is_object = |i: usize| matches!(self.lines.get(i), Some(Line::Object(_)));
        let mut i = from as isize;
        while i >= 0 && (i as usize) < self.lines.len() {
            if is_object(i as usize) {
                return Some(i as usize);
            }
            i += step;
        }
        let mut i = from as isize;
        while i >= 0 && (i as usize) < self.lines.len() {
            if is_object(i as usize) {
                return Some(i as usize);
            }
            i -= step;
        }
        None
    }

    fn select(&mut self, index: Option<usize>) {
        self.table.select(index);
        self.selected = self.selected_object().map(Identity::of);
    }

    fn selected_object(&self) -> Option<&Object> {
        match self.lines.get(self.table.selected()?)? {
            Line::Object(i) => self.objects().get(*i),
            Line::Group { .. } => None,
        }
    }

    fn move_by(&mut self, delta: isize) {
        if self.lines.is_empty() {
            return;
        }
        let now = self.table.selected().unwrap_or(0) as isize;
        let last = self.lines.len() as isize - 1;
        let target = (now + delta).clamp(0, last) as usize;
        let index = self.nearest_object(target, if delta < 0 { -1 } else { 1 });
        self.select(index);
    }

    fn key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('d')) {
            self.quit = true;
            return;
        }
        match &mut self.mode {
            Mode::Filter => {
                match key.code {
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        self.view.text.clear();
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Backspace => {
                        self.view.text.pop();
                    }
                    KeyCode::Char(c) if !ctrl => self.view.text.push(c),
                    _ => {}
                }
                self.relayout();
                return;
            }
            Mode::Help => {
                if key.code == KeyCode::Char('q') {
                    self.quit = true;
                }
                self.mode = Mode::Normal;
                return;
            }
            Mode::Stat { scroll, .. } => {
                match key.code {
                    KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                    KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                    KeyCode::PageDown | KeyCode::Char(' ') => *scroll = scroll.saturating_add(10),
                    KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                    KeyCode::Char('q') => self.quit = true,
                    _ => self.mode = Mode::Normal,
                }
                return;
            }
            Mode::Confirm { object, .. } => {
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    let object = object.clone();
                    self.message = Some(format!("removing {} ...", model::label(&object)));
                    let tx = self.tx.clone();
                    std::thread::spawn(move || {
                        let _ = tx.send(Msg::Done(actions::remove(&object)));
                    });
                } else {
                    self.message = Some("nothing removed".into());
                }
                self.mode = Mode::Normal;
                return;
            }
            Mode::Normal => {}
        }
        self.message = None;
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc => {
                self.view.kinds.clear();
                self.view.container = None;
                self.view.text.clear();
            }
            KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => self.mode = Mode::Help,
            KeyCode::Char('r') => self.sort_by(SortKey::Resident),
            KeyCode::Char('g') => self.sort_by(SortKey::Growth),
            KeyCode::Char('a') => self.sort_by(SortKey::Age),
            KeyCode::Char('n') => self.sort_by(SortKey::Name),
            KeyCode::Char('k') => self.next_kind(),
            KeyCode::Char('c') => self.next_container(),
            KeyCode::Char('G') => self.view.group = !self.view.group,
            KeyCode::Char('/') => self.mode = Mode::Filter,
            KeyCode::Char('p') | KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::Up => self.move_by(-1),
            KeyCode::PageDown => self.move_by(10),
            KeyCode::PageUp => self.move_by(-10),
            KeyCode::Home => self.move_by(isize::MIN / 2),
            KeyCode::End => self.move_by(isize::MAX / 2),
            KeyCode::Enter => self.show_stat(),
            KeyCode::Char('d') | KeyCode::Delete => self.ask_remove(),
            _ => {}
        }
        self.relayout();
    }

    fn sort_by(&mut self, key: SortKey) {
        if self.view.sort == key {
            self.view.reverse = !self.view.reverse;
        } else {
            self.view.sort = key;
            self.view.reverse = false;
        }
    }

    /// All kinds, then each kind in turn.
    fn next_kind(&mut self) {
        let next = match self.view.kinds.as_slice() {
            [] => Some(Kind::ALL[0]),
            [one] => Kind::ALL
                .iter()
                .position(|k| k == one)
                .and_then(|i| Kind::ALL.get(i + 1))
                .copied(),
            _ => None,
        };
        self.view.kinds = next.into_iter().collect();
    }

    /// All containers, then each container group the sample shows.
    fn next_container(&mut self) {
        let mut names: Vec<String> = self
            .objects()
            .iter()
            .map(|o| model::group_name(o).to_string())
            .collect();
        names.sort_by(|a, b| (a != "host", a).cmp(&(b != "host", b)));
        names.dedup();
        self.view.container = match &self.view.container {
            None => names.first().cloned(),
            Some(now) => names
                .iter()
                .position(|n| n == now)
                .and_then(|i| names.get(i + 1))
                .cloned(),
        };
    }

    fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        let _ = self.control.send(if self.paused {
            Control::Pause
        } else {
            Control::Resume
        });
    }

    fn show_stat(&mut self) {
        let Some(o) = self.selected_object().cloned() else {
            return;
        };
        let title = model::label(&o);
        self.mode = Mode::Stat {
            title: title.clone(),
            text: "asking shmkit stat ...".into(),
            scroll: 0,
        };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let text = actions::stat(&o);
            let _ = tx.send(Msg::Stat { title, text });
        });
    }

    fn ask_remove(&mut self) {
        let Some(o) = self.selected_object() else {
            return;
        };
        match actions::refusal(o) {
            Some(why) => self.message = Some(why),
            None => {
                self.mode = Mode::Confirm {
                    question: actions::question(o),
                    object: Box::new(o.clone()),
                }
            }
        }
    }

    fn style(&self, colour: Color) -> Style {
        if self.colour {
            Style::default().fg(colour)
        } else {
            Style::default()
        }
    }
}

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
            Col::Container => model::container(o).unwrap_or("-").to_string(),
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

fn draw(f: &mut Frame, app: &mut App) {
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
        spans.push(Span::raw(format!(
            "  {}",
            shmkit::render::time::utc(s.unix)
                .trim_end_matches(" UTC")
                .rsplit(' ')
                .next()
                .unwrap_or("")
        )));
    }
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
            ) => Row::new(vec![Cell::from(format!(
                "[{}] {objects} objects, {} resident",
                shmkit::render::table::sanitize(name),
                size::human(*resident)
            ))])
            .style(Style::default().add_modifier(Modifier::BOLD)),
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
