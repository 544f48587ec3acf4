//! The errno table: every errno the life-cycle calls return, turned into an [`Error`] that
//! names the object, the cause and the fix, one line per case.
//!
//! The kernel's errno alone is ambiguous (`shmget`'s `EINVAL` means "above shmmax", "below
//! shmmin" or "larger than the existing segment"), so the explanations read the limits, the
//! usage and the object's owner from `/proc` at the moment of failure.

use super::kernel;
use crate::error::{os_message, Error, ErrorKind};
use crate::render::size::human;
use std::io;
use std::path::{Path, PathBuf};

/// The call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    Shmget,
    Shmat,
    ShmctlStat,
    ShmctlSet,
    ShmctlRmid,
    Ftok,
    ShmOpen,
    ShmUnlink,
    Open,
    Unlink,
    MemfdCreate,
    Ftruncate,
    Fallocate,
    Fstat,
    Fchmod,
    Fchown,
    Mmap,
    Msync,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Shmget => "shmget",
            Call::Shmat => "shmat",
            Call::ShmctlStat => "shmctl(IPC_STAT)",
            Call::ShmctlSet => "shmctl(IPC_SET)",
            Call::ShmctlRmid => "shmctl(IPC_RMID)",
            Call::Ftok => "ftok",
            Call::ShmOpen => "shm_open",
            Call::ShmUnlink => "shm_unlink",
            Call::Open => "open",
            Call::Unlink => "unlink",
            Call::MemfdCreate => "memfd_create",
            Call::Ftruncate => "ftruncate",
            Call::Fallocate => "fallocate",
            Call::Fstat => "fstat",
            Call::Fchmod => "fchmod",
            Call::Fchown => "fchown",
            Call::Mmap => "mmap",
            Call::Msync => "msync",
        }
    }

    /// The manual page: `2 shmget`, `3 shm_open`.
    fn manual(self) -> String {
        let page = self.name().split('(').next().unwrap_or("");
        let section = match self {
            Call::ShmOpen | Call::ShmUnlink | Call::Ftok => 3,
            _ => 2,
        };
        format!("{section} {page}")
    }

    fn is_sysv(self) -> bool {
        matches!(
            self,
            Call::Shmget | Call::Shmat | Call::ShmctlStat | Call::ShmctlSet | Call::ShmctlRmid
        )
    }
}

/// What the failing call was about, for the explanation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    /// The address as the user wrote it.
    pub object: String,
    /// System V key, if known.
    pub key: Option<i32>,
    /// System V id, if known.
    pub shmid: Option<i32>,
    /// The size asked for.
    pub size: Option<u64>,
    /// Whether the call creates the object.
    pub creating: bool,
    /// Whether the call wanted write access.
    pub writing: bool,
    /// The path of the file (file, POSIX: /dev/shm/NAME), for owner and filesystem figures.
    pub path: Option<PathBuf>,
    /// Whether huge pages were asked for.
    pub hugetlb: bool,
}

impl Context {
    pub fn new(object: impl Into<String>) -> Self {
        Context {
            object: object.into(),
            ..Context::default()
        }
    }
}

