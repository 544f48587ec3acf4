//! Small allocation-free helpers shared by the parsers.

use crate::error::ParseError;

/// Lines of `text` with their 1-based numbers. Splits on `\n` only, so a `\r` stays in the line.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i.saturating_add(1), l))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// Split `s` at the first byte `sep`: `(before, after)`; `None` if absent.
pub(crate) fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.as_bytes().iter().position(|&b| b == sep)?;
    // `sep` is ASCII, so `i` and `i + 1` are char boundaries.
    Some((s.get(..i)?, s.get(i.checked_add(1)?..)?))
}

/// Parse a decimal unsigned integer, naming `what` in the error.
pub(crate) fn dec_u64(s: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    s.parse::<u64>()
        .map_err(|_| ParseError::new(line, format!("{what}: not an unsigned number: {s:?}")))
}

/// Parse a decimal unsigned 32-bit integer.
pub(crate) fn dec_u32(s: &str, line: usize, what: &str) -> Result<u32, ParseError> {
    s.parse::<u32>()
        .map_err(|_| ParseError::new(line, format!("{what}: not a 32-bit unsigned number: {s:?}")))
}

/// Parse a decimal signed integer.
pub(crate) fn dec_i64(s: &str, line: usize, what: &str) -> Result<i64, ParseError> {
    s.parse::<i64>()
        .map_err(|_| ParseError::new(line, format!("{what}: not a number: {s:?}")))
}

/// Parse a hexadecimal unsigned integer (no `0x` prefix, as /proc prints it).
pub(crate) fn hex_u64(s: &str, line: usize, what: &str) -> Result<u64, ParseError> {
    if s.is_empty() || s.starts_with('+') {
        return Err(ParseError::new(
            line,
            format!("{what}: not hexadecimal: {s:?}"),
        ));
    }
    u64::from_str_radix(s, 16)
        .map_err(|_| ParseError::new(line, format!("{what}: not hexadecimal: {s:?}")))
}

/// Kilobytes to bytes, refusing overflow.
pub(crate) fn kb_to_bytes(kb: u64, line: usize) -> Result<u64, ParseError> {
    kb.checked_mul(1024)
        .ok_or_else(|| ParseError::new(line, format!("{kb} kB overflows 64 bits in bytes")))
}

/// Undo the kernel's `seq_escape`/`mangle_path` octal escapes (`\040` space, `\011` tab,
/// `\012` newline, `\134` backslash). A backslash not followed by three octal digits is kept
/// as it is, so unescaping never fails.
pub(crate) fn unescape_octal(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let out = unescape_octal_bytes(s.as_bytes());
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`unescape_octal`] on bytes, for paths: every byte the kernel did not escape is kept as it
/// is, valid UTF-8 or not.
pub(crate) fn unescape_octal_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            if let Some(v) = octal3(bytes.get(i + 1..i + 4)) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn octal3(d: Option<&[u8]>) -> Option<u8> {
    let d = d?;
    let mut v: u32 = 0;
    for &c in d {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        v = v * 8 + u32::from(c - b'0');
    }
    u8::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_all_kernel_escapes_and_stray_backslashes() {
        assert_eq!(unescape_octal(r"/mnt/my\040dir"), "/mnt/my dir");
        assert_eq!(unescape_octal(r"a\011b\012c\134d"), "a\tb\nc\\d");
        assert_eq!(unescape_octal(r"end\04"), r"end\04");
        assert_eq!(unescape_octal(r"\777x"), r"\777x");
        assert_eq!(unescape_octal("\\"), "\\");
    }

    #[test]
    fn numbered_lines_skips_blank_and_counts_from_one() {
        let v: Vec<_> = numbered_lines("a\n\nb\n").collect();
        assert_eq!(v, vec![(1, "a"), (3, "b")]);
    }
}
