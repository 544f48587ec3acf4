//! [`Segment`]: one interface over every kind of shared memory a program can name and map —
//! System V segments, POSIX shm objects, regular files mapped `MAP_SHARED`, and memfds.
//!
//! Each backend lives in its own file ([`sysv`], [`posix`], [`file`](mod@file), [`memfd`])
//! and states its kind's lifetime in its type's docs; one conformance suite
//! (`tests/conformance.rs`) runs against all four.
//!
//! Safe by default:
//! - new objects get mode `0600` unless asked, and are created exclusively (`IPC_EXCL`,
//!   `O_EXCL|O_NOFOLLOW|O_CLOEXEC`) so shmkit knows whether it made them;
//! - an existing object owned by another user (not us, not root) is refused unless
//!   [`OpenOptions::allow_foreign_owner`] — it may have been planted to read what we write;
//! - a create that fails removes what it made before returning the error;
//! - every byte access is bounds-checked, and goes through copies (see [`crate::sys::Mapping`]).
//!
//! ```
//! use shmkit::address::Address;
//! use shmkit::segment::{self, CreateOptions, OpenOptions};
//!
//! # struct RemoveOnDrop(Address);
//! # impl Drop for RemoveOnDrop {
//! #     fn drop(&mut self) {
//! #         if let Ok(seg) = segment::open(&self.0, &OpenOptions::metadata()) {
//! #             let _ = seg.remove();
//! #         }
//! #     }
//! # }
//! // Named for this process, so that runs in parallel never meet.
//! let name = format!("posix:/shmkit-doc-{}", std::process::id());
//! let addr: Address = name.parse()?;
//! let seg = segment::create(&addr, &CreateOptions::new(27).exclusive(true))?;
//! # let _cleanup = RemoveOnDrop(addr.clone());
//! seg.write_at(0, b"abcdefghijklmnopqrstuvwxyz")?;
//!
//! let reader = segment::open(&addr, &OpenOptions::read_only())?;
//! let mut buf = [0u8; 26];
//! reader.read_at(0, &mut buf)?;
//! assert_eq!(&buf, b"abcdefghijklmnopqrstuvwxyz");
//! assert_eq!(reader.stat()?.mode, 0o600);
//! seg.remove()?;
//! # Ok::<(), shmkit::Error>(())
//! ```

mod errno;
pub mod file;
pub mod held;
mod kernel;
pub mod memfd;
pub mod posix;
pub mod sysv;

pub use file::FileSegment;
pub use held::HeldSegment;
pub use memfd::MemfdSegment;
pub use posix::PosixSegment;
pub use sysv::SysvSegment;

use crate::address::Address;
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::survival::Lifetime;
use crate::sys::Mapping;
use serde::Serialize;
use std::fmt;

/// The default mode of new objects: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// How to create an object: [`CreateOptions::new`] and its builder methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateOptions {
    /// Size in bytes (System V: at least 1 and at most `kernel.shmmax`).
    pub size: u64,
    /// Permission bits, [`DEFAULT_MODE`] unless asked; applied exactly (not masked by umask).
    pub mode: u32,
    /// Fail with [`ErrorKind::AlreadyExists`] if the object exists; otherwise an existing one
    /// is opened (if at least `size` bytes, and ours).
    pub exclusive: bool,
    /// Back it with huge pages (System V `SHM_HUGETLB`, memfd `MFD_HUGETLB`; refused for POSIX
    /// and files, whose filesystem decides).
    pub hugetlb: bool,
    /// Fault every page in now, so the memory is committed before the first access.
    pub prefault: bool,
    /// Accept an existing object owned by another user (only without `exclusive`).
    pub allow_foreign_owner: bool,
    /// System V: attach the segment, so that it can be read and written through the handle.
    /// Without it (and without `prefault`) the segment is made and checked but nobody attaches:
    /// its last-attach time and pid stay unset, as `ipcmk` leaves them, and the handle answers
    /// only [`Segment::stat`] and [`Segment::remove`]. Other kinds are always mapped.
    pub attach: bool,
}