/// Turns a failed `call` into the one-line error the user sees.
pub(crate) fn explain(call: Call, ctx: &Context, err: io::Error) -> Error {
    let Some(errno) = err.raw_os_error() else {
        return Error::io(&ctx.object, call.name(), err);
    };
    let obj = &ctx.object;
    let e =
        |kind: ErrorKind, cause: String, fix: String| Error::new(kind, obj, cause).with_fix(fix);
    use ErrorKind::*;
    let explained = match (call, errno) {
        (Call::Shmget | Call::MemfdCreate | Call::Ftruncate | Call::Mmap, libc::ENOMEM | libc::ENOSPC) if ctx.hugetlb => no_huge_pages(call, ctx),
        (Call::Shmget, libc::EEXIST) => e(AlreadyExists, "a segment with this key exists already (shmget IPC_EXCL: EEXIST)".into(), format!("open it instead (`shmkit create` without --exclusive, or `shmkit stat {obj}`), or pick another key")),
        (Call::Shmget, libc::ENOENT) => e(NotFound, "no segment has this key in this IPC namespace (shmget: ENOENT)".into(), format!("create it with `shmkit create {obj} --size N`; `shmkit ls` lists what exists")),
        (Call::Shmget, libc::EINVAL) => sysv_einval(ctx),
        (Call::Shmget, libc::ENOSPC) => sysv_enospc(ctx),
        (Call::Shmget, libc::EPERM) => e(PermissionDenied, "huge-page segments need CAP_IPC_LOCK or membership of vm.hugetlb_shm_group (shmget SHM_HUGETLB: EPERM)".into(), unless_root("run as root, add your group to `sysctl vm.hugetlb_shm_group`, or drop --hugetlb", "this root lacks CAP_IPC_LOCK (a user namespace or a container): grant it, or drop --hugetlb")),
        (c, libc::EACCES) if c.is_sysv() => sysv_eacces(call, ctx),
        (Call::ShmctlSet | Call::ShmctlRmid, libc::EPERM) => sysv_eperm(call, ctx),
        // IPC_SET also says EINVAL for an owner or group that this user namespace does not map.
        (Call::ShmctlSet, libc::EINVAL) if sysv_line(ctx).is_some() => e(InvalidInput, "the kernel refuses the new owner or group: not a valid id in this user namespace (shmctl(IPC_SET): EINVAL)".into(), "give a user and group that exist here (`getent passwd`, `getent group`)".into()),
        (Call::Shmat | Call::ShmctlStat | Call::ShmctlSet | Call::ShmctlRmid, libc::EINVAL) => e(NotFound, format!("no segment has id {} in this IPC namespace ({}: EINVAL)", ctx.shmid.unwrap_or(-1), call.name()), "list segments with `shmkit ls` or `ipcs -m`; it may live in another IPC namespace (a container)".into()),
        (_, libc::EIDRM) => e(Removed, format!("the segment was removed meanwhile ({}: EIDRM)", call.name()), format!("someone ran IPC_RMID on it; create it again with `shmkit create {obj} --size N`")),
        (Call::Shmat, libc::ENOMEM) | (Call::Mmap, libc::ENOMEM) => e(LimitExceeded, format!("no room to map {} in this process's address space or the memory limit (RLIMIT_AS/vm.max_map_count) ({}: ENOMEM)", ctx.size.map_or("it".to_string(), human), call.name()), "raise `ulimit -v` or `sysctl vm.max_map_count`, or map less".into()),
        (Call::Shmget, libc::ENOMEM) => e(LimitExceeded, format!("the kernel could not allocate {} for the segment (shmget: ENOMEM)", ctx.size.map_or("memory".to_string(), human)), "free memory (`shmkit mem` shows where it went), or ask for less; with vm.overcommit_memory=2 raise vm.overcommit_ratio".into()),
        (Call::Ftok, libc::ENOENT | libc::EACCES | libc::ENOTDIR) => e(NotFound, format!("ftok cannot stat the path ({})", os_message(&err)), "ftok needs an existing, readable file: create it, or correct the path".into()),
        (Call::ShmOpen | Call::Open, libc::EEXIST) => e(AlreadyExists, format!("{} exists already ({}: EEXIST)", what(ctx), call.name()), format!("open it instead (drop --exclusive), remove it with `shmkit rm {obj}`, or pick another name")),
        (Call::Open, libc::ENOENT) if ctx.creating => e(NotFound, format!("the directory {} does not exist (open O_CREAT: ENOENT)", ctx.path.as_deref().and_then(Path::parent).map_or("?".into(), |d| d.display().to_string())), "create the directory first, or correct the path".into()),
        (Call::ShmOpen, libc::ENOENT) if ctx.creating => e(NotFound, "/dev/shm does not exist, so POSIX shared memory has nowhere to live (shm_open O_CREAT: ENOENT)".into(), "mount a tmpfs there: `mount -t tmpfs -o size=64m,mode=1777 tmpfs /dev/shm`".into()),
        (Call::ShmOpen | Call::Open | Call::ShmUnlink | Call::Unlink, libc::ENOENT) => e(NotFound, format!("{} does not exist ({}: ENOENT)", what(ctx), call.name()), format!("create it with `shmkit create {obj} --size N`; `shmkit ls` lists what exists")),
        (Call::ShmOpen | Call::Open, libc::EACCES) => file_eacces(call, ctx),
        (Call::ShmUnlink | Call::Unlink, libc::EACCES | libc::EPERM) => e(PermissionDenied, format!("{}: only its owner or root may remove it from a sticky directory like /dev/shm ({}: {})", owner_line(ctx), call.name(), os_message(&err)), "ask its owner or root to remove it".into()),
        (Call::Open | Call::ShmOpen, libc::ELOOP) => e(PermissionDenied, format!("the path is a symbolic link and shmkit does not follow links when opening shared memory (O_NOFOLLOW; {}: ELOOP)", call.name()), "address the link's target directly, after checking who made the link".into()),
        (Call::ShmOpen | Call::MemfdCreate, libc::EINVAL | libc::ENAMETOOLONG) => e(InvalidInput, format!("the kernel refuses the name ({}: {})", call.name(), os_message(&err)), "use a name of 1..=255 bytes without '/'".into()),
        (Call::Open, libc::EISDIR | libc::ENOTDIR) => e(InvalidInput, format!("the path is not a regular file ({})", os_message(&err)), "address a regular file".into()),
        (_, libc::EMFILE | libc::ENFILE) => e(LimitExceeded, format!("too many open files ({}: {})", call.name(), os_message(&err)), "raise `ulimit -n` (or fs.file-max), or close other files".into()),
        (Call::Ftruncate | Call::Fallocate | Call::ShmOpen | Call::Open, libc::ENOSPC) => fs_full(call, ctx),
        (Call::Ftruncate | Call::Fallocate, libc::EFBIG) => e(LimitExceeded, format!("{} is larger than the filesystem or RLIMIT_FSIZE allows ({}: EFBIG)", ctx.size.map_or("the size".to_string(), human), call.name()), "ask for less, or raise `ulimit -f`".into()),
        (Call::Ftruncate | Call::Fallocate, libc::EPERM) => e(PermissionDenied, format!("the object is sealed or append-only and cannot change size ({}: EPERM)", call.name()), "create a new object of the size you need".into()),
        (Call::MemfdCreate, libc::ENOMEM) | (Call::Fallocate, libc::ENOMEM) => e(LimitExceeded, format!("the kernel has no memory for it ({}: ENOMEM)", call.name()), "free memory (`shmkit mem` shows where it went), or ask for less".into()),
        (Call::MemfdCreate, libc::EPERM) => e(PermissionDenied, "huge-page memfds need CAP_IPC_LOCK or vm.hugetlb_shm_group (memfd_create: EPERM)".into(), unless_root("run as root or drop --hugetlb", "this root lacks CAP_IPC_LOCK (a user namespace or a container): grant it, or drop --hugetlb")),
        (Call::Mmap, libc::EACCES) => e(PermissionDenied, "the object was opened read-only, so it cannot be mapped writable (mmap: EACCES)".into(), "open it read-write".into()),
        (Call::Mmap, libc::ENODEV) => e(Unsupported, "this filesystem does not support memory mapping (mmap: ENODEV)".into(), "put the file on a filesystem that does (ext4, xfs, tmpfs)".into()),
        (Call::Fchmod | Call::Fchown, libc::EPERM) => e(PermissionDenied, format!("{}: only its owner or root may change its mode, and only root may give it away ({}: EPERM)", owner_line(ctx), call.name()), unless_root("run as its owner or as root", "this root lacks CAP_FOWNER/CAP_CHOWN here (a user namespace or a container): run it where root has them")),
        (Call::Fchown, libc::EINVAL) => e(InvalidInput, "the user or group id is not valid in this user namespace (fchown: EINVAL)".into(), "use an id mapped in this namespace".into()),
        (Call::Msync, libc::EIO) => e(Other, "writing the mapped pages back to the file failed (msync: EIO)".into(), "check the disk and the filesystem (`dmesg`); the data in memory is not yet durable".into()),
        _ => return Error::io(obj, call.name(), err).with_fix(format!("see `man {}` for what this errno means here", call.manual())),
    };
    explained.with_source(err)
}

