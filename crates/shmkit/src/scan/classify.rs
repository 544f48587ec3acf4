//! The judgements: what each object is (in use, orphan, uncertain), from what the other
//! passes found. Pure functions of their inputs, so each rule has its own unit test.

use super::facts::{Identity, ProcInfo, Unseen};
use super::merge::{holders_of, Found};
use super::model::*;
use super::mounts::WalkedFile;
use shmkit_procfs::{NameTable, SysvShm};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;

impl Unseen {
    /// How many unread processes may have opened a file of this owner, mode and device:
    /// one that has the file's filesystem mounted and the right to open it (root, the
    /// owner, or anyone the mode lets in; group membership is not resolved, so any group
    /// bit counts as a way in).
    fn could_open_count(&self, owner: u32, mode: u32, dev: (u32, u32)) -> usize {
        self.0
            .iter()
            .filter(|p| {
                p.devs.as_ref().is_none_or(|devs| devs.contains(&dev))
                    && (p.uid.is_none_or(|uid| uid == 0 || uid == owner) || mode & 0o066 != 0)
            })
            .count()
    }
}

pub(super) fn sysv_object(
    seg: &SysvShm,
    holders: Vec<Holder>,
    users: &NameTable,
    creator: &dyn Fn(u32, i64) -> ProcessRef,
) -> Object {
    let made_by = creator(seg.cpid, seg.ctime);
    let last = creator(seg.lpid, i64::MAX);
    let marked = seg.marked_for_destruction();
    let orphan = seg.nattch == 0 && made_by.comm.is_none() && !marked;
    Object {
        kind: Kind::Sysv,
        address: Some(format!("sysv:id={}", seg.shmid)),
        name: format!("0x{:08x}", seg.key as u32),
        dev: None,
        inode: Some(seg.shmid as u64),
        size: seg.size,
        resident: seg.rss,
        swapped: seg.swap,
        uid: seg.uid,
        gid: seg.gid,
        user: users.name(seg.uid).map(str::to_string),
        mode: seg.mode(),
        holders,
        created: Some(seg.ctime),
        mount: None,
        status: Status {
            orphan,
            marked_for_destruction: marked,
            locked: seg.locked(),
            hugetlb: false,
            deleted: false,
            // nattch counts every attachment, readable or not.
            orphan_uncertain: false,
        },
        orphan_reason: orphan.then(|| {
            format!(
                "no process is attached (nattch 0) and its creator, pid {}, has exited",
                seg.cpid
            )
        }),
        free_command: (!marked).then(|| format!("ipcrm -m {}", seg.shmid)),
        sysv: Some(SysvDetails {
            key: seg.key,
            shmid: seg.shmid,
            nattch: seg.nattch,
            creator: made_by,
            last,
            cuid: seg.cuid,
            cgid: seg.cgid,
            atime: seg.atime,
            dtime: seg.dtime,
            ctime: seg.ctime,
        }),
        location: Location::default(),
    }
}

pub(super) fn file_object(
    file: WalkedFile,
    held: Option<Found>,
    procs: &HashMap<u32, ProcInfo>,
    users: &NameTable,
    unseen: Option<&Unseen>,
) -> Object {
    let holders = held
        .as_ref()
        .map(|f| holders_of(procs, f))
        .unwrap_or_default();
    // Without a holder scan nothing can be called unheld.
    let orphan = file.kind == Kind::Posix && holders.is_empty() && unseen.is_some();
    // A process we could not read may hold what no readable one does: the reason says so
    // when one could have (its mount table has the file's filesystem and it may open it), so
    // that nobody frees it on our word alone (`rm --orphans` refuses without --force).
    let maybe_held = unseen.and_then(|u| {
        let n = u.could_open_count(file.file.uid, file.file.mode, file.dev);
        (n > 0).then_some(n)
    });
    let address = match &file.posix_name {
        Some(name) => format!("posix:{name}"),
        None => format!("file:{}", file.path),
    };
    Object {
        kind: file.kind,
        address: Some(address),
        name: file.posix_name.clone().unwrap_or_else(|| file.path.clone()),
        dev: Some(file.dev),
        inode: Some(file.file.inode),
        size: file.file.size,
        resident: Some(file.file.allocated),
        swapped: None,
        uid: file.file.uid,
        gid: file.file.gid,
        user: users.name(file.file.uid).map(str::to_string),
        mode: file.file.mode & 0o777,
        holders,
        created: Some(file.file.mtime),
        mount: Some(file.mount),
        status: Status {
            orphan,
            orphan_uncertain: orphan && maybe_held.is_some(),
            ..Status::default()
        },
        orphan_reason: orphan.then(|| match maybe_held {
            Some(n) => format!(
                "no process this scan could read maps it or holds it open, but {n} that could not be read may"
            ),
            None => "no process maps it or holds it open".to_string(),
        }),
        free_command: Some(format!("rm {}", shell_quote(&file.path))),
        sysv: None,
        location: Location::default(),
    }
}