impl CreateOptions {
    /// `size` bytes, mode 0600, create-or-open, no huge pages, no prefault, attached.
    pub fn new(size: u64) -> Self {
        CreateOptions {
            size,
            mode: DEFAULT_MODE,
            exclusive: false,
            hugetlb: false,
            prefault: false,
            allow_foreign_owner: false,
            attach: true,
        }
    }

    /// Sets the permission bits.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Fails if the object exists.
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }

    /// Asks for huge pages.
    pub fn hugetlb(mut self, hugetlb: bool) -> Self {
        self.hugetlb = hugetlb;
        self
    }

    /// Faults every page in at creation.
    pub fn prefault(mut self, prefault: bool) -> Self {
        self.prefault = prefault;
        self
    }

    /// Accepts an existing object owned by another user.
    pub fn allow_foreign_owner(mut self, allow: bool) -> Self {
        self.allow_foreign_owner = allow;
        self
    }

    /// System V: whether to attach the segment (the default); see [`CreateOptions::attach`].
    pub fn attach(mut self, attach: bool) -> Self {
        self.attach = attach;
        self
    }
}

/// What an open handle may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Not mapped: for stat, chmod, chown and remove. A System V segment is not attached (its
    /// `nattch` and times stay untouched).
    Metadata,
    /// Mapped read-only.
    ReadOnly,
    /// Mapped read-write.
    ReadWrite,
}

/// How to open an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// Map it read-only, read-write, or not at all.
    pub access: Access,
    /// Accept an object owned by another user (neither us nor root). Metadata access never
    /// checks: looking is harmless.
    pub allow_foreign_owner: bool,
}

impl OpenOptions {
    /// Mapped read-only.
    pub fn read_only() -> Self {
        OpenOptions {
            access: Access::ReadOnly,
            allow_foreign_owner: false,
        }
    }

    /// Mapped read-write.
    pub fn read_write() -> Self {
        OpenOptions {
            access: Access::ReadWrite,
            allow_foreign_owner: false,
        }
    }

    /// Not mapped: for stat, chmod, chown, remove.
    pub fn metadata() -> Self {
        OpenOptions {
            access: Access::Metadata,
            allow_foreign_owner: false,
        }
    }

    /// Accepts an object owned by another user.
    pub fn allow_foreign_owner(mut self, allow: bool) -> Self {
        self.allow_foreign_owner = allow;
        self
    }
}

/// Everything the kernel knows about an object (`IPC_STAT` or `fstat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Stat {
    /// Its kind.
    pub kind: Kind,
    /// Its address, as shmkit commands take it (System V: by id, which is exact).
    pub address: Address,
    /// Size in bytes.
    pub size: u64,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (`0o600`).
    pub mode: u32,
    /// How long objects of its kind live.
    pub lifetime: Lifetime,
    /// `IPC_STAT` fields (System V).
    pub sysv: Option<SysvStat>,
    /// `fstat` fields (POSIX, file, memfd).
    pub file: Option<FileStat>,
}

/// The `IPC_STAT` fields of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SysvStat {
    /// Its key (0 = `IPC_PRIVATE`, also after `IPC_RMID`).
    pub key: i32,
    /// Its id.
    pub shmid: i32,
    /// Creator uid.
    pub cuid: u32,
    /// Creator gid.
    pub cgid: u32,
    /// Creator pid.
    pub cpid: u32,
    /// Pid of the last attach or detach.
    pub lpid: u32,
    /// Current attachments.
    pub nattch: u64,
    /// Last attach (unix seconds; 0 = never, null in JSON).
    #[serde(rename = "atime_unix", serialize_with = "crate::json::unix_or_never")]
    #[schemars(with = "Option<i64>")]
    pub atime: i64,
    /// Last detach (unix seconds; 0 = never, null in JSON).
    #[serde(rename = "dtime_unix", serialize_with = "crate::json::unix_or_never")]
    #[schemars(with = "Option<i64>")]
    pub dtime: i64,
    /// Creation or last `IPC_SET` (unix seconds).
    #[serde(rename = "ctime_unix")]
    pub ctime: i64,
    /// `IPC_RMID` was called; it goes at the last detach (`SHM_DEST`).
    pub marked_for_destruction: bool,
    /// Locked in memory (`SHM_LOCK`).
    pub locked: bool,
}

