//! Loads the TS↔Rust contract fixtures (`test/fixtures/contract/`, see its
//! README) for tests of this crate and, through the `contract` feature, of
//! the agent and the runtime.

use crate::json::{self, Json};
use std::path::PathBuf;

pub fn fixture(name: &str) -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../test/fixtures/contract")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {}", path.display(), e));
    json::parse(&text).unwrap_or_else(|e| panic!("parsing {}: {}", path.display(), e))
}
