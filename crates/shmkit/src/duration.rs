//! The one grammar for durations, on every command line flag and in the library: a number of
//! seconds (`2`, `0.5`, `0`) or a duration with units as `humantime` reads them (`250ms`,
//! `30s`, `10m`, `2h`, `7d`, `1w`, `1h 30m`).
//!
//! Bare seconds stay because the interval flags (`top -d 2`, `ls --watch=0.5`) have always
//! been documented that way, like `watch -n` and `top -d`.
//!
//! ```
//! use std::time::Duration;
//! assert_eq!(shmkit::duration::parse("7d")?, Duration::from_secs(7 * 86_400));
//! assert_eq!(shmkit::duration::parse("250ms")?, Duration::from_millis(250));
//! assert_eq!(shmkit::duration::parse("0.5")?, Duration::from_millis(500));
//! assert!(shmkit::duration::parse("soon").is_err());
//! # Ok::<(), shmkit::Error>(())
//! ```

use crate::error::{Error, ErrorKind, Result};
use std::time::Duration;

/// What every duration error suggests.
pub const EXAMPLES: &str = "write e.g. 30s, 10m, 2h, 7d, 250ms or a number of seconds";

/// Parses a duration: a number of seconds or `humantime`'s grammar (see the module docs).
///
/// The error names the text, says what is wrong with it and shows [`EXAMPLES`].
pub fn parse(text: &str) -> Result<Duration> {
    let bad = |cause: String| Error::new(ErrorKind::InvalidInput, text, cause).with_fix(EXAMPLES);
    let trimmed = text.trim();
    if is_decimal(trimmed) {
        let seconds: f64 = trimmed
            .parse()
            .map_err(|_| bad("not a number of seconds".into()))?;
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| bad("too long a number of seconds".into()));
    }
    humantime::parse_duration(trimmed).map_err(|e| bad(format!("not a duration ({e})")))
}

/// Digits with at most one decimal point and at least one digit: what `f64` reads as a
/// plain number (not `inf`, `NaN`, `1e3` or a sign, which no flag means).
fn is_decimal(text: &str) -> bool {
    let mut points = 0;
    let mut digits = 0;
    for c in text.chars() {
        match c {
            '0'..='9' => digits += 1,
            '.' => points += 1,
            _ => return false,
        }
    }
    digits > 0 && points <= 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_rm_older_than_accepted_is_still_accepted() {
        for (text, seconds) in [
            ("30s", 30),
            ("10m", 600),
            ("2h", 7200),
            ("1d", 86_400),
            ("7d", 7 * 86_400),
            ("1w", 7 * 86_400),
            ("0s", 0),
            ("1s", 1),
            ("45", 45),
        ] {
            assert_eq!(parse(text).unwrap(), Duration::from_secs(seconds), "{text}");
        }
    }

    #[test]
    fn what_the_snapshot_and_exporter_flags_accepted_is_still_accepted() {
        for (text, millis) in [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("250ms", 250),
            ("500ms", 500),
            ("2", 2000),
            ("0", 0),
        ] {
            assert_eq!(
                parse(text).unwrap(),
                Duration::from_millis(millis),
                "{text}"
            );
        }
    }

    #[test]
    fn what_the_interval_flags_accepted_is_still_accepted() {
        for (text, millis) in [("2", 2000), ("0.5", 500), ("0.2", 200), ("1", 1000)] {
            assert_eq!(
                parse(text).unwrap(),
                Duration::from_millis(millis),
                "{text}"
            );
        }
    }

    #[test]
    fn humantime_adds_compound_and_long_units() {
        assert_eq!(parse("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("2days").unwrap(), Duration::from_secs(2 * 86_400));
        assert_eq!(parse("1min").unwrap(), Duration::from_secs(60));
    }

    #[test]
    fn bad_text_names_itself_and_shows_an_example() {
        for text in [
            "",
            "soon",
            "5x",
            "-1",
            "NaN",
            "inf",
            "1e3",
            "1.2.3",
            "s",
            "99999999999999999999d",
        ] {
            let err = parse(text).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text}");
            assert_eq!(err.object(), text);
            assert_eq!(err.fix(), Some(EXAMPLES), "{text}");
        }
    }
}
