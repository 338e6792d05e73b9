//! Copying files into and out of a container (`tsbox cp`, `export`, `diff`,
//! `commit`): a tree is walked into a stream of records, and a record
//! stream is written out below a directory. The records are one JSON header
//! line per entry followed by a file's bytes; the front end turns them into
//! and out of tar (src/containers/copy-records.ts), so the tar format lives
//! in one place. Where the tree is (a running container's namespaces, a
//! stopped one's layers mounted in a namespace of its own, the host) is
//! [`crate::view`]'s business: these modules only see paths.

pub mod op;
pub mod owners;
pub mod pending;
pub mod read;
pub mod record;
pub mod write;

pub use record::{Kind, Record};
