//! How the model's values are written in JSON where Rust and JSON differ: the kernel's "0 =
//! never" times become null, and 64-bit integers that a JSON number (a double) cannot carry
//! exactly become strings.

use serde::Serializer;

/// A unix time whose 0 means "never" (System V `shm_atime`, `shm_dtime`): null then.
pub(crate) fn unix_or_never<S: Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    match *t {
        0 => s.serialize_none(),
        t => s.serialize_some(&t),
    }
}

/// A 64-bit count that may be beyond 2^53 (a kernel limit left at "unlimited", `shmmax` is
/// 2^64 − 2^24 by default), in decimal as a string: a JSON number (a double) would lose digits.
pub(crate) fn u64_as_string<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&v.to_string()),
        None => s.serialize_none(),
    }
}

/// A path as the bytes the kernel holds, escaped as addresses are (`\\xNN` for bytes that are
/// not printable UTF-8), so nothing is lost on the way to JSON.
pub(crate) fn path_escaped<S: Serializer>(
    path: &Option<std::path::PathBuf>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use std::os::unix::ffi::OsStrExt;
    match path {
        Some(p) => s.serialize_str(&crate::address::escape_bytes(p.as_os_str().as_bytes())),
        None => s.serialize_none(),
    }
}

/// A path that is always there, escaped as [`path_escaped`] escapes it.
pub(crate) fn path_escaped_always<S: Serializer>(
    path: &std::path::Path,
    s: S,
) -> Result<S::Ok, S::Error> {
    use std::os::unix::ffi::OsStrExt;
    s.serialize_str(&crate::address::escape_bytes(path.as_os_str().as_bytes()))
}
