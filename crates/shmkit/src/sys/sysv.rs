//! System V shared memory: `shmget`, `shmat`, `shmdt`, `shmctl`, `ftok`.
//!
//! A segment lives in the IPC namespace of the process that created it, until `IPC_RMID` and
//! its last detach, or until that namespace ends. Its size is fixed at creation: the kernel
//! ignores `shm_segsz` in `IPC_SET`.
//!
//! # Safety
//!
//! `shmid_ds` buffers are zero-initialised locals that the kernel fills; attachments are owned
//! by [`Mapping`], which detaches exactly once.

use super::{cvt, Mapping};
use std::io;
use std::ptr::NonNull;

/// `IPC_PRIVATE`: the key that always creates a new segment.
pub const IPC_PRIVATE: i32 = libc::IPC_PRIVATE;
/// Mode bit set by the kernel when a segment was removed (`IPC_RMID`) but is still attached.
pub const SHM_DEST: u32 = 0o1000;
/// Mode bit set by the kernel while a segment is locked in memory (`SHM_LOCK`).
pub const SHM_LOCKED: u32 = 0o2000;

/// Flags for [`shmget`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetFlags {
    /// `IPC_CREAT`: create the segment if the key has none.
    pub create: bool,
    /// `IPC_EXCL`: with `create`, fail with `EEXIST` if the key already has a segment.
    pub exclusive: bool,
    /// `SHM_HUGETLB`: back the segment with huge pages (needs `vm.nr_hugepages` and privilege).
    pub hugetlb: bool,
    /// `SHM_NORESERVE`: do not reserve swap space for it.
    pub noreserve: bool,
}

/// `shmget(key, size, flags | mode)`—Finds or creates the segment for `key`; returns its id.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shmget.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/shmget.2.html)
pub fn shmget(key: i32, size: u64, flags: GetFlags, mode: u32) -> io::Result<i32> {
    let size = usize::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut shmflg = (mode & 0o777) as libc::c_int;
    if flags.create {
        shmflg |= libc::IPC_CREAT;
    }
    if flags.exclusive {
        shmflg |= libc::IPC_EXCL;
    }
    if flags.hugetlb {
        shmflg |= libc::SHM_HUGETLB;
    }
    if flags.noreserve {
        shmflg |= libc::SHM_NORESERVE;
    }
    // SAFETY: shmget takes no pointers.
    cvt(unsafe { libc::shmget(key, size, shmflg) })
}

/// `shmat(id, NULL, readonly ? SHM_RDONLY : 0)`—Attaches segment `id`; detached on drop.
///
/// The size comes from `IPC_STAT` just before: a segment cannot change size, so the mapping's
/// bounds are the segment's.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/shmat.html)
/// - [Linux](https://man7.org/linux/man-pages/man2/shmat.2.html)
pub fn shmat(id: i32, readonly: bool) -> io::Result<Mapping> {
    let size = stat(id)?.size;
    let len = usize::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
    let flags = if readonly { libc::SHM_RDONLY } else { 0 };
    // SAFETY: a NULL address lets the kernel choose a fresh range, so no existing memory of
    // ours is replaced.
    let ptr = unsafe { libc::shmat(id, std::ptr::null(), flags) };
    if ptr as isize == -1 {
        return Err(io::Error::last_os_error());
    }
    let ptr =
        NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
    // SAFETY: ptr comes from a successful shmat of a segment of `len` bytes, owned from now on
    // by the Mapping, which detaches it on drop.
    Ok(unsafe { Mapping::from_raw(ptr, len, !readonly, true) })
}

/// What `shmctl(IPC_STAT)` tells of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentStat {
    /// The key it was created with (`IPC_PRIVATE` = 0).
    pub key: i32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Creator user id.
    pub cuid: u32,
    /// Creator group id.
    pub cgid: u32,
    /// Permission bits plus `SHM_DEST` / `SHM_LOCKED`.
    pub mode: u32,
    /// Size in bytes, fixed at creation.
    pub size: u64,
    /// Last attach time (unix seconds, 0 = never).
    pub atime: i64,
    /// Last detach time (unix seconds, 0 = never).
    pub dtime: i64,
    /// Creation or last `IPC_SET` time (unix seconds).
    pub ctime: i64,
    /// The creator's pid.
    pub cpid: u32,
    /// The pid of the last `shmat`/`shmdt`.
    pub lpid: u32,
    /// How many attachments exist now.
    pub nattch: u64,
}

/// `shmctl(id, IPC_STAT, &buf)`—Everything the kernel keeps about segment `id`.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/shmctl.2.html)
pub fn stat(id: i32) -> io::Result<SegmentStat> {
    let mut ds = std::mem::MaybeUninit::<libc::shmid_ds>::zeroed();
    // SAFETY: `ds` is a writable shmid_ds the kernel fills on success.
    cvt(unsafe { libc::shmctl(id, libc::IPC_STAT, ds.as_mut_ptr()) })?;
    // SAFETY: IPC_STAT succeeded and filled the struct; it was zeroed before in any case.
    let ds = unsafe { ds.assume_init() };
    Ok(SegmentStat {
        key: ds.shm_perm.__key,
        uid: ds.shm_perm.uid,
        gid: ds.shm_perm.gid,
        cuid: ds.shm_perm.cuid,
        cgid: ds.shm_perm.cgid,
        mode: u32::from(ds.shm_perm.mode),
        size: ds.shm_segsz as u64,
        atime: ds.shm_atime,
        dtime: ds.shm_dtime,
        ctime: ds.shm_ctime,
        cpid: ds.shm_cpid as u32,
        lpid: ds.shm_lpid as u32,
        nattch: ds.shm_nattch as u64,
    })
}

