//! Which objects a snapshot takes: selectors such as `sysv:5678`, `sysv:id=294918`,
//! `sysv:all`, `sysv:user=postgres`, `posix:/orders`, `posix:all`, `all`.

use crate::error::{Error, ErrorKind, Result};
use crate::snapshot::format::validate_posix_name;

/// One selector.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The POSIX object with this name (`/name`).
    PosixName(String),
    /// Every POSIX shared memory object in `/dev/shm` (not semaphores, `sem.*`).
    PosixAll,
}

const FIX: &str = "use sysv:KEY, sysv:0xHEX, sysv:id=SHMID, sysv:all, sysv:user=NAME|UID, \
                   posix:/NAME, posix:all or all";

/// Parses one selector; `users` resolves user names for `sysv:user=NAME`.
pub fn parse(text: &str, users: &crate::procfs::NameTable) -> Result<Vec<Selector>> {
    let bad = |cause: String| Error::new(ErrorKind::InvalidInput, text, cause).with_fix(FIX);
    if text == "all" {
        return Ok(vec![Selector::SysvAll, Selector::PosixAll]);
    }
    if let Some(rest) = text.strip_prefix("sysv:") {
        if rest == "all" {
            return Ok(vec![Selector::SysvAll]);
        }
        if let Some(id) = rest.strip_prefix("id=") {
            let id: i32 = id
                .parse()
                .ok()
                .filter(|&i| i >= 0)
                .ok_or_else(|| bad(format!("{id:?} is not a segment id")))?;
            return Ok(vec![Selector::SysvId(id)]);
        }
        if let Some(user) = rest.strip_prefix("user=") {
            let uid = match user.parse::<u32>() {
                Ok(uid) => uid,
                Err(_) => users
                    .id(user)
                    .ok_or_else(|| bad(format!("no user named {user:?} in /etc/passwd")))?,
            };
            return Ok(vec![Selector::SysvUser(uid)]);
        }
        return parse_key(rest)
            .map(|k| vec![Selector::SysvKey(k)])
            .ok_or_else(|| bad(format!("{rest:?} is not a System V key")));
    }
    if let Some(rest) = text.strip_prefix("posix:") {
        if rest == "all" {
            return Ok(vec![Selector::PosixAll]);
        }
        validate_posix_name(rest).map_err(bad)?;
        return Ok(vec![Selector::PosixName(rest.to_owned())]);
    }
    Err(bad("not a snapshot selector".to_owned()))
}

/// A System V key in decimal (`5678`, `-1`) or hex (`0x162e`); hex keys up to `0xffffffff`
/// wrap to negative `key_t` values as the kernel prints them.
pub fn parse_key(text: &str) -> Option<i32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).ok().map(|k| k as i32);
    }
    text.parse::<i32>().ok()
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
            vec![Selector::PosixName("/a".into())]
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
