//! The snapshot reader against hostile input, on stable Rust: property tests (round trips,
//! every flipped byte and every truncation refused, random bytes never panic) and a replay of
//! the cargo-fuzz corpus in `fuzz/seeds/snapshot_reader/`.

use proptest::prelude::*;
use shmkit::scan::Kind;
use shmkit::snapshot::reader::{read_all, verify, ContentSink, ReadError};
use shmkit::snapshot::{ContentSource, ObjectMeta, SnapshotWriter};
use std::io;

/// Content held in memory.
struct Bytes<'a>(&'a [u8]);

impl ContentSource for Bytes<'_> {
    fn read_content(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = offset as usize;
        buf.copy_from_slice(&self.0[start..start + buf.len()]);
        Ok(())
    }
}

/// Collects every object's content as the reader streams it.
#[derive(Default)]
struct Collect {
    objects: Vec<(ObjectMeta, Vec<u8>)>,
}

impl ContentSink for Collect {
    fn begin(&mut self, meta: &ObjectMeta) -> shmkit::Result<()> {
        self.objects.push((meta.clone(), Vec::new()));
        Ok(())
    }
    fn data(&mut self, offset: u64, bytes: &[u8]) -> shmkit::Result<()> {
        let v = &mut self.objects.last_mut().unwrap().1;
        assert_eq!(offset, v.len() as u64);
        v.extend_from_slice(bytes);
        Ok(())
    }
    fn zeros(&mut self, offset: u64, len: u64) -> shmkit::Result<()> {
        let v = &mut self.objects.last_mut().unwrap().1;
        assert_eq!(offset, v.len() as u64);
        v.resize(v.len() + len as usize, 0);
        Ok(())
    }
    fn end(&mut self, meta: &ObjectMeta) -> shmkit::Result<()> {
        assert_eq!(self.objects.last().unwrap().1.len() as u64, meta.size);
        Ok(())
    }
}

fn meta(kind: Kind, i: usize, size: u64, nattch: u64) -> ObjectMeta {
    ObjectMeta {
        kind,
        key: if kind == Kind::Sysv {
            1000 + i as i32
        } else {
            0
        },
        name: if kind == Kind::Sysv {
            Vec::new()
        } else {
            format!("/obj-{i}").into_bytes()
        },
        mode: 0o640,
        uid: 1000 + i as u32,
        gid: 2000,
        size,
        locked: kind == Kind::Sysv && i % 2 == 1,
        hugetlb: kind == Kind::Sysv && i % 3 == 2,
        nattch: if kind == Kind::Sysv { nattch } else { 0 },
        shmid: if kind == Kind::Sysv { i as i32 } else { -1 },
    }
}

/// Content: runs of data and of zero pages, from a compact description.
fn content_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<bool>(), 1usize..9000, any::<u8>()), 0..6).prop_map(|runs| {
        let mut v = Vec::new();
        for (zero, len, byte) in runs {
            v.extend(std::iter::repeat_n(if zero { 0 } else { byte | 1 }, len));
        }
        v
    })
}

fn write(objects: &[(ObjectMeta, Vec<u8>)]) -> Vec<u8> {
    let mut w = SnapshotWriter::new(Vec::new(), 1_700_000_000).unwrap();
    for (m, c) in objects {
        w.add_object(m, &mut Bytes(c)).unwrap();
    }
    w.finish().unwrap().output
}

fn objects_strategy() -> impl Strategy<Value = Vec<(ObjectMeta, Vec<u8>)>> {
    prop::collection::vec((any::<bool>(), content_strategy(), 0u64..3), 0..4).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (sysv, c, nattch))| {
                // A System V segment has at least one byte (shmget refuses size 0).
                let kind = if sysv && !c.is_empty() {
                    Kind::Sysv
                } else {
                    Kind::Posix
                };
                (meta(kind, i, c.len() as u64, nattch), c)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn what_is_written_reads_back_the_same(objects in objects_strategy()) {
        let file = write(&objects);
        let mut sink = Collect::default();
        let v = read_all(&file[..], file.len() as u64, &mut sink).unwrap();
        prop_assert_eq!(v.objects.len(), objects.len());
        prop_assert_eq!(v.footer.object_count, objects.len() as u64);
        prop_assert_eq!(&sink.objects, &objects);
    }

    #[test]
    fn any_flipped_byte_is_refused(objects in objects_strategy(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut file = write(&objects);
        let i = at.index(file.len());
        file[i] ^= 1 << bit;
        let r = verify(&file[..], file.len() as u64);
        prop_assert!(matches!(r, Err(ReadError::Corrupt(_))), "flip at {} accepted", i);
    }

    #[test]
    fn any_truncation_is_refused(objects in objects_strategy(), at in any::<prop::sample::Index>()) {
        let file = write(&objects);
        let len = at.index(file.len());
        let r = verify(&file[..len], len as u64);
        prop_assert!(matches!(r, Err(ReadError::Corrupt(_))));
        // A file that is shorter than its length said when it was opened (shrank meanwhile).
        let r = verify(&file[..len], file.len() as u64);
        prop_assert!(matches!(r, Err(ReadError::Corrupt(_))));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), claim in 0u64..u64::MAX) {
        let _ = verify(&bytes[..], bytes.len() as u64);
        let _ = verify(&bytes[..], claim);
    }

    #[test]
    fn a_valid_header_with_random_records_never_panics(tail in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut file = write(&[]);
        file.truncate(24);
        file.extend_from_slice(b"OBJ1");
        file.extend_from_slice(&tail);
        prop_assert!(verify(&file[..], file.len() as u64).is_err());
    }
}

