//! One conformance suite for every `Segment` backend: System V, POSIX, file and memfd.
//!
//! `conformance_tests!` stamps the same tests into one module per backend (the way iceoryx2's
//! `instantiate_conformance_tests_with_module!` does), so every backend is held to the same
//! contract: bytes round-trip and are shared between handles, access is bounds-checked, new
//! objects are 0600 and exclusive creation means it, removal is real, foreign owners are refused.
//! Every test makes real kernel objects with unique names and removes them on drop.
//!
//! A backend is stamped only with the tests of what it can do: `[reopen]` for the backends an
//! address opens again (a memfd has no name, so it gets `memfd_has_no_address_to_reopen`
//! instead, which checks that refusal), rather than running a test that passes by doing
//! nothing.

use proptest::prelude::*;
use shmkit::address::{Address, SysvAddress};
use shmkit::scan::Kind;
use shmkit::segment::{self, CreateOptions, OpenOptions, Segment};
use shmkit::ErrorKind;
use std::path::PathBuf;

mod common;
mod lifecycle_support;
use lifecycle_support::unique;

/// What differs between backends.
trait Backend {
    const KIND: Kind;
    /// An address nothing uses yet.
    fn fresh(test: &str) -> Address;
    /// Whether resize works (System V refuses it, and that refusal is tested).
    const RESIZES: bool = true;
}

struct Sysv;
impl Backend for Sysv {
    const KIND: Kind = Kind::Sysv;
    const RESIZES: bool = false;
    fn fresh(test: &str) -> Address {
        Address::Sysv(SysvAddress::Key(unique(test) as i32))
    }
}

struct Posix;
impl Backend for Posix {
    const KIND: Kind = Kind::Posix;
    fn fresh(test: &str) -> Address {
        Address::Posix(format!("/shmkit-conf-{:x}", unique(test)))
    }
}

struct File;
impl Backend for File {
    const KIND: Kind = Kind::File;
    fn fresh(test: &str) -> Address {
        // A disk filesystem: a file on tmpfs (a tmpfs /tmp) is shared memory of kind tmpfs.
        Address::File(PathBuf::from("/var/tmp").join(format!("shmkit-conf-{:x}", unique(test))))
    }
}

struct Memfd;
impl Backend for Memfd {
    const KIND: Kind = Kind::Memfd;
    fn fresh(test: &str) -> Address {
        Address::Memfd(format!("conf-{:x}", unique(test)))
    }
}

/// Removes the object at the end of a test, also when it fails.
struct Cleanup(Address);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(seg) = segment::open(&self.0, &OpenOptions::metadata()) {
            let _ = seg.remove();
        }
    }
}

fn create<B: Backend>(test: &str, size: u64) -> (Box<dyn Segment>, Cleanup) {
    let addr = B::fresh(test);
    let guard = Cleanup(addr.clone());
    let seg = segment::create(&addr, &CreateOptions::new(size).exclusive(true)).unwrap();
    (seg, guard)
}

fn reopen(seg: &dyn Segment, opts: OpenOptions) -> Box<dyn Segment> {
    // System V: open by id, which create returned (a private segment has no key).
    let addr = match seg.stat().unwrap().sysv {
        Some(s) => Address::Sysv(SysvAddress::Id(s.shmid)),
        None => seg.address().clone(),
    };
    segment::open(&addr, &opts).unwrap()
}

fn bytes_round_trip<B: Backend>() {
    let (seg, _g) = create::<B>("round_trip", 27);
    assert_eq!(seg.kind(), B::KIND);
    assert!(seg.created());
    assert_eq!(seg.len(), 27);
    let mut buf = [0xffu8; 27];
    seg.read_at(0, &mut buf).unwrap();
    assert_eq!(buf, [0u8; 27], "a new object reads as zeros");
    seg.write_at(0, b"abcdefghijklmnopqrstuvwxyz").unwrap();
    seg.flush().unwrap();
    seg.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..26], b"abcdefghijklmnopqrstuvwxyz");
    assert_eq!(buf[26], 0);
}

