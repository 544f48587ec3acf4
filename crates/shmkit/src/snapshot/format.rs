//! The snapshot file format, version 2 (version 1 is still read): constants, the object
//! metadata and its encoding.
//!
//! The full description, byte by byte, is in `docs/snapshot-format.md`. In short, everything
//! little-endian:
//!
//! ```text
//! header   "SHMKSNAP" | version u16 = 2 | reserved u16 = 0 | reserved u32 = 0 | created i64
//! object*  "OBJ1" | kind u8 | flags u8 | name_len u16 | key i32 | mode u32 | uid u32 | gid u32
//!          | size u64 | nattch u64 | shmid i32 | reserved u32 | name[name_len]
//!          | run* | end run | object checksum u64
//!   run    tag u8 ('D' data, 'Z' zeros, 'E' end) | reserved [u8; 3] = 0 | len u32
//!          | len bytes (data runs only)
//! footer   "END1" | reserved u32 = 0 | object_count u64 | file checksum u64 | end of file
//! ```
//!
//! The object checksum is XXH3-64 of the object's bytes from its `OBJ1` tag through its end
//! run; the file checksum is XXH3-64 of every byte before it except the content bytes of data
//! runs. Those are covered by their object's checksum, which the file checksum covers, so
//! every byte is checked and each content byte is hashed only once. Runs cover `[0, size)`
//! exactly, in order.
//!
//! Version 2 differs from version 1 in two points only: POSIX names are bytes (any byte but
//! `/` and NUL, as the kernel allows; version 1 required UTF-8), and flag bit 2 marks a
//! `SHM_HUGETLB` segment. A version 1 file is read by the same code with those two rules
//! switched back.

use crate::scan::Kind;

/// The first eight bytes of every snapshot file.
pub(crate) const MAGIC: [u8; 8] = *b"SHMKSNAP";
/// The format version this code writes.
pub const VERSION: u16 = 2;
/// The oldest format version this code still reads.
pub(crate) const OLDEST_READABLE: u16 = 1;
/// Bytes of the file header.
pub(crate) const HEADER_LEN: u64 = 24;
/// The tag that starts an object record.
pub(crate) const OBJECT_TAG: [u8; 4] = *b"OBJ1";
/// The tag that starts the footer.
pub(crate) const FOOTER_TAG: [u8; 4] = *b"END1";
/// Bytes of an object record's fixed part (before the name).
pub(crate) const OBJECT_FIXED_LEN: u64 = 48;
/// Bytes of a run header.
pub(crate) const RUN_HEADER_LEN: u64 = 8;
/// Bytes of the footer, after its tag.
pub(crate) const FOOTER_BODY_LEN: u64 = 20;

/// Run tag: `len` bytes of content follow.
pub(crate) const RUN_DATA: u8 = b'D';
/// Run tag: `len` zero bytes of content, not stored.
pub(crate) const RUN_ZEROS: u8 = b'Z';
/// Run tag: the object's content is complete; its checksum follows.
pub(crate) const RUN_END: u8 = b'E';

/// The longest data run a reader accepts (the writer emits at most [`CHUNK`]).
pub(crate) const MAX_DATA_RUN: u64 = 16 << 20;
/// The granularity of sparse detection: an all-zero page is stored as a zero run.
pub(crate) const SPARSE_BLOCK: usize = 4096;
/// The unit the writer reads objects in and the reader hands content out in.
pub const CHUNK: usize = 1 << 20;
/// The largest object size a reader accepts (64 TiB): more than any real segment, far less
/// than lengths that overflow.
pub(crate) const MAX_OBJECT_SIZE: u64 = 1 << 46;
/// The longest POSIX name after its leading `/` (NAME_MAX, the longest file name in
/// `/dev/shm`). The record stores the `/` too, so its `name_len` is at most 256.
pub(crate) const MAX_NAME_LEN: u16 = 255;

/// Flag bit: the System V segment was locked in memory (`SHM_LOCK`) when saved.
pub(crate) const FLAG_LOCKED: u8 = 0b01;
/// Flag bit: processes were attached (System V) while it was saved: the content may be torn.
pub(crate) const FLAG_ATTACHED: u8 = 0b10;
/// Flag bit (version 2): a System V segment backed by huge pages (`SHM_HUGETLB`).
pub(crate) const FLAG_HUGETLB: u8 = 0b100;
/// Every flag bit this version knows; others make the file corrupt (or from a newer writer).
pub(crate) const KNOWN_FLAGS: u8 = FLAG_LOCKED | FLAG_ATTACHED | FLAG_HUGETLB;

/// The kind byte of a System V segment.
pub(crate) const KIND_SYSV: u8 = 1;
/// The kind byte of a POSIX shared memory object.
pub(crate) const KIND_POSIX: u8 = 2;

/// One saved object, as described by its record (without its content).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectMeta {
    /// [`Kind::Sysv`] or [`Kind::Posix`].
    pub kind: Kind,
    /// The System V key (0 for POSIX objects).
    pub key: i32,
    /// The POSIX name with its leading `/`, as the bytes the kernel holds (empty for System
    /// V). JSON shows it escaped (see [`escape_name`]).
    #[serde(serialize_with = "serialize_name")]
    pub name: Vec<u8>,
    /// Permission bits (`& 0o777`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Locked in memory (`SHM_LOCK`, System V only).
    pub locked: bool,
    /// Backed by huge pages (`SHM_HUGETLB`, System V only).
    pub hugetlb: bool,
    /// Attachments at save time (System V): more than 0 means the content may be torn.
    pub nattch: u64,
    /// The segment id at save time (System V; -1 for POSIX). Informational: a restore gets a
    /// new id from the kernel.
    pub shmid: i32,
}

