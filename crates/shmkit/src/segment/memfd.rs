//! memfds: anonymous shmem files (`memfd_create`), reachable only through their descriptors.

use super::errno::{explain, Call, Context};
use super::{
    check_mode, file_chmod, file_chown, file_stat, finish_new_file, resize_file, CreateOptions,
    Segment, Stat,
};
use crate::address::Address;
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::sys::{self, Mapping};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

/// A memfd: shmem with a name for diagnostics only (`/memfd:NAME (deleted)` in
/// `/proc/PID/maps`), shared by passing its descriptor (fork, `SCM_RIGHTS`).
///
/// **Lifetime**: it lives while a descriptor or a mapping of it exists, and is freed at the last
/// close and unmap: it does not survive its processes, a container restart or a reboot. Its
/// pages are shmem (meminfo `Shmem`). It has no name others can open, so [`Segment::remove`]
/// has nothing to do: dropping every handle frees it.
///
/// ```
/// use shmkit::segment::{CreateOptions, MemfdSegment, Segment};
///
/// let seg = MemfdSegment::create("scratch", &CreateOptions::new(4096))?;
/// seg.write_at(4090, b"abcdef")?;
/// assert!(seg.write_at(4091, b"abcdef").is_err()); // bounds-checked
/// # Ok::<(), shmkit::Error>(())
/// ```
#[derive(Debug)]
pub struct MemfdSegment {
    address: Address,
    file: File,
    mapping: Option<Mapping>,
}

impl MemfdSegment {
    /// Creates a memfd of `size` bytes (pages allocated now) and maps it read-write.
    pub fn create(name: &str, opts: &CreateOptions) -> Result<Self> {
        let address = Address::Memfd(name.to_string());
        check_mode(&address, opts.mode)?;
        let mut ctx = Context::new(address.to_string());
        ctx.size = Some(opts.size);
        ctx.creating = true;
        ctx.hugetlb = opts.hugetlb;
        let fd = sys::memfd::memfd_create(name, false, opts.hugetlb)
            .map_err(|e| explain(Call::MemfdCreate, &ctx, e))?;
        let file = File::from(fd);
        let map = finish_new_file(&ctx, &file, opts)?;
        Ok(MemfdSegment {
            address,
            file,
            mapping: Some(map),
        })
    }

    /// The descriptor, to pass to another process.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// The error for opening a memfd by name: there is no such thing.
pub(super) fn cannot_open(addr: &Address) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        addr.to_string(),
        "a memfd has no name other processes can open; it is reached only through its descriptor",
    )
    .with_fix("create it with segment::create and pass its descriptor (fork or SCM_RIGHTS)")
}

impl Segment for MemfdSegment {
    fn address(&self) -> &Address {
        &self.address
    }

    fn created(&self) -> bool {
        true
    }

    fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    fn stat(&self) -> Result<Stat> {
        file_stat(Kind::Memfd, self.address.clone(), None, &self.file)
    }

    fn resize(&mut self, size: u64) -> Result<()> {
        let mut ctx = Context::new(self.address.to_string());
        ctx.size = Some(size);
        resize_file(&ctx, &self.file, &mut self.mapping, true, size)
    }

    fn chmod(&self, mode: u32) -> Result<()> {
        file_chmod(&Context::new(self.address.to_string()), &self.file, mode)
    }

    fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        file_chown(
            &Context::new(self.address.to_string()),
            &self.file,
            uid,
            gid,
        )
    }

    fn remove(&self) -> Result<()> {
        Ok(())
    }
}
