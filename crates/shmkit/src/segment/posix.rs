//! POSIX shared memory objects: `shm_open`, files in `/dev/shm`.

use super::errno::{explain, Call, Context};
use super::{
    accept_existing, check_mode, check_owner, check_regular, file_chmod, file_chown, file_stat,
    finish_new_file, map_file, resize_file, Access, CreateOptions, OpenOptions, Segment, Stat,
};
use crate::address::Address;
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::sys::{self, posix::OpenMode, Mapping};
use std::fs::File;

/// A POSIX shared memory object (`shm_open`), a file in the `/dev/shm` tmpfs.
///
/// **Lifetime**: it survives the exit of every process that used it, until `shm_unlink` (then
/// until its last unmap and close) or until that /dev/shm is unmounted — a container's private
/// /dev/shm (64 MiB by default in Docker) dies with the container. It never survives a reboot.
/// Its pages are shmem (meminfo `Shmem`), never freed by drop_caches.
///
/// Dropping the handle unmaps and closes it; it does not unlink the name.
#[derive(Debug)]
pub struct PosixSegment {
    address: Address,
    name: String,
    file: File,
    created: bool,
    writable: bool,
    mapping: Option<Mapping>,
}

fn context(name: &str) -> Context {
    let mut ctx = Context::new(format!("posix:{name}"));
    ctx.path = Some(Address::posix_path(name));
    ctx
}

impl PosixSegment {
    /// Creates the object (or opens an existing one without `exclusive`), sizes it with its
    /// pages allocated, and maps it read-write.
    pub fn create(name: &str, opts: &CreateOptions) -> Result<Self> {
        let address = Address::posix(name)?;
        check_mode(&address, opts.mode)?;
        if opts.hugetlb {
            return Err(Error::new(
                ErrorKind::Unsupported,
                address.to_string(),
                "POSIX shm lives in /dev/shm, a tmpfs without huge pages",
            )
            .with_fix("use a file on a hugetlbfs mount (file:/dev/hugepages/NAME) or sysv:/memfd with huge pages"));
        }
        let mut ctx = context(name);
        ctx.size = Some(opts.size);
        ctx.creating = true;
        ctx.writing = true;
        match sys::posix::shm_open(name, OpenMode::CreateExclusive, opts.mode) {
            Ok(fd) => {
                let file = File::from(fd);
                match finish_new_file(&ctx, &file, opts) {
                    Ok(map) => Ok(PosixSegment {
                        address,
                        name: name.to_string(),
                        file,
                        created: true,
                        writable: true,
                        mapping: Some(map),
                    }),
                    Err(err) => {
                        // Leave nothing half-made behind.
                        let _ = sys::posix::shm_unlink(name);
                        Err(err)
                    }
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && !opts.exclusive => {
                let opened = Self::open(
                    name,
                    &OpenOptions::read_write().allow_foreign_owner(opts.allow_foreign_owner),
                )?;
                accept_existing(opened, opts)
            }
            Err(e) => Err(explain(Call::ShmOpen, &ctx, e)),
        }
    }

    /// Opens an existing object; maps all of it unless [`Access::Metadata`].
    pub fn open(name: &str, opts: &OpenOptions) -> Result<Self> {
        let address = Address::posix(name)?;
        let mut ctx = context(name);
        let writable = opts.access == Access::ReadWrite;
        ctx.writing = writable;
        let path = Address::posix_path(name);
        let not_ours = format!(
            "look at `ls -l {}` and remove it with rm if it does not belong there",
            path.display()
        );
        let file = match sys::posix::shm_open_existing_nonblocking(name, writable) {
            Ok(fd) => File::from(fd),
            // Stat, chmod and rm need no read permission: fall back to an O_PATH handle.
            Err(e) if e.raw_os_error() == Some(libc::EACCES) && opts.access == Access::Metadata => {
                super::file::open_path_only(&path).map_err(|e| explain(Call::ShmOpen, &ctx, e))?
            }
            // glibc reports a directory as EINVAL (from EISDIR): say what is there.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                if let Ok(there) = super::file::open_path_only(&path) {
                    check_regular(&address, &there, not_ours)?;
                }
                return Err(explain(Call::ShmOpen, &ctx, e));
            }
            Err(e) => return Err(explain(Call::ShmOpen, &ctx, e)),
        };
        check_regular(&address, &file, not_ours)?;
        let mut seg = PosixSegment {
            address,
            name: name.to_string(),
            file,
            created: false,
            writable,
            mapping: None,
        };
        if opts.access != Access::Metadata {
            let st = seg.stat()?;
            check_owner(&seg.address, &st, opts.allow_foreign_owner)?;
            ctx.size = Some(st.size);
            seg.mapping = Some(map_file(&ctx, &seg.file, st.size, seg.writable)?);
        }
        Ok(seg)
    }

    /// The name, with its leading `/`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Segment for PosixSegment {
    fn address(&self) -> &Address {
        &self.address
    }

    fn created(&self) -> bool {
        self.created
    }

    fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    fn stat(&self) -> Result<Stat> {
        file_stat(
            Kind::Posix,
            self.address.clone(),
            Some(Address::posix_path(&self.name)),
            &self.file,
        )
    }

    fn resize(&mut self, size: u64) -> Result<()> {
        let mut ctx = context(&self.name);
        ctx.size = Some(size);
        ctx.writing = true;
        resize_file(&ctx, &self.file, &mut self.mapping, self.writable, size)
    }

    fn chmod(&self, mode: u32) -> Result<()> {
        check_mode(&self.address, mode)?;
        file_chmod(&context(&self.name), &self.file, mode)
    }

    fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        file_chown(&context(&self.name), &self.file, uid, gid)
    }

    fn remove(&self) -> Result<()> {
        sys::posix::shm_unlink(&self.name)
            .map_err(|e| explain(Call::ShmUnlink, &context(&self.name), e))
    }
}