fn no_huge_pages(call: Call, ctx: &Context) -> Error {
    let (total, free) = kernel::huge_pages();
    Error::new(
        ErrorKind::LimitExceeded,
        &ctx.object,
        format!(
            "not enough huge pages for {}: {free} of vm.nr_hugepages = {total} are free ({})",
            ctx.size.map_or("it".to_string(), human),
            call.name()
        ),
    )
    .with_fix("reserve more: `sysctl -w vm.nr_hugepages=N` (N huge pages of Hugepagesize in /proc/meminfo), or drop --hugetlb")
}

/// `the segment`, `/dev/shm/x`, `./shm.txt`.
fn what(ctx: &Context) -> String {
    match &ctx.path {
        Some(path) => path.display().to_string(),
        None => "the object".to_string(),
    }
}

fn sysv_einval(ctx: &Context) -> Error {
    let obj = &ctx.object;
    let limits = kernel::limits();
    let size = ctx.size.unwrap_or(0);
    let existing = ctx
        .key
        .and_then(|key| kernel::sysv_segments().into_iter().find(|s| s.key == key));
    let (cause, fix) = match (ctx.creating, limits.shmmax, existing) {
        (_, _, Some(seg)) if size > seg.size => (
            format!("the segment with this key has {} ({} bytes), less than the {size} bytes asked for (shmget: EINVAL)", human(seg.size), seg.size),
            format!("ask for at most {} bytes, or remove it (`shmkit rm {obj}`) and create a larger one: a System V segment cannot grow", seg.size),
        ),
        (true, _, _) if size == 0 => (
            "a System V segment needs at least kernel shmmin = 1 byte (shmget: EINVAL)".into(),
            "give --size of 1 byte or more".into(),
        ),
        (true, Some(max), _) if size > max => (
            format!("{size} bytes ({}) is above the limit kernel.shmmax = {max} ({}) (shmget: EINVAL)", human(size), human(max)),
            format!("raise it with `sysctl -w kernel.shmmax={size}` (as root, in this IPC namespace), or ask for less"),
        ),
        _ => (
            format!("the kernel refuses {size} bytes (shmget: EINVAL; kernel.shmmax = {}, shmmin = 1)", limits.shmmax.map_or("unknown".into(), |m| m.to_string())),
            "check the size and `sysctl kernel.shmmax`".into(),
        ),
    };
    Error::new(ErrorKind::InvalidInput, obj, cause).with_fix(fix)
}