/// The `fstat` fields of a file-like object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct FileStat {
    /// Its path (`/dev/shm/NAME` for POSIX; `None` for a memfd), as the kernel's bytes; JSON
    /// escapes it as addresses are.
    #[serde(serialize_with = "crate::json::path_escaped")]
    #[schemars(with = "Option<String>")]
    pub path: Option<std::path::PathBuf>,
    /// Device (major, minor).
    pub dev: crate::DeviceId,
    /// Inode number.
    pub inode: u64,
    /// Hard links (0 once unlinked, while still open).
    pub nlink: u64,
    /// Bytes allocated (`st_blocks * 512`): for tmpfs, the memory it takes.
    pub allocated: u64,
    /// Last access (unix seconds).
    #[serde(rename = "atime_unix")]
    pub atime: i64,
    /// Last modification (unix seconds).
    #[serde(rename = "mtime_unix")]
    pub mtime: i64,
    /// Last status change (unix seconds).
    #[serde(rename = "ctime_unix")]
    pub ctime: i64,
}

/// One shared-memory object, opened (and, unless [`Access::Metadata`], mapped).
///
/// Dropping the handle unmaps or detaches it; the object itself lives on as its kind's
/// lifetime says, until [`Segment::remove`].
pub trait Segment: fmt::Debug + Send + Sync {
    /// Its address.
    fn address(&self) -> &Address;

    /// Its kind.
    fn kind(&self) -> Kind {
        self.address().kind()
    }

    /// Whether this handle created the object (rather than opening an existing one).
    fn created(&self) -> bool;

    /// The mapping, if mapped.
    fn mapping(&self) -> Option<&Mapping>;

    /// The mapped length in bytes (0 when not mapped).
    fn len(&self) -> u64 {
        self.mapping().map_or(0, Mapping::len)
    }

    /// Whether nothing is mapped.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `buf.len()` bytes at `offset` out of the object.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let map = mapped(self)?;
        map.read_at(offset, buf).map_err(|e| out_of_bounds(self, e))
    }

    /// Copies `data` into the object at `offset`; never grows it.
    fn write_at(&self, offset: u64, data: &[u8]) -> Result<()> {
        let map = mapped(self)?;
        if !map.is_writable() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                self.address().to_string(),
                "it was opened read-only",
            )
            .with_fix("open it with OpenOptions::read_write()"));
        }
        map.write_at(offset, data).map_err(|e| {
            match e
                .get_ref()
                .and_then(|i| i.downcast_ref::<crate::sys::OutOfBounds>())
            {
                Some(oob) => out_of_bounds(self, *oob),
                None => Error::io(self.address().to_string(), "write", e),
            }
        })
    }

    /// Writes a file-backed mapping's dirty pages to the file and waits (`msync`); a no-op for
    /// shmem kinds, whose pages have no file to go to.
    fn flush(&self) -> Result<()> {
        Ok(())
    }

    /// Faults every mapped page in now.
    fn prefault(&self) -> Result<()> {
        match self.mapping() {
            Some(map) => populate(&self.address().to_string(), map),
            None => Ok(()),
        }
    }

    /// Everything the kernel knows about the object now.
    fn stat(&self) -> Result<Stat>;

    /// Changes the size (POSIX, file); growth allocates the pages at once so that a full
    /// filesystem fails here with `ENOSPC`, not later with `SIGBUS`. System V refuses: the kernel
    /// cannot resize a segment.
    fn resize(&mut self, size: u64) -> Result<()>;

    /// Sets the permission bits (`0o7777` for files, `0o777` for System V).
    fn chmod(&self, mode: u32) -> Result<()>;

    /// Sets the owner and/or group.
    fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()>;

    /// Removes the name (`IPC_RMID`, `shm_unlink`, `unlink`); the memory goes when the last
    /// holder detaches, unmaps or closes. A memfd has no name: nothing to do.
    fn remove(&self) -> Result<()>;
}

