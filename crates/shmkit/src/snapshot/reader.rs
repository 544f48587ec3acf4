//! [`SnapshotReader`]: reads a snapshot back, streaming, and never trusts it.
//!
//! Any byte sequence is safe to feed it: it returns [`ReadError::Corrupt`] rather than
//! panicking, and it never allocates from a length field. Every length is checked against the
//! bytes left in the file and against fixed limits before it is used; content is handed to a
//! [`ContentSink`] through one reused [`CHUNK`]-sized buffer.

use super::format::Checksum as Xxh3Default;
use super::format::{
    validate_record, ObjectMeta, CHUNK, FLAG_ATTACHED, FLAG_HUGETLB, FLAG_LOCKED, FOOTER_BODY_LEN,
    FOOTER_TAG, HEADER_LEN, KIND_POSIX, KIND_SYSV, KNOWN_FLAGS, MAGIC, MAX_DATA_RUN, MAX_NAME_LEN,
    OBJECT_FIXED_LEN, OBJECT_TAG, OLDEST_READABLE, RUN_DATA, RUN_END, RUN_HEADER_LEN, RUN_ZEROS,
    VERSION,
};
use crate::scan::Kind;
use std::io::{self, Read};

/// Why a snapshot was refused: what is wrong, and at which byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} (at byte {offset})")]
#[non_exhaustive]
pub struct FormatError {
    /// Offset in the file where the problem was found.
    pub offset: u64,
    /// What is wrong, for people.
    pub what: String,
}

/// A failure while reading a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file is not a valid snapshot (damaged, truncated, or not a snapshot at all).
    #[error("{0}")]
    Corrupt(FormatError),
    /// Reading the file failed.
    #[error("read failed: {0}")]
    Io(#[source] io::Error),
    /// The sink refused the content (restoring an object failed).
    #[error("{0}")]
    Sink(crate::Error),
}

/// Receives objects' content as the reader streams it.
pub trait ContentSink {
    /// An object starts; its record has been checked (not yet its checksum).
    fn begin(&mut self, meta: &ObjectMeta) -> crate::Result<()>;
    /// `bytes` of content at `offset`.
    fn data(&mut self, offset: u64, bytes: &[u8]) -> crate::Result<()>;
    /// `len` zero bytes at `offset`.
    fn zeros(&mut self, offset: u64, len: u64) -> crate::Result<()>;
    /// The object is complete and its checksum matched.
    fn end(&mut self, meta: &ObjectMeta) -> crate::Result<()>;
}

/// A sink that discards content: for `verify` and `ls`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DiscardSink;

impl ContentSink for DiscardSink {
    fn begin(&mut self, _: &ObjectMeta) -> crate::Result<()> {
        Ok(())
    }
    fn data(&mut self, _: u64, _: &[u8]) -> crate::Result<()> {
        Ok(())
    }
    fn zeros(&mut self, _: u64, _: u64) -> crate::Result<()> {
        Ok(())
    }
    fn end(&mut self, _: &ObjectMeta) -> crate::Result<()> {
        Ok(())
    }
}

/// The file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// When the snapshot was taken (unix seconds).
    pub created: i64,
}

/// One object as read from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SavedObject {
    /// Its record.
    #[serde(flatten)]
    pub meta: ObjectMeta,
    /// Its checksum (XXH3-64 of the record and content runs), verified.
    pub checksum: u64,
    /// Content bytes stored as data (the rest were all-zero pages).
    pub stored_bytes: u64,
    /// Where its record starts in the file.
    #[serde(skip)]
    pub offset: u64,
}

/// The file footer, verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Footer {
    /// Objects in the file.
    pub object_count: u64,
    /// XXH3-64 of every byte before it.
    pub checksum: u64,
}

/// Reads a snapshot of known length from `src`.
#[derive(Debug)]
pub struct SnapshotReader<R: Read> {
    src: R,
    pos: u64,
    len: u64,
    file_hash: Xxh3Default,
    buf: Vec<u8>,
    objects: u64,
    footer: Option<Footer>,
    header: Header,
    version: u16,
    /// Keys and names read so far: a second record for one would make a restore fail half-way.
    seen_keys: std::collections::HashSet<i32>,
    seen_names: std::collections::HashSet<Vec<u8>>,
}