impl ObjectMeta {
    /// The object as shmkit addresses it: `sysv:5678`, `sysv:private` (an `IPC_PRIVATE`
    /// segment) or `posix:/name`. Keys that `key_t`
    /// makes negative are shown in hex as `ipcs` shows them (`sysv:0x84051c39`).
    pub fn address(&self) -> String {
        match self.kind {
            Kind::Sysv if self.key == 0 => "sysv:private".to_owned(),
            Kind::Sysv if self.key < 0 => format!("sysv:{:#010x}", self.key as u32),
            Kind::Sysv => format!("sysv:{}", self.key),
            _ => format!("posix:{}", escape_name(&self.name)),
        }
    }

    /// Whether the content may be torn (writers were attached while it was copied).
    pub fn maybe_torn(&self) -> bool {
        self.nattch > 0
    }

    /// The fixed part and name of the record, as written to the file.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(OBJECT_FIXED_LEN as usize + self.name.len());
        out.extend_from_slice(&OBJECT_TAG);
        out.push(if self.kind == Kind::Sysv {
            KIND_SYSV
        } else {
            KIND_POSIX
        });
        let mut flags = 0;
        if self.locked {
            flags |= FLAG_LOCKED;
        }
        if self.nattch > 0 {
            flags |= FLAG_ATTACHED;
        }
        if self.hugetlb {
            flags |= FLAG_HUGETLB;
        }
        out.push(flags);
        // Names are validated to fit before an object is written (see `validate_name`).
        let name_len = u16::try_from(self.name.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&self.key.to_le_bytes());
        out.extend_from_slice(&(self.mode & 0o777).to_le_bytes());
        out.extend_from_slice(&self.uid.to_le_bytes());
        out.extend_from_slice(&self.gid.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.nattch.to_le_bytes());
        out.extend_from_slice(&self.shmid.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.name);
        out
    }
}

fn serialize_name<S: serde::Serializer>(name: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&escape_name(name))
}

/// A name for people and JSON, as every shmkit command shows names
/// ([`crate::address::escape_bytes`]): UTF-8 is kept, a backslash is doubled, and every byte
/// that is not printable UTF-8 becomes `\xNN`, so the text is one line and maps back to
/// exactly one byte string ([`crate::address::unescape`]).
pub fn escape_name(name: &[u8]) -> String {
    crate::address::escape_bytes(name)
}

/// Checks a POSIX name as stored: a leading `/`, then 1 to 255 bytes with no `/` and no NUL,
/// and not `.` or `..`. The writer and the reader both call it, so they agree on every limit.
pub(crate) fn validate_posix_name(name: &[u8]) -> Result<(), String> {
    let shown = escape_name(name);
    let Some(rest) = name.strip_prefix(b"/") else {
        return Err(format!("{shown:?} does not start with '/'"));
    };
    if rest.is_empty() || rest.len() > usize::from(MAX_NAME_LEN) {
        return Err(format!(
            "{shown:?} must have 1 to {MAX_NAME_LEN} bytes after the '/' (it has {})",
            rest.len()
        ));
    }
    if rest.contains(&b'/') || rest.contains(&0) || rest == b"." || rest == b".." {
        return Err(format!("{shown:?} is not a valid POSIX shared memory name"));
    }
    Ok(())
}

/// Checks a record against every rule of the format that is not about bytes: the writer
/// refuses to write what the reader would refuse to read, through this one function.
/// Returns the offset of the field in the record and what is wrong.
pub(crate) fn validate_record(meta: &ObjectMeta) -> Result<(), (u64, String)> {
    if meta.mode & !0o777 != 0 {
        return Err((12, format!("mode {:o} has bits beyond 0o777", meta.mode)));
    }
    if meta.size > MAX_OBJECT_SIZE {
        return Err((
            24,
            format!("object size {} is beyond any real object", meta.size),
        ));
    }
    match meta.kind {
        Kind::Sysv => {
            if !meta.name.is_empty() {
                return Err((6, "a System V record carries a name".into()));
            }
            if meta.size == 0 {
                // shmget refuses size 0 (below SHMMIN): no segment can have been saved so.
                return Err((24, "a System V segment of size 0".into()));
            }
            Ok(())
        }
        Kind::Posix => {
            if meta.key != 0 || meta.shmid != -1 || meta.locked || meta.hugetlb || meta.nattch != 0
            {
                return Err((8, "a POSIX record carries System V fields".into()));
            }
            validate_posix_name(&meta.name)
                .map_err(|why| (OBJECT_FIXED_LEN, format!("bad name: {why}")))
        }
        _ => Err((
            4,
            "only System V segments and POSIX objects are saved".into(),
        )),
    }
}

/// Encodes a run header.
pub(crate) fn run_header(tag: u8, len: u32) -> [u8; 8] {
    let l = len.to_le_bytes();
    [tag, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// The running XXH3-64 of a stream (a `Debug` wrapper around the hasher).
#[derive(Clone)]
pub(crate) struct Checksum(xxhash_rust::xxh3::Xxh3Default);

impl Checksum {
    /// A fresh hash.
    pub(crate) fn new() -> Self {
        Checksum(xxhash_rust::xxh3::Xxh3Default::new())
    }

    /// Adds bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash so far.
    pub(crate) fn digest(&self) -> u64 {
        self.0.digest()
    }
}

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checksum({:#018x})", self.digest())
    }
}