pub(super) fn hidden_object(
    id: Identity,
    kind: Kind,
    f: Found,
    procs: &HashMap<u32, ProcInfo>,
    coverage: &mut Coverage,
) -> Object {
    let meta = f.stat_path.as_ref().and_then(|p| std::fs::metadata(p).ok());
    if f.stat_path.is_some() && meta.is_none() && f.allocated.is_none() {
        coverage.objects_vanished += u64::from(kind != Kind::File);
    }
    let holders = holders_of(procs, &f);
    let size = meta.as_ref().map_or(f.size, |m| m.size().max(f.size));
    // A regular file's pages are page cache, not shmem: its residency is not a blocks count.
    let resident = if kind == Kind::File {
        None
    } else {
        meta.as_ref().map(|m| m.blocks() * 512).or(f.allocated)
    };
    let (uid, gid, mode) = meta
        .as_ref()
        .map_or((0, 0, 0), |m| (m.uid(), m.gid(), m.mode() & 0o777));
    let deleted = f.deleted && matches!(kind, Kind::Posix | Kind::Tmpfs);
    let pids: Vec<String> = holders.iter().map(|h| h.pid.to_string()).collect();
    let name = if deleted {
        format!("{} (deleted)", f.name)
    } else {
        f.name.clone()
    };
    Object {
        kind,
        address: match kind {
            Kind::File => Some(format!("file:{}", f.name)),
            Kind::Posix | Kind::Tmpfs if !deleted => Some(format!("file:{}", f.name)),
            _ => None,
        },
        name,
        dev: Some((id.0, id.1)),
        inode: Some(id.2),
        size,
        resident,
        swapped: None,
        uid,
        gid,
        user: None,
        mode,
        holders,
        created: meta.as_ref().map(|m| m.mtime()),
        mount: None,
        status: Status {
            orphan: deleted,
            deleted,
            ..Status::default()
        },
        orphan_reason: deleted.then(|| {
            format!(
                "unlinked but still held by pid {}: its memory returns only when they unmap or close it",
                pids.join(", ")
            )
        }),
        free_command: (deleted && !pids.is_empty()).then(|| format!("kill {}", pids.join(" "))),
        sysv: None,
        location: Location::default(),
    }
}

/// Quotes a path for a shell command line when it needs quoting. A name with control
/// characters (a newline in a /dev/shm name is legal) is written `$'...'` with escapes, so
/// the command stays on one line and means exactly that file when pasted.
pub(crate) fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b))
    {
        text.to_string()
    } else if text.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let mut utf8 = [0u8; 4];
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_keeps_a_hostile_name_on_one_line_and_exact() {
        assert_eq!(shell_quote("/dev/shm/orders"), "/dev/shm/orders");
        assert_eq!(shell_quote("/mnt/my ram/x"), "'/mnt/my ram/x'");
        assert_eq!(shell_quote("/dev/shm/it's"), r"'/dev/shm/it'\''s'");
        let q = shell_quote("/dev/shm/a\nrm -rf ~\t'\\\u{1b}");
        assert_eq!(q, r"$'/dev/shm/a\nrm -rf ~\t\'\\\x1b'");
        assert!(!q.chars().any(char::is_control));
        // bash reads it back as the very same name.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {q}"))
            .output()
            .expect("bash");
        assert_eq!(out.stdout, "/dev/shm/a\nrm -rf ~\t'\\\u{1b}".as_bytes());
    }
}
