//! The terminal interface: one loop that receives messages (samples from the collector, keys
//! from the input thread, results from workers), updates the state, and draws once per batch
//! of messages, so a storm of resize events costs one frame.
//!
//! The terminal is put back as it was (cooked mode, main screen, cursor shown) on every way
//! out: `q`, Ctrl-C, SIGTERM/SIGHUP/SIGINT, an error, and a panic in any thread.

mod draw;

use super::actions;
use super::collector::{Collected, Collector, Control, Sample};
use super::model::{self, Growth, Identity, Line, SortKey, Tracker, View};
use draw::draw;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::style::{Color, Style};
use ratatui::widgets::TableState;
use ratatui::Terminal;
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
fn start_input(
    tx: Sender<Msg>,
    stop: Arc<AtomicBool>,
    signalled: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
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
        })
        .map(drop)
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
    start_input(tx.clone(), Arc::clone(&stop), signalled)?;
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