fn sysv_enospc(ctx: &Context) -> Error {
    let obj = &ctx.object;
    let limits = kernel::limits();
    let segments = kernel::sysv_segments();
    let page = crate::sys::page_size();
    // Saturating: any user may create segments of nearly 2^64 bytes with SHM_NORESERVE.
    let used_pages = segments
        .iter()
        .fold(0u64, |sum, s| sum.saturating_add(s.size.div_ceil(page)));
    let wanted_pages = ctx.size.unwrap_or(0).div_ceil(page);
    let count = segments.len() as u64;
    let (cause, fix) = match (limits.shmmni, limits.shmall) {
        (Some(mni), _) if count >= mni => (
            format!("all kernel.shmmni = {mni} segment ids of this IPC namespace are in use ({count} segments) (shmget: ENOSPC)"),
            format!("remove leaked segments (`shmkit rm --orphans --dry-run` lists them), or raise it: `sysctl -w kernel.shmmni={}`", mni.saturating_mul(2)),
        ),
        (_, Some(all)) => (
            format!("kernel.shmall = {all} pages would be exceeded: {used_pages} pages ({}) are used by {count} segments and {wanted_pages} more were asked for (shmget: ENOSPC)", human(used_pages.saturating_mul(page))),
            format!("remove leaked segments (`shmkit rm --orphans --dry-run` lists them), or raise it: `sysctl -w kernel.shmall={}`", used_pages.saturating_add(wanted_pages)),
        ),
        _ => (
            format!("a System V limit is exhausted: {count} segments, {used_pages} pages in use (shmget: ENOSPC)"),
            "check `sysctl kernel.shmmni kernel.shmall` and remove leaked segments".into(),
        ),
    };
    Error::new(ErrorKind::LimitExceeded, obj, cause).with_fix(fix)
}

