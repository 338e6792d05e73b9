//! The per-network DNS server's lifetime (started by the first container of
//! a network with DNS, stopped by the last): placeholder until the server
//! itself lands.

use super::spec::Attachment;
use crate::error::Error;
use std::path::Path;

pub fn ensure(_att: &Attachment) -> Result<(), Error> {
    Ok(())
}

pub fn stop(_dir: &Path) {}
