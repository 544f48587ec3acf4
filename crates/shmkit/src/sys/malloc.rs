//! Tuning of the C library's allocator for long-running processes (the exporter).
//!
//! # Safety
//!
//! `mallopt` takes two integers and only changes allocator parameters.

/// `mallopt(M_ARENA_MAX, max)`—Caps the number of malloc arenas at `max`.
///
/// glibc gives threads their own arenas (up to eight per core) and keeps each arena's freed
/// memory for reuse, so a server whose threads take turns at a large job holds the job's
/// leftovers once per arena. Returns whether the C library took the setting (only glibc has
/// arenas; elsewhere this does nothing and returns `false`).
///
/// # References
/// - [Linux](https://man7.org/linux/man-pages/man3/mallopt.3.html)
pub fn limit_arenas(max: i32) -> bool {
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: mallopt takes no pointers; glibc serialises changes to its parameters, so
        // it may be called while other threads allocate.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, max) == 1 }
    }
    #[cfg(not(target_env = "gnu"))]
    {
        let _ = max;
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_env = "gnu")]
    fn glibc_takes_an_arena_cap() {
        assert!(super::limit_arenas(8));
    }
}
