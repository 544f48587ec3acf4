//! Value parsers that several subcommands' flags share, so that one flag grammar means the
//! same everywhere. clap puts the flag and the bad text in front of their messages.

use std::time::Duration;

/// A duration flag (`--older-than`, `--every`, `--min-interval`, `--wait-detached`): the
/// library's one grammar, [`shmkit::duration`].
pub fn duration(text: &str) -> Result<Duration, String> {
    shmkit::duration::parse(text).map_err(|e| match e.fix() {
        Some(fix) => format!("{}; {fix}", e.cause()),
        None => e.cause().to_owned(),
    })
}

/// The shortest and longest sampling intervals: a scan takes tens of milliseconds, and a
/// day is as far apart as samples are still a "watch".
const INTERVALS: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(100)..=Duration::from_secs(86_400);

/// A sampling interval (`top -d`, `ls --watch`, `mem --watch`): a [`duration`] from 0.1s
/// to a day.
pub fn interval(text: &str) -> Result<Duration, String> {
    let interval = duration(text)?;
    if !INTERVALS.contains(&interval) {
        return Err("out of range; use 0.1s to 1d (100ms, 2, 5m)".to_owned());
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_take_seconds_and_units_within_range() {
        assert_eq!(interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(interval("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(interval("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(interval("86400"), Ok(Duration::from_secs(86_400)));
        for bad in ["0", "0.05", "2d", "-1", "NaN", "inf", "soon"] {
            assert!(interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bad_duration_says_why_and_shows_an_example() {
        let message = duration("soon").unwrap_err();
        assert!(message.starts_with("not a duration"), "{message}");
        assert!(message.ends_with(shmkit::duration::EXAMPLES), "{message}");
    }
}
