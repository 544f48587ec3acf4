//! `shmkit exporter`: the scan as Prometheus metrics, served over HTTP or written once as a
//! node_exporter textfile.
//!
//! The metrics come from the library's renderer ([`shmkit::report::metrics`]); this module
//! only schedules scans and talks HTTP. Scrapes share scans: one runs at a time, a scrape that
//! arrives while one runs takes its result (if it started less than [`SHARE_WITHIN`] before the
//! scrape arrived, else the scrape waits for the next one), and a result is reused for
//! `--min-interval`.
//!
//! The server keeps one [`LiveScan`] between scrapes: each scrape re-reads meminfo, every
//! segment's `nattch` and sizes, the mounts and the pid list, walks only the processes that
//! are new since the last scrape, and walks every process again at the first scrape
//! `--full-walk-interval` (60 s) or more after the last full walk, or at once when a cheap
//! signal says a reused walk may be wrong (see [`shmkit::scan::LiveScan`]). What that bounds:
//! an object is never exported idle or leaked while a process that holds it lives; a running
//! process that unmaps or closes an object without exiting still counts as its holder until
//! the next full walk, so the object reads "in use" (holders, `shmkit_idle_objects`) for at
//! most that period plus one scrape interval after its last holder let go, never "idle"
//! early. Leaks are judged from fresh facts only (`nattch` and whether the creator lives), so
//! a leak shows at the first scrape after it happens and only once it is one. `--textfile`
//! writes once, after one full scan.
//! Connections are served by a fixed pool of threads with a bounded queue and deadlines on
//! reading the request and writing the response, so slow or many clients cost a bounded
//! amount of memory and cannot hold a scrape up for long; beyond the queue they get a 503.
//! The server is read-only: it removes, writes and executes nothing.

use clap::Args as ClapArgs;
use shmkit::report::metrics::{Format, Metrics, MetricsOptions, ScrapeFacts};
use shmkit::report::MemReport;
use shmkit::scan::{LiveScan, ProcRoot, Scan, ScanError, ScanOptions};
use shmkit::{Error, ErrorKind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The default `--listen`: loopback only, on the port docs/exporter.md explains.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9929";

/// Threads that serve connections; a slow client holds one for at most the deadlines below.
const WORKERS: usize = 16;
/// Connections accepted but waiting for a worker; more are answered 503 and closed.
const QUEUE: usize = 64;
/// Time a client has, from the moment it is accepted, to send its whole request head
/// (waiting in the queue counts, so idle connections drain quickly).
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Time a client has to take the whole response.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// How long a finished connection waits for the client's unread input before closing.
const LINGER: Duration = Duration::from_secs(1);
/// The largest request head read; real scrapers send a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// A scrape that arrives while a scan runs takes that scan's result if the scan started at
/// most this long before the scrape arrived: its facts are then hardly older than those of
/// a scan started for it, and N scrapes at once (Prometheus servers in a pair, a dashboard)
/// cost one scan, also with `--min-interval 0`.
const SHARE_WITHIN: Duration = Duration::from_secs(1);

/// Options of `shmkit exporter`.
#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:
  shmkit exporter                               serve http://127.0.0.1:9929/metrics
  shmkit exporter --listen 0.0.0.0:9929         on every interface (put it behind a firewall)
  shmkit exporter --textfile /var/lib/prometheus/node-exporter/shmkit.prom
                                                write once for node_exporter's textfile collector

Exit codes (every command's: shmkit --help): 2 an address that is not ADDR:PORT or that no
interface has; 3 the textfile's directory does not exist; 5 a port below 1024 without the
privilege, or a textfile directory that is read-only; 9 the port is in use.
Metrics and labels: docs/exporter.md")]
pub struct Args {
    /// Serve /metrics on this address and port.
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Reuse a scan for scrapes within this interval (30s, 500ms, 0 = scan on every scrape).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = super::flags::duration)]
    pub min_interval: Duration,
    /// Read every process's mappings and descriptors again at the first scrape this long
    /// after the last time (0 = on every scrape); between, only new processes are read, and
    /// one that lets go of an object without exiting still counts as its holder.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::flags::duration)]
    pub full_walk_interval: Duration,
    /// Export at most this many objects on their own series, the largest by resident bytes;
    /// the others are summed per kind and container under address="other".
    #[arg(long, value_name = "N", default_value_t = shmkit::report::metrics::DEFAULT_MAX_OBJECTS)]
    pub max_objects: usize,
    /// Write the metrics once to FILE, atomically (for node_exporter's textfile collector),
    /// and exit.
    #[arg(long, value_name = "FILE", conflicts_with = "listen")]
    pub textfile: Option<PathBuf>,
    /// Permission bits of the textfile (node_exporter usually runs as another user).
    #[arg(long, value_name = "OCTAL", default_value = "0644", value_parser = parse_mode)]
    pub textfile_mode: u32,
    /// Read /proc under this root instead of / (a captured fixture tree).
    #[arg(long, value_name = "DIR", hide = true, default_value = "/")]
    pub root: PathBuf,
}

fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("'{text}' is not a mode; write octal bits like 0644 or 0600"))
}

/// Runs `shmkit exporter`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = Source {
        root: ProcRoot::new(&args.root),
        opts: MetricsOptions {
            max_objects: args.max_objects,
        },
    };
    if let Some(path) = &args.textfile {
        let text = source
            .render(|root| {
                Scan::collect(root, &ScanOptions::default()).map(|scan| (scan, Duration::ZERO))
            })?
            .encode(Format::Prometheus);
        write_textfile(path, &text, args.textfile_mode)?;
        return Ok(ExitCode::SUCCESS);
    }
    let listener = bind(&args.listen)?;
    // One malloc arena: the exporter allocates little besides its scans, and glibc's arena
    // per thread kept each arena's share of freed scan memory resident.
    shmkit::sys::malloc::limit_arenas(1);
    let addr = listener.local_addr()?;
    msg!("shmkit exporter: serving http://{addr}/metrics");
    serve(
        listener,
        Arc::new(Scrapes::start(
            source,
            live_scan(args.full_walk_interval),
            args.min_interval,
        )?),
    );
    Ok(ExitCode::SUCCESS)
}

/// The live scan the server samples at each scrape: it walks every process only when
/// `full_walk_interval` has passed or a signal asks, never on a count of scrapes (scrapes
/// come every 15 s or 60 s, or in bursts from several servers).
fn live_scan(full_walk_interval: Duration) -> LiveScan {
    let every = if full_walk_interval.is_zero() {
        1
    } else {
        u32::MAX
    };
    LiveScan::every(ScanOptions::default(), every).full_after(full_walk_interval)
}

/// Where metrics come from: a scan of a root, rendered.
#[derive(Debug)]
struct Source {
    root: ProcRoot,
    opts: MetricsOptions,
}

impl Source {
    /// Renders the scan `scan` takes of the root (a full scan, or a live scan's sample).
    fn render(
        &self,
        scan: impl FnOnce(&ProcRoot) -> Result<(Scan, Duration), ScanError>,
    ) -> Result<Metrics, Error> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let started = Instant::now();
        let (scan, holders_age) = scan(&self.root).map_err(Error::from)?;
        let report = MemReport::new(&scan);
        let facts = ScrapeFacts {
            duration: started.elapsed(),
            timestamp,
            holders_age,
        };
        Ok(Metrics::new(&scan, &report, &facts, &self.opts))
    }
}

/// One scan's metrics, encoded in both formats.
#[derive(Debug)]
struct Rendered {
    started: Instant,
    finished: Instant,
    prometheus: String,
    openmetrics: String,
}

/// The scan that scrapes share.
#[derive(Debug)]
struct Scrapes {
    min_interval: Duration,
    state: Mutex<Shared>,
}

/// What the lock guards: the last result, and the line to the scanner thread.
#[derive(Debug)]
struct Shared {
    last: Option<Arc<Rendered>>,
    ask: mpsc::Sender<()>,
    answer: Receiver<Result<Rendered, Error>>,
}

