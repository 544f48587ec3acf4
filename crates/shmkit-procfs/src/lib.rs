//! Pure parsers for the `/proc` and `/sys` files that describe Linux shared memory.
//!
//! Every read goes through one [`ProcRoot`], rooted at `/` on a live host or at a captured
//! fixture tree in tests, so the same code runs against both.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
