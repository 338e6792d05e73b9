//! `tsbox-runtime run`: load the bundle, start the container, forward
//! signals, wait, report. Exits with the container's code, 128+signal, or
//! 125/126/127 when it could not be started.

use crate::helper::{self, Start};
use container::error::Error;
use container::launch;
use container::Spec;
use std::path::PathBuf;

pub struct Options {
    pub bundle: PathBuf,
    pub status_fd: Option<i32>,
}

pub fn run(opts: Options) -> i32 {
    let bundle = opts.bundle;
    helper::serve(Start {
        status_fd: opts.status_fd,
        detach: false,
        load: Box::new(move || Spec::load(&bundle).map_err(Error::from)),
        terminal: |spec: &Spec| spec.process.terminal,
        spawn: |spec: &Spec, on_clone: &mut dyn FnMut(i32)| launch::spawn(spec, on_clone),
    })
}