/// Creates the object at `addr` (or opens it, without [`CreateOptions::exclusive`]), mapped
/// read-write.
pub fn create(addr: &Address, opts: &CreateOptions) -> Result<Box<dyn Segment>> {
    Ok(match addr {
        Address::Sysv(sysv) => Box::new(SysvSegment::create(sysv, opts)?),
        Address::Posix(name) => Box::new(PosixSegment::create(name, opts)?),
        Address::File(path) => Box::new(FileSegment::create(path, opts)?),
        Address::Memfd(name) => Box::new(MemfdSegment::create(name, opts)?),
        Address::Held(_) => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                addr.to_string(),
                "it names an object a process already holds, which cannot be created",
            )
            .with_fix("create a memfd as memfd:NAME, or open this one with segment::open"))
        }
    })
}

/// Opens the existing object at `addr`.
pub fn open(addr: &Address, opts: &OpenOptions) -> Result<Box<dyn Segment>> {
    Ok(match addr {
        Address::Sysv(sysv) => Box::new(SysvSegment::open(sysv, opts)?),
        Address::Posix(name) => Box::new(PosixSegment::open(name, opts)?),
        Address::File(path) => Box::new(FileSegment::open(path, opts)?),
        Address::Memfd(_) => return Err(memfd::cannot_open(addr)),
        Address::Held(held) => Box::new(HeldSegment::open(held, opts)?),
    })
}

fn mapped<S: Segment + ?Sized>(seg: &S) -> Result<&Mapping> {
    seg.mapping().ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidInput,
            seg.address().to_string(),
            "it was opened for metadata only and is not mapped",
        )
        .with_fix("open it with OpenOptions::read_only() or read_write()")
    })
}

fn out_of_bounds<S: Segment + ?Sized>(seg: &S, e: crate::sys::OutOfBounds) -> Error {
    let fix = match seg.kind() {
        Kind::Sysv => format!(
            "stay within 0..{}: a System V segment cannot grow; create a larger one",
            e.size
        ),
        _ => format!(
            "stay within 0..{}, or grow it first with `shmkit resize {} SIZE`",
            e.size,
            seg.address()
        ),
    };
    Error::new(
        ErrorKind::InvalidInput,
        seg.address().to_string(),
        e.to_string(),
    )
    .with_fix(fix)
}

/// Refuses an object that another user owns or, for System V, created (a planted object could
/// capture what we write or feed us what it wants), unless allowed. Root's objects are trusted:
/// only root could have made them. A segment's creator may hand its ownership to anyone, root
/// included, with `IPC_SET` and keeps the creator's rights: its owner alone proves nothing.
fn check_owner(addr: &Address, stat: &Stat, allow_foreign: bool) -> Result<()> {
    let me = crate::sys::geteuid();
    let trusted = |uid: u32| uid == me || uid == 0;
    let creator = stat.sysv.as_ref().map(|s| s.cuid);
    let (how, who) = match creator {
        Some(cuid) if !trusted(cuid) => ("was created by", cuid),
        _ if !trusted(stat.uid) => ("is owned by", stat.uid),
        _ => return Ok(()),
    };
    if allow_foreign {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::PermissionDenied,
        addr.to_string(),
        format!(
            "it exists and {how} {}, not by you ({}): another user may have planted it to read what you write",
            kernel::describe_uid(who),
            kernel::describe_uid(me)
        ),
    )
    .with_fix(format!(
        "check who made it (`shmkit stat {addr}`); if you trust it, pass --allow-foreign"
    )))
}

