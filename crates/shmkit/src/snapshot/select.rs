//! Which objects a snapshot takes: selectors such as `sysv:5678`, `sysv:id=294918`,
//! `sysv:all`, `sysv:user=postgres`, `posix:/orders`, `posix:all`, `all`.

use crate::address::{Address, SysvAddress};
use crate::error::{Error, ErrorKind, Result};

/// One selector.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selector {
    /// The System V segment with this key.
    SysvKey(i32),
    /// The System V segment with this id.
    SysvId(i32),
    /// Every System V segment of this IPC namespace that has a key (`IPC_PRIVATE` segments
    /// cannot be found again by a program after a restore, so `all` leaves them out; name them
    /// by id to take them).
    SysvAll,
    /// Every keyed System V segment owned by this uid.
    SysvUser(u32),
    /// The POSIX object with this name (`/name`), as bytes.
    PosixName(Vec<u8>),
    /// Every POSIX shared memory object in `/dev/shm` (not semaphores, `sem.*`).
    PosixAll,
}

const FIX: &str = "use sysv:KEY, sysv:0xHEX, sysv:id=SHMID, sysv:ftok=PATH:PROJ, sysv:all, \
                   sysv:user=NAME|UID, posix:/NAME, posix:all or all";

/// Parses one selector; `users` resolves user names for `sysv:user=NAME`.
pub fn parse(text: &str, users: &crate::procfs::NameTable) -> Result<Vec<Selector>> {
    let bad = |cause: String| Error::new(ErrorKind::InvalidInput, text, cause).with_fix(FIX);
    if text == "all" {
        return Ok(vec![Selector::SysvAll, Selector::PosixAll]);
    }
    match text {
        "sysv:all" => return Ok(vec![Selector::SysvAll]),
        "posix:all" => return Ok(vec![Selector::PosixAll]),
        _ => {}
    }
    if let Some(user) = text.strip_prefix("sysv:user=") {
        let uid = match user.parse::<u32>() {
            Ok(uid) => uid,
            Err(_) => users
                .id(user)
                .ok_or_else(|| bad(format!("no user named {user:?} in /etc/passwd")))?,
        };
        return Ok(vec![Selector::SysvUser(uid)]);
    }
    // One object: the same addresses every shmkit command takes.
    let addr: Address = text.parse().map_err(|e: Error| bad(e.cause().to_owned()))?;
    match addr {
        Address::Sysv(SysvAddress::Key(k)) => Ok(vec![Selector::SysvKey(k)]),
        Address::Sysv(SysvAddress::Id(i)) => Ok(vec![Selector::SysvId(i)]),
        Address::Sysv(SysvAddress::Ftok { path, proj }) => {
            let key = crate::sys::sysv::ftok(&path, proj).map_err(|e| {
                Error::io(text, "ftok", e).with_fix("name an existing file in sysv:ftok=PATH:PROJ")
            })?;
            Ok(vec![Selector::SysvKey(key)])
        }
        Address::Posix(name) => Ok(vec![Selector::PosixName(name.into_bytes())]),
        // A name that is not UTF-8 is addressed as its file, `file:/dev/shm/caf\xe9`.
        Address::File(path) if path.parent() == Some(std::path::Path::new("/dev/shm")) => {
            use std::os::unix::ffi::OsStrExt;
            let mut name = b"/".to_vec();
            name.extend_from_slice(path.file_name().map_or(&[][..], |n| n.as_bytes()));
            Ok(vec![Selector::PosixName(name)])
        }
        _ => Err(bad(
            "cannot be saved in a snapshot (only System V segments and POSIX objects, which may be named as files in /dev/shm)".to_owned(),
        )),
    }
}

/// Parses a duration: `30s`, `5m`, `1h`, `250ms`, or bare seconds (`30`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration> {
    let bad = || {
        Error::new(ErrorKind::InvalidInput, text, "not a duration")
            .with_fix("write it as 30s, 5m, 1h, 250ms or a number of seconds")
    };
    let (num, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (text, 1000)
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(unit_ms)
        .map(std::time::Duration::from_millis)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_bad_ones_name_the_fix() {
        let users = crate::procfs::NameTable::default();
        assert_eq!(
            parse("sysv:5678", &users).unwrap(),
            vec![Selector::SysvKey(5678)]
        );
        assert_eq!(
            parse("sysv:0x162e", &users).unwrap(),
            vec![Selector::SysvKey(0x162e)]
        );
        assert_eq!(
            parse("sysv:0xffffffff", &users).unwrap(),
            vec![Selector::SysvKey(-1)]
        );
        assert_eq!(
            parse("sysv:id=7", &users).unwrap(),
            vec![Selector::SysvId(7)]
        );
        assert_eq!(
            parse("sysv:user=0", &users).unwrap(),
            vec![Selector::SysvUser(0)]
        );
        assert_eq!(
            parse("posix:/a", &users).unwrap(),
            vec![Selector::PosixName(b"/a".to_vec())]
        );
        assert_eq!(
            parse("file:/dev/shm/caf\\xe9", &users).unwrap(),
            vec![Selector::PosixName(b"/caf\xe9".to_vec())]
        );
        assert_eq!(parse("all", &users).unwrap().len(), 2);
        for bad in [
            "sysv:",
            "sysv:x",
            "sysv:id=-1",
            "posix:a",
            "posix:/a/b",
            "file:x",
            "sysv:user=nobody-here",
        ] {
            let e = parse(bad, &users).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("sysv:KEY"), "{e}");
        }
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("99999999999999999h").is_err());
    }
}