#[test]
fn absurd_lengths_are_refused_without_allocating_them() {
    // A record claiming a 2^63-byte object and a 4 GiB data run, in a 100-byte file.
    let mut file = write(&[]);
    file.truncate(24);
    file.extend_from_slice(b"OBJ1");
    file.extend_from_slice(&[1, 0, 0, 0]); // sysv, no flags, no name
    file.extend_from_slice(&5678i32.to_le_bytes());
    file.extend_from_slice(&[0; 12]); // mode, uid, gid
    file.extend_from_slice(&(1u64 << 63).to_le_bytes());
    file.extend_from_slice(&[0; 16]);
    let e = verify(&file[..], file.len() as u64).unwrap_err();
    assert!(e.to_string().contains("beyond any real object"), "{e}");
    // The same record with a sane size and a 4 GiB - 1 data run.
    let size_at = 24 + 4 + 4 + 4 + 12;
    file[size_at..size_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    file.extend_from_slice(&[b'D', 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let e = verify(&file[..], file.len() as u64).unwrap_err();
    assert!(
        e.to_string().contains("data run of 4294967295 bytes"),
        "{e}"
    );
}

#[test]
fn the_fuzz_corpus_replays_without_panics() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/snapshot_reader");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut sink = Collect::default();
        let _ = read_all(&bytes[..], bytes.len() as u64, &mut sink);
        let _ = verify(&bytes[..], bytes.len() as u64 + 1);
        n += 1;
    }
    assert!(
        n >= 3,
        "the corpus is missing ({n} files in {})",
        dir.display()
    );
}

#[test]
fn large_objects_written_by_two_threads_read_back_the_same() {
    // 20 MiB + 5 bytes: the pipelined writer; zero holes that span chunk boundaries, a data
    // run that ends mid-page, and a zero tail.
    let size = (20 << 20) + 5;
    let mut content = vec![0u8; size];
    for (i, b) in content.iter_mut().enumerate() {
        let mib = i >> 20;
        if mib % 3 != 1 && i < size - 10_000 {
            *b = (i % 251) as u8 | 1;
        }
    }
    let objects = vec![
        (meta(Kind::Sysv, 0, size as u64, 0), content),
        (meta(Kind::Posix, 1, 3, 0), vec![1, 2, 3]),
    ];
    let file = write(&objects);
    let mut sink = Collect::default();
    let v = read_all(&file[..], file.len() as u64, &mut sink).unwrap();
    assert!(sink.objects == objects, "content differs");
    // About a third is zero and not stored.
    assert!(v.objects[0].stored_bytes < (size as u64) * 7 / 10);
}

#[test]
fn a_failing_output_stops_the_two_thread_writer_with_its_error() {
    /// Accepts `left` bytes, then fails like a full disk.
    struct FullDisk {
        left: usize,
    }
    impl io::Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::from_raw_os_error(libc_enospc()));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    fn libc_enospc() -> i32 {
        28
    }
    let content = vec![7u8; 30 << 20];
    let mut w = SnapshotWriter::new(FullDisk { left: 5 << 20 }, 0).unwrap();
    let err = w
        .add_object(
            &meta(Kind::Sysv, 0, content.len() as u64, 0),
            &mut Bytes(&content),
        )
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(28));
}

fn posix_named(name: Vec<u8>, content: &[u8]) -> (ObjectMeta, Vec<u8>) {
    let mut m = meta(Kind::Posix, 0, content.len() as u64, 0);
    m.name = name;
    (m, content.to_vec())
}