/// Refuses anything but a regular file behind a file-like address: a FIFO could block or feed
/// us what it wants, a device could misbehave when mapped, a directory cannot be mapped. The
/// check is on the open descriptor (`fstat`), so nothing can be swapped in after it.
fn check_regular(addr: &Address, file: &std::fs::File, fix: String) -> Result<()> {
    let meta = file.metadata().map_err(|e| {
        errno::explain(
            errno::Call::Fstat,
            &errno::Context::new(addr.to_string()),
            e,
        )
    })?;
    if meta.is_file() {
        return Ok(());
    }
    let cause = match addr.kind() {
        Kind::Posix => {
            "it is not a regular file, so not a POSIX shm object (anyone may create files in /dev/shm)"
        }
        _ => "it is not a regular file",
    };
    Err(Error::new(ErrorKind::InvalidInput, addr.to_string(), cause).with_fix(fix))
}

/// Whether `mode` lets every user write (0666, 0622...): shmkit does it only when asked, and the
/// command line warns.
pub fn is_world_writable(mode: u32) -> bool {
    mode & 0o002 != 0
}

/// Validates permission bits for new objects.
fn check_mode(addr: &Address, mode: u32) -> Result<()> {
    if mode & !0o777 != 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            addr.to_string(),
            format!(
                "mode {mode:o} has bits beyond 0777 (setuid, setgid, sticky make no sense here)"
            ),
        )
        .with_fix("give permission bits only, for example --mode 600"));
    }
    Ok(())
}

/// File-like objects share their stat, chmod and chown code.
fn file_stat(
    kind: Kind,
    address: Address,
    path: Option<std::path::PathBuf>,
    file: &std::fs::File,
) -> Result<Stat> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().map_err(|e| {
        errno::explain(
            errno::Call::Fstat,
            &errno::Context::new(address.to_string()),
            e,
        )
    })?;
    let dev = meta.dev();
    Ok(Stat {
        kind,
        address,
        size: meta.size(),
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
        lifetime: kind.lifetime(),
        sysv: None,
        file: Some(FileStat {
            path,
            dev: crate::DeviceId::from_dev(dev),
            inode: meta.ino(),
            nlink: meta.nlink(),
            allocated: meta.blocks() * 512,
            atime: meta.atime(),
            mtime: meta.mtime(),
            ctime: meta.ctime(),
        }),
    })
}

fn file_chmod(ctx: &errno::Context, file: &std::fs::File, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if mode & !0o7777 != 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            &ctx.object,
            format!("{mode:o} is not a file mode"),
        )
        .with_fix("give octal permission bits, for example 600"));
    }
    let perms = std::fs::Permissions::from_mode(mode);
    match file.set_permissions(perms.clone()) {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
            std::fs::set_permissions(through_fd(file), perms)
        }
        done => done,
    }
    .map_err(|e| errno::explain(errno::Call::Fchmod, ctx, e))
}