fn second_handle_sees_the_same_bytes<B: Backend>() {
    let (seg, _g) = create::<B>("shared", 4096);
    let reader = reopen(&*seg, OpenOptions::read_only());
    seg.write_at(4000, b"Hello!").unwrap();
    let mut buf = [0u8; 6];
    reader.read_at(4000, &mut buf).unwrap();
    assert_eq!(&buf, b"Hello!");
    let writer = reopen(&*seg, OpenOptions::read_write());
    writer.write_at(0, b"xyz").unwrap();
    let mut buf = [0u8; 3];
    seg.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"xyz");
}

fn read_only_handle_refuses_writes<B: Backend>() {
    let (seg, _g) = create::<B>("read_only", 64);
    let reader = reopen(&*seg, OpenOptions::read_only());
    let err = reader.write_at(0, b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let err = reopen(&*seg, OpenOptions::metadata())
        .read_at(0, &mut [0u8; 1])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

fn access_past_the_end_fails_and_changes_nothing<B: Backend>() {
    let (seg, _g) = create::<B>("bounds", 100);
    seg.write_at(0, &[7u8; 100]).unwrap();
    for (offset, len) in [
        (100u64, 1usize),
        (99, 2),
        (0, 101),
        (u64::MAX, 1),
        (u64::MAX - 1, 4),
    ] {
        let err = seg.write_at(offset, &vec![9u8; len]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.fix().is_some(), "{err}");
        let err = seg.read_at(offset, &mut vec![0u8; len]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    let mut buf = [0u8; 100];
    seg.read_at(0, &mut buf).unwrap();
    assert_eq!(buf, [7u8; 100], "a refused write changed nothing");
    seg.write_at(100, &[]).unwrap();
}

fn new_objects_are_0600_and_modes_are_exact<B: Backend>() {
    let (seg, _g) = create::<B>("mode", 10);
    assert_eq!(seg.stat().unwrap().mode, 0o600);
    // A mode the umask (022 or 002) would cut must still be what was asked.
    let addr = B::fresh("mode_exact");
    let _g2 = Cleanup(addr.clone());
    let seg = segment::create(&addr, &CreateOptions::new(10).mode(0o666).exclusive(true)).unwrap();
    assert_eq!(seg.stat().unwrap().mode, 0o666);
    seg.chmod(0o640).unwrap();
    assert_eq!(seg.stat().unwrap().mode, 0o640);
}

fn stat_tells_kind_size_owner_and_lifetime<B: Backend>() {
    let (seg, _g) = create::<B>("stat", 8192);
    let st = seg.stat().unwrap();
    assert_eq!(st.kind, B::KIND);
    assert_eq!(st.size, 8192);
    assert_eq!(st.uid, shmkit::sys::geteuid());
    assert_eq!(st.lifetime, B::KIND.lifetime());
    match B::KIND {
        Kind::Sysv => {
            let s = st.sysv.unwrap();
            assert_eq!(s.nattch, 1, "our handle is attached");
            assert_eq!(s.cpid, std::process::id());
            assert!(!s.marked_for_destruction);
        }
        _ => {
            let f = st.file.unwrap();
            assert_eq!(f.nlink, u64::from(B::KIND != Kind::Memfd));
            assert!(
                f.allocated >= 8192,
                "pages are allocated at creation: {}",
                f.allocated
            );
        }
    }
}

fn exclusive_create_of_an_existing_object_fails<B: Backend>() {
    let (seg, _g) = create::<B>("exclusive", 64);
    seg.write_at(0, b"keep").unwrap();
    let addr = seg.address().clone();
    let err = segment::create(&addr, &CreateOptions::new(64).exclusive(true)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.fix().unwrap().contains("open it instead"), "{err}");
    // Without --exclusive it opens the same object and keeps its bytes.
    let again = segment::create(&addr, &CreateOptions::new(32)).unwrap();
    assert!(!again.created());
    let mut buf = [0u8; 4];
    again.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"keep");
    // ...but not if it is smaller than asked.
    let err = segment::create(&addr, &CreateOptions::new(65)).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::InvalidInput | ErrorKind::AlreadyExists
        ),
        "{err}"
    );
}

fn remove_makes_it_unreachable<B: Backend>() {
    let (seg, _g) = create::<B>("remove", 64);
    seg.remove().unwrap();
    // The mapping stays valid until the handle drops.
    seg.write_at(0, b"still mapped").unwrap();
    let err = segment::open(seg.address(), &OpenOptions::read_only()).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::NotFound | ErrorKind::Removed),
        "{err}"
    );
    if B::KIND == Kind::Sysv {
        assert!(seg.stat().unwrap().sysv.unwrap().marked_for_destruction);
    }
}

