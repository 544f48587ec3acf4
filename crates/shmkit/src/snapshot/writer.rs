//! [`SnapshotWriter`]: streams objects into a snapshot, one reused chunk buffer at a time.
//!
//! Content is pulled from a [`ContentSource`] in [`CHUNK`]-sized pieces, so a 1 GiB segment
//! costs 1 MiB of buffer. All-zero 4 KiB blocks become zero runs that take 8 bytes.

use super::format::Checksum as Xxh3Default;
use super::format::{
    run_header, ObjectMeta, CHUNK, FOOTER_TAG, HEADER_LEN, MAGIC, RUN_DATA, RUN_END, RUN_ZEROS,
    SPARSE_BLOCK, VERSION,
};
use std::io::{self, Write};

/// Where an object's content comes from: a System V attachment or a POSIX object's descriptor.
pub trait ContentSource {
    /// Fills `buf` with the content at `offset` (which plus `buf.len()` lies within the size
    /// the object was announced with). A source whose object shrank fills the rest with zeros.
    fn read_content(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl ContentSource for crate::sys::Mapping {
    fn read_content(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.read_at(offset, buf).map_err(io::Error::from)
    }
}

impl ContentSource for std::fs::File {
    fn read_content(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            match self.read_at(&mut buf[done..], offset + done as u64) {
                // The object shrank under us (someone truncated it): the rest reads as zeros,
                // like a torn copy of a segment being written.
                Ok(0) => {
                    buf[done..].fill(0);
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Counts of what a writer stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Objects written.
    pub objects: u64,
    /// Content bytes the objects hold (their sizes added up).
    pub content_bytes: u64,
    /// Content bytes stored as data (the rest were all-zero pages).
    pub stored_bytes: u64,
    /// Bytes of the whole file.
    pub file_bytes: u64,
}

/// Writes a snapshot: [`SnapshotWriter::new`], [`SnapshotWriter::add_object`] for each object,
/// then [`SnapshotWriter::finish`].
#[derive(Debug)]
pub struct SnapshotWriter<W: Write> {
    out: W,
    file_hash: Xxh3Default,
    buf: Vec<u8>,
    stats: WriteStats,
}

/// Objects at least this large are written by two threads (see `write_content_pipelined`).
const PIPELINE_FROM: u64 = 8 << 20;

impl<W: Write + Send> SnapshotWriter<W> {
    /// Writes the header, stamped with `created` (unix seconds).
    pub fn new(out: W, created: i64) -> io::Result<Self> {
        let mut w = SnapshotWriter {
            out,
            file_hash: Xxh3Default::new(),
            buf: vec![0; CHUNK],
            stats: WriteStats::default(),
        };
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(&MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&created.to_le_bytes());
        w.emit(&header, None)?;
        Ok(w)
    }

    fn emit(&mut self, bytes: &[u8], object_hash: Option<&mut Xxh3Default>) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.file_hash.update(bytes);
        self.stats.file_bytes += bytes.len() as u64;
        if let Some(h) = object_hash {
            h.update(bytes);
        }
        Ok(())
    }

    /// Writes content bytes of a data run: hashed into the object checksum only, which the
    /// file checksum covers in turn, so each content byte is hashed once.
    fn emit_payload(&mut self, bytes: &[u8], object_hash: &mut Xxh3Default) -> io::Result<()> {
        self.out.write_all(bytes)?;
        object_hash.update(bytes);
        self.stats.file_bytes += bytes.len() as u64;
        Ok(())
    }

    /// Writes one object: its record, its content read from `source` chunk by chunk (all-zero
    /// pages as zero runs), its checksum. Returns the object checksum.
    pub fn add_object(
        &mut self,
        meta: &ObjectMeta,
        source: &mut dyn ContentSource,
    ) -> io::Result<u64> {
        // What the reader would refuse is never written.
        super::format::validate_record(meta).map_err(|(_, why)| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {why}", meta.address()),
            )
        })?;
        let mut obj_hash = Xxh3Default::new();
        self.emit(&meta.encode(), Some(&mut obj_hash))?;
        if meta.size >= PIPELINE_FROM {
            self.write_content_pipelined(meta.size, source, &mut obj_hash)?;
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            let result = self.write_content(meta.size, source, &mut buf, &mut obj_hash);
            self.buf = buf;
            result?;
        }
        self.emit(&run_header(RUN_END, 0), Some(&mut obj_hash))?;
        let sum = obj_hash.digest();
        self.emit(&sum.to_le_bytes(), None)?;
        self.stats.objects += 1;
        self.stats.content_bytes += meta.size;
        Ok(sum)
    }

    fn write_content(
        &mut self,
        size: u64,
        source: &mut dyn ContentSource,
        buf: &mut [u8],
        obj_hash: &mut Xxh3Default,
    ) -> io::Result<()> {
        let mut offset = 0u64;
        let mut pending_zeros = 0u64;
        let mut pieces = Vec::new();
        while offset < size {
            let n = usize::try_from((size - offset).min(CHUNK as u64)).unwrap_or(CHUNK);
            let chunk = &mut buf[..n];
            source.read_content(offset, chunk)?;
            pieces.clear();
            split_runs(chunk, &mut pending_zeros, &mut pieces);
            for p in &pieces {
                match *p {
                    Piece::Header(h) => self.emit(&h, Some(obj_hash))?,
                    Piece::Data(a, b) => {
                        self.emit_payload(&chunk[a..b], obj_hash)?;
                        self.stats.stored_bytes += (b - a) as u64;
                    }
                }
            }
            offset += n as u64;
        }
        pieces.clear();
        close_zeros(&mut pending_zeros, &mut pieces);
        for p in &pieces {
            if let Piece::Header(h) = *p {
                self.emit(&h, Some(obj_hash))?;
            }
        }
        Ok(())
    }

    /// [`Self::write_content`] on two threads: this one reads the source, finds the runs and
    /// hashes; a helper writes the previous chunk meanwhile. Copying out of shared memory and
    /// copying into the page cache then overlap instead of taking turns.
    fn write_content_pipelined(
        &mut self,
        size: u64,
        source: &mut dyn ContentSource,
        obj_hash: &mut Xxh3Default,
    ) -> io::Result<()>
    where
        W: Send,
    {
        /// A chunk and what to write of it, in order.
        struct Batch {
            chunk: Vec<u8>,
            pieces: Vec<Piece>,
        }
        let out = &mut self.out;
        let file_hash = &mut self.file_hash;
        let stats = &mut self.stats;
        std::thread::scope(|scope| {
            let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(1);
            let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
            for _ in 0..3 {
                let _ = empty_tx.send(vec![0; CHUNK]);
            }
            let writer = scope.spawn(move || -> io::Result<()> {
                for batch in full_rx {
                    for p in &batch.pieces {
                        match *p {
                            Piece::Header(h) => out.write_all(&h)?,
                            Piece::Data(a, b) => out.write_all(&batch.chunk[a..b])?,
                        }
                    }
                    if empty_tx.send(batch.chunk).is_err() {
                        break;
                    }
                }
                Ok(())
            });
            let mut account = |pieces: &[Piece], chunk: &[u8]| {
                for p in pieces {
                    match *p {
                        Piece::Header(h) => {
                            file_hash.update(&h);
                            obj_hash.update(&h);
                            stats.file_bytes += h.len() as u64;
                        }
                        Piece::Data(a, b) => {
                            obj_hash.update(&chunk[a..b]);
                            stats.file_bytes += (b - a) as u64;
                            stats.stored_bytes += (b - a) as u64;
                        }
                    }
                }
            };
            let produced = (|| -> io::Result<()> {
                let mut offset = 0u64;
                let mut pending_zeros = 0u64;
                while offset < size {
                    // The writer hands buffers back; none means it stopped (its error wins).
                    let Ok(mut chunk) = empty_rx.recv() else {
                        return Ok(());
                    };
                    let n = usize::try_from((size - offset).min(CHUNK as u64)).unwrap_or(CHUNK);
                    chunk.resize(n, 0);
                    source.read_content(offset, &mut chunk)?;
                    let mut pieces = Vec::new();
                    split_runs(&chunk, &mut pending_zeros, &mut pieces);
                    account(&pieces, &chunk);
                    if full_tx.send(Batch { chunk, pieces }).is_err() {
                        return Ok(());
                    }
                    offset += n as u64;
                }
                let mut pieces = Vec::new();
                close_zeros(&mut pending_zeros, &mut pieces);
                account(&pieces, &[]);
                let _ = full_tx.send(Batch {
                    chunk: Vec::new(),
                    pieces,
                });
                Ok(())
            })();
            drop(full_tx);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("snapshot writer thread panicked")));
            produced.and(written)
        })
    }

