//! User and group names through the C library's Name Service Switch: `getpwuid_r`,
//! `getgrgid_r`, `getpwnam_r`, `getgrnam_r`.
//!
//! `/etc/passwd` holds only local accounts; the users who leak shared memory most often come
//! from elsewhere (LDAP and SSSD, systemd's DynamicUser), and only NSS knows them, through the
//! modules `/etc/nsswitch.conf` names.
//!
//! # Safety
//!
//! Each lookup hands the C library a `passwd` or `group` struct and a byte buffer that outlive
//! the call, with the buffer's true length; the strings it returns point into that buffer and
//! are copied out before the buffer is reused or dropped.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::ptr;

/// Where a lookup starts: room for an ordinary entry (glibc's `_SC_GETPW_R_SIZE_MAX` is 1024).
const FIRST_BUFFER: usize = 1024;
/// Where growing stops: a group listing tens of thousands of members fits.
const LARGEST_BUFFER: usize = 1 << 22;

/// `getpwuid_r(uid, ...)`—The name of user `uid`; `None` if no NSS source knows it.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/getpwuid_r.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/getpwuid_r.3.html)
pub fn user_name(uid: u32) -> io::Result<Option<String>> {
    with_buffer(|buf| {
        let mut entry = MaybeUninit::<libc::passwd>::uninit();
        let mut found: *mut libc::passwd = ptr::null_mut();
        // SAFETY: `entry`, `buf` (with its length) and `found` are valid for writes for the
        // whole call.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                entry.as_mut_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        // SAFETY: on success `found` is null or points to `entry`, whose `pw_name` points to a
        // NUL-terminated string inside `buf`, both alive here.
        result(rc, found, |p| unsafe { name_of((*p).pw_name) })
    })
}

/// `getgrgid_r(gid, ...)`—The name of group `gid`; `None` if no NSS source knows it.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/getgrgid_r.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/getgrgid_r.3.html)
pub fn group_name(gid: u32) -> io::Result<Option<String>> {
    with_buffer(|buf| {
        let mut entry = MaybeUninit::<libc::group>::uninit();
        let mut found: *mut libc::group = ptr::null_mut();
        // SAFETY: `entry`, `buf` (with its length) and `found` are valid for writes for the
        // whole call.
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                entry.as_mut_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        // SAFETY: on success `found` is null or points to `entry`, whose `gr_name` points to a
        // NUL-terminated string inside `buf`, both alive here.
        result(rc, found, |p| unsafe { name_of((*p).gr_name) })
    })
}

/// `getpwnam_r(name, ...)`—The uid of user `name`; `None` if no NSS source knows it.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/getpwnam_r.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/getpwnam_r.3.html)
pub fn user_id(name: &str) -> io::Result<Option<u32>> {
    let Ok(c_name) = CString::new(name) else {
        return Ok(None);
    };
    with_buffer(|buf| {
        let mut entry = MaybeUninit::<libc::passwd>::uninit();
        let mut found: *mut libc::passwd = ptr::null_mut();
        // SAFETY: `c_name` is NUL-terminated and lives across the call; `entry`, `buf` (with
        // its length) and `found` are valid for writes for the whole call.
        let rc = unsafe {
            libc::getpwnam_r(
                c_name.as_ptr(),
                entry.as_mut_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        // SAFETY: on success `found` is null or points to the initialised `entry`.
        result(rc, found, |p| unsafe { (*p).pw_uid })
    })
}

/// `getgrnam_r(name, ...)`—The gid of group `name`; `None` if no NSS source knows it.
///
/// # References
/// - [POSIX](https://pubs.opengroup.org/onlinepubs/9799919799/functions/getgrnam_r.html)
/// - [Linux](https://man7.org/linux/man-pages/man3/getgrnam_r.3.html)
pub fn group_id(name: &str) -> io::Result<Option<u32>> {
    let Ok(c_name) = CString::new(name) else {
        return Ok(None);
    };
    with_buffer(|buf| {
        let mut entry = MaybeUninit::<libc::group>::uninit();
        let mut found: *mut libc::group = ptr::null_mut();
        // SAFETY: `c_name` is NUL-terminated and lives across the call; `entry`, `buf` (with
        // its length) and `found` are valid for writes for the whole call.
        let rc = unsafe {
            libc::getgrnam_r(
                c_name.as_ptr(),
                entry.as_mut_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        // SAFETY: on success `found` is null or points to the initialised `entry`.
        result(rc, found, |p| unsafe { (*p).gr_gid })
    })
}

/// Runs `lookup` with a buffer that doubles while the C library says it is too small
/// (`ERANGE`: an entry with a long member list or home directory).
fn with_buffer<T>(mut lookup: impl FnMut(&mut [u8]) -> Result<T, i32>) -> io::Result<T> {
    let mut buf = vec![0u8; FIRST_BUFFER];
    loop {
        match lookup(&mut buf) {
            Ok(found) => return Ok(found),
            Err(libc::ERANGE) if buf.len() < LARGEST_BUFFER => buf.resize(buf.len() * 2, 0),
            Err(errno) => return Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// The `*_r` calls' outcome: an error number, nothing found, or what `read` takes from the
/// entry. The man page lists ENOENT, ESRCH, EBADF and EPERM as what some NSS modules return
/// for "not found", not as failures.
fn result<E, T>(
    rc: libc::c_int,
    found: *mut E,
    read: impl FnOnce(*mut E) -> T,
) -> Result<Option<T>, i32> {
    match rc {
        0 if found.is_null() => Ok(None),
        0 => Ok(Some(read(found))),
        libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => Ok(None),
        errno => Err(errno),
    }
}

/// Copies a name out of the C library's buffer.
///
/// # Safety
/// `name` is null or points to a NUL-terminated string that is alive during the call.
unsafe fn name_of(name: *const libc::c_char) -> String {
    if name.is_null() {
        return String::new();
    }
    // SAFETY: the caller promises a live NUL-terminated string.
    unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_known_both_ways_and_a_missing_name_is_none() {
        assert_eq!(user_name(0).unwrap().as_deref(), Some("root"));
        assert_eq!(group_name(0).unwrap().as_deref(), Some("root"));
        assert_eq!(user_id("root").unwrap(), Some(0));
        assert_eq!(group_id("root").unwrap(), Some(0));
        assert_eq!(user_id("no-such-user-shmkit").unwrap(), None);
        assert_eq!(group_id("no-such-group-shmkit").unwrap(), None);
        assert_eq!(user_id("nul\0inside").unwrap(), None);
        assert_eq!(user_name(u32::MAX - 7).unwrap(), None);
    }

    #[test]
    fn a_buffer_too_small_grows_until_the_entry_fits() {
        let mut sizes = Vec::new();
        let got = with_buffer(|buf| {
            sizes.push(buf.len());
            if buf.len() < 8 * FIRST_BUFFER {
                Err(libc::ERANGE)
            } else {
                Ok(buf.len())
            }
        })
        .unwrap();
        assert_eq!(got, 8 * FIRST_BUFFER);
        assert_eq!(
            sizes,
            [
                FIRST_BUFFER,
                2 * FIRST_BUFFER,
                4 * FIRST_BUFFER,
                8 * FIRST_BUFFER
            ]
        );
        let never = with_buffer(|_| Err::<(), _>(libc::ERANGE)).unwrap_err();
        assert_eq!(never.raw_os_error(), Some(libc::ERANGE));
    }
}
