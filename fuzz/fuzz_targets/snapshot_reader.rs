//! Fuzzes the snapshot reader: any bytes, with the true length and with a length that claims
//! more than there is (a file that shrank while read). The reader must return an error or a
//! verified snapshot, never panic, never allocate from a length field (libFuzzer's -rss_limit_mb
//! and -malloc_limit_mb catch that), and hand out content only inside each object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shmkit::snapshot::reader::{read_all, ContentSink};
use shmkit::snapshot::ObjectMeta;

/// Checks that content arrives in order and inside the object it belongs to.
struct Checker {
    size: u64,
    next: u64,
    open: bool,
}

impl ContentSink for Checker {
    fn begin(&mut self, meta: &ObjectMeta) -> shmkit::Result<()> {
        assert!(!self.open);
        *self = Checker { size: meta.size, next: 0, open: true };
        Ok(())
    }
    fn data(&mut self, offset: u64, bytes: &[u8]) -> shmkit::Result<()> {
        assert!(self.open && offset == self.next);
        self.next += bytes.len() as u64;
        assert!(self.next <= self.size);
        Ok(())
    }
    fn zeros(&mut self, offset: u64, len: u64) -> shmkit::Result<()> {
        assert!(self.open && offset == self.next && len > 0);
        self.next += len;
        assert!(self.next <= self.size);
        Ok(())
    }
    fn end(&mut self, meta: &ObjectMeta) -> shmkit::Result<()> {
        assert!(self.open && self.next == meta.size);
        self.open = false;
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sink = Checker { size: 0, next: 0, open: false };
    if let Ok(v) = read_all(data, data.len() as u64, &mut sink) {
        assert_eq!(v.footer.object_count, v.objects.len() as u64);
    }
    let mut sink = Checker { size: 0, next: 0, open: false };
    assert!(read_all(data, data.len() as u64 + 4096, &mut sink).is_err());
});
