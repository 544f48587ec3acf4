//! Regular files mapped `MAP_SHARED`: the seed's `./shm.txt`.

use super::errno::{explain, Call, Context};
use super::{
    accept_existing, check_mode, check_owner, check_regular, file_chmod, file_chown, file_stat,
    finish_new_file, map_file, resize_file, Access, CreateOptions, OpenOptions, Segment, Stat,
};
use crate::address::Address;
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::sys::Mapping;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A regular file mapped `MAP_SHARED`.
///
/// **Lifetime**: it is a file: it survives process exit, container restart (if its filesystem
/// does: a volume, not a container's writable layer, which `docker rm` deletes) and reboot —
/// but only what reached the disk: call [`Segment::flush`] (`msync`) for that. Its pages are
/// ordinary page cache (meminfo `Cached`), reclaimable once written back. On a tmpfs it is
/// shmem instead and dies with the mount.
///
/// Dropping the handle unmaps and closes it; it does not delete the file.
#[derive(Debug)]
pub struct FileSegment {
    address: Address,
    path: PathBuf,
    file: File,
    created: bool,
    writable: bool,
    mapping: Option<Mapping>,
}

fn context(path: &Path) -> Context {
    let mut ctx = Context::new(format!("file:{}", path.display()));
    ctx.path = Some(path.to_path_buf());
    ctx
}

/// Opens `path` without following a final symlink, for stat, chmod and chown only (`O_PATH`):
/// needs no read permission on the object.
pub(super) fn open_path_only(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

impl FileSegment {
    /// Creates the file (`O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC`; or opens an existing one
    /// without `exclusive`), allocates `size` bytes, and maps it read-write.
    ///
    /// ```
    /// use shmkit::segment::{CreateOptions, FileSegment, Segment};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("shm.txt");
    /// let seg = FileSegment::create(&path, &CreateOptions::new(501).exclusive(true))?;
    /// seg.write_at(0, b"abcdefghijklmnopqrstuvwxyz")?;
    /// seg.flush()?; // msync: now it is in the file
    /// assert_eq!(&std::fs::read(&path)?[..26], b"abcdefghijklmnopqrstuvwxyz");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(path: &Path, opts: &CreateOptions) -> Result<Self> {
        let address = Address::File(path.to_path_buf());
        check_mode(&address, opts.mode)?;
        let mut ctx = context(path);
        ctx.size = Some(opts.size);
        ctx.creating = true;
        ctx.writing = true;
        if opts.hugetlb {
            return Err(Error::new(
                ErrorKind::Unsupported,
                address.to_string(),
                "a file's pages are what its filesystem gives; shmkit cannot ask for huge pages here",
            )
            .with_fix("put the file on a hugetlbfs mount (for example /dev/hugepages)"));
        }
        let created = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(opts.mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path);
        match created {
            Ok(file) => match finish_new_file(&ctx, &file, opts) {
                Ok(map) => Ok(FileSegment {
                    address,
                    path: path.to_path_buf(),
                    file,
                    created: true,
                    writable: true,
                    mapping: Some(map),
                }),
                Err(err) => {
                    // Leave nothing half-made behind.
                    let _ = std::fs::remove_file(path);
                    Err(err)
                }
            },
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && !opts.exclusive => {
                let opened = Self::open(
                    path,
                    &OpenOptions::read_write().allow_foreign_owner(opts.allow_foreign_owner),
                )?;
                accept_existing(opened, opts)
            }
            Err(e) => Err(explain(Call::Open, &ctx, e)),
        }
    }

    /// Opens an existing regular file (never through a symlink); maps all of it unless
    /// [`Access::Metadata`].
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Self> {
        let address = Address::File(path.to_path_buf());
        let mut ctx = context(path);
        ctx.writing = opts.access == Access::ReadWrite;
        // O_NONBLOCK: a FIFO planted at the path would otherwise hang the open; it is refused
        // below as not a regular file, and mapping a regular file ignores the flag.
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(opts.access == Access::ReadWrite)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path);
        let file = match opened {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::EACCES) && opts.access == Access::Metadata => {
                open_path_only(path).map_err(|e| explain(Call::Open, &ctx, e))?
            }
            Err(e) => return Err(explain(Call::Open, &ctx, e)),
        };
        let mut seg = FileSegment {
            address,
            path: path.to_path_buf(),
            file,
            created: false,
            writable: opts.access == Access::ReadWrite,
            mapping: None,
        };
        check_regular(&seg.address, &seg.file, "address a regular file".into())?;
        let st = seg.stat()?;
        if opts.access != Access::Metadata {
            check_owner(&seg.address, &st, opts.allow_foreign_owner)?;
            ctx.size = Some(st.size);
            seg.mapping = Some(map_file(&ctx, &seg.file, st.size, seg.writable)?);
        }
        Ok(seg)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Segment for FileSegment {
    fn address(&self) -> &Address {
        &self.address
    }

    fn created(&self) -> bool {
        self.created
    }

    fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    fn flush(&self) -> Result<()> {
        match &self.mapping {
            Some(map) => map
                .flush()
                .map_err(|e| explain(Call::Msync, &context(&self.path), e)),
            None => Ok(()),
        }
    }

    fn stat(&self) -> Result<Stat> {
        file_stat(
            kind_of_file(&self.path),
            self.address.clone(),
            Some(self.path.clone()),
            &self.file,
        )
    }

    fn resize(&mut self, size: u64) -> Result<()> {
        let mut ctx = context(&self.path);
        ctx.size = Some(size);
        ctx.writing = true;
        resize_file(&ctx, &self.file, &mut self.mapping, self.writable, size)
    }

    fn chmod(&self, mode: u32) -> Result<()> {
        file_chmod(&context(&self.path), &self.file, mode)
    }

    fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        file_chown(&context(&self.path), &self.file, uid, gid)
    }

    fn remove(&self) -> Result<()> {
        std::fs::remove_file(&self.path).map_err(|e| explain(Call::Unlink, &context(&self.path), e))
    }
}

/// The kind the scan gives a file: a POSIX object in `/dev/shm`, a tmpfs file on a tmpfs (or
/// ramfs) elsewhere, else a file, so that `stat file:PATH` and `ls` agree on its kind.
fn kind_of_file(path: &std::path::Path) -> Kind {
    use crate::sys::fs::{filesystem_magic, RAMFS_MAGIC, TMPFS_MAGIC};
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match filesystem_magic(&canonical) {
        Ok(TMPFS_MAGIC | RAMFS_MAGIC)
            if canonical.parent() == Some(std::path::Path::new("/dev/shm")) =>
        {
            Kind::Posix
        }
        Ok(TMPFS_MAGIC | RAMFS_MAGIC) => Kind::Tmpfs,
        _ => Kind::File,
    }
}
