//! `/proc/PID/stat`: the one-line process status; we keep what shmkit needs.
//!
//! Kernel quirk: field 2, `comm`, is printed in parentheses without any escaping. A process can
//! name itself (`prctl(PR_SET_NAME)`, or its executable's name) with spaces, `(`, `)` and even
//! newlines, up to 15 bytes. The only safe split is at the **first** `(` and the **last** `)`;
//! the fields after the last `)` are counted from there (state is field 3).

use crate::error::ParseError;
use crate::util::{dec_u32, dec_u64};

/// The fields of `/proc/PID/stat` that shmkit uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStat {
    /// Field 1: process id.
    pub pid: u32,
    /// Field 2: command name, at most 15 bytes, may contain anything (lossy UTF-8 upstream).
    pub comm: String,
    /// Field 3: state (`R`, `S`, `D`, `Z`, `T`, `t`, `X`, `I`, …).
    pub state: char,
    /// Field 4: parent pid (0 for pid 1 and kernel threads' parent).
    pub ppid: u32,
    /// Field 22: start time in clock ticks since boot.
    pub starttime: u64,
    /// Field 24: resident set size in pages.
    pub rss: u64,
}

/// Parse the text of `/proc/PID/stat`.
pub fn parse(text: &str) -> Result<PidStat, ParseError> {
    let open = text
        .find('(')
        .ok_or_else(|| ParseError::new(1, "no '(' before comm"))?;
    let close = text
        .rfind(')')
        .ok_or_else(|| ParseError::new(1, "no ')' after comm"))?;
    let (head, comm) = match (text.get(..open), text.get(open.saturating_add(1)..close)) {
        (Some(h), Some(c)) => (h, c),
        _ => return Err(ParseError::new(1, "')' before '('")),
    };
    let pid = dec_u32(head.trim(), 1, "pid")?;
    let tail = text.get(close.saturating_add(1)..).unwrap_or("");
    // Counting lines for errors: the comm itself may hold newlines.
    let line = text
        .get(..close)
        .map_or(1, |t| t.matches('\n').count().saturating_add(1));
    let mut f = tail.split_ascii_whitespace();
    // `f.nth(k)` consumes; positions below are relative to field 3.
    let state_s = f
        .next()
        .ok_or_else(|| ParseError::new(line, "truncated: no state (field 3)"))?;
    let mut chars = state_s.chars();
    let state = match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => return Err(ParseError::new(line, format!("bad state {state_s:?}"))),
    };
    let ppid = dec_u32(
        f.next()
            .ok_or_else(|| ParseError::new(line, "truncated: no ppid (field 4)"))?,
        line,
        "ppid",
    )?;
    // Fields 5..=21 skipped; field 22 is 18 further on.
    let starttime = dec_u64(
        f.nth(17)
            .ok_or_else(|| ParseError::new(line, "truncated: no starttime (field 22)"))?,
        line,
        "starttime",
    )?;
    let rss_s = f
        .nth(1)
        .ok_or_else(|| ParseError::new(line, "truncated: no rss (field 24)"))?;
    // rss is a signed long in the kernel; it is never negative in practice.
    let rss = dec_u64(rss_s, line, "rss")?;
    Ok(PidStat {
        pid,
        comm: comm.to_owned(),
        state,
        ppid,
        starttime,
        rss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAIL: &str = "S 1 4727 3675 34816 4742 4194304 99 0 0 0 0 0 0 0 20 0 1 0 123456 3133440 437 18446744073709551615";

    #[test]
    fn ordinary_line() {
        let s = parse(&format!("4742 (cat) {TAIL}\n")).unwrap();
        assert_eq!(s.pid, 4742);
        assert_eq!(s.comm, "cat");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.starttime, 123_456);
        assert_eq!(s.rss, 437);
    }

    #[test]
    fn comm_with_spaces_paren_and_newline_splits_at_last_paren() {
        // prctl(PR_SET_NAME, "a) b\n(c)") — 8 bytes, legal, printed unescaped.
        let s = parse(&format!("123 (a) b\n(c)) {TAIL}\n")).unwrap();
        assert_eq!(s.pid, 123);
        assert_eq!(s.comm, "a) b\n(c)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.rss, 437);
    }

    #[test]
    fn comm_that_looks_like_fields() {
        let s = parse(&format!("7 (x) R 99 9) {TAIL}")).unwrap();
        assert_eq!(s.comm, "x) R 99 9");
        assert_eq!(s.ppid, 1);
    }

    #[test]
    fn empty_comm() {
        assert_eq!(parse(&format!("7 () {TAIL}")).unwrap().comm, "");
    }

    #[test]
    fn empty_and_truncated_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("123 (cat").is_err());
        assert!(parse("123 (cat) S").is_err());
        assert!(parse("123 (cat) S 1 2 3").is_err());
        assert!(parse(
            "123 (cat) S 1 4727 3675 34816 4742 4194304 99 0 0 0 0 0 0 0 20 0 1 0 123456 3133440"
        )
        .is_err());
        assert!(parse("x (cat) S 1").is_err());
        assert!(parse(") 1 (").is_err());
    }

    #[test]
    fn error_line_counts_newlines_in_comm() {
        let e = parse("123 (a\nb) S").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