fn resize_grows_and_shrinks_or_is_refused<B: Backend>() {
    let (mut seg, _g) = create::<B>("resize", 4096);
    seg.write_at(0, b"kept").unwrap();
    let result = seg.resize(3 * 4096);
    if !B::RESIZES {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains("IPC_SET"), "{err}");
        assert_eq!(seg.stat().unwrap().size, 4096);
        return;
    }
    result.unwrap();
    assert_eq!(seg.len(), 3 * 4096);
    let st = seg.stat().unwrap();
    assert_eq!(st.size, 3 * 4096);
    assert!(
        st.file.unwrap().allocated >= 3 * 4096,
        "growth allocates its pages"
    );
    seg.write_at(3 * 4096 - 4, b"tail").unwrap();
    let mut buf = [0u8; 4];
    seg.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"kept");
    seg.resize(10).unwrap();
    assert_eq!(seg.len(), 10);
    assert!(seg.write_at(10, b"x").is_err());
}

fn another_users_object_is_refused_unless_allowed<B: Backend>() {
    // Giving an object away needs CAP_CHOWN for a file; a segment's owner may do it.
    if B::KIND != Kind::Sysv
        && !common::needs_root(&format!(
            "{:?}::another_users_object_is_refused_unless_allowed",
            B::KIND
        ))
    {
        return;
    }
    let (seg, _g) = create::<B>("foreign", 64);
    seg.chown(Some(65534), Some(65534)).unwrap();
    assert_eq!(seg.stat().unwrap().uid, 65534);
    let err = segment::open(seg.address(), &OpenOptions::read_write()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("uid 65534"), "{err}");
    assert!(err.fix().unwrap().contains("--allow-foreign"), "{err}");
    let err = segment::create(seg.address(), &CreateOptions::new(64)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    segment::open(
        seg.address(),
        &OpenOptions::read_write().allow_foreign_owner(true),
    )
    .unwrap();
    segment::open(seg.address(), &OpenOptions::metadata()).unwrap();
}

fn dropping_the_handle_unmaps_it<B: Backend>() {
    let (seg, _g) = create::<B>("drop", 64 * 4096);
    let addr = seg.mapping().unwrap().as_ptr() as usize;
    // The mapping's line: its address and the object's inode (a segment's is its id), so that
    // another test's mapping placed at the freed address does not count.
    let st = seg.stat().unwrap();
    let inode = match (&st.sysv, &st.file) {
        (Some(s), _) => s.shmid.to_string(),
        (None, Some(f)) => f.inode.to_string(),
        _ => unreachable!("every backend has a sysv or file stat"),
    };
    let maps = || std::fs::read_to_string("/proc/self/maps").unwrap();
    let mapped = |text: &str| {
        text.lines().any(|l| {
            l.starts_with(&format!("{addr:x}-")) && l.split_whitespace().nth(4) == Some(&inode)
        })
    };
    assert!(mapped(&maps()));
    // A second handle, where the address opens one (not a memfd's), shows the detach.
    let other = (B::KIND != Kind::Memfd).then(|| reopen(&*seg, OpenOptions::metadata()));
    drop(seg);
    assert!(!mapped(&maps()), "the mapping is gone after drop");
    if let Some(other) = other {
        if B::KIND == Kind::Sysv {
            assert_eq!(other.stat().unwrap().sysv.unwrap().nattch, 0, "detached");
        }
    }
}

/// A model check: random writes and reads at random offsets agree with a `Vec<u8>`.
fn matches_a_vec_model<B: Backend>(size: usize, ops: &[(bool, usize, Vec<u8>)]) {
    let (seg, _g) = create::<B>("model", size as u64);
    let mut model = vec![0u8; size];
    for (write, offset, data) in ops {
        let fits = offset
            .checked_add(data.len())
            .is_some_and(|end| end <= size);
        if *write {
            let res = seg.write_at(*offset as u64, data);
            assert_eq!(
                res.is_ok(),
                fits,
                "write {} at {offset} of {size}",
                data.len()
            );
            if fits {
                model[*offset..offset + data.len()].copy_from_slice(data);
            }
        } else {
            let mut buf = vec![0u8; data.len()];
            let res = seg.read_at(*offset as u64, &mut buf);
            assert_eq!(
                res.is_ok(),
                fits,
                "read {} at {offset} of {size}",
                data.len()
            );
            if fits {
                assert_eq!(buf, model[*offset..offset + data.len()]);
            }
        }
    }
    let mut all = vec![0u8; size];
    seg.read_at(0, &mut all).unwrap();
    assert_eq!(all, model);
}

/// What a memfd lacks instead of the `[reopen]` tests: its address opens nothing, with an
/// error that says how a memfd is reached; `remove` has no name to take away, and the
/// handle goes on working.
#[test]
fn memfd_has_no_address_to_reopen() {
    let (seg, _g) = create::<Memfd>("no_reopen", 64);
    seg.write_at(0, b"only through the descriptor").unwrap();
    for opts in [OpenOptions::read_only(), OpenOptions::metadata()] {
        let err = segment::open(seg.address(), &opts).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("no name"), "{err}");
    }
    seg.remove().unwrap();
    let mut buf = [0u8; 4];
    seg.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"only");
}

