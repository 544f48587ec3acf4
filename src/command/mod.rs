//! One module per subcommand, each with its `Args` and one `run` function.

pub mod chmod;
pub mod chown;
pub mod completions;
pub mod create;
pub mod doctor;
pub mod exporter;
pub mod flags;
pub mod hold;
pub mod inside;
pub mod lab;
pub mod lifecycle;
pub mod ls;
pub mod manpage;
pub mod mem;
pub mod read;
pub mod reclaim;
pub mod resize;
pub mod rm;
pub mod run;
pub mod schema;
pub mod snapshot;
pub mod stat;
pub mod top;
pub mod write;
