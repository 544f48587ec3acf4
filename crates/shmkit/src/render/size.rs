//! Byte counts for people (`1.5G`, like `free -h`) and for parsing (`--size 256M`).

/// Formats bytes with binary units, `free -h` style: `0B`, `27B`, `4.0K`, `2.0G`, `1.5T`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// Formats bytes either as [`human`] or, with `exact`, as the plain number.
pub fn bytes(bytes: u64, exact: bool) -> String {
    if exact {
        bytes.to_string()
    } else {
        human(bytes)
    }
}

/// Formats a signed change of bytes: `+2.0G`, `-512.0M`, `0B`.
pub fn human_delta(delta: i64) -> String {
    match delta {
        0 => "0B".to_string(),
        d if d > 0 => format!("+{}", human(d.unsigned_abs())),
        d => format!("-{}", human(d.unsigned_abs())),
    }
}

/// Why a size could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a size; write bytes or a number with K, M, G or T (binary units), e.g. 27, 4K, 256M, 2G")]
pub struct ParseSizeError {
    input: String,
}

/// Parses `27`, `4K`, `4KiB`, `256M`, `2G`, `1T` (binary units, case-insensitive).
pub fn parse(input: &str) -> Result<u64, ParseSizeError> {
    let err = || ParseSizeError {
        input: input.to_string(),
    };
    let text = input.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.parse().map_err(|_| err())?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(err()),
    };
    number.checked_mul(1u64 << shift).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_matches_free_h_style() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(27), "27B");
        assert_eq!(human(4096), "4.0K");
        assert_eq!(human(2 << 30), "2.0G");
        assert_eq!(human(1536 << 20), "1.5G");
        assert_eq!(human(500 << 20), "500M");
        assert_eq!(human(u64::MAX), "16.0E");
        assert_eq!(human_delta(-(512 << 20)), "-512M");
    }

    #[test]
    fn parse_accepts_binary_units_and_refuses_the_rest() {
        assert_eq!(parse("27"), Ok(27));
        assert_eq!(parse("4K"), Ok(4096));
        assert_eq!(parse("256MiB"), Ok(256 << 20));
        assert_eq!(parse("2g"), Ok(2 << 30));
        assert!(parse("").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("1.5G").is_err());
        assert!(parse("99999999999999T").is_err());
        assert!(parse("5 parsecs").is_err());
    }
}
