//! The names of the user and group ids the kernel reports, and the ids of names given on a
//! command line.
//!
//! On the live root they come from NSS (`getpwuid_r` and friends, `sys::nss`), so
//! LDAP, SSSD and systemd DynamicUser accounts have names too. Under a fixture root
//! (`ProcRoot::new(dir)`) they come from that tree's `etc/passwd` and `etc/group`, so a
//! captured host shows its own users, not this machine's. Each id is asked once per
//! [`Accounts`]: a scan of ten thousand segments of one user makes one NSS call.
//!
//! ```
//! use shmkit::accounts::Accounts;
//! use shmkit::procfs::ProcRoot;
//!
//! let accounts = Accounts::of(&ProcRoot::live());
//! assert_eq!(accounts.user_name(0).as_deref(), Some("root"));
//! assert_eq!(accounts.user_id("root"), Some(0));
//! ```

use shmkit_procfs::{NameTable, ProcRoot};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// User and group names, from NSS on the live root and from the files under a fixture root.
#[derive(Debug)]
pub struct Accounts {
    source: Source,
    user_names: Mutex<HashMap<u32, Option<String>>>,
    group_names: Mutex<HashMap<u32, Option<String>>>,
}

#[derive(Debug)]
enum Source {
    Nss,
    Files { users: NameTable, groups: NameTable },
}

impl Accounts {
    /// The accounts of `root`: NSS for `/`, the tree's own files for any other root (a
    /// missing or unreadable file knows no names).
    pub fn of(root: &ProcRoot) -> Accounts {
        let source = if root.root() == Path::new("/") {
            Source::Nss
        } else {
            Source::Files {
                users: root.users().unwrap_or_default(),
                groups: root.groups().unwrap_or_default(),
            }
        };
        Accounts {
            source,
            user_names: Mutex::default(),
            group_names: Mutex::default(),
        }
    }

    /// The accounts of this machine, through NSS.
    pub fn live() -> Accounts {
        Accounts::of(&ProcRoot::live())
    }

    /// The name of user `uid`, if any source knows it.
    pub fn user_name(&self, uid: u32) -> Option<String> {
        cached(&self.user_names, uid, || match &self.source {
            // An NSS failure (an unreachable LDAP server) shows the number, as `ls -l` does.
            Source::Nss => crate::sys::nss::user_name(uid).ok().flatten(),
            Source::Files { users, .. } => users.name(uid).map(str::to_owned),
        })
    }

    /// The name of group `gid`, if any source knows it.
    pub fn group_name(&self, gid: u32) -> Option<String> {
        cached(&self.group_names, gid, || match &self.source {
            Source::Nss => crate::sys::nss::group_name(gid).ok().flatten(),
            Source::Files { groups, .. } => groups.name(gid).map(str::to_owned),
        })
    }

    /// The uid of the user called `name`, if any source knows it.
    pub fn user_id(&self, name: &str) -> Option<u32> {
        match &self.source {
            Source::Nss => crate::sys::nss::user_id(name).ok().flatten(),
            Source::Files { users, .. } => users.id(name),
        }
    }

    /// The gid of the group called `name`, if any source knows it.
    pub fn group_id(&self, name: &str) -> Option<u32> {
        match &self.source {
            Source::Nss => crate::sys::nss::group_id(name).ok().flatten(),
            Source::Files { groups, .. } => groups.id(name),
        }
    }
}

/// `cache[id]`, asked of `look_up` the first time.
fn cached(
    cache: &Mutex<HashMap<u32, Option<String>>>,
    id: u32,
    look_up: impl FnOnce() -> Option<String>,
) -> Option<String> {
    // A poisoned cache only means another thread panicked mid-insert: its map is still whole.
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache.entry(id).or_insert_with(look_up).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_root_names_with_its_own_files_not_this_machines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "captured:x:0:0::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("etc/group"), "staff:x:1000:\n").unwrap();
        let accounts = Accounts::of(&ProcRoot::new(dir.path()));
        assert_eq!(accounts.user_name(0).as_deref(), Some("captured"));
        assert_eq!(accounts.user_name(1000).as_deref(), Some("alice"));
        assert_eq!(accounts.group_name(1000).as_deref(), Some("staff"));
        assert_eq!(accounts.group_name(0), None);
        assert_eq!(accounts.user_id("alice"), Some(1000));
        assert_eq!(accounts.user_id("root"), None);
        assert_eq!(accounts.group_id("staff"), Some(1000));
    }

    #[test]
    fn a_fixture_root_without_files_knows_no_names() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = Accounts::of(&ProcRoot::new(dir.path()));
        assert_eq!(accounts.user_name(0), None);
        assert_eq!(accounts.user_id("root"), None);
    }

    #[test]
    fn the_live_root_asks_nss_and_remembers() {
        let accounts = Accounts::live();
        assert_eq!(accounts.user_name(0).as_deref(), Some("root"));
        assert_eq!(accounts.group_name(0).as_deref(), Some("root"));
        assert!(accounts.user_names.lock().unwrap().contains_key(&0));
    }
}