impl Scrapes {
    /// Starts the scanner thread. Every scan runs on it: a scan on whichever worker took the
    /// scrape left the deep stack pages and the malloc arena it used resident in every
    /// worker, and the exporter's memory grew with the number of workers that had scanned
    /// (6.6 MiB after the first scrape, 22.5 MiB after 1,000 with the 1,000-process load).
    /// The thread owns the live scan, so what it keeps between scrapes stays with it.
    fn start(
        source: Source,
        mut live: LiveScan,
        min_interval: Duration,
    ) -> std::io::Result<Scrapes> {
        let (ask, asked) = mpsc::channel::<()>();
        let (reply, answer) = mpsc::channel();
        std::thread::Builder::new()
            .name("scanner".into())
            .spawn(move || {
                for () in asked {
                    let rendered = source
                        .render(|root| {
                            let scan = live.sample(root)?;
                            Ok((scan, live.last().since_full_time))
                        })
                        .map(|metrics| Rendered {
                            started: Instant::now(),
                            finished: Instant::now(),
                            prometheus: metrics.encode(Format::Prometheus),
                            openmetrics: metrics.encode(Format::OpenMetrics),
                        });
                    if reply.send(rendered).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Scrapes {
            min_interval,
            state: Mutex::new(Shared {
                last: None,
                ask,
                answer,
            }),
        })
    }

    /// The metrics for a scrape that arrived at `asked`: the last scan's if it finished
    /// after `asked` and started at most [`SHARE_WITHIN`] before it (the scrape waited for
    /// it), or if it started within `min_interval`; else a new scan's. Only one scan runs at
    /// a time; the others wait on the lock and take its result.
    fn current(&self, asked: Instant) -> Result<Arc<Rendered>, Error> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = state.last.as_ref() {
            // `duration_since` is zero when the scan started after the scrape arrived.
            let waited_for = r.finished >= asked && asked.duration_since(r.started) <= SHARE_WITHIN;
            if waited_for || r.started.elapsed() < self.min_interval {
                return Ok(Arc::clone(r));
            }
        }
        let started = Instant::now();
        // Drop the old result first: memory holds one scan's text, not two.
        state.last = None;
        let gone = || Error::new(ErrorKind::Other, "exporter", "the scanner thread stopped");
        state.ask.send(()).map_err(|_| gone())?;
        let mut rendered = state.answer.recv().map_err(|_| gone())??;
        rendered.started = started;
        rendered.finished = Instant::now();
        let rendered = Arc::new(rendered);
        state.last = Some(Arc::clone(&rendered));
        Ok(rendered)
    }
}

/// Binds `listen`, with errors that say what to do.
fn bind(listen: &str) -> Result<TcpListener, Error> {
    let bad = |cause: &str| {
        Error::new(ErrorKind::InvalidInput, listen, cause.to_string())
            .with_fix("write --listen ADDR:PORT, e.g. 127.0.0.1:9929, [::1]:9929 or 0.0.0.0:9929")
    };
    let text = match listen.strip_prefix(':') {
        // `:PORT`, as Prometheus exporters write it: every interface.
        Some(port) => format!("0.0.0.0:{port}"),
        None => listen.to_string(),
    };
    let addrs: Vec<SocketAddr> = match text.to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(_) => return Err(bad("not an address and port")),
    };
    let addr = *addrs
        .first()
        .ok_or_else(|| bad("the name resolves to no address"))?;
    TcpListener::bind(addr).map_err(|e| {
        let err = match e.raw_os_error() {
            Some(libc::EADDRINUSE) => Error::new(
                ErrorKind::Busy,
                listen,
                "the port is already in use (another exporter, or this one running twice)",
            )
            .with_fix("stop the other program or choose another port with --listen ADDR:PORT"),
            Some(libc::EADDRNOTAVAIL) => Error::new(
                ErrorKind::InvalidInput,
                listen,
                "no interface of this host has that address",
            )
            .with_fix("use 127.0.0.1, 0.0.0.0 or an address `ip addr` shows"),
            Some(libc::EACCES) => Error::new(
                ErrorKind::PermissionDenied,
                listen,
                "ports below 1024 need root or CAP_NET_BIND_SERVICE",
            )
            .with_fix("choose a port of 1024 or more"),
            _ => return Error::io(listen, "bind", e),
        };
        err.with_source(e)
    })
}

