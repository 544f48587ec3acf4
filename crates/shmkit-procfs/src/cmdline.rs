//! `/proc/PID/cmdline`: the argument vector, NUL-separated.
//!
//! The final argument is NUL-terminated, so a trailing empty piece is dropped; a process may
//! overwrite its own argv (then there may be no NULs, or spaces instead). Kernel threads and
//! zombies have an empty cmdline. Arguments are converted with lossy UTF-8.

/// Split cmdline bytes into arguments. Never fails.
pub fn parse(bytes: &[u8]) -> Vec<String> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let body = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    body.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_separated_with_trailing_nul_and_empty_args() {
        assert_eq!(parse(b"sleep\x00100\x00"), vec!["sleep", "100"]);
        assert_eq!(parse(b"a\0\0b\0"), vec!["a", "", "b"]);
        assert_eq!(parse(b"rewritten title"), vec!["rewritten title"]);
        assert_eq!(parse(b""), Vec::<String>::new());
        assert_eq!(parse(b"\0"), vec![""]);
        assert_eq!(parse(b"\xff\0"), vec!["\u{fffd}"]);
    }
}
