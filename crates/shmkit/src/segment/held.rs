//! Objects reached through a process that holds them: a memfd, shared anonymous memory, a
//! deleted tmpfs file. They have no name of their own, but `/proc/PID/fd/FD` and
//! `/proc/PID/map_files/START-END` open the very file the holder has.

use super::errno::{explain, Call, Context};
use super::{
    check_owner, file_chmod, file_chown, file_stat, map_file, resize_file, Access, OpenOptions,
    Segment, Stat,
};
use crate::address::{Address, Handle, HeldAddress};
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::sys::Mapping;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// An object opened through one of its holders ([`HeldAddress`]).
///
/// **Lifetime**: that of its kind (a memfd or shared anonymous memory is freed at the last
/// close and unmap; a deleted file likewise). Opening it here holds it too, until the handle
/// is dropped. It has no name to remove: [`Segment::remove`] refuses.
#[derive(Debug)]
pub struct HeldSegment {
    address: Address,
    file: File,
    writable: bool,
    mapping: Option<Mapping>,
}

fn gone(held: &HeldAddress, what: String) -> Error {
    Error::new(
        ErrorKind::NotFound,
        held.to_string(),
        format!("process {} {what}", held.pid),
    )
    .with_fix(format!(
        "`shmkit ls --kind {}` lists where each such object is held now",
        held.kind
    ))
}

/// The `/proc` link that reaches the object, and what the kernel says it points to.
fn locate(held: &HeldAddress) -> Result<(PathBuf, String)> {
    let proc_dir = PathBuf::from(format!("/proc/{}", held.pid));
    let link = match held.handle {
        Handle::Fd(fd) => proc_dir.join(format!("fd/{fd}")),
        Handle::Map(start) => {
            let maps = std::fs::read_to_string(proc_dir.join("maps"))
                .map_err(|_| gone(held, "does not exist (it exited?)".into()))?;
            let entry = maps
                .lines()
                .filter_map(|l| shmkit_procfs::maps::parse_line(l, 0).ok())
                .find(|e| e.start == start)
                .ok_or_else(|| gone(held, format!("has no mapping starting at 0x{start:x}")))?;
            proc_dir.join(format!("map_files/{:x}-{:x}", entry.start, entry.end))
        }
    };
    let target = std::fs::read_link(&link).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => gone(
            held,
            match held.handle {
                Handle::Fd(fd) => format!("has no descriptor {fd} (it exited or closed it)"),
                Handle::Map(start) => format!("has no mapping starting at 0x{start:x}"),
            },
        ),
        _ => explain(Call::Open, &Context::new(held.to_string()), e),
    })?;
    Ok((link, target.to_string_lossy().into_owned()))
}

/// The kind of object a holder's link points to, as the scan would call it.
fn kind_of_target(target: &str) -> Option<Kind> {
    if target.starts_with("/memfd:") {
        Some(Kind::Memfd)
    } else if target == "/dev/zero (deleted)" || target.starts_with("/[anon_shmem:") {
        Some(Kind::SharedAnon)
    } else if target.starts_with("/SYSV") || !target.starts_with('/') {
        None
    } else {
        // A file of a tmpfs: whether the scan calls it posix or tmpfs depends on the mount,
        // which the address's kind already says.
        Some(Kind::Tmpfs)
    }
}

impl HeldSegment {
    /// Opens the object `held` names through its holder; maps all of it unless
    /// [`Access::Metadata`]. Reading another process's descriptors and mappings needs the
    /// rights `ptrace` would (root, or the same user).
    pub fn open(held: &HeldAddress, opts: &OpenOptions) -> Result<Self> {
        let address = Address::Held(*held);
        let (link, target) = locate(held)?;
        let found = kind_of_target(&target);
        let matches = match (held.kind, found) {
            (Kind::Posix | Kind::Tmpfs, Some(Kind::Tmpfs)) => true,
            (want, Some(got)) => want == got,
            (_, None) => false,
        };
        if !matches {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                address.to_string(),
                format!(
                    "what process {} holds there is not a {} object ({})",
                    held.pid,
                    held.kind,
                    crate::address::escape_bytes(target.as_bytes())
                ),
            )
            .with_fix("`shmkit ls` lists each object with the address that reaches it"));
        }
        let mut ctx = Context::new(address.to_string());
        ctx.writing = opts.access == Access::ReadWrite;
        // The link is the kernel's own way to the file, so it is followed (no O_NOFOLLOW);
        // O_PATH asks for no permission on the file itself, only to see the holder's links.
        let mut open = std::fs::OpenOptions::new();
        open.read(true).write(opts.access == Access::ReadWrite);
        let flags = match opts.access {
            Access::Metadata => libc::O_PATH | libc::O_CLOEXEC,
            _ => libc::O_CLOEXEC | libc::O_NONBLOCK,
        };
        let file = open
            .custom_flags(flags)
            .open(&link)
            .map_err(|e| explain(Call::Open, &ctx, e))?;
        let mut seg = HeldSegment {
            address,
            file,
            writable: opts.access == Access::ReadWrite,
            mapping: None,
        };
        let st = seg.stat()?;
        if opts.access != Access::Metadata {
            check_owner(&seg.address, &st, opts.allow_foreign_owner)?;
            ctx.size = Some(st.size);
            seg.mapping = Some(map_file(&ctx, &seg.file, st.size, seg.writable)?);
        }
        Ok(seg)
    }
}

impl Segment for HeldSegment {
    fn address(&self) -> &Address {
        &self.address
    }

    fn created(&self) -> bool {
        false
    }

    fn mapping(&self) -> Option<&Mapping> {
        self.mapping.as_ref()
    }

    fn stat(&self) -> Result<Stat> {
        file_stat(self.kind(), self.address.clone(), None, &self.file)
    }

    fn resize(&mut self, size: u64) -> Result<()> {
        let mut ctx = Context::new(self.address.to_string());
        ctx.size = Some(size);
        ctx.writing = true;
        resize_file(&ctx, &self.file, &mut self.mapping, self.writable, size)
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
        Err(Error::new(
            ErrorKind::InvalidInput,
            self.address.to_string(),
            "it has no name to remove: it is freed when every process that holds it closes and unmaps it",
        )
        .with_fix("end or restart the processes `shmkit stat` lists as its holders"))
    }
}