/// Finds the segment's line in /proc/sysvipc/shm (readable even without permission).
fn sysv_line(ctx: &Context) -> Option<shmkit_procfs::SysvShm> {
    kernel::sysv_segments()
        .into_iter()
        .find(|s| Some(s.shmid) == ctx.shmid || (ctx.shmid.is_none() && Some(s.key) == ctx.key))
}

fn sysv_eacces(call: Call, ctx: &Context) -> Error {
    let me = crate::sys::geteuid();
    let want = if ctx.writing { "write" } else { "read" };
    let cause = match sysv_line(ctx) {
        Some(seg) => format!(
            "owned by {} group {} with mode {:04o}: {}; you are {} ({}: EACCES)",
            kernel::describe_uid(seg.uid),
            seg.gid,
            seg.mode(),
            who_may(seg.uid, seg.mode(), want),
            kernel::describe_uid(me),
            call.name()
        ),
        None => format!(
            "the segment's mode does not let {} {want} it ({}: EACCES)",
            kernel::describe_uid(me),
            call.name()
        ),
    };
    Error::new(ErrorKind::PermissionDenied, &ctx.object, cause).with_fix(format!(
        "ask its owner or root to run `shmkit chmod {} MODE` or `shmkit chown {} USER`, or run as its owner",
        ctx.object, ctx.object
    ))
}

fn sysv_eperm(call: Call, ctx: &Context) -> Error {
    let me = crate::sys::geteuid();
    let owners = match sysv_line(ctx) {
        Some(seg) => format!(
            "its owner {} , its creator {} or root",
            kernel::describe_uid(seg.uid),
            kernel::describe_uid(seg.cuid)
        )
        .replace(" ,", ","),
        None => "its owner, its creator or root".to_string(),
    };
    let verb = if call == Call::ShmctlRmid {
        "remove"
    } else {
        "change"
    };
    Error::new(
        ErrorKind::PermissionDenied,
        &ctx.object,
        format!(
            "only {owners} may {verb} it; you are {} ({}: EPERM)",
            kernel::describe_uid(me),
            call.name()
        ),
    )
    .with_fix(format!(
        "run as one of them (for example `sudo shmkit ... {}`)",
        ctx.object
    ))
}

/// The fix for a permission error: `user` tells an ordinary user to become root; root is
/// told what it lacks instead (`root`).
fn unless_root(user: &str, root: &str) -> String {
    if crate::sys::geteuid() == 0 {
        root
    } else {
        user
    }
    .to_string()
}

