//! shmkit: Linux shared memory, understood and under control.
#![deny(missing_docs)]
#![deny(unsafe_code)]