macro_rules! conformance_tests {
    ($($module:ident => $backend:ty: [$($capability:ident),*]),* $(,)?) => {$(
        mod $module {
            use super::*;
            conformance_tests!(@every $backend);
            $(conformance_tests!(@$capability $backend);)*
        }
    )*};
    (@every $backend:ty) => {
        #[test] fn bytes_round_trip() { super::bytes_round_trip::<$backend>() }
        #[test] fn access_past_the_end_fails_and_changes_nothing() { super::access_past_the_end_fails_and_changes_nothing::<$backend>() }
        #[test] fn new_objects_are_0600_and_modes_are_exact() { super::new_objects_are_0600_and_modes_are_exact::<$backend>() }
        #[test] fn stat_tells_kind_size_owner_and_lifetime() { super::stat_tells_kind_size_owner_and_lifetime::<$backend>() }
        #[test] fn resize_grows_and_shrinks_or_is_refused() { super::resize_grows_and_shrinks_or_is_refused::<$backend>() }
        #[test] fn dropping_the_handle_unmaps_it() { super::dropping_the_handle_unmaps_it::<$backend>() }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]
            #[test]
            fn matches_a_vec_model(
                size in 1usize..20_000,
                ops in proptest::collection::vec(
                    (any::<bool>(), 0usize..21_000, proptest::collection::vec(any::<u8>(), 0..3000)),
                    1..24,
                ),
            ) {
                super::matches_a_vec_model::<$backend>(size, &ops);
            }
        }
    };
    // Backends whose address opens the object again.
    (@reopen $backend:ty) => {
        #[test] fn second_handle_sees_the_same_bytes() { super::second_handle_sees_the_same_bytes::<$backend>() }
        #[test] fn read_only_handle_refuses_writes() { super::read_only_handle_refuses_writes::<$backend>() }
        #[test] fn exclusive_create_of_an_existing_object_fails() { super::exclusive_create_of_an_existing_object_fails::<$backend>() }
        #[test] fn remove_makes_it_unreachable() { super::remove_makes_it_unreachable::<$backend>() }
        #[test] fn another_users_object_is_refused_unless_allowed() { super::another_users_object_is_refused_unless_allowed::<$backend>() }
    };
}

conformance_tests! {
    sysv => Sysv: [reopen],
    posix => Posix: [reopen],
    file => File: [reopen],
    memfd => Memfd: [],
}