    /// Writes the footer (object count, file checksum) and returns the output and the counts.
    /// The caller still has to flush and sync it.
    pub fn finish(mut self) -> io::Result<Finished<W>> {
        let mut footer = Vec::with_capacity(16);
        footer.extend_from_slice(&FOOTER_TAG);
        footer.extend_from_slice(&0u32.to_le_bytes());
        footer.extend_from_slice(&self.stats.objects.to_le_bytes());
        self.emit(&footer, None)?;
        let sum = self.file_hash.digest();
        self.out.write_all(&sum.to_le_bytes())?;
        self.stats.file_bytes += 8;
        Ok(Finished {
            output: self.out,
            stats: self.stats,
        })
    }
}

/// A written snapshot: the output, still to be flushed and synced, and its counts.
#[derive(Debug)]
#[non_exhaustive]
pub struct Finished<W> {
    /// Where the snapshot was written.
    pub output: W,
    /// What was written.
    pub stats: WriteStats,
}

/// One piece of an object's encoded content.
#[derive(Debug, Clone, Copy)]
enum Piece {
    /// A run header.
    Header([u8; 8]),
    /// The bytes `[start, end)` of the chunk, after their data-run header.
    Data(usize, usize),
}

/// Splits a chunk into data runs and zero runs. A zero run stays open in `pending_zeros`
/// across chunks, so a long hole costs one run header per 4 GiB, not one per chunk.
fn split_runs(chunk: &[u8], pending_zeros: &mut u64, pieces: &mut Vec<Piece>) {
    let n = chunk.len();
    let mut i = 0;
    while i < n {
        let end = (i + SPARSE_BLOCK).min(n);
        if is_zero(&chunk[i..end]) {
            *pending_zeros += (end - i) as u64;
            i = end;
            continue;
        }
        // A data stretch: up to the next all-zero block.
        let mut j = end;
        while j < n {
            let e = (j + SPARSE_BLOCK).min(n);
            if is_zero(&chunk[j..e]) {
                break;
            }
            j = e;
        }
        close_zeros(pending_zeros, pieces);
        // `j - i <= CHUNK`, well below u32::MAX.
        let len = u32::try_from(j - i).unwrap_or(u32::MAX);
        pieces.push(Piece::Header(run_header(RUN_DATA, len)));
        pieces.push(Piece::Data(i, j));
        i = j;
    }
}

/// Emits the open zero run, split at u32::MAX.
fn close_zeros(pending: &mut u64, pieces: &mut Vec<Piece>) {
    while *pending > 0 {
        let len = u32::try_from(*pending).unwrap_or(u32::MAX);
        pieces.push(Piece::Header(run_header(RUN_ZEROS, len)));
        *pending -= u64::from(len);
    }
}

/// Whether every byte is zero; compares 16 bytes at a time so the scan runs at memory speed.
pub(crate) fn is_zero(bytes: &[u8]) -> bool {
    let chunks = bytes.chunks_exact(16);
    let rest = chunks.remainder();
    chunks
        .map(|c| u128::from_ne_bytes(c.try_into().unwrap_or([1; 16])))
        .all(|w| w == 0)
        && rest.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_zero_sees_a_single_set_byte_anywhere() {
        let mut v = vec![0u8; 4099];
        assert!(is_zero(&v));
        for i in [0, 15, 16, 4095, 4098] {
            v[i] = 1;
            assert!(!is_zero(&v), "{i}");
            v[i] = 0;
        }
    }
}
