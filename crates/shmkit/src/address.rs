//! How commands and programs name a shared-memory object: `sysv:5678`, `sysv:0x162e`,
//! `sysv:id=294918`, `sysv:private`, `sysv:ftok=PATH:PROJ`, `posix:/name`, `file:PATH`,
//! `memfd:NAME`, and for an object only its holders reach (a memfd, shared anonymous memory,
//! a deleted or unreachable tmpfs file) a holder's descriptor or mapping: `memfd:PID/FD`,
//! `memfd:PID@0xSTART`, `shared-anon:PID@0xSTART`, `posix:PID/FD`, `tmpfs:PID@0xSTART`.
//!
//! Names and paths are bytes: `Display` writes a byte that is not printable UTF-8 (invalid
//! UTF-8, a control character) as `\xNN` and a backslash as `\\`, and parsing reads those
//! escapes back, so an address printed for a name like `/a\xffb` or one with a newline reaches
//! exactly that object and never moves the terminal. A POSIX name that is not UTF-8 is
//! addressed through its file, `file:/dev/shm/NAME`.
//!
//! Parsing is strict, because an address decides which kernel object a command touches:
//! a POSIX name must be exactly what `shm_open` accepts without surprises (one leading `/`, no
//! other `/`, not `.` or `..`, at most `NAME_MAX` bytes, no NUL), a key must fit the kernel's
//! 32 bits. [`Address`]'s `Display` gives back a string that parses to the same address.
//!
//! ```
//! use shmkit::address::{Address, SysvAddress};
//!
//! let addr: Address = "sysv:0x162e".parse()?;
//! assert_eq!(addr, Address::Sysv(SysvAddress::Key(5678)));
//! assert_eq!(addr.to_string(), "sysv:5678");
//! assert!("posix:/a/b".parse::<Address>().is_err());
//! # Ok::<(), shmkit::Error>(())
//! ```

use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::str::FromStr;

/// The longest POSIX shm name after its leading `/`: the name becomes a file in /dev/shm, so
/// it is limited by the filesystem's `NAME_MAX`.
pub const POSIX_NAME_MAX: usize = 255;

/// The text every address error points to.
const FORMS: &str = "write sysv:KEY (sysv:5678, sysv:0x162e), sysv:id=SHMID, sysv:private, \
                     sysv:ftok=PATH:PROJ, posix:/NAME, file:PATH, memfd:NAME, or KIND:PID/FD \
                     or KIND:PID@0xSTART for what a process holds (`shmkit ls` lists them)";

/// A shared-memory object's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A System V segment.
    Sysv(SysvAddress),
    /// A POSIX shm object, by its name with the one leading `/` (`/orders`).
    Posix(String),
    /// A regular file mapped `MAP_SHARED`.
    File(PathBuf),
    /// A new memfd with this name (library only: a memfd has no name others can open).
    Memfd(String),
    /// An existing object reached through a process that holds it: its descriptor or its
    /// mapping. The only way to name a memfd or shared anonymous memory from outside.
    Held(HeldAddress),
}

/// An object reached through one of its holders (`memfd:4242/5`, `shared-anon:4242@0x7f3a0000`).
///
/// The scan names each such object through its lowest-numbered holder, by descriptor where it
/// holds one (a descriptor outlives a mapping), so every listing gives the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeldAddress {
    /// What the holder holds: [`Kind::Memfd`], [`Kind::SharedAnon`], [`Kind::Posix`] or
    /// [`Kind::Tmpfs`] (a deleted file, or one on a mount this namespace does not see).
    pub kind: Kind,
    /// The holding process.
    pub pid: u32,
    /// Its descriptor or mapping of the object.
    pub handle: Handle,
}

/// How a process holds an object: what `/proc/PID/fd/FD` or `/proc/PID/map_files/` reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Handle {
    /// An open descriptor (`/PID/FD`).
    Fd(u32),
    /// A mapping, by its start address (`@0xSTART`).
    Map(u64),
}

/// The kinds a [`HeldAddress`] may name: those whose objects a holder can reach.
const HELD_KINDS: [Kind; 4] = [Kind::Memfd, Kind::SharedAnon, Kind::Posix, Kind::Tmpfs];

impl HeldAddress {
    /// Parses `PID/FD` or `PID@0xSTART`, as [`HeldAddress`]'s `Display` writes it after the kind.
    fn parse(kind: Kind, rest: &str) -> Option<HeldAddress> {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let (pid, handle) = if let Some((pid, fd)) = rest.split_once('/') {
            if !digits(fd) {
                return None;
            }
            (pid, Handle::Fd(fd.parse().ok()?))
        } else {
            let (pid, start) = rest.split_once('@')?;
            let hex = start.strip_prefix("0x")?;
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            (pid, Handle::Map(u64::from_str_radix(hex, 16).ok()?))
        };
        if !digits(pid) {
            return None;
        }
        match pid.parse::<u32>().ok()? {
            0 => None,
            pid => Some(HeldAddress { kind, pid, handle }),
        }
    }

