//! `shmkit exporter` against the real servers of Debian's packages: `prometheus` scrapes it
//! and answers queries about the seed's leaked segment and Shmem; `promtool` checks its output
//! and tests the alert rules under `deploy/`; `prometheus-node-exporter` serves its textfile.
//! Plus its HTTP behaviour (formats, shared scans, slow and many clients) and its one-line
//! errors for bad input.
//!
//! Every server listens on 127.0.0.1 only, on a port the kernel picked, and is killed when its
//! guard drops (also when a test fails). Segments are made inside a private IPC namespace that
//! the exporter runs in, so they vanish with it.

mod common;

mod containers_support;
mod lifecycle_support;
use lifecycle_support::*;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server process, killed and reaped on drop.
struct Server {
    child: Child,
    name: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Panics with the server's stderr if it has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("{} exited ({status}): {err}", self.name);
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Starts `shmkit exporter ARGS --listen 127.0.0.1:0` in a private IPC namespace, after
/// `setup`, and returns it with the address it printed.
fn exporter(setup: &str, args: &str, env: &[(&str, &Path)]) -> (Server, SocketAddr) {
    exporter_in(&["unshare", "--ipc"], setup, args, env)
}

/// The same, run by `prefix` (`unshare --ipc`; empty: in the host's namespaces, where the
/// exporter also looks into every container's).
fn exporter_in(
    prefix: &[&str],
    setup: &str,
    args: &str,
    env: &[(&str, &Path)],
) -> (Server, SocketAddr) {
    let script = format!("set -e\n{setup}\nexec \"$SHMKIT\" exporter --listen 127.0.0.1:0 {args}");
    let mut cmd = Command::new(prefix.first().copied().unwrap_or("sh"));
    if !prefix.is_empty() {
        cmd.args(&prefix[1..]).arg("sh");
    }
    cmd.args(["-c", &script])
        .env("SHMKIT", bin())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn unshare");
    let mut line = String::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("shmkit exporter: serving http://")
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok());
    let Some(addr) = addr else {
        let _ = child.kill();
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        let _ = child.wait();
        panic!("exporter did not start: {line}{rest}");
    };
    // Keep draining stderr so the exporter never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    (
        Server {
            child,
            name: "shmkit exporter",
        },
        addr,
    )
}

/// An HTTP response.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Sends a raw request and reads the whole response (the server closes the connection; Go
/// servers are asked in HTTP/1.0 so that they do not chunk the body).
fn http_raw(addr: SocketAddr, request: &str) -> std::io::Result<Response> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Response {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    http_raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"),
    )
    .unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"))
}

/// The value of the sample `name{labels}` in exposition text (labels as written there).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

fn scrape_timestamp(addr: SocketAddr) -> f64 {
    let r = get(addr, "/metrics", None);
    assert_eq!(r.status, 200, "{r:?}");
    sample(&r.body, "shmkit_scrape_timestamp_seconds").expect("timestamp sample")
}