#[test]
fn names_of_1_254_and_255_bytes_round_trip_and_256_is_refused_by_writer_and_reader() {
    // The writer once wrote a 255-byte name (256 with its '/') that the reader refused,
    // making the whole snapshot unreadable.
    for len in [1usize, 254, 255] {
        let mut name = b"/".to_vec();
        name.extend(std::iter::repeat_n(b'n', len));
        let objects = vec![posix_named(name.clone(), b"content")];
        let file = write(&objects);
        let mut sink = Collect::default();
        read_all(&file[..], file.len() as u64, &mut sink).unwrap_or_else(|e| panic!("{len}: {e}"));
        assert_eq!(sink.objects[0].0.name, name, "{len}");
    }
    let mut long = b"/".to_vec();
    long.extend(std::iter::repeat_n(b'n', 256));
    let mut w = SnapshotWriter::new(Vec::new(), 0).unwrap();
    let (m, c) = posix_named(long.clone(), b"x");
    let err = w.add_object(&m, &mut Bytes(&c)).unwrap_err();
    assert!(err.to_string().contains("1 to 255 bytes"), "{err}");
    // A crafted record with a 257-byte name is refused by the reader at its length field.
    let mut file = write(&[posix_named(b"/a".to_vec(), b"x")]);
    file[24 + 6..24 + 8].copy_from_slice(&257u16.to_le_bytes());
    let e = verify(&file[..], file.len() as u64).unwrap_err();
    assert!(e.to_string().contains("name length 257 exceeds 256"), "{e}");
}

#[test]
fn a_name_that_is_not_utf8_round_trips_byte_for_byte_and_shows_escaped() {
    let name = b"/caf\xe9-\n-\\".to_vec();
    let objects = vec![posix_named(name.clone(), b"bytes")];
    let file = write(&objects);
    let mut sink = Collect::default();
    let v = read_all(&file[..], file.len() as u64, &mut sink).unwrap();
    assert_eq!(sink.objects[0].0.name, name);
    assert_eq!(v.objects[0].meta.address(), "posix:/caf\\xe9-\\x0a-\\\\");
}

#[test]
fn duplicates_and_size_0_segments_are_refused_by_the_reader_itself() {
    // verify, ls and restore share the reader, so they refuse the same files.
    let a = meta(Kind::Sysv, 0, 10, 0);
    let file = write(&[
        (a.clone(), vec![1; 10]),
        (meta(Kind::Sysv, 1, 10, 0), vec![2; 10]),
    ]);
    // Give the second record the first one's key, and fix both checksums by rewriting.
    let mut b = meta(Kind::Sysv, 1, 10, 0);
    b.key = a.key;
    let mut w = SnapshotWriter::new(Vec::new(), 0).unwrap();
    w.add_object(&a, &mut Bytes(&[1; 10])).unwrap();
    w.add_object(&b, &mut Bytes(&[2; 10])).unwrap();
    let dup = w.finish().unwrap().output;
    let e = verify(&dup[..], dup.len() as u64).unwrap_err();
    assert!(e.to_string().contains("sysv:1000 appears twice"), "{e}");
    assert!(verify(&file[..], file.len() as u64).is_ok());
    // IPC_PRIVATE records may repeat.
    let mut p = meta(Kind::Sysv, 0, 10, 0);
    p.key = 0;
    let mut w = SnapshotWriter::new(Vec::new(), 0).unwrap();
    w.add_object(&p, &mut Bytes(&[1; 10])).unwrap();
    w.add_object(&p, &mut Bytes(&[2; 10])).unwrap();
    let two = w.finish().unwrap().output;
    assert!(verify(&two[..], two.len() as u64).is_ok());
    // The writer will not write a size-0 segment; a crafted one is refused.
    let mut w = SnapshotWriter::new(Vec::new(), 0).unwrap();
    assert!(w
        .add_object(&meta(Kind::Sysv, 0, 0, 0), &mut Bytes(&[]))
        .is_err());
}

#[test]
fn version_1_files_are_still_read() {
    // A version 1 file: the same layout, a UTF-8 name, no huge-page flag.
    let mut file = write(&[posix_named(b"/old".to_vec(), &[0; 4096])]);
    file[8..10].copy_from_slice(&1u16.to_le_bytes());
    // No data runs: the file checksum covers every byte before it.
    let n = file.len();
    let sum = xxhash_rust::xxh3::xxh3_64(&file[..n - 8]);
    file[n - 8..].copy_from_slice(&sum.to_le_bytes());
    let v = verify(&file[..], n as u64).unwrap();
    assert_eq!(v.header.version, 1);
    assert_eq!(v.objects[0].meta.name, b"/old");
    // Version 3 is refused, naming the versions this build reads.
    file[8..10].copy_from_slice(&3u16.to_le_bytes());
    let e = verify(&file[..], n as u64).unwrap_err();
    assert!(e.to_string().contains("reads 1 to 2"), "{e}");
}
