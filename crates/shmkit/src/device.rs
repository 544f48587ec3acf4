//! Device numbers and file identities: what a mapping, a descriptor and a `stat` agree on.
//!
//! `/proc/PID/maps` writes a device as `MAJOR:MINOR` in hex, `mountinfo` in decimal, and
//! `stat` packs it into one `dev_t`; the scan joins them all on [`DeviceId`] and, with the
//! inode, on [`FileId`].

use serde::Serialize;
use std::fmt;

/// A device number split into major and minor, as the kernel's `MAJOR(dev)` and `MINOR(dev)`.
///
/// `Display` writes `major:minor` in decimal (as `mountinfo` and `lsblk` do); JSON writes the
/// pair `[major, minor]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct DeviceId {
    /// The major number (the driver, or 0 for the kernel's anonymous devices like tmpfs).
    pub major: u32,
    /// The minor number (which one of them).
    pub minor: u32,
}

impl DeviceId {
    /// The device `major:minor`.
    pub const fn new(major: u32, minor: u32) -> DeviceId {
        DeviceId { major, minor }
    }

    /// Splits a `dev_t` (`st_dev`) the way glibc's `major()` and `minor()` do: 12 bits of
    /// major and 20 of minor in the old layout, the rest in the high 32 bits.
    pub const fn from_dev(dev: u64) -> DeviceId {
        DeviceId {
            major: (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32,
            minor: (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32,
        }
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

impl Serialize for DeviceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.major, self.minor).serialize(serializer)
    }
}

impl schemars::JsonSchema for DeviceId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        <(u32, u32)>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <(u32, u32)>::json_schema(generator)
    }
}

/// A file's identity: its device and inode, the key that mappings, descriptors and a walk of
/// its filesystem share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId {
    /// The device of its filesystem.
    pub dev: DeviceId,
    /// Its inode number.
    pub inode: u64,
}

impl FileId {
    /// The file `inode` on `dev`.
    pub const fn new(dev: DeviceId, inode: u64) -> FileId {
        FileId { dev, inode }
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} inode {}", self.dev, self.inode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_dev_splits_old_and_new_layouts_like_glibc() {
        // A tmpfs-style anonymous device and /dev/sda1: the old 8/8-bit layout.
        assert_eq!(DeviceId::from_dev(26), DeviceId::new(0, 26));
        assert_eq!(DeviceId::from_dev(0x801), DeviceId::new(8, 1));
        // Both numbers beyond the old layout: bits in the high half as well.
        let dev = libc::makedev(259, 300_000);
        assert_eq!(DeviceId::from_dev(dev), DeviceId::new(259, 300_000));
    }

    #[test]
    fn shows_as_major_colon_minor_and_serializes_as_a_pair() {
        let d = DeviceId::new(0, 77);
        assert_eq!(d.to_string(), "0:77");
        assert_eq!(serde_json::to_string(&d).unwrap(), "[0,77]");
        assert_eq!(
            FileId::new(d, 12).to_string(),
            "0:77 inode 12",
            "a file id names its device and inode"
        );
    }

    #[test]
    fn orders_by_major_then_minor() {
        assert!(DeviceId::new(0, 300) < DeviceId::new(1, 0));
        assert!(FileId::new(DeviceId::new(0, 1), 9) < FileId::new(DeviceId::new(0, 2), 1));
    }
}