/// Accepts connections forever and hands them to the workers.
fn serve(listener: TcpListener, scrapes: Arc<Scrapes>) {
    type Accepted = (TcpStream, Instant);
    let (tx, rx): (SyncSender<Accepted>, Receiver<Accepted>) = mpsc::sync_channel(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WORKERS {
        let rx = Arc::clone(&rx);
        let scrapes = Arc::clone(&scrapes);
        std::thread::spawn(move || loop {
            let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
            match next {
                Ok((stream, accepted)) => handle(stream, accepted, &scrapes),
                Err(_) => return,
            }
        });
    }
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => match tx.try_send((stream, Instant::now())) {
                Ok(()) => {}
                Err(TrySendError::Full((stream, _))) => refuse_busy(stream),
                Err(TrySendError::Disconnected(_)) => return,
            },
            // Out of descriptors or memory for a moment (EMFILE, ENOBUFS): let it pass
            // rather than spin.
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Tells a client beyond the queue to come back, without waiting on it.
fn refuse_busy(mut stream: TcpStream) {
    const BODY: &str = "too many connections; retry\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    // Non-blocking: a client that does not read gets whatever fits, and the accept loop moves on.
    let _ = stream.set_nonblocking(true);
    let _ = stream.write(response.as_bytes());
}

/// A response to send.
struct Response {
    status: &'static str,
    content_type: &'static str,
    body: Body,
    extra: &'static str,
}

/// A body shared with the cache or made for this response.
enum Body {
    Shared(Arc<Rendered>, Format),
    Owned(String),
}

impl Body {
    fn bytes(&self) -> &[u8] {
        match self {
            Body::Shared(r, Format::Prometheus) => r.prometheus.as_bytes(),
            Body::Shared(r, Format::OpenMetrics) => r.openmetrics.as_bytes(),
            Body::Owned(s) => s.as_bytes(),
        }
    }
}

fn plain(status: &'static str, text: String) -> Response {
    Response {
        status,
        content_type: "text/plain; charset=utf-8",
        body: Body::Owned(text),
        extra: "",
    }
}

/// Serves one connection: one request, one response, then close.
fn handle(mut stream: TcpStream, accepted: Instant, scrapes: &Scrapes) {
    let (response, head_only) = match read_head(&mut stream, accepted + READ_DEADLINE) {
        Head::Complete(head) => respond(&head, scrapes, Instant::now()),
        Head::TooLarge => (
            plain(
                "431 Request Header Fields Too Large",
                "request head too large\n".into(),
            ),
            false,
        ),
        Head::Gone => return,
    };
    let body = response.body.bytes();
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        response.status,
        response.content_type,
        body.len(),
        response.extra
    );
    let deadline = Instant::now() + WRITE_DEADLINE;
    if write_by(&mut stream, head.as_bytes(), deadline).is_ok() && !head_only {
        let _ = write_by(&mut stream, body, deadline);
    }
    linger(&mut stream);
}

/// Closing a socket with unread input makes the kernel send a reset, which can destroy the
/// response before the client reads it (a refused oversized request, a POST body): so end
/// our side, then read and drop what the client still sends, a little and briefly.
fn linger(stream: &mut TcpStream) {
    if stream.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let until = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut left: usize = 64 * 1024;
    while left > 0 {
        let wait = until.saturating_duration_since(Instant::now());
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// What reading a request head gave.
enum Head {
    Complete(Vec<u8>),
    TooLarge,
    /// Closed, timed out or failed: nothing to answer.
    Gone,
}

/// Reads up to the blank line that ends the head, within `deadline` as a whole (a client
/// sending one byte at a time cannot stretch it).
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Head {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Head::Gone;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Head::Gone,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            return Head::Complete(head);
        }
        if head.len() > MAX_HEAD {
            return Head::TooLarge;
        }
    }
}

/// Writes all of `data` before `deadline`, or fails.
fn write_by(stream: &mut TcpStream, mut data: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !data.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(data) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The response to a request head, and whether to send only its head (HEAD).
fn respond(raw: &[u8], scrapes: &Scrapes, asked: Instant) -> (Response, bool) {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) | Err(_) => {
            return (plain("400 Bad Request", "bad request\n".into()), false)
        }
    }
    let head_only = match req.method {
        Some("GET") => false,
        Some("HEAD") => true,
        _ => {
            let mut r = plain(
                "405 Method Not Allowed",
                "only GET and HEAD are served\n".into(),
            );
            r.extra = "Allow: GET, HEAD\r\n";
            return (r, false);
        }
    };
    let path = req.path.unwrap_or("/");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let response = match path {
        "/metrics" => {
            let accept = req
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("accept"))
                .filter_map(|h| std::str::from_utf8(h.value).ok())
                .collect::<Vec<_>>()
                .join(",");
            let format = negotiate(&accept);
            match scrapes.current(asked) {
                Ok(rendered) => Response {
                    status: "200 OK",
                    content_type: format.content_type(),
                    body: Body::Shared(rendered, format),
                    extra: "",
                },
                Err(e) => {
                    msg!("shmkit exporter: scan failed: {e}");
                    plain("500 Internal Server Error", format!("scan failed: {e}\n"))
                }
            }
        }
        "/" => Response {
            status: "200 OK",
            content_type: "text/html; charset=utf-8",
            body: Body::Owned(INDEX.replace("{version}", env!("CARGO_PKG_VERSION"))),
            extra: "",
        },
        _ => plain(
            "404 Not Found",
            "not found; metrics are at /metrics\n".into(),
        ),
    };
    (response, head_only)
}

