//! The agent: one poll(2) loop over the host link, every supervised
//! process's stdio and status pipes, and a SIGCHLD self-pipe.
//!
//! Requests (CTRL frames, JSON) are answered with `{"id":N,"ok":true,…}` or
//! `{"id":N,"ok":false,"error":{"kind","message","exitCode"}}` (the crate's
//! error kinds, `reply.rs`); the ops live in `crate::ops`, one file each.
//! Streams are DATA/EOF frames on channels the host picked at `create`/`exec`;
//! both directions are credit-based (`link.rs`, `pumps.rs`).
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | the state, the loop |
//! | `link.rs` | the host link: frames in and out, link and stream credit |
//! | `poll.rs` | which fds to wait on, and who handles each |
//! | `table.rs` | the supervised processes: adding, forgetting, finishing |
//! | `status.rs` | a supervisor's status events |
//! | `pumps.rs` | container output to the link, host input to the container |
//! | `reply.rs` | answers and errors on channel 0 |
//! | `socks.rs` | connections into containers (`connect`) |

mod link;
mod poll;
mod pumps;
mod reply;
pub mod socks;
mod status;
mod table;

pub use reply::{no_such, op_error};
pub use table::Ctr;

use crate::frame::{self, Decoder};
use crate::sys;
use container::json::Json;
use container::sys::consts::SIGCHLD;
use container::sys::types::SigInfoHead;
use container::sys::{fd, ffi, signal, Errno};
use std::collections::{HashMap, VecDeque};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};

pub const VERSION: &str = "tsbox-agent 0.1.0";
/// Console events the host may have in flight (the rx virtqueue has 16 buffers).
pub const LINK_WINDOW: u32 = 8;
/// Initial credit of every stream, in bytes, both directions.
pub const STREAM_WINDOW: u64 = 64 * 1024;

static SIGCHLD_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let w = SIGCHLD_W.load(Ordering::SeqCst);
        if w >= 0 {
            let b = [1u8];
            unsafe { ffi::write(w, b.as_ptr() as *const c_void, 1) };
        }
    });
}

pub struct Agent {
    pub(crate) link: c_int,
    pub(crate) decoder: Decoder,
    /// Encoded frames not yet written to the link.
    pub(crate) out: VecDeque<u8>,
    /// Link bytes consumed and already reported to the host in CREDIT frames.
    pub(crate) reported: u64,
    sigchld_r: c_int,
    /// Supervised processes by handle: a container's cid or an exec's eid.
    pub(crate) ctrs: HashMap<String, Ctr>,
    /// stdin channel -> handle
    pub(crate) in_chans: HashMap<u32, String>,
    /// stdout/stderr channel -> handle
    pub(crate) out_chans: HashMap<u32, String>,
    /// Connections into containers (`connect`), by handle.
    pub(crate) socks: HashMap<String, socks::Sock>,
    /// Containers' outbound TCP and DNS through the host (`net_relay`).
    pub(crate) relay: Option<crate::net_relay::Relay>,
}

pub fn log(msg: &str) {
    eprintln!("tsbox-agent: {}", msg);
}

impl Agent {
    pub fn new(link: c_int) -> Result<Agent, Errno> {
        let (r, w) = fd::pipe()?;
        sys::set_nonblocking(r)?;
        sys::set_nonblocking(w)?;
        SIGCHLD_W.store(w, Ordering::SeqCst);
        signal::install(SIGCHLD, on_sigchld)?;
        sys::set_nonblocking(link)?;
        Ok(Agent {
            link,
            decoder: Decoder::new(frame::MAX_IN_PAYLOAD),
            out: VecDeque::new(),
            reported: 0,
            sigchld_r: r,
            ctrs: HashMap::new(),
            in_chans: HashMap::new(),
            out_chans: HashMap::new(),
            socks: HashMap::new(),
            relay: None,
        })
    }

    /// Tells the host it is there; then serves forever.
    pub fn run(&mut self) -> ! {
        self.send_json(Json::object(vec![
            ("event", Json::from("ready")),
            ("version", Json::from(VERSION)),
            ("window", Json::from(LINK_WINDOW)),
        ]));
        loop {
            self.flush_link();
            self.poll_once();
        }
    }
}
