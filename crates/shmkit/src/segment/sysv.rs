//! System V segments: `shmget`, `shmat`, `shmctl`.

use super::errno::{explain, Call, Context};
use super::{
    check_mode, check_owner, kernel, Access, CreateOptions, OpenOptions, Segment, Stat, SysvStat,
};
use crate::address::{Address, SysvAddress};
use crate::error::{Error, ErrorKind, Result};
use crate::scan::Kind;
use crate::sys::{self, sysv::GetFlags, Mapping};

/// A System V shared memory segment.
///
/// **Lifetime**: it lives in the IPC namespace that created it and survives the exit of every
/// process that used it, until `IPC_RMID` (then until its last detach) or until the namespace
/// ends — a container's private IPC namespace ends when its last process exits, so a container
/// restart destroys it (unless `--ipc=host`/`shareable`). It never survives a reboot. Its size
/// is fixed at creation. Its pages are shmem (meminfo `Shmem`), never freed by drop_caches.
/// With `kernel.shm_rmid_forced=1` the kernel removes it when no process is attached.
///
/// Dropping the handle detaches (`shmdt`); it does not remove the segment.
#[derive(Debug)]
pub struct SysvSegment {
    address: Address,
    id: i32,
    created: bool,
    mapping: Option<Mapping>,
}

/// The key an address names, or why it names none.
fn resolve_key(addr: &SysvAddress, ctx: &Context) -> Result<Option<i32>> {
    match addr {
        SysvAddress::Key(key) => Ok(Some(*key)),
        SysvAddress::Private => Ok(Some(sys::sysv::IPC_PRIVATE)),
        SysvAddress::Id(_) => Ok(None),
        SysvAddress::Ftok { path, proj } => sys::sysv::ftok(path, *proj)
            .map(Some)
            .map_err(|e| explain(Call::Ftok, ctx, e)),
    }
}

impl SysvSegment {
    /// Creates a segment (or opens the key's existing one without `exclusive`) and attaches
    /// it read-write.
    ///
    /// ```
    /// use shmkit::address::SysvAddress;
    /// use shmkit::segment::{CreateOptions, Segment, SysvSegment};
    ///
    /// let seg = SysvSegment::create(&SysvAddress::Private, &CreateOptions::new(27))?;
    /// seg.write_at(0, b"Hello!")?;
    /// assert_eq!(seg.stat()?.sysv.unwrap().nattch, 1);
    /// seg.remove()?; // IPC_RMID: gone at the detach when `seg` drops
    /// # Ok::<(), shmkit::Error>(())
    /// ```
    pub fn create(addr: &SysvAddress, opts: &CreateOptions) -> Result<Self> {
        let address = Address::Sysv(addr.clone());
        check_mode(&address, opts.mode)?;
        let mut ctx = Context::new(address.to_string());
        ctx.size = Some(opts.size);
        ctx.creating = true;
        ctx.hugetlb = opts.hugetlb;
        ctx.writing = true;
        let Some(key) = resolve_key(addr, &ctx)? else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                address.to_string(),
                "an id names an existing segment; the kernel picks ids at creation",
            )
            .with_fix(
                "create by key (sysv:5678) or with sysv:private, then use the id it prints",
            ));
        };
        ctx.key = Some(key);
        // Always try an exclusive create first: then we know whether we made the segment (and
        // must remove it if a later step fails) or met an existing one (and must check it).
        let flags = GetFlags {
            create: true,
            exclusive: true,
            hugetlb: opts.hugetlb,
            noreserve: false,
        };
        match sys::sysv::shmget(key, opts.size, flags, opts.mode) {
            Ok(id) => {
                let address = match addr {
                    SysvAddress::Private => Address::Sysv(SysvAddress::Id(id)),
                    _ => address,
                };
                let mut seg = SysvSegment {
                    address,
                    id,
                    created: true,
                    mapping: None,
                };
                ctx.shmid = Some(id);
                if !opts.attach && !opts.prefault {
                    return Ok(seg);
                }
                if let Err(err) = seg.attach(&ctx, false, opts.prefault) {
                    // Leave nothing half-made behind.
                    let _ = sys::sysv::remove(id);
                    return Err(err);
                }
                Ok(seg)
            }
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && !opts.exclusive => {
                let id =
                    sys::sysv::shmget(key, opts.size, GetFlags::default(), 0).map_err(|e| {
                        explain(
                            Call::Shmget,
                            &Context {
                                creating: false,
                                ..ctx.clone()
                            },
                            e,
                        )
                    })?;
                ctx.shmid = Some(id);
                let mut seg = SysvSegment {
                    address,
                    id,
                    created: false,
                    mapping: None,
                };
                check_owner(&seg.address, &seg.stat()?, opts.allow_foreign_owner)?;
                if opts.attach || opts.prefault {
                    seg.attach(&ctx, false, opts.prefault)?;
                }
                Ok(seg)
            }
            Err(e) => Err(explain(Call::Shmget, &ctx, e)),
        }
    }

    /// Opens an existing segment by key or id; attaches it unless [`Access::Metadata`].
    pub fn open(addr: &SysvAddress, opts: &OpenOptions) -> Result<Self> {
        let address = Address::Sysv(addr.clone());
        let mut ctx = Context::new(address.to_string());
        ctx.writing = opts.access == Access::ReadWrite;
        let id = match addr {
            SysvAddress::Private => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    address.to_string(),
                    "sysv:private creates a new segment; it never names an existing one",
                )
                .with_fix("address the segment by id: sysv:id=SHMID (`shmkit ls` lists them)"))
            }
            SysvAddress::Id(id) => {
                // IPC_STAT proves the id exists before anything else; a segment we may not read
                // still shows in /proc/sysvipc/shm, and the error explains who may.
                ctx.shmid = Some(*id);
                match sys::sysv::stat(*id) {
                    Ok(_) => {}
                    Err(e)
                        if e.raw_os_error() == Some(libc::EACCES)
                            && opts.access == Access::Metadata => {}
                    Err(e) => return Err(explain(Call::ShmctlStat, &ctx, e)),
                }
                *id
            }
            _ => {
                let key = resolve_key(addr, &ctx)?.unwrap_or(0);
                ctx.key = Some(key);
                sys::sysv::shmget(key, 0, GetFlags::default(), 0)
                    .map_err(|e| explain(Call::Shmget, &ctx, e))?
            }
        };
        ctx.shmid = Some(id);
        let mut seg = SysvSegment {
            address,
            id,
            created: false,
            mapping: None,
        };
        if opts.access != Access::Metadata {
            check_owner(&seg.address, &seg.stat()?, opts.allow_foreign_owner)?;
            seg.attach(&ctx, opts.access == Access::ReadOnly, false)?;
        }
        Ok(seg)
    }

    /// The segment id.
    pub fn id(&self) -> i32 {
        self.id
    }

    fn context(&self) -> Context {
        let mut ctx = Context::new(self.address.to_string());
        ctx.shmid = Some(self.id);
        ctx
    }

    fn attach(&mut self, ctx: &Context, readonly: bool, prefault: bool) -> Result<()> {
        let map = sys::sysv::shmat(self.id, readonly).map_err(|e| explain(Call::Shmat, ctx, e))?;
        if prefault {
            super::populate(&ctx.object, &map)?;
        }
        self.mapping = Some(map);
        Ok(())
    }
}