    /// Whether `rest` (after `KIND:`) has the shape of a held address: it starts with a digit
    /// and has a `/` or an `@`, which no POSIX name (it starts with `/`) and no memfd name
    /// (it has no `/`) given with a pid-like prefix is taken for by accident.
    fn looks_held(rest: &str) -> bool {
        rest.starts_with(|c: char| c.is_ascii_digit())
            && rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .starts_with(['/', '@'])
    }
}

impl fmt::Display for HeldAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.handle {
            Handle::Fd(fd) => write!(f, "{}:{}/{fd}", self.kind, self.pid),
            Handle::Map(start) => write!(f, "{}:{}@0x{start:x}", self.kind, self.pid),
        }
    }
}

/// How a System V segment is named.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SysvAddress {
    /// By key (`sysv:5678`, `sysv:0x162e`); never 0, which is `IPC_PRIVATE`.
    Key(i32),
    /// By segment id (`sysv:id=294918`), as `ipcs -m` lists it.
    Id(i32),
    /// `IPC_PRIVATE` (`sysv:private`): a new segment with no key; for create only.
    Private,
    /// The key `ftok(path, proj)` derives (`sysv:ftok=/etc/app.conf:65`).
    Ftok {
        /// The file whose inode and device make the key.
        path: PathBuf,
        /// The project byte (1..=255).
        proj: u8,
    },
}

impl Address {
    /// The kind of object this address reaches.
    pub fn kind(&self) -> Kind {
        match self {
            Address::Sysv(_) => Kind::Sysv,
            Address::Posix(_) => Kind::Posix,
            Address::File(_) => Kind::File,
            Address::Memfd(_) => Kind::Memfd,
            Address::Held(held) => held.kind,
        }
    }

    /// Parses a POSIX shm name, validated as [`Address`] describes.
    pub fn posix(name: &str) -> Result<Address> {
        validate_posix_name(name)?;
        Ok(Address::Posix(name.to_string()))
    }

    /// The path of a POSIX object's file (`/dev/shm/NAME`), where glibc puts it.
    pub fn posix_path(name: &str) -> PathBuf {
        PathBuf::from(format!("/dev/shm{name}"))
    }
}

/// Writes `bytes` as text that [`unescape`] reads back to the same bytes: printable UTF-8 as
/// is, a backslash as `\\`, and every other byte (invalid UTF-8, control characters, DEL)
/// as `\xNN`. The result holds no control character, so it is safe on a terminal too.
pub fn escape_bytes(bytes: &[u8]) -> String {
    escaped(bytes).into_owned()
}

/// [`escape_bytes`] without a copy when there is nothing to escape (printable UTF-8 with no
/// backslash, the common case): for the scan, which shows every descriptor target and mapped
/// path this way.
pub fn escaped(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c == '\\' || c.is_control()) => {
            std::borrow::Cow::Borrowed(text)
        }
        _ => std::borrow::Cow::Owned(escape_all(bytes)),
    }
}

fn escape_all(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut utf8 = [0u8; 4];
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Reads [`escape_bytes`]'s escapes (`\\`, `\xNN`); any other backslash stays as typed.
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, bytes.get(i + 1), hex) {
            (b'\\', Some(b'\\'), _) => {
                out.push(b'\\');
                i += 2;
            }
            (b'\\', Some(b'x'), Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn invalid(input: &str, cause: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, input, cause).with_fix(FORMS)
}

fn validate_posix_name(name: &str) -> Result<()> {
    let object = format!("posix:{name}");
    let bad =
        |cause: &str, fix: &str| Error::new(ErrorKind::InvalidInput, &object, cause).with_fix(fix);
    let Some(rest) = name.strip_prefix('/') else {
        return Err(bad(
            "a POSIX shm name starts with '/'",
            "write posix:/NAME, for example posix:/orders",
        ));
    };
    if rest.is_empty() {
        return Err(bad(
            "the name after '/' is empty",
            "write posix:/NAME, for example posix:/orders",
        ));
    }
    if rest.contains('/') {
        return Err(bad(
            "a POSIX shm name has exactly one '/', at the start (it is one file in /dev/shm)",
            "drop the other '/' characters, for example posix:/app-orders",
        ));
    }
    if rest == "." || rest == ".." {
        return Err(bad(
            "'.' and '..' are directories, not objects",
            "pick a real name",
        ));
    }
    if rest.contains('\0') {
        return Err(bad("the name contains a NUL byte", "remove it"));
    }
    if rest.len() > POSIX_NAME_MAX {
        return Err(bad(
            &format!(
                "the name is {} bytes long; the limit is {POSIX_NAME_MAX} (NAME_MAX)",
                rest.len()
            ),
            "pick a shorter name",
        ));
    }
    Ok(())
}

/// Parses a key or id: decimal (`5678`, `-1`) or hex (`0x162e`, up to `0xffffffff`, which wraps
/// to the negative `i32` the kernel stores).
fn parse_int(text: &str) -> Option<i32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || hex.len() > 8 {
            return None;
        }
        return u32::from_str_radix(hex, 16).ok().map(|v| v as i32);
    }
    if text.starts_with('+') {
        return None;
    }
    text.parse::<i32>().ok()
}