fn corrupt(offset: u64, what: impl Into<String>) -> ReadError {
    ReadError::Corrupt(FormatError {
        offset,
        what: what.into(),
    })
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl<R: Read> SnapshotReader<R> {
    /// Reads and checks the header of a `len`-byte snapshot ([`Self::header`]).
    pub fn new(src: R, len: u64) -> Result<Self, ReadError> {
        let mut r = SnapshotReader {
            src,
            pos: 0,
            len,
            file_hash: Xxh3Default::new(),
            // Never more than the file could fill: a tiny file gets a tiny buffer.
            buf: vec![0; usize::try_from(len).unwrap_or(CHUNK).min(CHUNK)],
            objects: 0,
            footer: None,
            header: Header {
                version: VERSION,
                created: 0,
            },
            version: VERSION,
            seen_keys: Default::default(),
            seen_names: Default::default(),
        };
        if len < HEADER_LEN {
            // Say "not a snapshot" for short files that do not even start like one.
            let n = usize::try_from(len).unwrap_or(0).min(MAGIC.len());
            r.take(n, None)?;
            if r.buf[..n] != MAGIC[..n] {
                return Err(corrupt(0, "not a shmkit snapshot (wrong magic)"));
            }
            return Err(corrupt(len, "truncated: the file ends inside the header"));
        }
        r.take(HEADER_LEN as usize, None)?;
        let b = &r.buf[..HEADER_LEN as usize];
        if b[..8] != MAGIC {
            return Err(corrupt(0, "not a shmkit snapshot (wrong magic)"));
        }
        let version = le_u16(b, 8);
        if !(OLDEST_READABLE..=VERSION).contains(&version) {
            return Err(corrupt(
                8,
                format!(
                    "format version {version} is not supported (this shmkit reads {OLDEST_READABLE} to {VERSION})"
                ),
            ));
        }
        r.version = version;
        if le_u16(b, 10) != 0 || le_u32(b, 12) != 0 {
            return Err(corrupt(10, "reserved header bytes are not zero"));
        }
        let created = i64::from_le_bytes(b[16..24].try_into().unwrap_or([0; 8]));
        r.header = Header { version, created };
        Ok(r)
    }

    /// The file's header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Reads exactly `n <= CHUNK` bytes into `self.buf[..n]`, hashing them into the file hash
    /// and `obj`. Refuses to read past the declared end of the file.
    fn take(&mut self, n: usize, obj: Option<&mut Xxh3Default>) -> Result<(), ReadError> {
        self.take_hashed(n, true, obj)
    }

    /// [`Self::take`], with the file hash left out for content bytes (`file_hash == false`):
    /// the object checksum covers those, and the file checksum covers the object checksum.
    fn take_hashed(
        &mut self,
        n: usize,
        file_hash: bool,
        obj: Option<&mut Xxh3Default>,
    ) -> Result<(), ReadError> {
        let n64 = n as u64;
        if n64 > self.len - self.pos {
            return Err(corrupt(
                self.len,
                format!(
                    "truncated: {n} more bytes needed at byte {}, but the file ends at byte {}",
                    self.pos, self.len
                ),
            ));
        }
        let buf = &mut self.buf[..n];
        if let Err(e) = self.src.read_exact(buf) {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                corrupt(
                    self.pos,
                    "truncated: the file is shorter than it was when opened",
                )
            } else {
                ReadError::Io(e)
            });
        }
        if file_hash {
            self.file_hash.update(buf);
        }
        if let Some(h) = obj {
            h.update(buf);
        }
        self.pos += n64;
        Ok(())
    }

    /// Bytes of the file not yet read.
    fn remaining(&self) -> u64 {
        self.len - self.pos
    }

    /// Reads the next object, streaming its content into `sink`; `None` after the footer was
    /// read and the file checksum matched.
    pub fn next_object(
        &mut self,
        sink: &mut dyn ContentSink,
    ) -> Result<Option<SavedObject>, ReadError> {
        if self.footer.is_some() {
            return Ok(None);
        }
        let start = self.pos;
        let mut obj_hash = Xxh3Default::new();
        self.take(4, Some(&mut obj_hash))?;
        let tag: [u8; 4] = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
        if tag == FOOTER_TAG {
            self.read_footer(start)?;
            return Ok(None);
        }
        if tag != OBJECT_TAG {
            return Err(corrupt(start, "expected an object record or the footer"));
        }
        let meta = self.read_meta(start, &mut obj_hash)?;
        // IPC_PRIVATE (key 0) records may repeat: each comes back as a new private segment.
        let first = match meta.kind {
            Kind::Sysv => meta.key == 0 || self.seen_keys.insert(meta.key),
            _ => self.seen_names.insert(meta.name.clone()),
        };
        if !first {
            return Err(corrupt(start, format!("{} appears twice", meta.address())));
        }
        sink.begin(&meta).map_err(ReadError::Sink)?;
        let stored = self.read_runs(&meta, sink, &mut obj_hash)?;
        let expect = obj_hash.digest();
        let at = self.pos;
        self.take(8, None)?;
        let got = le_u64(&self.buf, 0);
        if got != expect {
            return Err(corrupt(
                at,
                format!("checksum of {} does not match its content", meta.address()),
            ));
        }
        sink.end(&meta).map_err(ReadError::Sink)?;
        self.objects += 1;
        Ok(Some(SavedObject {
            meta,
            checksum: got,
            stored_bytes: stored,
            offset: start,
        }))
    }

    fn read_meta(&mut self, start: u64, obj: &mut Xxh3Default) -> Result<ObjectMeta, ReadError> {
        self.take((OBJECT_FIXED_LEN - 4) as usize, Some(obj))?;
        let b = &self.buf[..(OBJECT_FIXED_LEN - 4) as usize];
        let (kind_byte, flags, name_len) = (b[0], b[1], le_u16(b, 2));
        let key = le_u32(b, 4) as i32;
        let (mode, uid, gid) = (le_u32(b, 8), le_u32(b, 12), le_u32(b, 16));
        let (size, nattch) = (le_u64(b, 20), le_u64(b, 28));
        let shmid = le_u32(b, 36) as i32;
        let reserved = le_u32(b, 40);
        let kind = match kind_byte {
            KIND_SYSV => Kind::Sysv,
            KIND_POSIX => Kind::Posix,
            k => return Err(corrupt(start + 4, format!("unknown object kind {k}"))),
        };
        let known = if self.version >= 2 {
            KNOWN_FLAGS
        } else {
            KNOWN_FLAGS & !FLAG_HUGETLB
        };
        if flags & !known != 0 {
            return Err(corrupt(
                start + 5,
                format!("unknown object flags {flags:#04x}"),
            ));
        }
        if reserved != 0 {
            return Err(corrupt(start + 44, "reserved object bytes are not zero"));
        }
        if (flags & FLAG_ATTACHED != 0) != (nattch > 0) {
            return Err(corrupt(start + 5, "attachment flag and count disagree"));
        }
        // The name is stored whole, leading '/' included: up to 1 + 255 bytes.
        if name_len > MAX_NAME_LEN + 1 {
            return Err(corrupt(
                start + 6,
                format!("name length {name_len} exceeds {}", MAX_NAME_LEN + 1),
            ));
        }
        if kind == Kind::Sysv && name_len != 0 {
            return Err(corrupt(start + 6, "a System V record carries a name"));
        }
        let mut name = Vec::new();
        if kind == Kind::Posix {
            self.take(usize::from(name_len), Some(obj))?;
            name = self.buf[..usize::from(name_len)].to_vec();
            // Version 1 promised UTF-8 names; version 2 keeps the kernel's bytes.
            if self.version < 2 && std::str::from_utf8(&name).is_err() {
                return Err(corrupt(start + OBJECT_FIXED_LEN, "name is not UTF-8"));
            }
        }
        let meta = ObjectMeta {
            kind,
            key,
            name,
            mode,
            uid,
            gid,
            size,
            locked: flags & FLAG_LOCKED != 0,
            hugetlb: flags & FLAG_HUGETLB != 0,
            nattch,
            shmid,
        };
        validate_record(&meta).map_err(|(at, what)| corrupt(start + at, what))?;
        Ok(meta)
    }
    fn read_runs(
        &mut self,
        meta: &ObjectMeta,
        sink: &mut dyn ContentSink,
        obj: &mut Xxh3Default,
    ) -> Result<u64, ReadError> {
        let mut offset = 0u64;
        let mut stored = 0u64;
        loop {
            let at = self.pos;
            self.take(RUN_HEADER_LEN as usize, Some(obj))?;
            let (tag, reserved, len) = (
                self.buf[0],
                [self.buf[1], self.buf[2], self.buf[3]],
                u64::from(le_u32(&self.buf, 4)),
            );
            if reserved != [0; 3] {
                return Err(corrupt(at + 1, "reserved run bytes are not zero"));
            }
            let past_end = || {
                corrupt(
                    at,
                    format!(
                        "a run reaches past the end of the {}-byte object",
                        meta.size
                    ),
                )
            };
            match tag {
                RUN_END => {
                    if len != 0 {
                        return Err(corrupt(at, "end run with a length"));
                    }
                    if offset != meta.size {
                        return Err(corrupt(
                            at,
                            format!(
                                "content ends at byte {offset} of a {}-byte object",
                                meta.size
                            ),
                        ));
                    }
                    return Ok(stored);
                }
                RUN_ZEROS => {
                    let end = offset.checked_add(len).filter(|&e| e <= meta.size);
                    let Some(end) = end.filter(|_| len > 0) else {
                        return Err(if len == 0 {
                            corrupt(at, "empty zero run")
                        } else {
                            past_end()
                        });
                    };
                    sink.zeros(offset, len).map_err(ReadError::Sink)?;
                    offset = end;
                }
                RUN_DATA => {
                    if len == 0 || len > MAX_DATA_RUN {
                        return Err(corrupt(at, format!("data run of {len} bytes")));
                    }
                    if offset.checked_add(len).is_none_or(|e| e > meta.size) {
                        return Err(past_end());
                    }
                    if len > self.remaining() {
                        return Err(corrupt(
                            self.len,
                            format!(
                                "truncated: a {len}-byte data run starts at byte {} but the file ends at byte {}",
                                self.pos, self.len
                            ),
                        ));
                    }
                    let mut left = len;
                    while left > 0 {
                        let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
                        self.take_hashed(n, false, Some(obj))?;
                        sink.data(offset, &self.buf[..n]).map_err(ReadError::Sink)?;
                        offset += n as u64;
                        left -= n as u64;
                    }
                    stored += len;
                }
                t => return Err(corrupt(at, format!("unknown run tag {t:#04x}"))),
            }
        }
    }

    fn read_footer(&mut self, start: u64) -> Result<(), ReadError> {
        self.take((FOOTER_BODY_LEN - 8) as usize, None)?;
        if le_u32(&self.buf, 0) != 0 {
            return Err(corrupt(start + 4, "reserved footer bytes are not zero"));
        }
        let count = le_u64(&self.buf, 4);
        if count != self.objects {
            return Err(corrupt(
                start + 8,
                format!(
                    "footer counts {count} objects, the file holds {}",
                    self.objects
                ),
            ));
        }
        let expect = self.file_hash.digest();
        let at = self.pos;
        self.take(8, None)?;
        let got = le_u64(&self.buf, 0);
        if got != expect {
            return Err(corrupt(at, "the file checksum does not match its content"));
        }
        if self.pos != self.len {
            return Err(corrupt(
                self.pos,
                format!("{} stray bytes after the footer", self.len - self.pos),
            ));
        }
        self.footer = Some(Footer {
            object_count: count,
            checksum: got,
        });
        Ok(())
    }

    /// The footer, once [`SnapshotReader::next_object`] has returned `None`.
    pub fn footer(&self) -> Option<Footer> {
        self.footer
    }
}

/// A whole snapshot, verified: header, objects (without content), footer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Verified {
    /// The header.
    pub header: Header,
    /// Every object, in file order.
    pub objects: Vec<SavedObject>,
    /// The footer.
    pub footer: Footer,
}

/// Reads all of a `len`-byte snapshot, checking every checksum, and lists its objects.
pub fn verify<R: Read>(src: R, len: u64) -> Result<Verified, ReadError> {
    read_all(src, len, &mut DiscardSink)
}

/// Reads all of a snapshot, streaming every object's content into `sink`.
pub fn read_all<R: Read>(
    src: R,
    len: u64,
    sink: &mut dyn ContentSink,
) -> Result<Verified, ReadError> {
    let mut reader = SnapshotReader::new(src, len)?;
    let header = reader.header();
    // Grows one entry per object actually read, each at least a fixed part, an end run and a
    // checksum of file, so its size is bounded by the file, never by a count field.
    let mut objects = Vec::new();
    while let Some(obj) = reader.next_object(sink)? {
        objects.push(obj);
    }
    let footer = reader
        .footer()
        .ok_or_else(|| corrupt(len, "the file has no footer"))?;
    Ok(Verified {
        header,
        objects,
        footer,
    })
}