impl Segment for SysvSegment {
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
        let st = match sys::sysv::stat(self.id) {
            Ok(st) => st,
            // IPC_STAT needs read permission; /proc/sysvipc/shm shows every segment of the
            // namespace, like `ipcs` does.
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                let line = kernel::sysv_segments()
                    .into_iter()
                    .find(|s| s.shmid == self.id)
                    .ok_or_else(|| explain(Call::ShmctlStat, &self.context(), e))?;
                sys::sysv::SegmentStat {
                    key: line.key,
                    uid: line.uid,
                    gid: line.gid,
                    cuid: line.cuid,
                    cgid: line.cgid,
                    mode: line.perms,
                    size: line.size,
                    atime: line.atime,
                    dtime: line.dtime,
                    ctime: line.ctime,
                    cpid: line.cpid,
                    lpid: line.lpid,
                    nattch: line.nattch,
                }
            }
            Err(e) => return Err(explain(Call::ShmctlStat, &self.context(), e)),
        };
        Ok(Stat {
            kind: Kind::Sysv,
            address: Address::Sysv(SysvAddress::Id(self.id)),
            size: st.size,
            uid: st.uid,
            gid: st.gid,
            mode: st.mode & 0o777,
            lifetime: Kind::Sysv.lifetime(),
            sysv: Some(SysvStat {
                key: st.key,
                shmid: self.id,
                cuid: st.cuid,
                cgid: st.cgid,
                cpid: st.cpid,
                lpid: st.lpid,
                nattch: st.nattch,
                atime: st.atime,
                dtime: st.dtime,
                ctime: st.ctime,
                marked_for_destruction: st.mode & sys::sysv::SHM_DEST != 0,
                locked: st.mode & sys::sysv::SHM_LOCKED != 0,
            }),
            file: None,
        })
    }

    fn resize(&mut self, size: u64) -> Result<()> {
        let current = self.stat()?.size;
        Err(Error::new(
            ErrorKind::Unsupported,
            self.address.to_string(),
            format!(
                "a System V segment cannot change size ({current} bytes, asked {size}): the kernel ignores shm_segsz in IPC_SET"
            ),
        )
        .with_fix(format!(
            "create a new segment of {size} bytes, copy the data (`shmkit read {0} --format raw | shmkit write NEWADDR`), and remove this one",
            self.address
        )))
    }

    fn chmod(&self, mode: u32) -> Result<()> {
        check_mode(&self.address, mode)?;
        let st = self.stat()?;
        sys::sysv::set(self.id, st.uid, st.gid, mode)
            .map_err(|e| explain(Call::ShmctlSet, &self.context(), e))
    }

    fn chown(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let st = self.stat()?;
        sys::sysv::set(
            self.id,
            uid.unwrap_or(st.uid),
            gid.unwrap_or(st.gid),
            st.mode,
        )
        .map_err(|e| explain(Call::ShmctlSet, &self.context(), e))
    }

    fn remove(&self) -> Result<()> {
        sys::sysv::remove(self.id).map_err(|e| explain(Call::ShmctlRmid, &self.context(), e))
    }
}
