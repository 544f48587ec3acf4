//! `/proc/sys/kernel/shm*`: the System V shared memory limits, one value per file.
//!
//! Kernel quirk: `shmmax` and `shmall` default to `ULONG_MAX - 2^24` = 18446744073692774399
//! on 64-bit ("unlimited"); they must be parsed as `u64`. `shmall` counts **pages**, not bytes.
//! `shm_next_id` is -1 unless someone set it (checkpoint/restore).

use crate::error::ParseError;

/// The System V shm limits of the reader's IPC namespace. A file that does not exist (older
/// kernel, no `CONFIG_SYSVIPC`, or hidden in a container) is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShmLimits {
    /// `kernel.shmmax`: largest segment, bytes.
    pub shmmax: Option<u64>,
    /// `kernel.shmall`: total of all segments, in **pages**.
    pub shmall: Option<u64>,
    /// `kernel.shmmni`: most segments.
    pub shmmni: Option<u64>,
    /// `kernel.shm_rmid_forced`: orphaned segments are destroyed automatically.
    pub shm_rmid_forced: Option<bool>,
    /// `kernel.shm_next_id`: id the next `shmget` will try, -1 = automatic.
    pub shm_next_id: Option<i64>,
}

impl ShmLimits {
    /// `shmall` in bytes for the given page size, saturating at `u64::MAX`.
    pub fn shmall_bytes(&self, page_size: u64) -> Option<u64> {
        self.shmall.map(|p| p.saturating_mul(page_size))
    }
}

fn one_value(text: &str) -> Result<&str, ParseError> {
    let mut f = text.split_ascii_whitespace();
    let v = f.next().ok_or_else(|| ParseError::new(1, "empty value"))?;
    if f.next().is_some() {
        return Err(ParseError::new(
            1,
            format!("more than one value in {text:?}"),
        ));
    }
    Ok(v)
}

/// Parse a single unsigned value (`shmmax`, `shmall`, `shmmni`).
pub fn parse_u64(text: &str) -> Result<u64, ParseError> {
    let v = one_value(text)?;
    v.parse()
        .map_err(|_| ParseError::new(1, format!("not an unsigned number: {v:?}")))
}

/// Parse a single signed value (`shm_next_id`).
pub fn parse_i64(text: &str) -> Result<i64, ParseError> {
    let v = one_value(text)?;
    v.parse()
        .map_err(|_| ParseError::new(1, format!("not a number: {v:?}")))
}

/// Parse a boolean sysctl (`shm_rmid_forced`): `0` is false, any other integer true, as the
/// kernel's `proc_dointvec` treats it.
pub fn parse_bool(text: &str) -> Result<bool, ParseError> {
    Ok(parse_i64(text)? != 0)
}

/// Parse one sysctl value file as an unsigned number; the same as [`parse_u64`].
pub fn parse(text: &str) -> Result<u64, ParseError> {
    parse_u64(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_shmmax_fits_u64() {
        assert_eq!(
            parse_u64("18446744073692774399\n").unwrap(),
            18_446_744_073_692_774_399
        );
        let l = ShmLimits {
            shmall: Some(18_446_744_073_692_774_399),
            ..ShmLimits::default()
        };
        assert_eq!(l.shmall_bytes(4096), Some(u64::MAX));
    }

    #[test]
    fn next_id_minus_one_and_bools() {
        assert_eq!(parse_i64("-1\n").unwrap(), -1);
        assert!(!parse_bool("0\n").unwrap());
        assert!(parse_bool("1\n").unwrap());
    }

    #[test]
    fn empty_and_garbage_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("\n").is_err());
        assert!(parse_u64("-1").is_err());
        assert!(parse_u64("1 2").is_err());
        assert!(parse_bool("yes").is_err());
        assert!(parse_u64("18446744073709551616").is_err());
    }
}