fn parse_sysv(input: &str, rest: &str) -> Result<SysvAddress> {
    if rest == "private" {
        return Ok(SysvAddress::Private);
    }
    if let Some(id) = rest.strip_prefix("id=") {
        return match parse_int(id) {
            Some(id) if id >= 0 => Ok(SysvAddress::Id(id)),
            _ => Err(invalid(
                input,
                format!("'{id}' is not a segment id (a number from `ipcs -m`)"),
            )),
        };
    }
    if let Some(spec) = rest.strip_prefix("ftok=") {
        // The path may itself contain ':', so the project is after the last one.
        let Some((path, proj)) = spec.rsplit_once(':') else {
            return Err(invalid(
                input,
                "ftok needs a path and a project: sysv:ftok=PATH:PROJ",
            ));
        };
        if path.is_empty() {
            return Err(invalid(input, "the ftok path is empty"));
        }
        let proj = match proj.as_bytes() {
            [c] if !c.is_ascii_digit() => Some(*c),
            _ => parse_int(proj).and_then(|p| u8::try_from(p).ok()),
        };
        return match proj {
            Some(proj) if proj != 0 => Ok(SysvAddress::Ftok {
                path: PathBuf::from(OsString::from_vec(unescape(path))),
                proj,
            }),
            _ => Err(invalid(
                input,
                "the ftok project must be 1..=255 or one character (ftok uses its low 8 bits, and 0 is undefined)",
            )),
        };
    }
    match parse_int(rest) {
        Some(0) => Err(Error::new(
            ErrorKind::InvalidInput,
            input,
            "key 0 is IPC_PRIVATE, which never names an existing segment",
        )
        .with_fix("write sysv:private to create a segment without a key, or sysv:id=SHMID for an existing one")),
        Some(key) => Ok(SysvAddress::Key(key)),
        None => Err(invalid(input, format!("'{rest}' is not a System V key (decimal or 0x hex, 32 bits)"))),
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(input: &str) -> Result<Address> {
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(invalid(input, "an address starts with a kind and a colon"));
        };
        if let Some(kind) = Kind::parse(scheme).filter(|k| HELD_KINDS.contains(k)) {
            if HeldAddress::looks_held(rest) || matches!(kind, Kind::SharedAnon | Kind::Tmpfs) {
                return HeldAddress::parse(kind, rest).map(Address::Held).ok_or_else(|| {
                    invalid(
                        input,
                        format!(
                            "'{rest}' is not a holder's descriptor (PID/FD) or mapping (PID@0xSTART)"
                        ),
                    )
                });
            }
        }
        match scheme {
            "sysv" => parse_sysv(input, rest).map(Address::Sysv),
            "posix" => match String::from_utf8(unescape(rest)) {
                Ok(name) => Address::posix(&name),
                Err(e) => Err(Error::new(
                    ErrorKind::InvalidInput,
                    input,
                    "the name is not UTF-8, which a posix: address cannot carry",
                )
                .with_fix(format!(
                    "address its file: file:/dev/shm{}",
                    escape_bytes(e.as_bytes())
                ))),
            },
            "file" => {
                let path = unescape(rest);
                if path.is_empty() {
                    return Err(invalid(input, "the path is empty"));
                }
                if path.contains(&0) {
                    return Err(invalid(input, "the path contains a NUL byte"));
                }
                Ok(Address::File(PathBuf::from(OsString::from_vec(path))))
            }
            "memfd" => {
                // memfd_create limits names to 249 bytes (NAME_MAX minus "memfd:").
                if rest.len() > 249 || rest.contains('\0') || rest.contains('/') {
                    return Err(invalid(
                        input,
                        "a memfd name is at most 249 bytes, without '/' or NUL",
                    ));
                }
                Ok(Address::Memfd(rest.to_string()))
            }
            other => Err(invalid(
                input,
                format!("'{other}' is not a kind of shared memory shmkit addresses"),
            )),
        }
    }
}