/// `only uid 1000 and root may write it` from an owner and mode.
fn who_may(owner: u32, mode: u32, want: &str) -> String {
    let bit = if want == "write" { 0o2 } else { 0o4 };
    let mut who = vec![];
    if mode & (bit << 6) != 0 && owner != 0 {
        who.push(kernel::describe_uid(owner));
    }
    if mode & (bit << 3) != 0 {
        who.push("its group".to_string());
    }
    if mode & bit != 0 {
        return format!("every user may {want} it");
    }
    who.push("root".to_string());
    format!("only {} may {want} it", who.join(", "))
}

fn owner_line(ctx: &Context) -> String {
    use std::os::unix::fs::MetadataExt;
    match ctx
        .path
        .as_deref()
        .and_then(|p| std::fs::symlink_metadata(p).ok())
    {
        Some(meta) => format!(
            "owned by {} group {} with mode {:04o}",
            kernel::describe_uid(meta.uid()),
            meta.gid(),
            meta.mode() & 0o7777
        ),
        None => "its owner is unknown".to_string(),
    }
}

fn file_eacces(call: Call, ctx: &Context) -> Error {
    use std::os::unix::fs::MetadataExt;
    let me = crate::sys::geteuid();
    let want = if ctx.writing { "write" } else { "read" };
    let meta = ctx
        .path
        .as_deref()
        .and_then(|p| std::fs::symlink_metadata(p).ok());
    let cause = match (ctx.creating, meta) {
        (_, Some(meta)) => format!(
            "owned by {} group {} with mode {:04o}: {}; you are {} ({}: EACCES)",
            kernel::describe_uid(meta.uid()),
            meta.gid(),
            meta.mode() & 0o7777,
            who_may(meta.uid(), meta.mode() & 0o777, want),
            kernel::describe_uid(me),
            call.name()
        ),
        (true, None) => format!(
            "{} may not create files in {} ({}: EACCES)",
            kernel::describe_uid(me),
            ctx.path
                .as_deref()
                .and_then(Path::parent)
                .map_or("its directory".into(), |d| d.display().to_string()),
            call.name()
        ),
        (false, None) => format!(
            "{} may not open it ({}: EACCES)",
            kernel::describe_uid(me),
            call.name()
        ),
    };
    Error::new(ErrorKind::PermissionDenied, &ctx.object, cause).with_fix(format!(
        "ask its owner or root to run `shmkit chmod {} MODE`, or run as its owner",
        ctx.object
    ))
}