const INDEX: &str = "<!DOCTYPE html>
<html><head><meta charset=\"utf-8\"><title>shmkit exporter</title></head>
<body><h1>shmkit exporter</h1>
<p>Linux shared memory as Prometheus metrics (shmkit {version}).</p>
<p><a href=\"/metrics\">Metrics</a></p>
</body></html>
";

/// OpenMetrics when the `Accept` header prefers it to the text format (Prometheus sends
/// `application/openmetrics-text;version=1.0.0,...;q=0.75,text/plain;version=0.0.4;q=0.5,
/// */*;q=0.1`), else the text format.
fn negotiate(accept: &str) -> Format {
    let mut openmetrics = 0.0f32;
    let mut text = 0.0f32;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut q = 1.0f32;
        let mut version = None;
        for p in parts {
            if let Some(v) = p.strip_prefix("q=") {
                q = v.parse().unwrap_or(0.0);
            } else if let Some(v) = p.strip_prefix("version=") {
                version = Some(v.to_string());
            }
        }
        match media.as_str() {
            // prometheus-client writes OpenMetrics 1.0; a scraper asking only for another
            // version gets the text format.
            "application/openmetrics-text"
                if version.as_deref().is_none_or(|v| v.starts_with("1.")) =>
            {
                openmetrics = openmetrics.max(q)
            }
            "text/plain" | "text/*" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics >= text {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// Writes `text` to `path` atomically: a temporary file in the same directory (exclusive,
/// not following links), synced, then renamed over `path`; the directory is synced so the
/// rename survives a crash. On any failure the temporary file is removed and `path` is left
/// as it was.
fn write_textfile(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    let object = path.display().to_string();
    let name = path.file_name().ok_or_else(|| {
        Error::new(ErrorKind::InvalidInput, &object, "names no file")
            .with_fix("give a file path such as /var/lib/prometheus/node-exporter/shmkit.prom")
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                &object,
                format!("{} is not a directory", dir.display()),
            )
            .with_fix("choose a --textfile inside a directory"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::new(
                ErrorKind::NotFound,
                &object,
                format!("the directory {} does not exist", dir.display()),
            )
            .with_fix(format!(
                "create it (mkdir -p {}) or choose another --textfile",
                dir.display()
            ))
            .with_source(e))
        }
        Err(e) => return Err(Error::io(&object, "stat of its directory", e)),
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    // A name node_exporter ignores (it reads only *.prom) and no other writer picks.
    let tmp = dir.join(format!(
        ".{}.shmkit-{}-{nanos}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let cannot_write = |e: std::io::Error| match e.raw_os_error() {
        Some(libc::EROFS) | Some(libc::EACCES) | Some(libc::EPERM) => Error::new(
            ErrorKind::PermissionDenied,
            &object,
            format!(
                "cannot write in {} ({})",
                dir.display(),
                shmkit::error::os_message(&e)
            ),
        )
        .with_fix("make the directory writable for this user, or choose another --textfile")
        .with_source(e),
        _ => Error::io(&object, "writing the textfile", e),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(cannot_write)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(cannot_write(e));
    }
    // The rename is durable once the directory is synced; a failure here loses nothing now.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_accept_header_gets_openmetrics() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(prometheus), Format::OpenMetrics);
        assert_eq!(negotiate(""), Format::Prometheus);
        assert_eq!(negotiate("*/*"), Format::Prometheus);
        assert_eq!(
            negotiate("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"),
            Format::Prometheus
        );
        assert_eq!(
            negotiate("application/openmetrics-text; version=0.0.1"),
            Format::Prometheus,
            "only OpenMetrics 1.x is written"
        );
        assert_eq!(
            negotiate("application/openmetrics-text;q=0"),
            Format::Prometheus
        );
    }

    #[test]
    fn modes_are_octal_permission_bits() {
        assert_eq!(parse_mode("0644"), Ok(0o644));
        assert_eq!(parse_mode("600"), Ok(0o600));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("04755").is_err());
    }
}