impl fmt::Display for SysvAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Negative keys (high bit set, common for ftok keys) read better as hex, the way
            // `ipcs` prints them; both forms parse back to the same key.
            SysvAddress::Key(key) if *key < 0 => write!(f, "sysv:0x{:08x}", *key as u32),
            SysvAddress::Key(key) => write!(f, "sysv:{key}"),
            SysvAddress::Id(id) => write!(f, "sysv:id={id}"),
            SysvAddress::Private => f.write_str("sysv:private"),
            SysvAddress::Ftok { path, proj } => write!(
                f,
                "sysv:ftok={}:{proj}",
                escape_bytes(path.as_os_str().as_bytes())
            ),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Sysv(sysv) => sysv.fmt(f),
            Address::Posix(name) => write!(f, "posix:{}", escape_bytes(name.as_bytes())),
            Address::File(path) => write!(f, "file:{}", escape_bytes(path.as_os_str().as_bytes())),
            Address::Memfd(name) => write!(f, "memfd:{name}"),
            Address::Held(held) => held.fmt(f),
        }
    }
}

/// An address is serialized as its canonical text, which [`FromStr`] reads back.
impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// In a JSON Schema, an address is a string in one of the forms this module describes.
impl schemars::JsonSchema for Address {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Address".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(sysv|posix|file|memfd|shared-anon|tmpfs):",
            "description": "How commands address an object: sysv:KEY, sysv:id=SHMID, posix:/NAME, file:PATH, or through a holder KIND:PID/FD or KIND:PID@0xSTART; bytes that are not printable UTF-8 as \\xNN"
        })
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escaped_borrows_plain_text_and_escapes_the_rest_as_escape_bytes_does() {
        use std::borrow::Cow;
        assert!(matches!(
            escaped(b"/dev/shm/orders"),
            Cow::Borrowed("/dev/shm/orders")
        ));
        for bytes in [&b"caf\xe9"[..], b"a\\b", b"tab\there", b"/x (deleted)"] {
            let text = escaped(bytes);
            assert_eq!(unescape(&text), bytes, "{text}");
            assert!(!text.chars().any(char::is_control), "{text}");
        }
        assert_eq!(escaped(b"caf\xe9"), "caf\\xe9");
        assert_eq!(escaped(b"a\\b"), "a\\\\b");
    }

    fn parse(s: &str) -> Result<Address> {
        s.parse()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            parse("sysv:5678").unwrap(),
            Address::Sysv(SysvAddress::Key(5678))
        );
        assert_eq!(
            parse("sysv:0x162e").unwrap(),
            Address::Sysv(SysvAddress::Key(0x162e))
        );
        assert_eq!(
            parse("sysv:0xffffffff").unwrap(),
            Address::Sysv(SysvAddress::Key(-1))
        );
        assert_eq!(
            parse("sysv:id=294918").unwrap(),
            Address::Sysv(SysvAddress::Id(294918))
        );
        assert_eq!(
            parse("sysv:private").unwrap(),
            Address::Sysv(SysvAddress::Private)
        );
        assert_eq!(
            parse("sysv:ftok=/etc/a:b:65").unwrap(),
            Address::Sysv(SysvAddress::Ftok {
                path: "/etc/a:b".into(),
                proj: 65
            })
        );
        assert_eq!(
            parse("sysv:ftok=/etc/x:A").unwrap(),
            Address::Sysv(SysvAddress::Ftok {
                path: "/etc/x".into(),
                proj: b'A'
            })
        );
        assert_eq!(
            parse("posix:/orders").unwrap(),
            Address::Posix("/orders".into())
        );
        assert_eq!(
            parse("file:./shm.txt").unwrap(),
            Address::File("./shm.txt".into())
        );
        assert_eq!(parse("memfd:buf").unwrap(), Address::Memfd("buf".into()));
    }

    #[test]
    fn refuses_bad_addresses_with_invalid_input_and_a_fix() {
        for bad in [
            "",
            "5678",
            "sysv:",
            "sysv:0",
            "sysv:abc",
            "sysv:0x",
            "sysv:0x123456789",
            "sysv:+5",
            "sysv:id=",
            "sysv:id=-3",
            "sysv:ftok=/x",
            "sysv:ftok=/x:0",
            "sysv:ftok=/x:256",
            "sysv:ftok=:1",
            "posix:",
            "posix:x",
            "posix:/",
            "posix:/a/b",
            "posix://a",
            "posix:/.",
            "posix:/..",
            "posix:/a\0b",
            "file:",
            "nfs:/x",
            "memfd:a/b",
            "memfd:1/x",
            "memfd:0/3",
            "memfd:1@12",
            "shared-anon:",
            "shared-anon:12",
            "shared-anon:12@0x",
            "shared-anon:x@0x10",
            "tmpfs:/x",
            "posix:1/2/3",
            "memfd:99999999999/1",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert!(err.fix().is_some(), "{bad:?} has no fix");
            assert!(!err.to_string().contains('\n'));
        }
        let long = format!("posix:/{}", "a".repeat(256));
        assert!(parse(&long).is_err());
        let max = format!("posix:/{}", "a".repeat(255));
        assert!(parse(&max).is_ok());
    }

    #[test]
    fn display_round_trips_known_forms() {
        for text in [
            "sysv:5678",
            "sysv:id=7",
            "sysv:private",
            "sysv:ftok=/tmp/a:b:65",
            "posix:/x",
            "file:./a b",
            "memfd:m",
            "memfd:4242/5",
            "memfd:4242@0x7f3a00000000",
            "shared-anon:1@0x1000",
            "posix:77/3",
            "tmpfs:77@0xabc",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        assert_eq!(parse("sysv:-1").unwrap().to_string(), "sysv:0xffffffff");
    }

    #[test]
    fn a_name_that_is_not_utf8_or_has_control_characters_is_escaped_exactly() {
        assert_eq!(escape_bytes(b"a\xffb\\c\n"), r"a\xffb\\c\x0a");
        assert_eq!(unescape(r"a\xffb\\c\x0a"), b"a\xffb\\c\n");
        let addr = parse(r"file:/dev/shm/a\xffb").unwrap();
        assert_eq!(
            addr,
            Address::File(PathBuf::from(OsString::from_vec(
                b"/dev/shm/a\xffb".to_vec()
            )))
        );
        assert_eq!(addr.to_string(), r"file:/dev/shm/a\xffb");
        // A POSIX name with a newline stays a posix: address, printed on one line.
        let nl = Address::Posix("/a\nb".into());
        assert_eq!(nl.to_string(), r"posix:/a\x0ab");
        assert_eq!(parse(&nl.to_string()).unwrap(), nl);
        // One that is not UTF-8 is refused with the file: address that reaches it.
        let err = parse(r"posix:/a\xffb").unwrap_err();
        assert!(err.to_string().ends_with(r"file:/dev/shm/a\xffb"), "{err}");
        // A backslash that is no escape is kept as typed.
        assert_eq!(
            parse(r"file:/tmp/a\qb").unwrap(),
            Address::File(r"/tmp/a\qb".into())
        );
    }

    proptest! {
        #[test]
        fn display_round_trips_any_address(
            key in any::<i32>().prop_filter("not IPC_PRIVATE", |k| *k != 0),
            id in 0..i32::MAX,
            name in "/[a-zA-Z0-9._-]{1,40}".prop_filter("not . or ..", |n| n != "/." && n != "/.."),
            proj in 1u8..=255,
        ) {
            let addrs = [
                Address::Held(HeldAddress { kind: Kind::Memfd, pid: id as u32 + 1, handle: Handle::Fd(proj.into()) }),
                Address::Held(HeldAddress { kind: Kind::SharedAnon, pid: id as u32 + 1, handle: Handle::Map(key as u32 as u64 * 4096) }),
                Address::Sysv(SysvAddress::Key(key)),
                Address::Sysv(SysvAddress::Id(id)),
                Address::Sysv(SysvAddress::Ftok { path: format!("/tmp{name}").into(), proj }),
                Address::Posix(name.clone()),
                Address::File(format!(".{name}").into()),
            ];
            for addr in addrs {
                prop_assert_eq!(parse(&addr.to_string()).unwrap(), addr);
            }
        }

        #[test]
        fn any_bytes_round_trip_through_an_escaped_address(
            name in proptest::collection::vec(1u8..=255, 1..40),
        ) {
            prop_assert_eq!(unescape(&escape_bytes(&name)), name.clone());
            prop_assert!(!escape_bytes(&name).chars().any(char::is_control));
            let path = PathBuf::from(OsString::from_vec([b"/dev/shm/".as_slice(), &name].concat()));
            let addr = Address::File(path);
            prop_assert_eq!(parse(&addr.to_string()).unwrap(), addr);
        }

        #[test]
        fn parsing_never_panics(input in ".{0,80}") {
            let _ = parse(&input);
        }
    }
}