/// Percent-encodes a PromQL query for a URL.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks Prometheus `query` until it returns a sample, for at most `tries` seconds; returns
/// the first result's value.
fn query(prometheus: SocketAddr, server: &mut Server, query: &str, tries: u32) -> f64 {
    let mut last = String::new();
    for _ in 0..tries {
        server.assert_running();
        if let Ok(r) = http_raw(
            prometheus,
            &format!(
                "GET /api/v1/query?query={} HTTP/1.0\r\nHost: {prometheus}\r\n\r\n",
                encode(query)
            ),
        ) {
            if r.status == 200 {
                if let Ok(doc) = serde_json::from_str::<Value>(&r.body) {
                    if let Some(v) = doc["data"]["result"][0]["value"][1].as_str() {
                        return v.parse().unwrap();
                    }
                }
            }
            last = r.body;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("prometheus never answered {query}: {last}");
}

/// Starts `prometheus` on a free loopback port with its config and data in `dir`, scraping
/// `target` every 2 seconds; returns it with the address of its HTTP API.
fn start_prometheus(dir: &Path, target: SocketAddr) -> (Server, SocketAddr) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\n\
             scrape_configs:\n  - job_name: shmkit\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let server = Server {
        child: Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (.ci/run installs it)"),
        name: "prometheus",
    };
    (server, format!("127.0.0.1:{port}").parse().unwrap())
}

/// The seed's leak (tests/c/leak.c, like its shm.c) compiled into `dir`.
fn leak_program(dir: &Path) -> PathBuf {
    compile_c("leak", dir)
}

#[test]
fn prometheus_scrapes_the_leaked_segment_and_shmem() {
    if !common::as_root("prometheus_scrapes_the_leaked_segment_and_shmem") {
        return;
    }
    if !common::needs_programs(
        "prometheus_scrapes_the_leaked_segment_and_shmem",
        &[("prometheus", "prometheus")],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leak = leak_program(dir.path());
    let out = dir.path();
    // An IPC_PRIVATE segment of 8 MiB whose creator exits: the seed's leak, in a private IPC
    // namespace the exporter then serves, so the segment vanishes with it.
    // Beside it a keyed segment whose creator (ipcmk) exited too: idle, not leaked.
    let (mut exp, addr) = exporter(
        "\"$LEAK\" 8388608 > \"$OUT/id\"\nipcmk -M 1048576 >/dev/null",
        "--min-interval 0",
        &[("LEAK", &leak), ("OUT", out)],
    );
    let id: i64 = std::fs::read_to_string(out.join("id"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let (mut prometheus, api) = start_prometheus(out, addr);

    let address = format!("sysv:id={id}");
    let up = query(api, &mut prometheus, "up{job=\"shmkit\"} == 1", 90);
    assert_eq!(up, 1.0);
    let size = query(
        api,
        &mut prometheus,
        &format!("shmkit_object_size_bytes{{kind=\"sysv\",address=\"{address}\"}}"),
        30,
    );
    assert_eq!(size, 8388608.0);
    let resident = query(
        api,
        &mut prometheus,
        &format!("shmkit_object_resident_bytes{{address=\"{address}\"}} + on() shmkit_object_swapped_bytes{{address=\"{address}\"}}"),
        30,
    );
    assert_eq!(resident, 8388608.0, "leak.c touched every page");
    let holders = query(
        api,
        &mut prometheus,
        &format!("shmkit_object_holders{{address=\"{address}\"}}"),
        30,
    );
    assert_eq!(holders, 0.0);
    let leaked = query(
        api,
        &mut prometheus,
        "shmkit_leaked_objects{kind=\"sysv\",container=\"\"}",
        30,
    );
    assert_eq!(leaked, 1.0, "the private namespace holds one leak");
    let leaked_bytes = query(
        api,
        &mut prometheus,
        "shmkit_leaked_bytes{kind=\"sysv\",container=\"\"}",
        30,
    );
    assert_eq!(leaked_bytes, 8388608.0);
    let idle = query(
        api,
        &mut prometheus,
        "shmkit_idle_objects{kind=\"sysv\",container=\"\"}",
        30,
    );
    assert_eq!(idle, 1.0, "the keyed segment is idle");
    let shmem = query(api, &mut prometheus, "shmkit_shmem_bytes", 30);
    assert!(
        shmem >= 8388608.0,
        "Shmem counts the segment, and more: {shmem}"
    );
    exp.assert_running();
}

#[test]
fn promtool_accepts_the_output_in_both_formats() {
    if !common::as_root("promtool_accepts_the_output_in_both_formats") {
        return;
    }
    if !common::needs_programs(
        "promtool_accepts_the_output_in_both_formats",
        &[("promtool", "prometheus")],
    ) {
        return;
    }
    let (_exp, addr) = exporter("true", "", &[]);
    let index = get(addr, "/", None);
    assert_eq!(index.status, 200);
    assert!(index.body.contains("<a href=\"/metrics\">"), "{index:?}");

    let text = get(addr, "/metrics", None);
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for family in [
        "shmkit_shmem_bytes",
        "shmkit_shmem_unattributed_bytes",
        "shmkit_buff_cache_bytes",
        "shmkit_really_available_bytes",
        "shmkit_leaked_bytes",
        "shmkit_leaked_objects",
        "shmkit_scrape_duration_seconds",
        "shmkit_scrape_processes_unreadable",
        "shmkit_build_info",
    ] {
        assert!(
            text.body.contains(&format!("# HELP {family} "))
                && text.body.contains(&format!("# TYPE {family} gauge\n")),
            "{family} has HELP and TYPE: {}",
            text.body
        );
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (.ci/run installs prometheus)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.body.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let om = get(
        addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    );
    assert_eq!(om.status, 200);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);

    assert_eq!(get(addr, "/nothing", None).status, 404);
    let post = http_raw(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let head = http_raw(addr, "HEAD /metrics HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let garbage = http_raw(addr, "\x01\x02 nonsense\r\n\r\n").unwrap();
    assert_eq!(garbage.status, 400);
    let huge = http_raw(
        addr,
        &format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000)),
    )
    .unwrap();
    assert_eq!(huge.status, 431);
}

#[test]
fn alert_rules_pass_promtool_check_and_unit_tests() {
    if !common::needs_programs(
        "alert_rules_pass_promtool_check_and_unit_tests",
        &[("promtool", "prometheus")],
    ) {
        return;
    }
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    for args in [
        ["check", "rules", "shmkit-alerts.yml"],
        ["test", "rules", "shmkit-alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&deploy)
            .output()
            .expect("promtool is installed (.ci/run installs prometheus)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("SUCCESS"),
            "promtool {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn concurrent_scrapes_share_one_scan_and_min_interval_zero_rescans() {
    if !common::as_root("concurrent_scrapes_share_one_scan_and_min_interval_zero_rescans") {
        return;
    }
    let (_exp, addr) = exporter("true", "--min-interval 1h", &[]);
    let stamps: Vec<f64> = (0..8)
        .map(|_| std::thread::spawn(move || scrape_timestamp(addr)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(
        stamps.iter().all(|s| *s == stamps[0]),
        "one scan served every scrape: {stamps:?}"
    );
    assert_eq!(scrape_timestamp(addr), stamps[0], "reused within the hour");

    let (_exp, addr) = exporter("true", "--min-interval 0", &[]);
    let first = scrape_timestamp(addr);
    let second = scrape_timestamp(addr);
    assert!(second > first, "a new scan per scrape: {first} {second}");

    // Scrapes sent together share scans rather than each running its own, also when every
    // scan walks every process. (Which of them share which scan depends on when each
    // arrives: a scrape that comes while a scan runs takes its result.)
    let (_exp, addr) = exporter("true", "--min-interval 0 --full-walk-interval 0", &[]);
    let body = scrape(addr);
    assert_eq!(
        sample(&body, "shmkit_scrape_holders_age_seconds"),
        Some(0.0),
        "--full-walk-interval 0 walks every process for every scrape: {body}"
    );
    let together = std::sync::Arc::new(std::sync::Barrier::new(8));
    let mut stamps: Vec<f64> = (0..8)
        .map(|_| {
            let together = std::sync::Arc::clone(&together);
            std::thread::spawn(move || {
                together.wait();
                scrape_timestamp(addr)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    stamps.sort_by(f64::total_cmp);
    stamps.dedup();
    assert!(
        stamps.len() < 8,
        "scrapes sent together shared scans: {stamps:?}"
    );
}

#[test]
fn idle_and_excess_connections_are_refused_or_dropped_and_scrapes_go_on() {
    if !common::as_root("idle_and_excess_connections_are_refused_or_dropped_and_scrapes_go_on") {
        return;
    }
    let (mut exp, addr) = exporter("true", "--min-interval 0", &[]);
    // A few clients that connect and send nothing: a scrape is still answered at once.
    let idle: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
    assert_eq!(get(addr, "/metrics", None).status, 200);

    // Many more than the workers and the queue hold: the excess gets a 503 straight away.
    let mut flood: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    flood.extend(idle);
    // Every one of them ends: with a 503 now, or closed once its read deadline passes.
    let mut refused = 0;
    for s in &mut flood {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .expect("the server ends every connection");
        if buf.starts_with(b"HTTP/1.1 503") {
            refused += 1;
        } else {
            assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
        }
    }
    assert!(refused >= 100, "the excess was refused: {refused}");
    exp.assert_running();
    assert_eq!(get(addr, "/metrics", None).status, 200);
}

#[test]
fn max_objects_folds_the_smaller_segments_into_other() {
    if !common::as_root("max_objects_folds_the_smaller_segments_into_other") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leak = leak_program(dir.path());
    let out = dir.path();
    let script =
        "set -e\nfor size in 1048576 2097152 3145728; do \"$LEAK\" $size >/dev/null; done\n\
                  \"$SHMKIT\" exporter --textfile \"$OUT/metrics.prom\" --max-objects 1\n\
                  \"$SHMKIT\" exporter --textfile \"$OUT/all.prom\"";
    let run = run(
        Command::new("unshare")
            .args(["--ipc", "sh", "-c", script])
            .env("SHMKIT", bin())
            .env("LEAK", &leak)
            .env("OUT", out),
        None,
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let folded = std::fs::read_to_string(out.join("metrics.prom")).unwrap();
    let all = std::fs::read_to_string(out.join("all.prom")).unwrap();
    let sysv = |text: &str| -> Vec<(String, f64)> {
        text.lines()
            .filter(|l| l.starts_with("shmkit_object_resident_bytes{kind=\"sysv\""))
            .map(|l| {
                let address = l.split("address=\"").nth(1).unwrap();
                let address = &address[..address.find('"').unwrap()];
                let value = l.rsplit(' ').next().unwrap().parse().unwrap();
                (address.to_string(), value)
            })
            .collect()
    };
    let every = sysv(&all);
    assert_eq!(every.len(), 3, "{all}");
    let kept = sysv(&folded);
    let total: f64 = kept.iter().map(|(_, v)| v).sum();
    assert_eq!(total, 6.0 * 1048576.0, "folding keeps the sum: {kept:?}");
    assert!(kept.len() <= 2, "{kept:?}");
    assert!(kept.iter().any(|(a, _)| a == "other"), "{kept:?}");
    let folded_count = sample(&folded, "shmkit_scrape_objects_folded").unwrap();
    assert!(folded_count >= 2.0, "{folded_count}");
}

#[test]
fn node_exporter_serves_the_textfile() {
    if !common::needs_programs(
        "node_exporter_serves_the_textfile",
        &[("prometheus-node-exporter", "prometheus-node-exporter")],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shmkit.prom");
    shmkit(&["exporter", "--textfile", file.to_str().unwrap()]).ok();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["shmkit.prom"], "no temporary file left");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o644
    );

    let port = free_port();
    let mut node = Server {
        child: Command::new("prometheus-node-exporter")
            .args([
                "--collector.disable-defaults",
                "--collector.textfile",
                &format!("--collector.textfile.directory={}", dir.path().display()),
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("prometheus-node-exporter is installed (.ci/run installs it)"),
        name: "prometheus-node-exporter",
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut body = None;
    for _ in 0..60 {
        node.assert_running();
        if let Ok(r) = http_raw(
            addr,
            &format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
        ) {
            if r.status == 200 {
                body = Some(r.body);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let body = body.expect("node_exporter answered");
    assert_eq!(
        sample(&body, "node_textfile_scrape_error"),
        Some(0.0),
        "{body}"
    );
    let ours = std::fs::read_to_string(&file).unwrap();
    let shmem = sample(&ours, "shmkit_shmem_bytes").unwrap();
    assert_eq!(sample(&body, "shmkit_shmem_bytes"), Some(shmem), "{body}");
    assert!(body.contains("# HELP shmkit_leaked_bytes "), "{body}");
}

#[test]
fn a_port_in_use_is_exit_9_with_one_line() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = shmkit(&["exporter", "--listen", &addr]);
    let err = run.fails(9, &addr);
    assert!(err.contains("already in use"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_address_no_interface_has_or_no_address_at_all_is_exit_2() {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never assigned to a host.
    let run = shmkit(&["exporter", "--listen", "192.0.2.1:9929"]);
    let err = run.fails(2, "192.0.2.1:9929");
    assert!(err.contains("no interface"), "{err}");
    let run = shmkit(&["exporter", "--listen", "not-an-address"]);
    run.fails(2, "not-an-address");
}

#[test]
fn a_missing_textfile_directory_is_exit_3_and_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope/shmkit.prom");
    let run = shmkit(&["exporter", "--textfile", missing.to_str().unwrap()]);
    let err = run.fails(3, missing.to_str().unwrap());
    assert!(err.contains("mkdir -p"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_read_only_textfile_directory_is_exit_5_and_the_old_file_stays_whole() {
    if !common::as_root("a_read_only_textfile_directory_is_exit_5_and_the_old_file_stays_whole") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("ro");
    std::fs::create_dir(&mnt).unwrap();
    // A private mount namespace: the read-only tmpfs is gone when the script ends. The mount,
    // not its superblock, is made read-only: mount(8) remounts a tmpfs with the uid= its
    // mountinfo shows, a uid of the initial user namespace that a user namespace rejects.
    let script = "set -e\nmount -t tmpfs -o size=1m shmkit-exporter-ro \"$MNT\"\n\
                  echo 'old 1' > \"$MNT/shmkit.prom\"\nmount -o remount,bind,ro \"$MNT\"\n\
                  set +e\n\"$SHMKIT\" exporter --textfile \"$MNT/shmkit.prom\"\necho \"exit=$?\"\n\
                  ls -A \"$MNT\"\ncat \"$MNT/shmkit.prom\"";
    let run = run(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .env("SHMKIT", bin())
            .env("MNT", &mnt),
        None,
        b"",
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "exit=5\nshmkit.prom\nold 1\n", "{run:?}");
    let line = run.stderr.trim_end();
    let object = mnt.join("shmkit.prom");
    assert!(
        line.starts_with(&format!("shmkit: {}: cannot write in ", object.display()))
            && line.contains("; ")
            && !line.contains('\n'),
        "{line}"
    );
}

/// The metric names in `text` (`shmkit_...`), without duplicates.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("shmkit_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn docs_explain_every_metric_the_exporter_alerts_and_dashboard_use() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(repo.join("docs/exporter.md")).unwrap();
    let documented: std::collections::BTreeSet<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("| `shmkit_"))
        .map(|l| format!("shmkit_{}", &l[..l.find('`').unwrap()]))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.prom");
    shmkit(&["exporter", "--textfile", file.to_str().unwrap()]).ok();
    let emitted: std::collections::BTreeSet<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert!(emitted.len() >= 15, "{emitted:?}");
    for name in &emitted {
        assert!(
            documented.contains(name),
            "{name} is emitted but not documented"
        );
    }
    for file in [
        "deploy/prometheus/shmkit-alerts.yml",
        "deploy/grafana/shmkit-dashboard.json",
    ] {
        let text = std::fs::read_to_string(repo.join(file)).unwrap();
        for name in metric_names(&text) {
            assert!(
                documented.contains(&name),
                "{file} uses {name}, which docs/exporter.md does not document"
            );
        }
    }
}

/// A Docker image holding only the shmkit binary and the libraries it links, imported from a
/// root filesystem built here (no registry is reachable); removed on drop.
struct Image(String);

impl Image {
    fn build() -> Image {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["dev", "proc", "sys", "tmp", "etc", "usr/local/bin"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy(bin(), root.join("usr/local/bin/shmkit")).unwrap();
        let ldd = Command::new("ldd").arg(bin()).output().expect("ldd");
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            if let Some(lib) = line.split_whitespace().find(|w| w.starts_with('/')) {
                let to = root.join(lib.trim_start_matches('/'));
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(lib, &to).unwrap_or_else(|e| panic!("copy {lib}: {e}"));
            }
        }
        let tag = format!("shmkit-exporter-test-{:x}:test", unique("image"));
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .expect("tar");
        let out = Command::new("docker")
            .args(["import", "-", &tag])
            .stdin(tar.stdout.take().unwrap())
            .output()
            .expect("docker runs (.ci/run installs docker.io and starts dockerd)");
        assert!(tar.wait().unwrap().success(), "tar");
        assert!(
            out.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Image(tag)
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// A running container, removed (with `-f`) on drop.
struct DockerContainer(String);

impl Drop for DockerContainer {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

/// The exporter in a container set up as `deploy/docker/compose.yaml` and the Kubernetes
/// DaemonSet set it up (the host's pids, IPC namespace and /dev/shm read-only; root with every
/// capability dropped but SYS_PTRACE, DAC_READ_SEARCH and SYS_ADMIN; a read-only root
/// filesystem; no new privileges) sees a POSIX object on the host and the host process that
/// maps it. The host network only so that it can listen on the host's loopback.
#[test]
fn the_deployed_container_sees_the_hosts_objects_and_holders() {
    if !common::needs_docker("the_deployed_container_sees_the_hosts_objects_and_holders") {
        return;
    }
    let name = PosixName::new("exporter-docker");
    // hold maps an existing object: make it, 1 MiB, every page touched.
    std::fs::write(name.path(), vec![7u8; 1 << 20]).unwrap();
    let holder = Holder::start(&["--posix", &name.0]);

    let image = Image::build();
    let port = free_port();
    let container = format!("shmkit-exporter-test-{:x}", unique("container"));
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &container,
            "--network",
            "host",
            "--pid",
            "host",
            "--ipc",
            "host",
            "--read-only",
            "--user",
            "0:0",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "SYS_PTRACE",
            "--cap-add",
            "DAC_READ_SEARCH",
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "no-new-privileges:true",
            "-v",
            "/dev/shm:/dev/shm:ro",
            "--entrypoint",
            "/usr/local/bin/shmkit",
            &image.0,
            "exporter",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--min-interval",
            "0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _running = DockerContainer(container.clone());
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut body = None;
    for _ in 0..60 {
        if let Ok(r) = http_raw(addr, "GET /metrics HTTP/1.0\r\n\r\n") {
            if r.status == 200 {
                body = Some(r.body);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs = || {
        let out = Command::new("docker").args(["logs", &container]).output();
        out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default()
    };
    let body = body.unwrap_or_else(|| panic!("the container never answered: {}", logs()));
    // The image has no /etc/passwd: the owner is the uid.
    let series = format!(
        "{{kind=\"posix\",address=\"{}\",container=\"\",owner=\"0\"}}",
        name.addr()
    );
    assert_eq!(
        sample(&body, &format!("shmkit_object_resident_bytes{series}")),
        Some(1048576.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, &format!("shmkit_object_holders{series}")),
        Some(1.0),
        "the host process that maps it, seen from the container: {body}"
    );
    drop(holder);
}

/// A container's own /dev/shm (`--shm-size=16m`, 12 MiB written into it) and the seed's
/// leak inside its private IPC namespace, seen by prometheus through the exporter on the host.
#[test]
fn prometheus_sees_a_containers_dev_shm_use_and_size_and_its_leak() {
    if !common::needs_docker("prometheus_sees_a_containers_dev_shm_use_and_size_and_its_leak") {
        return;
    }
    if !common::needs_programs(
        "prometheus_sees_a_containers_dev_shm_use_and_size_and_its_leak",
        &[("prometheus", "prometheus")],
    ) {
        return;
    }
    let image = containers_support::Image::build();
    let ct = containers_support::Container::run(&image, &["--ipc", "private", "--shm-size", "16m"]);
    ct.sh("head -c 12582912 /dev/zero > /dev/shm/fill");
    let leak_id = ct.sh("leak 2097152");
    let dir = tempfile::tempdir().unwrap();
    // In the host's namespaces: from a private IPC namespace the exporter would not look into
    // other namespaces (they would all be "other").
    let (mut exp, addr) = exporter_in(&[], "true", "--min-interval 0", &[]);
    let (mut prometheus, api) = start_prometheus(dir.path(), addr);
    let name = &ct.name;
    let used = query(
        api,
        &mut prometheus,
        &format!("shmkit_container_dev_shm_used_bytes{{container=\"{name}\"}}"),
        90,
    );
    assert_eq!(used, 12582912.0);
    let size = query(
        api,
        &mut prometheus,
        &format!("shmkit_container_dev_shm_size_bytes{{container=\"{name}\"}}"),
        30,
    );
    assert_eq!(size, 16777216.0);
    let leaked = query(
        api,
        &mut prometheus,
        &format!("shmkit_object_resident_bytes{{kind=\"sysv\",address=\"sysv:id={}\",container=\"{name}\"}}", leak_id.trim()),
        30,
    );
    assert_eq!(leaked, 2097152.0);
    let leaks = query(
        api,
        &mut prometheus,
        &format!("shmkit_leaked_objects{{kind=\"sysv\",container=\"{name}\"}}"),
        30,
    );
    assert_eq!(leaks, 1.0);
    let shmem = query(api, &mut prometheus, "shmkit_shmem_bytes", 30);
    assert!(shmem >= 12582912.0 + 2097152.0, "{shmem}");
    exp.assert_running();
}

/// A program run inside the exporter's IPC namespace (`nsenter --ipc`) with its standard
/// input on a pipe. Drop closes the pipe (`shmkit hold` and `leak ... wait` exit on end of
/// file) and reaps it, killing it if it has not gone within 10 s.
struct InNamespace {
    child: Child,
    first_line: String,
}

impl InNamespace {
    /// Starts `program ARGS` in the IPC namespace of the process `pid` and waits for the
    /// first line it prints (`ready PID`, or a segment's id).
    fn start(pid: u32, program: &str, args: &[&str]) -> InNamespace {
        let mut child = Command::new("nsenter")
            .arg(format!("--ipc=/proc/{pid}/ns/ipc"))
            .arg("--")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn nsenter");
        let mut first_line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut first_line);
        let started = InNamespace { child, first_line };
        assert!(
            !started.first_line.is_empty(),
            "{program} {args:?} printed nothing"
        );
        started
    }

    /// Ends it (closes its input) and waits until it is gone.
    fn end(self) {}
}

impl Drop for InNamespace {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while let Ok(None) = self.child.try_wait() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs `program ARGS` to its end in the IPC namespace of `pid`, and returns its output.
fn run_in_namespace(pid: u32, program: &str, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--ipc=/proc/{pid}/ns/ipc"))
        .arg("--")
        .arg(program)
        .args(args)
        .output()
        .expect("run nsenter");
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `family` for the object at `address` (whatever its other labels).
fn object_sample(text: &str, family: &str, address: &str) -> Option<f64> {
    let label = format!("address=\"{address}\"");
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(family)?.strip_prefix('{')?;
        let (labels, value) = rest.split_once("} ")?;
        labels
            .split(',')
            .any(|l| l == label)
            .then(|| value.trim().parse().ok())?
    })
}

/// A scrape's body, after asserting it was answered.
fn scrape(addr: SocketAddr) -> String {
    let r = get(addr, "/metrics", None);
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

/// The exporter keeps one live scan between scrapes and walks every process only once an
/// hour here: what each scrape shows must come from facts read at that scrape (new segments,
/// new processes, processes gone), never from the periodic full walk.
#[test]
fn each_scrape_shows_objects_made_and_holders_started_or_gone_since_the_last() {
    if !common::as_root("each_scrape_shows_objects_made_and_holders_started_or_gone_since_the_last")
    {
        return;
    }
    let (exp, addr) = exporter("true", "--min-interval 0 --full-walk-interval 1h", &[]);
    let ns = exp.child.id();
    let objects = "shmkit_objects{kind=\"sysv\",container=\"\"}";
    let idle = "shmkit_idle_objects{kind=\"sysv\",container=\"\"}";
    assert_eq!(sample(&scrape(addr), objects), Some(0.0), "a new namespace");

    let made = run_in_namespace(ns, "ipcmk", &["-M", "65536"]);
    let id = made
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or_else(|| panic!("ipcmk said {made:?}"));
    let address = format!("sysv:id={id}");
    let body = scrape(addr);
    assert_eq!(sample(&body, objects), Some(1.0), "{body}");
    assert_eq!(
        object_sample(&body, "shmkit_object_size_bytes", &address),
        Some(65536.0)
    );
    assert_eq!(
        object_sample(&body, "shmkit_object_holders", &address),
        Some(0.0)
    );
    assert_eq!(sample(&body, idle), Some(1.0));

    let holder = InNamespace::start(
        ns,
        bin(),
        &["hold", "--sysv-id", &id.to_string(), "--fill", "1"],
    );
    assert!(
        holder.first_line.starts_with("ready "),
        "{}",
        holder.first_line
    );
    // The first scrape walks the new holder; the next ones reuse that walk.
    for n in 0..3 {
        let body = scrape(addr);
        assert_eq!(
            object_sample(&body, "shmkit_object_holders", &address),
            Some(1.0),
            "scrape {n} after the holder attached"
        );
        assert_eq!(
            object_sample(&body, "shmkit_object_resident_bytes", &address),
            Some(65536.0),
            "the holder filled it"
        );
        assert_eq!(sample(&body, idle), Some(0.0));
    }

    holder.end();
    let body = scrape(addr);
    assert_eq!(
        object_sample(&body, "shmkit_object_holders", &address),
        Some(0.0),
        "the holder exited: {body}"
    );
    assert_eq!(sample(&body, idle), Some(1.0));

    run_in_namespace(ns, "ipcrm", &["-m", &id.to_string()]);
    let body = scrape(addr);
    assert_eq!(
        object_sample(&body, "shmkit_object_size_bytes", &address),
        None
    );
    assert_eq!(sample(&body, objects), Some(0.0));
}

/// The seed's leak judged scrape by scrape, with no periodic full walk to lean on: a private
/// segment is no leak while its creator lives (attached or not) or while anyone is attached,
/// and is one at the first scrape after the last of them is gone.
#[test]
fn a_leak_is_exported_only_once_it_is_one() {
    if !common::as_root("a_leak_is_exported_only_once_it_is_one") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let leak = leak_program(dir.path());
    let (exp, addr) = exporter("true", "--min-interval 0 --full-walk-interval 1h", &[]);
    let ns = exp.child.id();
    let leaked = "shmkit_leaked_objects{kind=\"sysv\",container=\"\"}";
    let leaked_bytes = "shmkit_leaked_bytes{kind=\"sysv\",container=\"\"}";
    assert_eq!(sample(&scrape(addr), leaked), Some(0.0));

    // IPC_PRIVATE, touched, detached; its creator waits on its input.
    let creator = InNamespace::start(ns, leak.to_str().unwrap(), &["65536", "wait"]);
    let id: i32 = creator
        .first_line
        .trim()
        .parse()
        .expect("leak prints the id");
    let address = format!("sysv:id={id}");
    for n in 0..2 {
        let body = scrape(addr);
        assert_eq!(
            object_sample(&body, "shmkit_object_holders", &address),
            Some(0.0),
            "detached"
        );
        assert_eq!(
            sample(&body, leaked),
            Some(0.0),
            "scrape {n}: its creator lives"
        );
    }

    let holder = InNamespace::start(ns, bin(), &["hold", "--sysv-id", &id.to_string()]);
    assert_eq!(sample(&scrape(addr), leaked), Some(0.0));
    creator.end();
    let body = scrape(addr);
    assert_eq!(
        object_sample(&body, "shmkit_object_holders", &address),
        Some(1.0)
    );
    assert_eq!(
        sample(&body, leaked),
        Some(0.0),
        "the creator exited but a holder is attached: {body}"
    );

    holder.end();
    let body = scrape(addr);
    assert_eq!(sample(&body, leaked), Some(1.0), "nobody left: {body}");
    assert_eq!(
        sample(&body, leaked_bytes),
        Some(65536.0),
        "leak.c touched every page"
    );
}

/// This test process holds a POSIX object and was walked already when it lets go of it
/// without exiting, which no cheap signal tells: the exporter may show the object in use
/// until the next full walk, never idle while it is mapped, and idle at the first scrape
/// once `--full-walk-interval` has passed.
#[test]
fn a_holder_that_lets_go_without_exiting_is_forgotten_at_the_next_full_walk() {
    if !common::as_root("a_holder_that_lets_go_without_exiting_is_forgotten_at_the_next_full_walk")
    {
        return;
    }
    use shmkit::sys::{self, posix::OpenMode};
    use std::os::fd::AsFd;
    let period = Duration::from_secs(2);
    let object = common::kernel::posix_object("exporter-let-go", 1 << 16);
    let address = format!("posix:{}", object.name);
    let (_exp, addr) = exporter(
        "true",
        "--min-interval 0 --full-walk-interval 2s --max-objects 100000",
        &[],
    );
    let holders = |body: &str| object_sample(body, "shmkit_object_holders", &address);
    assert_eq!(holders(&scrape(addr)), Some(0.0));

    let fd = sys::posix::shm_open(&object.name, OpenMode::ReadWrite, 0).expect("shm_open");
    let mapping = sys::mapping::map_shared_fd(fd.as_fd(), 1 << 16, true).expect("mmap");
    drop(fd);
    mapping.fill(0, 1 << 16, 1).expect("touch");
    for n in 0..3 {
        assert_eq!(holders(&scrape(addr)), Some(1.0), "scrape {n} while mapped");
    }

    drop(mapping);
    let body = scrape(addr);
    let right_after = holders(&body);
    let age = |body: &str| sample(body, "shmkit_scrape_holders_age_seconds").expect("age");
    assert!(
        matches!(right_after, Some(h) if h == 0.0 || h == 1.0),
        "in use until the next full walk, or idle if one ran: {body}"
    );
    if right_after == Some(1.0) {
        // Shown as still held: the scrape reused a walk, and says how old it is.
        assert!(age(&body) > 0.0, "a reused walk has an age: {body}");
    }
    std::thread::sleep(period);
    let body = scrape(addr);
    assert_eq!(holders(&body), Some(0.0), "a full walk ran: {body}");
    assert_eq!(age(&body), 0.0, "every process was walked for it: {body}");
}
