//! `/proc/PID/ns/*` link targets: `ipc:[4026531839]` names a namespace by kind and inode.
//! Two processes share an IPC namespace (and so see the same SysV segments) exactly when
//! their `ipc` inodes are equal.

use crate::error::ParseError;
use crate::util::{dec_u64, split_once_byte};

/// A namespace identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NsId {
    /// `ipc`, `mnt`, `pid`, `net`, `user`, `uts`, `cgroup`, `time`.
    pub kind: String,
    /// The namespace inode number.
    pub inode: u64,
}

/// Parse a namespace link target such as `ipc:[4026531839]`.
pub fn parse(text: &str) -> Result<NsId, ParseError> {
    let t = text.trim_end_matches('\n');
    let (kind, rest) =
        split_once_byte(t, b':').ok_or_else(|| ParseError::new(1, format!("no ':' in {t:?}")))?;
    let inode = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| ParseError::new(1, format!("no [inode] in {t:?}")))?;
    if kind.is_empty() {
        return Err(ParseError::new(1, "empty namespace kind"));
    }
    Ok(NsId {
        kind: kind.to_owned(),
        inode: dec_u64(inode, 1, "namespace inode")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_link() {
        assert_eq!(
            parse("ipc:[4026531839]").unwrap(),
            NsId {
                kind: "ipc".into(),
                inode: 4_026_531_839
            }
        );
    }

    #[test]
    fn empty_and_truncated_are_errors() {
        for t in ["", "ipc", "ipc:", "ipc:[", "ipc:[12", ":[1]", "ipc:[x]"] {
            assert!(parse(t).is_err(), "{t:?}");
        }
    }
}