/// `shmctl(id, IPC_SET, &buf)`—Sets owner, group and permission bits of segment `id`.
///
/// Only these three fields are honoured by the kernel; it ignores `shm_segsz`, which is why the
/// seed's attempt to double a segment's size does nothing.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/shmctl.2.html)
pub fn set(id: i32, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
    set_with_size(id, uid, gid, mode, None)
}

/// `IPC_SET` as the seed's `shm.c` calls it, with a new `shm_segsz` that the kernel ignores;
/// kept so that `shmkit lab` can show it on a real segment.
pub fn set_with_size(id: i32, uid: u32, gid: u32, mode: u32, size: Option<u64>) -> io::Result<()> {
    let mut ds = std::mem::MaybeUninit::<libc::shmid_ds>::zeroed();
    // SAFETY: `ds` is a writable shmid_ds filled by IPC_STAT on success.
    cvt(unsafe { libc::shmctl(id, libc::IPC_STAT, ds.as_mut_ptr()) })?;
    // SAFETY: IPC_STAT succeeded.
    let mut ds = unsafe { ds.assume_init() };
    ds.shm_perm.uid = uid;
    ds.shm_perm.gid = gid;
    ds.shm_perm.mode = (mode & 0o777) as _;
    if let Some(size) = size {
        ds.shm_segsz = size as _;
    }
    // SAFETY: `ds` is an initialised shmid_ds the kernel only reads.
    cvt(unsafe { libc::shmctl(id, libc::IPC_SET, &mut ds) }).map(drop)
}

/// `shmctl(id, IPC_RMID, NULL)`—Marks segment `id` for destruction: the key is freed at once,
/// the memory at the last detach.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/shmctl.2.html)
pub fn remove(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID ignores the buffer argument, so NULL is allowed.
    cvt(unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) }).map(drop)
}

/// The kernel's totals over every segment of this IPC namespace (`SHM_INFO`), in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmTotals {
    /// Pages of all segments in memory.
    pub resident_pages: u64,
    /// Pages of all segments in swap.
    pub swapped_pages: u64,
}

/// `struct shm_info` of `<sys/shm.h>`, which the `libc` crate does not define.
#[repr(C)]
#[derive(Default)]
struct ShmInfo {
    used_ids: libc::c_int,
    shm_tot: libc::c_ulong,
    shm_rss: libc::c_ulong,
    shm_swp: libc::c_ulong,
    swap_attempts: libc::c_ulong,
    swap_successes: libc::c_ulong,
}

/// `shmctl(0, SHM_INFO, &info)`—Resident and swapped pages of every segment of this IPC
/// namespace: the kernel sums them without formatting `/proc/sysvipc/shm`, so the memory one
/// removal gives back is the difference of two calls around it.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/shmctl.2.html)
pub fn totals() -> io::Result<ShmTotals> {
    const SHM_INFO: libc::c_int = 14;
    let mut info = ShmInfo::default();
    // SAFETY: with SHM_INFO the kernel writes one `struct shm_info` through the pointer, and
    // `info` is exactly that struct (repr(C), same fields), writable and live for the call.
    cvt(unsafe {
        libc::shmctl(
            0,
            SHM_INFO,
            (&mut info as *mut ShmInfo).cast::<libc::shmid_ds>(),
        )
    })?;
    // unsigned long is 64 bits here, 32 on 32-bit targets.
    #[allow(clippy::useless_conversion)]
    Ok(ShmTotals {
        resident_pages: u64::from(info.shm_rss),
        swapped_pages: u64::from(info.shm_swp),
    })
}

/// `shmctl(id, SHM_LOCK | SHM_UNLOCK, NULL)`—Keeps segment `id` from being swapped out, or
/// allows it again.
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man2/shmctl.2.html)
pub fn lock(id: i32, locked: bool) -> io::Result<()> {
    let cmd = if locked {
        libc::SHM_LOCK
    } else {
        libc::SHM_UNLOCK
    };
    // SAFETY: SHM_LOCK/SHM_UNLOCK ignore the buffer argument.
    cvt(unsafe { libc::shmctl(id, cmd, std::ptr::null_mut()) }).map(drop)
}

/// `ftok(path, proj)`—The System V key that programs derive from a path and a project byte.
///
/// `ftok` is not a system call: glibc stats the file and packs the low 16 bits of its inode,
/// the low 8 bits of its device and `proj` into the key, so the key changes if the file is
/// replaced. The same is done here with rustix's `stat`.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/ftok.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/ftok.3.html)
pub fn ftok(path: &std::path::Path, proj: u8) -> io::Result<i32> {
    let st = rustix::fs::stat(path)?;
    let key =
        (st.st_ino as u32 & 0xffff) | ((st.st_dev as u32 & 0xff) << 16) | (u32::from(proj) << 24);
    Ok(key as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftok_derives_the_key_glibc_derives() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = vec![
            std::path::PathBuf::from("/"),
            std::path::PathBuf::from("/proc/self"),
        ];
        for i in 0..8 {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, b"").unwrap();
            paths.push(p);
        }
        for path in &paths {
            let c_path = super::super::cstring(path.as_os_str().as_encoded_bytes()).unwrap();
            for proj in [1u8, b'A', 0x7f, 0x80, 0xff] {
                // SAFETY: `c_path` is NUL-terminated and outlives the call.
                let theirs = unsafe { libc::ftok(c_path.as_ptr(), libc::c_int::from(proj)) };
                assert_eq!(
                    ftok(path, proj).unwrap(),
                    theirs,
                    "{} {proj}",
                    path.display()
                );
            }
        }
        let e = ftok(&dir.path().join("missing"), 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}
