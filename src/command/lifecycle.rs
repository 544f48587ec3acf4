//! What the life-cycle commands (`create`, `write`, `read`, `stat`, `chmod`, `chown`,
//! `resize`, `rm`) share: address and mode parsing, the world-writable warning, holders from
//! the scan, and what survives what on this host.

use serde::Serialize;
use shmkit::address::Address;
use shmkit::doctor;
use shmkit::scan::{Holder, Kind, Object, ProcRoot, Scan, ScanOptions};
use shmkit::segment::{self, Stat};
use shmkit::{Error, ErrorKind};

/// Parses an address for clap.
pub fn parse_address(text: &str) -> Result<Address, String> {
    text.parse::<Address>().map_err(|e| e.to_string())
}

/// Parses octal permission bits (`600`, `0600`, `0o600`).
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 && !digits.is_empty() => Ok(mode),
        _ => Err(format!(
            "'{text}' is not a mode; write octal permission bits from 000 to 777, e.g. 600 or 640"
        )),
    }
}

/// Parses a size (`27`, `4K`, `2G`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    shmkit::render::size::parse(text).map_err(|e| e.to_string())
}

/// The command line refuses memfds: one made here would die with the command, and an
/// existing one has no name to be found by outside the processes that hold it.
pub fn refuse_memfd(addr: &Address, creating: bool) -> Result<(), Error> {
    // A memfd held by a process (memfd:PID/FD) is reached through that process.
    if !matches!(addr, Address::Memfd(_)) {
        return Ok(());
    }
    let (cause, fix) = if creating {
        (
            "a memfd lives only while a process holds it, so one made by this command would vanish when it exits",
            "make memfds in the program that uses them (memfd_create(2), or the library's shmkit::segment::MemfdSegment)",
        )
    } else {
        (
            "a memfd has no name outside the processes that hold it, so this command cannot open it",
            "address it through a process that holds it, memfd:PID/FD or memfd:PID@0xSTART (`shmkit ls --kind memfd` lists them)",
        )
    };
    Err(Error::new(ErrorKind::InvalidInput, addr.to_string(), cause).with_fix(fix))
}

/// Warns on stderr when a mode lets every user write: shmkit does it only when asked.
pub fn warn_if_world_writable(addr: &Address, mode: u32) {
    if segment::is_world_writable(mode) {
        msg!(
            "shmkit: warning: {addr}: mode {mode:04o} lets every user on this host{} write it; use 600 or 660 unless that is what you want",
            if addr.kind() == Kind::Sysv { " (in this IPC namespace)" } else { "" }
        );
    }
}

/// What `chmod`, `chown` and `resize` print with `--json`: the object after the change.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Changed {
    /// `shmkit.chmod/2`, `shmkit.chown/2`, `shmkit.resize/2`.
    pub schema: &'static str,
    /// What the kernel says of it now.
    pub stat: Stat,
}

/// Warns on stderr when an existing object that a command reads or writes lets every user
/// write it: its contents may have been tampered with, and what we write may be changed.
pub fn warn_if_tamperable(addr: &Address, mode: u32) {
    if segment::is_world_writable(mode) {
        msg!(
            "shmkit: warning: {addr}: mode {mode:04o} lets every user write it, so anyone may have changed it; `shmkit chmod {addr} 600` if it should be private"
        );
    }
}

/// The scan's object for what `stat` describes, if the scan sees it.
pub fn scan_object<'a>(scan: &'a Scan, stat: &Stat) -> Option<&'a Object> {
    scan.objects.iter().find(|o| is_same_object(o, stat))
}

/// Whether a scanned object and a fresh `stat` are the same kernel object.
pub fn is_same_object(o: &Object, stat: &Stat) -> bool {
    shmkit::reap::is_same_object(o, stat)
}

/// Scans the host for holders (processes that map or hold an object open).
pub fn scan() -> anyhow::Result<Scan> {
    Ok(Scan::collect(&ProcRoot::live(), &ScanOptions::default()).map_err(shmkit::Error::from)?)
}

/// The processes that map or hold `stat`'s object open.
///
/// System V ids are per IPC namespace: a process in another namespace (a container) that
/// attaches "its" segment 0 does not hold ours, so only processes in our IPC namespace count.
pub fn holders(scan: &Scan, stat: &Stat) -> Vec<Holder> {
    scan_object(scan, stat)
        .map(object_holders)
        .unwrap_or_default()
}

/// The holders of a scanned object other than this process (the scan credits System V
/// holders only in our IPC namespace).
pub fn object_holders(object: &Object) -> Vec<Holder> {
    shmkit::reap::object_holders(object)
}

/// What `stat`'s object survives here: the judgement of this place that `shmkit doctor`
/// shows, and for a file its filesystem.
pub fn survival(stat: &Stat) -> shmkit::survival::Lifetime {
    let root = ProcRoot::live();
    let here = doctor::examine(
        &root,
        shmkit::sys::statvfs(std::path::Path::new("/dev/shm")).ok(),
        shmkit::sys::page_size(),
    );
    doctor::survival(&here, &root, stat)
}

/// The name of a user or group id from the passwd or group table.
pub fn user_name(uid: u32) -> Option<String> {
    ProcRoot::live().users().ok()?.name(uid).map(str::to_string)
}

/// The name of a group id.
pub fn group_name(gid: u32) -> Option<String> {
    ProcRoot::live()
        .groups()
        .ok()?
        .name(gid)
        .map(str::to_string)
}

/// Resolves a user (name or number) to a uid.
pub fn resolve_user(object: &str, text: &str) -> Result<u32, Error> {
    let users = ProcRoot::live().users().ok();
    resolve_id(object, text, "user", "/etc/passwd", |name| {
        users.as_ref().and_then(|t| t.id(name))
    })
}

/// Resolves a group (name or number) to a gid.
pub fn resolve_group(object: &str, text: &str) -> Result<u32, Error> {
    let groups = ProcRoot::live().groups().ok();
    resolve_id(object, text, "group", "/etc/group", |name| {
        groups.as_ref().and_then(|t| t.id(name))
    })
}

/// A number, or a name looked up in `table`; never `(uid_t)-1`, which `chown` reads as "leave
/// it unchanged".
fn resolve_id(
    object: &str,
    text: &str,
    what: &str,
    table: &str,
    lookup: impl Fn(&str) -> Option<u32>,
) -> Result<u32, Error> {
    let bad = |cause: String| {
        Error::new(ErrorKind::InvalidInput, object, cause)
            .with_fix(format!("give a {what} name from {table} or a numeric id"))
    };
    match text.parse::<u32>().ok().or_else(|| lookup(text)) {
        Some(u32::MAX) => Err(bad(format!(
            "{what} id 4294967295 is -1, which chown reads as 'leave it unchanged'"
        ))),
        Some(id) => Ok(id),
        None => Err(bad(format!("no {what} named '{text}' in {table}"))),
    }
}

/// Seconds from `t` (unix seconds) to now, 0 for a time in the future. Saturating: any user
/// may set their object's times to the extremes of `i64` (`touch -d @-9223372036854775808`).
pub fn seconds_since(t: i64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    u64::try_from(now.saturating_sub(t)).unwrap_or(0)
}

/// `root (uid 0)` or `uid 1234`.
pub fn describe_owner(uid: u32, gid: u32) -> String {
    let user = user_name(uid).map_or(format!("uid {uid}"), |n| format!("{n} (uid {uid})"));
    let group = group_name(gid).map_or(format!("gid {gid}"), |n| format!("{n} (gid {gid})"));
    format!("{user}, group {group}")
}
