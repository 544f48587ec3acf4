//! Times for people: Unix seconds as a date in local time (honouring `TZ`, read from the
//! system's zoneinfo), in util-linux's three formats, or as a UTC date.

/// `--time-format`: how a date is written, in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// `18:25` today, `Nov25` this year, `2025-Nov25` before (util-linux's short form).
    #[default]
    Short,
    /// `Wed Nov 25 18:25:59 2026`.
    Full,
    /// `2026-11-25T18:25:59+08:00` (ISO 8601 with the offset).
    Iso,
}

/// Formats Unix seconds in local time (the zone `TZ` names, else `/etc/localtime`); `now`
/// decides what "today" and "this year" are for [`TimeFormat::Short`].
pub fn local(secs: i64, format: TimeFormat, now: i64) -> String {
    let tz = jiff::tz::TimeZone::system();
    let Ok(at) = jiff::Timestamp::from_second(secs) else {
        return "-".to_string();
    };
    let at = at.to_zoned_datetime(tz.clone());
    match format {
        TimeFormat::Iso => at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        TimeFormat::Full => at.strftime("%a %b %e %H:%M:%S %Y").to_string(),
        TimeFormat::Short => {
            let today = jiff::Timestamp::from_second(now)
                .map(|t| t.to_zoned_datetime(tz).date())
                .ok();
            let date = at.date();
            if today == Some(date) {
                at.strftime("%H:%M").to_string()
            } else if today.is_some_and(|t| t.year() == date.year()) {
                at.strftime("%b%d").to_string()
            } else {
                at.strftime("%Y-%b%d").to_string()
            }
        }
    }
}

/// Formats Unix seconds as `2026-11-25 18:25:59 UTC`.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, exact for every representable day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_follows_the_zone() {
        // jiff reads TZ once per process; these tests need a zone they name themselves.
        let shanghai =
            jiff::tz::TimeZone::get("Asia/Shanghai").expect("zoneinfo has Asia/Shanghai");
        let at = jiff::Timestamp::from_second(1_795_630_759)
            .unwrap()
            .to_zoned_datetime(shanghai);
        assert_eq!(
            at.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            "2026-11-26T02:19:19+08:00"
        );
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_630_759), "2026-11-25 18:19:19 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }
}
