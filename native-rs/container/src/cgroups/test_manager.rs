//! The test double of [`Manager`]: it records what its users call and drops
//! the limits it is told to, so the policy around the factory is tested
//! without a cgroup file system.

use super::common::{Dropped, Manager, Version};
use super::resources::Resources;
use super::stats::Stats;
use crate::error::Error;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub struct TestManager {
    dropped: Vec<Dropped>,
    pub calls: Rc<RefCell<Vec<String>>>,
}

impl TestManager {
    pub fn new(dropped: Vec<Dropped>) -> TestManager {
        TestManager {
            dropped,
            calls: Rc::new(RefCell::new(Vec::new())),
        }
    }

    fn record(&self, call: &str) {
        self.calls.borrow_mut().push(call.to_string());
    }
}

impl Manager for TestManager {
    fn version(&self) -> Version {
        Version::V2
    }

    fn dirs(&self) -> Vec<(String, PathBuf)> {
        vec![("unified".into(), PathBuf::from("/test/cgroup"))]
    }

    fn apply(&self, _r: &Resources) -> Result<Vec<Dropped>, Error> {
        self.record("apply");
        Ok(self.dropped.clone())
    }

    fn clone_into(&self) -> Option<&Path> {
        None
    }

    fn freeze(&self) -> Result<(), Error> {
        self.record("freeze");
        Ok(())
    }

    fn thaw(&self) -> Result<(), Error> {
        self.record("thaw");
        Ok(())
    }

    fn thaw_file(&self) -> Option<(PathBuf, &'static str)> {
        None
    }

    fn stats(&self) -> Stats {
        self.record("stats");
        Stats::default()
    }

    fn oom_kills(&self) -> u64 {
        0
    }

    fn destroy(&self) -> Result<(), Error> {
        self.record("destroy");
        Ok(())
    }
}
