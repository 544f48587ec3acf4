//! `PROCMAP_QUERY` (Linux 6.11+): a process's mappings asked of the kernel one by one, the
//! shared ones and the private mappings of shmem files only, instead of formatting every library
//! mapping as text (a fifth of the scan's CPU).

use super::facts::Known;
use crate::sys;
use crate::DeviceId;
use shmkit_procfs::{MapEntry, MapPath};
use std::os::fd::AsFd;

/// Fills `maps` with the mappings that can name shared memory, asked of the kernel one by one
/// (`PROCMAP_QUERY`) rather than read as text: every shared mapping with its name, and the
/// private mappings of files on our tmpfs and ramfs mounts or on the internal shmem mount
/// (memfds). `Ok(false)` if the process has no mappings at all.
pub(super) fn query_maps(
    pid_dir: std::os::fd::BorrowedFd<'_>,
    known: &Known,
    name: &mut Vec<u8>,
    maps: &mut Vec<MapEntry>,
) -> std::io::Result<bool> {
    use sys::procmap::{query, Vma, FILE_BACKED, SHARED};
    let fd = sys::dir::open_at(pid_dir, c"maps")?;
    let entry = |v: &Vma, name: &[u8]| {
        // Escaped as the walk's paths and the mount points are (`\xNN`).
        let name = crate::address::escaped(name);
        let path = if name.is_empty() {
            MapPath::None
        } else if name.starts_with('/') {
            match name.strip_suffix(" (deleted)") {
                Some(p) => MapPath::Path {
                    path: p.to_string(),
                    deleted: true,
                },
                None => MapPath::Path {
                    path: name.into_owned(),
                    deleted: false,
                },
            }
        } else {
            MapPath::Special(name.into_owned())
        };
        MapEntry {
            start: v.start,
            end: v.end,
            readable: v.readable,
            writable: v.writable,
            executable: v.executable,
            shared: v.shared,
            offset: v.offset,
            dev_major: v.dev_major,
            dev_minor: v.dev_minor,
            inode: v.inode,
            path,
        }
    };
    let mut addr = 0;
    while let Some(v) = query(fd.as_fd(), addr, SHARED, Some(name))? {
        maps.push(entry(&v, name));
        addr = v.end;
    }
    let mut any = !maps.is_empty();
    addr = 0;
    while let Some(v) = query(fd.as_fd(), addr, FILE_BACKED, None)? {
        any = true;
        let dev = DeviceId::new(v.dev_major, v.dev_minor);
        if !v.shared
            && v.inode != 0
            && (known.shmem_devs.contains_key(&dev) || known.internal_shm_dev == Some(dev))
        {
            if let Some(named) = query(fd.as_fd(), v.start, FILE_BACKED, Some(name))? {
                maps.push(entry(&named, name));
            }
        }
        addr = v.end;
    }
    if !any {
        any = query(fd.as_fd(), 0, 0, None)?.is_some();
    }
    Ok(any)
}