fn fs_full(call: Call, ctx: &Context) -> Error {
    let dir = ctx
        .path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let asked = ctx.size.map_or("the size asked for".to_string(), |s| {
        format!("{} ({s} bytes)", human(s))
    });
    let shown = dir.display();
    let (cause, fix) = match crate::sys::statvfs(&dir) {
        Ok(fs) => {
            let used = fs.total.saturating_sub(fs.free);
            let on_dev_shm = dir.starts_with("/dev/shm");
            let remove = "remove objects you no longer need (`shmkit ls`)";
            if fs.inodes > 0 && fs.inodes_free == 0 {
                let cause = format!(
                    "{shown} has no free inodes: all {} files its nr_inodes allows exist ({}: ENOSPC)",
                    fs.inodes,
                    call.name()
                );
                let fix = if on_dev_shm {
                    format!(
                        "{remove}, or allow more: `mount -o remount,nr_inodes={} /dev/shm`",
                        fs.inodes.saturating_mul(2)
                    )
                } else {
                    format!("delete files in {shown}")
                };
                (cause, fix)
            } else {
                let cause = if ctx.size.is_some_and(|s| s > fs.total) {
                    format!(
                        "{asked} is more than all of {shown} holds ({} in all, {} used) ({}: ENOSPC)",
                        human(fs.total),
                        human(used),
                        call.name()
                    )
                } else {
                    format!(
                        "{shown} is full: {} of {} used, {} free, not enough for {asked} ({}: ENOSPC)",
                        human(used),
                        human(fs.total),
                        human(fs.available),
                        call.name()
                    )
                };
                let fix = if on_dev_shm {
                    // Room for what is there and what was asked, in KiB as mount's size= takes it.
                    let need = used.saturating_add(ctx.size.unwrap_or(0)).div_ceil(1024);
                    format!("{remove}, or enlarge it: `mount -o remount,size={need}k /dev/shm` (in Docker: --shm-size)")
                } else {
                    format!("free space in {shown} or ask for less")
                };
                (cause, fix)
            }
        }
        Err(_) => (
            format!("no space left for {asked} ({}: ENOSPC)", call.name()),
            "free space on the filesystem or ask for less".to_string(),
        ),
    };
    Error::new(ErrorKind::LimitExceeded, &ctx.object, cause).with_fix(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_explained_errno_has_a_fix_and_one_line() {
        let ctx = Context {
            object: "sysv:5678".into(),
            key: Some(5678),
            size: Some(27),
            creating: true,
            ..Context::default()
        };
        for call in [
            Call::Shmget,
            Call::Shmat,
            Call::ShmctlRmid,
            Call::ShmOpen,
            Call::Open,
            Call::Fallocate,
        ] {
            for errno in [
                libc::EEXIST,
                libc::ENOENT,
                libc::EACCES,
                libc::EPERM,
                libc::EINVAL,
                libc::ENOSPC,
                libc::ENOMEM,
                libc::EIDRM,
                libc::ELOOP,
                libc::EMFILE,
            ] {
                let err = explain(call, &ctx, io::Error::from_raw_os_error(errno));
                let text = err.to_string();
                assert!(err.fix().is_some(), "{call:?} {errno}: {text}");
                assert!(!text.contains('\n'), "{text}");
                assert!(text.starts_with("sysv:5678: "), "{text}");
                assert_eq!(err.errno(), Some(errno));
            }
        }
    }

    #[test]
    fn ipc_set_einval_on_a_live_segment_blames_the_ids_not_the_segment() {
        // An id the user namespace does not map cannot be forced here (root maps every id);
        // the segment is real, so the table must not call it missing.
        let id = crate::sys::sysv::shmget(
            crate::sys::sysv::IPC_PRIVATE,
            16,
            crate::sys::sysv::GetFlags {
                create: true,
                ..Default::default()
            },
            0o600,
        )
        .unwrap();
        let ctx = Context {
            shmid: Some(id),
            ..Context::new(format!("sysv:id={id}"))
        };
        let set = explain(
            Call::ShmctlSet,
            &ctx,
            io::Error::from_raw_os_error(libc::EINVAL),
        );
        crate::sys::sysv::remove(id).unwrap();
        assert_eq!(set.kind(), ErrorKind::InvalidInput, "{set}");
        assert!(set.cause().contains("not a valid id"), "{set}");
        let gone = explain(
            Call::ShmctlSet,
            &ctx,
            io::Error::from_raw_os_error(libc::EINVAL),
        );
        assert_eq!(gone.kind(), ErrorKind::NotFound, "{gone}");
    }

    #[test]
    fn eidrm_says_removed_meanwhile() {
        // EIDRM is a race (IPC_RMID between lookup and use) that no test can force, so the
        // table line is checked here.
        let ctx = Context::new("sysv:id=7");
        let err = explain(Call::Shmat, &ctx, io::Error::from_raw_os_error(libc::EIDRM));
        assert_eq!(err.kind(), ErrorKind::Removed);
        assert_eq!(err.kind().exit_code(), 3);
        assert!(err.cause().contains("removed meanwhile"), "{err}");
        assert!(err.fix().unwrap().contains("create it again"), "{err}");
    }

    #[test]
    fn who_may_names_owner_group_and_everyone() {
        assert_eq!(
            who_may(1000, 0o600, "write"),
            "only uid 1000, root may write it".replace("uid 1000", &kernel::describe_uid(1000))
        );
        assert_eq!(who_may(0, 0o666, "read"), "every user may read it");
        assert!(who_may(5, 0o640, "read").contains("its group"));
    }
}