/// `/proc/self/fd/N`: the path that reaches exactly the file an `O_PATH` handle holds (the
/// handle of an object we may not read, see `file::open_path_only`), on which `fchmod` and
/// `fchown` fail with `EBADF`. Going through it leaves no window to swap the file.
fn through_fd(file: &std::fs::File) -> std::path::PathBuf {
    use std::os::fd::AsRawFd;
    shmkit_procfs::ProcRoot::live().path(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

fn file_chown(
    ctx: &errno::Context,
    file: &std::fs::File,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<()> {
    match std::os::unix::fs::fchown(file, uid, gid) {
        Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
            std::os::unix::fs::chown(through_fd(file), uid, gid)
        }
        done => done,
    }
    .map_err(|e| errno::explain(errno::Call::Fchown, ctx, e))
}

/// Faults every page of `map` in (`madvise(MADV_POPULATE_WRITE)`, or `_READ` when read-only).
fn populate(object: &str, map: &Mapping) -> Result<()> {
    let call = if map.is_writable() {
        "madvise(MADV_POPULATE_WRITE)"
    } else {
        "madvise(MADV_POPULATE_READ)"
    };
    map.prefault().map_err(|e| Error::io(object, call, e))
}

/// Finishes a file-like object this call has just created: exactly `opts.mode` (the mode given
/// to open or shm_open passed through the umask; a memfd is born 0777), `opts.size` bytes with
/// their pages allocated, mapped read-write, prefaulted if asked. The caller removes the object
/// if this fails.
fn finish_new_file(
    ctx: &errno::Context,
    file: &std::fs::File,
    opts: &CreateOptions,
) -> Result<Mapping> {
    file_chmod(ctx, file, opts.mode)?;
    if opts.hugetlb {
        // hugetlbfs files (a memfd with MFD_HUGETLB) are sized with ftruncate: fallocate has
        // huge-page alignment rules there that tmpfs does not.
        file.set_len(opts.size)
            .map_err(|e| errno::explain(errno::Call::Ftruncate, ctx, e))?;
    } else {
        grow_file(ctx, file, 0, opts.size)?;
    }
    let map = map_file(ctx, file, opts.size, true)?;
    if opts.prefault {
        populate(&ctx.object, &map)?;
    }
    Ok(map)
}

/// Takes the existing object that a create without `exclusive` opened: refused if it is
/// smaller than asked (the caller would write past its end), prefaulted if asked.
fn accept_existing<S: Segment>(seg: S, opts: &CreateOptions) -> Result<S> {
    let size = seg.len();
    if size < opts.size {
        let address = seg.address();
        return Err(Error::new(
            ErrorKind::AlreadyExists,
            address.to_string(),
            format!(
                "it exists with {size} bytes, less than the {} asked for",
                opts.size
            ),
        )
        .with_fix(format!(
            "grow it with `shmkit resize {address} {}`, or pick another {}",
            opts.size,
            if address.kind() == Kind::File {
                "path"
            } else {
                "name"
            }
        )));
    }
    if opts.prefault {
        seg.prefault()?;
    }
    Ok(seg)
}

/// Resizes a file-like object (see [`Segment::resize`]) and maps it anew at its new size.
fn resize_file(
    ctx: &errno::Context,
    file: &std::fs::File,
    mapping: &mut Option<Mapping>,
    writable: bool,
    size: u64,
) -> Result<()> {
    if !writable {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            &ctx.object,
            "it was opened read-only",
        )
        .with_fix("open it with OpenOptions::read_write() to resize it"));
    }
    use std::os::unix::fs::MetadataExt;
    let current = file
        .metadata()
        .map_err(|e| errno::explain(errno::Call::Fstat, ctx, e))?
        .size();
    if let Some(map) = mapping {
        // A file's dirty pages go back to it before their mapping goes.
        map.flush()
            .map_err(|e| errno::explain(errno::Call::Msync, ctx, e))?;
    }
    grow_file(ctx, file, current, size)?;
    if mapping.is_some() {
        // Unmap first: after a shrink the old mapping reaches past the end of the file.
        *mapping = None;
        *mapping = Some(map_file(ctx, file, size, true)?);
    }
    Ok(())
}

/// Sizes a freshly made or growing file-like object: `fallocate` so a full filesystem fails
/// now, falling back to `ftruncate` where the filesystem cannot preallocate.
fn grow_file(ctx: &errno::Context, file: &std::fs::File, from: u64, to: u64) -> Result<()> {
    use std::os::fd::AsFd;
    if to <= from {
        return file
            .set_len(to)
            .map_err(|e| errno::explain(errno::Call::Ftruncate, ctx, e));
    }
    match crate::sys::fallocate(file.as_fd(), from, to - from) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => file
            .set_len(to)
            .map_err(|e| errno::explain(errno::Call::Ftruncate, ctx, e)),
        Err(e) => {
            // tmpfs undoes a failed fallocate itself; ext4 and others keep the blocks and the
            // size they reached. Give them back before explaining (the explanation shows how
            // full the filesystem is).
            let _ = file.set_len(from);
            Err(errno::explain(errno::Call::Fallocate, ctx, e))
        }
    }
}

/// Maps a file-like object's first `len` bytes.
fn map_file(
    ctx: &errno::Context,
    file: &std::fs::File,
    len: u64,
    writable: bool,
) -> Result<Mapping> {
    use std::os::fd::AsFd;
    crate::sys::mapping::map_shared_fd(file.as_fd(), len, writable)
        .map_err(|e| errno::explain(errno::Call::Mmap, ctx, e))
}
