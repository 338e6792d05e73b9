//! `tsbox-runtime monitor`: the per-container process that outlives the
//! front end, in the role of podman's conmon. It detaches (../detach.rs), runs
//! the container through a supervisor per run (supervisor.rs: the same code
//! as `tsbox-runtime run`), owns the container's stdio, logs it
//! (logfile.rs), records the run-time state (../state_file.rs), serves
//! `<bundle>/attach.sock` (clients.rs), applies the restart policy
//! (restart.rs) and runs the health checks (health.rs). It exits once the
//! container is done for good.
//!
//! Start-up handshake with the front end (src/backends/native/monitor.ts):
//! the front end holds the container's lock and hands it over as `--lock-fd`
//! (a flock belongs to the open file description, which the monitor now
//! shares), so the first state written here happens under the very lock
//! the front end took to check that the container may start. On the status
//! fd the monitor reports `listening` (with `--attach-first`, once the
//! socket is up; the container starts when the first client has attached),
//! then `started` or `error`, and closes both fds: the lock is released.

pub mod clients;
mod front_end;
pub mod health;
pub mod logfile;
pub mod remove;
mod remove_tree;
pub mod restart;
mod supervisor;
pub(crate) mod wakeup;

use crate::detach;
use crate::state_file::{self, Lock, StateFile};
use clients::{Attach, Client, Event, Mode};
use container::error::{Context, Error, ErrorKind};
use container::json::{self, Json};
use container::status::StatusEvents;
use container::sys::consts::{POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, SIGCHLD, SIGINT, SIGKILL, SIGTERM};
use container::sys::process::{self, ExitStatus};
use container::sys::types::PollFd;
use container::sys::{fd, signal, tty, Errno};
use container::Spec;
use logfile::{LogFile, Stream};
use restart::Policy;
use std::os::raw::c_int;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use supervisor::{StdioPlan, Supervisor};

pub const SOCKET: &str = "attach.sock";
/// How long the output of an ended run may keep coming (a process that
/// inherited the pipe and left the container's PID namespace cannot exist,
/// so this only bounds the unexpected).
const DRAIN: Duration = Duration::from_secs(2);
/// `--attach-first`: start anyway if nobody attached by then.
const ATTACH_WAIT: Duration = Duration::from_secs(30);

pub struct Options {
    pub bundle: PathBuf,
    pub status_fd: Option<i32>,
    pub lock_fd: Option<i32>,
    pub restart: Policy,
    /// The log's rotation (bytes per file, files kept); None: `--log-driver none`, no log kept.
    pub log: Option<(u64, u32)>,
    /// Keep the container's stdin open for attached clients (`-i`).
    pub open_stdin: bool,
    /// Start the container once the first client has attached (`start -a`).
    pub attach_first: bool,
    /// Delete the bundle once the container is done (`--rm`).
    pub remove: bool,
    /// `--front-end TEXT`: the CLI's `run -d` became us; print TEXT once it
    /// started (front_end.rs).
    pub front_end: Option<String>,
    /// Each start's run::Options::nest_idle.
    pub nest_idle: Option<u32>,
}

pub fn monitor(mut opts: Options) -> i32 {
    // --front-end: we report to the process we leave behind, over a pipe.
    let mut waiting = None;
    if let Some(print) = opts.front_end.take() {
        match fd::pipe() {
            Ok((r, w)) => {
                opts.status_fd = Some(w);
                waiting = Some((r, w, print));
            }
            Err(e) => {
                eprintln!("tsbox: starting the container's monitor: {}", e);
                return 125;
            }
        }
    }
    let events = StatusEvents::new(opts.status_fd, "tsbox-runtime monitor");
    let detached = match &waiting {
        Some((r, w, print)) => {
            let (bundle, remove, lock) = (opts.bundle.clone(), opts.remove, opts.lock_fd);
            detach::detach_then(|| {
                // Only the monitor may hold the pipe's write end and the lock now.
                fd::close(*w);
                if let Some(l) = lock {
                    fd::close(l);
                }
                front_end::wait_for_start(front_end::Waiting { status: *r, bundle: &bundle, print, remove })
            })
        }
        None => detach::detach(),
    };
    if let Some((r, _, _)) = &waiting {
        fd::close(*r);
    }
    if let Err(e) = detached {
        // Still the front end's process: nobody reads the pipe.
        if waiting.is_some() {
            eprintln!("tsbox: {}", e.message);
        }
        return events.error(&e);
    }
    let bundle = opts.bundle.clone();
    let mut m = match Monitor::open(opts, events) {
        Ok(m) => m,
        Err((e, events)) => {
            // Nothing runs: the record says so, under the lock we were handed.
            let _ = StateFile::new(&bundle).update(Lock::Held, failed_fields(&e));
            return events.error(&e);
        }
    };
    m.serve();
    m.finish()
}

/// How one run ended.
#[derive(Clone)]
enum Outcome {
    Exited { code: i32, signal: Option<String>, oom: bool },
    /// It never got to execve (a spec or setup error, command not found).
    Failed(Error),
}

impl Outcome {
    fn exit_code(&self) -> i32 {
        match self {
            Outcome::Exited { code, .. } => *code,
            Outcome::Failed(e) => e.exit_code(),
        }
    }

    /// As state.json records it and the socket reports it.
    fn fields(&self) -> Vec<(&'static str, Json)> {
        match self {
            Outcome::Exited { code, signal, oom } => vec![
                ("exitCode", Json::from(*code)),
                ("signal", Json::from(signal.clone())),
                ("oomKilled", Json::from(*oom)),
                ("error", Json::Null),
            ],
            Outcome::Failed(e) => vec![
                ("exitCode", Json::from(e.exit_code())),
                ("signal", Json::Null),
                ("oomKilled", Json::from(false)),
                ("error", Json::from(e.message.as_str())),
            ],
        }
    }

    fn to_json(&self) -> Json {
        Json::object(self.fields())
    }
}

struct Run {
    sup: Supervisor,
    status_buf: Vec<u8>,
    status_open: bool,
    reaped: Option<ExitStatus>,
    pid: Option<i32>,
    pidfd: Option<c_int>,
    began: Instant,
    outcome: Option<Outcome>,
    /// Its start could not be recorded in state.json: killed, it ends as failed with this.
    unrecorded: Option<Error>,
    outputs: Vec<(c_int, Stream)>,
    stdin_pending: Vec<u8>,
    /// Close the container's stdin once `stdin_pending` is written.
    stdin_closing: bool,
    drain_until: Option<Instant>,
}

impl Run {
    /// docker's StdinOnce: the input ends with the client that attached with it. Never a terminal's: the
    /// container keeps it for the next attach (`run -it`, Ctrl-P Ctrl-Q, `attach`), and while it was
    /// marked closing every later keystroke was dropped.
    fn end_input_once(&mut self) {
        if self.sup.pty.is_none() {
            self.stdin_closing = true;
        }
    }
}

struct Monitor {
    bundle: PathBuf,
    policy: Policy,
    remove: bool,
    open_stdin: bool,
    plan: StdioPlan,
    /// Each start's run::Options::nest_idle.
    nest_idle: Option<u32>,
    state: StateFile,
    /// The front end's lock and status fd, until the first start is reported.
    lock_fd: Option<c_int>,
    events: Option<StatusEvents>,
    status_fd: Option<c_int>,
    /// None: `--log-driver none` (output reaches attached clients only, as docker's none driver).
    log: Option<LogFile>,
    listener: UnixListener,
    wake: c_int,
    clients: Vec<Client>,
    run: Option<Run>,
    started_once: bool,
    restarts: u32,
    backoff: Option<Duration>,
    restart_at: Option<Instant>,
    attach_until: Option<Instant>,
    kill_at: Option<Instant>,
    manual_stop: bool,
    /// `restart` asked for (a stop with `restart`): the run that ends is started
    /// again at once, not counted as a policy's restart, and never removed.
    restart_requested: bool,
    last: Option<Outcome>,
    done: bool,
    own_start_time: Option<String>,
    /// The container's health check, when it has one.
    health: Option<health::Health>,
}

impl Monitor {
    fn open(opts: Options, events: StatusEvents) -> Result<Monitor, (Error, StatusEvents)> {
        let setup = (|| {
            let spec = Spec::load(&opts.bundle).map_err(Error::from)?;
            // Relative names from here on: the socket's path must fit in
            // sun_path (108 bytes), which a bundle path may not.
            std::env::set_current_dir(&opts.bundle)
                .map_err(|e| Error::setup(format!("entering the bundle {}: {}", opts.bundle.display(), e)))?;
            let _ = std::fs::remove_file(SOCKET);
            let listener = UnixListener::bind(SOCKET).map_err(|e| Error::setup(format!("creating {}: {}", SOCKET, e)))?;
            listener
                .set_nonblocking(true)
                .map_err(|e| Error::setup(format!("creating {}: {}", SOCKET, e)))?;
            let _ = fd::set_cloexec(listener.as_raw_fd());
            let log = match opts.log {
                Some((max_size, max_files)) => Some(
                    LogFile::open(Path::new("."), max_size, max_files)
                        .map_err(|e| Error::setup(format!("opening the container log: {}", e)))?,
                ),
                None => None,
            };
            let wake = wakeup::install().map_err(|e| Error::errno("installing signal handlers", e))?;
            let terminal = if spec.process.terminal {
                let size = spec.process.console_size;
                Some(size.map(|s| (s.width, s.height)).unwrap_or((80, 24)))
            } else {
                None
            };
            Ok((listener, log, wake, terminal))
        })();
        let (listener, log, wake, terminal) = match setup {
            Ok(v) => v,
            Err(e) => return Err((e, events)),
        };
        Ok(Monitor {
            health: health::Config::load(Path::new(".")).map(|c| health::Health::new(c, Path::new("."))),
            state: StateFile::new(Path::new(".")),
            bundle: opts.bundle,
            policy: opts.restart,
            remove: opts.remove,
            open_stdin: opts.open_stdin,
            plan: StdioPlan {
                terminal,
                open_stdin: opts.open_stdin,
            },
            nest_idle: opts.nest_idle,
            lock_fd: opts.lock_fd,
            status_fd: opts.status_fd,
            events: Some(events),
            log,
            listener,
            wake,
            clients: Vec::new(),
            run: None,
            started_once: false,
            restarts: 0,
            backoff: None,
            restart_at: None,
            attach_until: if opts.attach_first { Some(Instant::now() + ATTACH_WAIT) } else { None },
            kill_at: None,
            manual_stop: false,
            restart_requested: false,
            last: None,
            done: false,
            own_start_time: state_file::start_time(process::own_pid()),
        })
    }

    fn serve(&mut self) {
        if self.attach_until.is_some() {
            self.report_line(Json::object(vec![
                ("event", Json::from("listening")),
                ("monitorPid", Json::from(process::own_pid())),
            ]));
        } else {
            self.launch();
        }
        while !self.done {
            self.poll_once();
        }
    }

    // ------------------------------------------------------------ runs

    fn launch(&mut self) {
        self.attach_until = None;
        self.restart_at = None;
        // Room for this run's end on a full disk (a restart's run had the last one's).
        self.state.keep_reserve();
        match supervisor::start(&self.bundle, &self.plan, self.nest_idle) {
            Ok(sup) => {
                let outputs = sup.outputs.clone();
                self.run = Some(Run {
                    sup,
                    status_buf: Vec::new(),
                    status_open: true,
                    reaped: None,
                    pid: None,
                    pidfd: None,
                    began: Instant::now(),
                    outcome: None,
                    unrecorded: None,
                    outputs,
                    stdin_pending: Vec::new(),
                    stdin_closing: false,
                    drain_until: None,
                });
            }
            Err(e) => self.run_ended(Outcome::Failed(e)),
        }
    }

    fn on_status_line(&mut self, line: &str) {
        let v = match json::parse(line) {
            Ok(v) => v,
            Err(_) => return,
        };
        let int = |k: &str| v.get(k).and_then(Json::as_number).and_then(|n| n.as_i64());
        match v.get("event").and_then(Json::as_str) {
            Some("started") => {
                let pid = int("pid").unwrap_or(-1) as i32;
                self.on_started(pid);
            }
            Some("error") => {
                let kind = v.get("kind").and_then(Json::as_str).and_then(ErrorKind::parse).unwrap_or(ErrorKind::Setup);
                let message = v.get("message").and_then(Json::as_str).unwrap_or("container setup failed");
                if let Some(run) = self.run.as_mut() {
                    run.outcome = Some(Outcome::Failed(Error::new(kind, message)));
                }
            }
            // Limits the host cannot apply: the starter says so (a restart's go nowhere, as docker's).
            Some("warning") => {
                if let (Some(events), Some(message)) = (self.events.as_ref(), v.get("message").and_then(Json::as_str)) {
                    events.warning(message);
                }
            }
            Some("exited") => {
                if let Some(run) = self.run.as_mut() {
                    run.outcome = Some(Outcome::Exited {
                        code: int("exitCode").unwrap_or(125) as i32,
                        signal: v.get("signal").and_then(Json::as_str).map(str::to_string),
                        oom: v.get("oomKilled").and_then(Json::as_bool).unwrap_or(false),
                    });
                }
            }
            _ => {}
        }
    }

    fn on_started(&mut self, pid: i32) {
        if let Some(run) = self.run.as_mut() {
            run.pid = Some(pid);
            run.pidfd = process::pidfd_open(pid).ok();
        }
        let restarted = self.started_once;
        let lock = self.lock();
        let mut fields = vec![
            ("status", Json::from("running")),
            ("pid", Json::from(pid)),
            ("monitorPid", Json::from(process::own_pid())),
            ("monitorStartTime", Json::from(self.own_start_time.clone())),
            ("started", state_file::now()),
            ("exitCode", Json::Null),
            ("signal", Json::Null),
            ("error", Json::Null),
            ("oomKilled", Json::from(false)),
            ("restartCount", Json::from(self.restarts)),
        ];
        if !restarted {
            fields.push(("finished", Json::Null));
        }
        let recorded = self.state.update(lock, fields);
        if let Err(e) = recorded.step(|| format!("recording the container's start in {}", self.bundle.join("state.json").display())) {
            // Unrecorded, it would run unseen (`ps` says Created, `rm -f` skips the kill, a `start` makes a
            // second one): it ends and the start fails with the reason, as docker fails a start it cannot record.
            return self.unrecorded_start(e);
        }
        self.started_once = true;
        if let Some(h) = self.health.as_mut() {
            h.run_started(Instant::now());
        }
        if let Some(events) = self.events.take() {
            events.started(pid);
            self.release_front_end();
        }
    }

    /// The run's start could not be recorded: its process is killed (the supervisor then cleans up as for
    /// any end) and the run ends with `e`, a failed start when it was the first.
    fn unrecorded_start(&mut self, e: Error) {
        if let Some(run) = self.run.as_mut() {
            run.unrecorded = Some(e);
        }
        self.signal(SIGKILL);
    }

    /// The lock for a state write: the front end's while we hold its fd.
    fn lock(&self) -> Lock {
        if self.lock_fd.is_some() {
            Lock::Held
        } else {
            Lock::Take
        }
    }

    /// The first start is reported: the status fd and the lock go.
    fn release_front_end(&mut self) {
        for fd in [self.status_fd.take(), self.lock_fd.take()].iter().flatten() {
            fd::close(*fd);
        }
        self.events = None;
    }

    fn report_line(&self, body: Json) {
        if let Some(fd) = self.status_fd {
            let _ = fd::write_all(fd, format!("{}\n", body).as_bytes());
        }
    }

    /// The run's supervisor is gone and its pipes are drained (or given up on).
    fn finish_run(&mut self) {
        let run = match self.run.take() {
            Some(r) => r,
            None => return,
        };
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some(log) = self.log.as_mut() {
                let _ = log.flush_stream(stream, SystemTime::now());
            }
        }
        let mut fds: Vec<c_int> = run.outputs.iter().map(|(f, _)| *f).collect();
        fds.extend(run.sup.input);
        fds.push(run.sup.status);
        fds.extend(run.pidfd);
        fds.extend(run.sup.outputs.iter().map(|(f, _)| *f));
        fds.sort_unstable();
        fds.dedup();
        for f in fds {
            fd::close(f);
        }
        if run.outcome.is_none() {
            // The supervisor died without reporting the end (SIGKILLed): it did not remove the run's cgroup either,
            // which stayed, empty, until the next start or rm. Gone before the end is recorded, as the runtime's own.
            let _ = crate::cgroup_ops::remove_leftovers(&self.bundle);
        }
        let outcome = run.unrecorded.map(Outcome::Failed).or(run.outcome).unwrap_or_else(|| match run.reaped {
            // The supervisor itself was killed: the container died with it.
            Some(ExitStatus::Signal(s)) if run.pid.is_some() => Outcome::Exited {
                code: 128 + s,
                signal: Some(signal::name(s)),
                oom: false,
            },
            _ => Outcome::Failed(Error::setup("the container's supervisor exited unexpectedly")),
        });
        let ran = run.began.elapsed();
        self.kill_at = None;
        self.run_ended_after(outcome, ran);
    }

    /// The health check's end with the run: after the state says how it ended, so a reader that sees
    /// "unhealthy" then finds the container stopped (waitForHealthy tells the two apart).
    fn health_ended(&mut self) {
        if let Some(h) = self.health.as_mut() {
            h.run_ended();
        }
    }

    fn run_ended(&mut self, outcome: Outcome) {
        self.run_ended_after(outcome, Duration::from_secs(0));
    }

    fn run_ended_after(&mut self, outcome: Outcome, ran: Duration) {
        let first_failed = !self.started_once;
        if first_failed {
            // Never ran: the front end gets the error and nothing restarts.
            let e = match &outcome {
                Outcome::Failed(e) => e.clone(),
                Outcome::Exited { .. } => Error::setup("the container exited before it was reported started"),
            };
            let _ = self.state.update(self.lock(), failed_fields(&e));
            self.health_ended();
            if let Some(events) = self.events.take() {
                events.error(&e);
            }
            self.release_front_end();
            self.last = Some(outcome);
            self.end_for_good();
            return;
        }
        // A container removed meanwhile (`rm -f` raced us, or its data dir went) has nothing to restart.
        let removed = !Path::new("state.json").exists();
        let requested = std::mem::replace(&mut self.restart_requested, false) && !removed;
        let again = !removed && (requested || self.policy.restarts(outcome.exit_code(), self.restarts, self.manual_stop));
        let mut fields = vec![
            ("status", Json::from(if again { "restarting" } else { "exited" })),
            ("pid", Json::Null),
            ("finished", state_file::now()),
        ];
        fields.extend(outcome.fields());
        let _ = self.state.update(self.lock(), fields);
        self.health_ended();
        self.last = Some(outcome);
        if requested {
            self.notify_end();
            self.launch();
        } else if again {
            self.notify_end();
            let delay = restart::next_delay(self.backoff, ran);
            self.backoff = Some(delay);
            self.restart_at = Some(Instant::now() + delay);
        } else {
            self.end_for_good();
        }
    }

    /// Done: the socket goes before anyone hears of the end, so a `start`
    /// that follows (whose monitor binds a new socket here) cannot lose its
    /// socket to us; connected clients still get their answers.
    fn end_for_good(&mut self) {
        let _ = std::fs::remove_file(SOCKET);
        self.notify_end();
        self.done = true;
    }

    fn restart_now(&mut self) {
        self.restarts += 1;
        self.launch();
    }

    /// Sends `sig` to the container's init (through its pidfd: never a
    /// recycled pid), or to the supervisor before the init's pid is known.
    fn signal(&self, sig: c_int) -> bool {
        let run = match &self.run {
            Some(r) => r,
            None => return false,
        };
        if run.reaped.is_some() {
            return false;
        }
        let sent = match (run.pidfd, run.pid) {
            (Some(pidfd), _) => process::pidfd_send_signal(pidfd, sig),
            (None, Some(pid)) => process::kill(pid, sig),
            (None, None) => process::kill(run.sup.pid, sig),
        };
        sent.is_ok()
    }

    /// A manual stop while waiting to restart: the container stays down.
    fn cancel_restart(&mut self) {
        if self.restart_at.take().is_some() {
            let _ = self.state.update(Lock::Take, vec![("status", Json::from("exited"))]);
            self.end_for_good();
        }
    }

    // ------------------------------------------------------------ clients

    fn notify_end(&mut self) {
        let body = match &self.last {
            Some(o) => o.to_json(),
            None => return,
        };
        let mut ok = body.clone();
        ok.set("ok", Json::from(true));
        for c in self.clients.iter_mut() {
            match c.mode {
                Mode::Waiting => c.reply(ok.clone()),
                Mode::Attached(_) => {
                    let event = Json::object(vec![("exited", body.clone())]);
                    c.frame(clients::CONTROL, event.to_string().as_bytes());
                    c.mode = Mode::Closing;
                }
                _ => {}
            }
        }
    }

    fn handle_request(&mut self, i: usize, req: Json) {
        let op = req.get("op").and_then(Json::as_str).unwrap_or("").to_string();
        let int = |k: &str| req.get(k).and_then(Json::as_number).and_then(|n| n.as_i64());
        let flag = |k: &str| req.get(k).and_then(Json::as_bool).unwrap_or(false);
        let running = self.run.as_ref().map_or(false, |r| r.reaped.is_none());
        // Its process has ended but the run is not put away yet (output draining): its end is not recorded.
        let ending = self.run.as_ref().map_or(false, |r| r.reaped.is_some());
        let restarting = self.restart_at.is_some();
        match op.as_str() {
            "attach" => {
                if !running && self.attach_until.is_none() {
                    return self.clients[i].reply(error_reply(if restarting {
                        "the container is restarting: wait until it runs"
                    } else {
                        "the container is not running"
                    }));
                }
                let attach = Attach {
                    stdin: flag("stdin") && self.open_stdin,
                    stdout: flag("stdout"),
                    stderr: flag("stderr"),
                    stdin_once: flag("stdinOnce"),
                };
                let body = Json::object(vec![
                    ("ok", Json::from(true)),
                    ("tty", Json::from(self.plan.terminal.is_some())),
                    ("stdin", Json::from(attach.stdin)),
                ]);
                self.clients[i].start_attach(attach, body);
                let pending = self.clients[i].pending_events();
                self.handle_events(i, pending);
                if self.attach_until.is_some() {
                    self.launch();
                }
            }
            "kill" | "stop" => {
                let sig = int("signal").unwrap_or(if op == "kill" { SIGKILL as i64 } else { 15 }) as c_int;
                if flag("restart") {
                    self.restart_requested = true;
                } else if op == "stop" || flag("stop") {
                    self.manual_stop = true;
                }
                if restarting && self.manual_stop {
                    self.cancel_restart();
                    if op == "kill" {
                        self.clients[i].reply(ok_reply());
                    } else {
                        let mut body = self.last.as_ref().map(Outcome::to_json).unwrap_or_else(|| Json::object(Vec::<(&str, Json)>::new()));
                        body.set("ok", Json::from(true));
                        self.clients[i].reply(body);
                    }
                    return;
                }
                if !running || !self.signal(sig) {
                    // A stop then is answered with that end (`rm -f` must find it recorded).
                    if ending && op == "stop" {
                        return;
                    }
                    return self.clients[i].reply(error_reply("the container is not running"));
                }
                if op == "kill" {
                    return self.clients[i].reply(ok_reply());
                }
                // stop: answered when the run ends; SIGKILL after the timeout (< 0: never).
                // Seconds, fractions too (the library's stop(1500) is 1.5): an integer-only read fell back to 10.
                let timeout = req.get("timeout").and_then(Json::as_number).map(|n| n.as_f64()).filter(|t| t.is_finite()).unwrap_or(10.0);
                if timeout >= 0.0 && sig != SIGKILL {
                    let at = Instant::now() + Duration::from_millis((timeout.min(1e9) * 1000.0) as u64);
                    self.kill_at = Some(self.kill_at.map_or(at, |k| std::cmp::min(k, at)));
                }
            }
            "wait" => {
                if !running && !ending && !restarting {
                    let mut body = self.last.as_ref().map(Outcome::to_json).unwrap_or_else(|| Json::object(Vec::<(&str, Json)>::new()));
                    body.set("ok", Json::from(true));
                    self.clients[i].reply(body);
                }
                // else: answered at the end of the run (Mode::Waiting)
            }
            "resize" => {
                let (cols, rows) = (int("cols").unwrap_or(80) as u16, int("rows").unwrap_or(24) as u16);
                self.resize(cols, rows);
                self.clients[i].reply(ok_reply());
            }
            // `update --restart`: the policy of the runs that end from now on.
            "policy" => match Policy::parse(req.get("restart").and_then(Json::as_str).unwrap_or("")) {
                Ok(policy) => {
                    self.policy = policy;
                    self.clients[i].reply(ok_reply());
                }
                Err(message) => self.clients[i].reply(error_reply(&message)),
            },
            "status" => {
                let status = if running { "running" } else if restarting { "restarting" } else { "exited" };
                let pid = self.run.as_ref().and_then(|r| r.pid);
                self.clients[i].reply(Json::object(vec![
                    ("ok", Json::from(true)),
                    ("status", Json::from(status)),
                    ("pid", Json::from(pid)),
                    ("restartCount", Json::from(self.restarts)),
                ]));
            }
            _ => self.clients[i].reply(error_reply(&format!("unknown op {:?}", op))),
        }
    }

    fn handle_events(&mut self, i: usize, events: Vec<Event>) {
        for event in events {
            match event {
                Event::Request(req) => self.handle_request(i, req),
                Event::Stdin(data) => {
                    let wants = matches!(self.clients[i].mode, Mode::Attached(a) if a.stdin);
                    if let (true, Some(run)) = (wants, self.run.as_mut()) {
                        if run.sup.input.is_some() && !run.stdin_closing {
                            run.stdin_pending.extend_from_slice(&data);
                        }
                    }
                }
                Event::CloseStdin => {
                    let once = matches!(self.clients[i].mode, Mode::Attached(a) if a.stdin && a.stdin_once);
                    if let (true, Some(run)) = (once, self.run.as_mut()) {
                        run.end_input_once();
                    }
                }
                Event::Resize(cols, rows) => self.resize(cols, rows),
            }
        }
    }

    fn resize(&self, cols: u16, rows: u16) {
        if let Some(master) = self.run.as_ref().and_then(|r| r.sup.pty) {
            let _ = tty::set_winsize(master, rows, cols);
        }
    }

    fn broadcast(&mut self, stream: Stream, data: &[u8]) {
        let id = if stream == Stream::Stdout { clients::STDOUT } else { clients::STDERR };
        for c in self.clients.iter_mut() {
            if let Mode::Attached(a) = c.mode {
                if (stream == Stream::Stdout && a.stdout) || (stream == Stream::Stderr && a.stderr) {
                    c.frame(id, data);
                }
            }
        }
    }

    // ------------------------------------------------------------ the loop

    fn poll_once(&mut self) {
        let backlog = self.clients.iter().map(Client::backlog).max().unwrap_or(0);
        let mut fds: Vec<PollFd> = Vec::new();
        let mut what: Vec<Source> = Vec::new();
        let mut add = |fds: &mut Vec<PollFd>, fd: c_int, events: i16, s: Source| {
            fds.push(PollFd { fd, events, revents: 0 });
            what.push(s);
        };
        add(&mut fds, self.wake, POLLIN, Source::Wake);
        add(&mut fds, self.listener.as_raw_fd(), POLLIN, Source::Listener);
        if let Some(run) = &self.run {
            if run.status_open {
                add(&mut fds, run.sup.status, POLLIN, Source::Status);
            }
            if backlog < clients::HIGH_WATER {
                for (k, (f, _)) in run.outputs.iter().enumerate() {
                    add(&mut fds, *f, POLLIN, Source::Output(k));
                }
            }
            if let Some(input) = run.sup.input {
                if !run.stdin_pending.is_empty() {
                    add(&mut fds, input, POLLOUT, Source::Input);
                }
            }
        }
        if let Some(out) = self.health.as_ref().and_then(health::Health::output_fd) {
            add(&mut fds, out, POLLIN, Source::Health);
        }
        let stdin_backlog = self.run.as_ref().map_or(0, |r| r.stdin_pending.len());
        for (k, c) in self.clients.iter().enumerate() {
            let mut ev = 0;
            let lingering = c.linger_deadline().is_some();
            if lingering || (!matches!(c.mode, Mode::Closing) && !c.input_ended && stdin_backlog < clients::HIGH_WATER) {
                ev |= POLLIN;
            }
            if c.wants_write() {
                ev |= POLLOUT;
            }
            add(&mut fds, c.fd(), ev, Source::Client(k));
        }

        let now = Instant::now();
        let deadline = [
            self.restart_at,
            self.kill_at,
            self.attach_until,
            self.run.as_ref().and_then(|r| r.drain_until),
            self.health.as_ref().and_then(health::Health::deadline),
        ]
        .iter()
        .flatten()
        .copied()
        .chain(self.clients.iter().filter_map(Client::linger_deadline))
        .min();
        let timeout = deadline.map_or(-1, |d| {
            let left = d.saturating_duration_since(now);
            std::cmp::min(left.as_millis() as u64 + 1, i32::MAX as u64) as c_int
        });
        if fd::poll(&mut fds, timeout).is_err() {
            // EINVAL/ENOMEM: nothing sensible left to do but try again shortly.
            std::thread::sleep(Duration::from_millis(10));
            return;
        }

        for (pfd, source) in fds.iter().zip(what.iter()) {
            if pfd.revents == 0 {
                continue;
            }
            match *source {
                Source::Wake => self.on_signals(),
                Source::Listener => self.accept(),
                Source::Status => self.read_status(),
                Source::Output(k) => self.read_output(k),
                Source::Input => self.write_input(),
                Source::Health => {
                    if let Some(h) = self.health.as_mut() {
                        h.read_output();
                    }
                }
                Source::Client(k) => {
                    if pfd.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL) != 0 && !matches!(self.clients[k].mode, Mode::Closing) {
                        let events = self.clients[k].read();
                        self.handle_events(k, events);
                    }
                    // Hung up both ways (not a half-close): nobody to answer.
                    if pfd.revents & (POLLHUP | POLLERR | POLLNVAL) != 0 {
                        self.clients[k].closed = true;
                    }
                }
            }
        }
        // Whatever became queued, whoever it is for.
        for c in self.clients.iter_mut() {
            if c.wants_write() || matches!(c.mode, Mode::Closing) {
                c.flush();
            }
        }
        // A client that attached with stdinOnce and went away ends the input too.
        let hung_up_once = self
            .clients
            .iter()
            .any(|c| c.closed && matches!(c.mode, Mode::Attached(a) if a.stdin && a.stdin_once));
        if let (true, Some(run)) = (hung_up_once, self.run.as_mut()) {
            run.end_input_once();
        }
        let now = Instant::now();
        self.clients.retain(|c| !c.closed && c.linger_deadline().map_or(true, |t| t > now));
        self.close_stdin_if_asked();
        self.timers();
        self.check_run_end();
    }

    fn on_signals(&mut self) {
        for sig in wakeup::drain(self.wake) {
            if sig == SIGCHLD {
                if let Some(run) = self.run.as_mut() {
                    if run.reaped.is_none() {
                        if let Ok(Some(status)) = process::try_wait(run.sup.pid) {
                            run.reaped = Some(status);
                        }
                    }
                }
            } else if !self.signal(sig) && (sig == SIGTERM || sig == SIGINT) {
                // Someone signalled the monitor: the container is who it is meant
                // for; with none running (waiting to restart), it means "stop".
                self.manual_stop = true;
                self.cancel_restart();
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = fd::set_cloexec(stream.as_raw_fd());
                    if let Ok(c) = Client::new(stream) {
                        self.clients.push(c);
                    }
                }
                Err(_) => break,
            }
        }
    }

    fn read_status(&mut self) {
        let mut lines = Vec::new();
        if let Some(run) = self.run.as_mut() {
            let mut buf = [0u8; 4096];
            loop {
                match fd::read(run.sup.status, &mut buf) {
                    Ok(0) => {
                        run.status_open = false;
                        break;
                    }
                    Ok(n) => run.status_buf.extend_from_slice(&buf[..n]),
                    Err(e) if e == EAGAIN => break,
                    Err(_) => {
                        run.status_open = false;
                        break;
                    }
                }
            }
            while let Some(nl) = run.status_buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = run.status_buf.drain(..=nl).collect();
                lines.push(String::from_utf8_lossy(&line).trim().to_string());
            }
        }
        for line in lines {
            self.on_status_line(&line);
        }
    }

    fn read_output(&mut self, k: usize) {
        let (f, stream) = match self.run.as_ref().and_then(|r| r.outputs.get(k)) {
            Some(o) => *o,
            None => return,
        };
        let mut buf = vec![0u8; 65536];
        let mut ended = false;
        // Bounded: one busy stream must not starve the rest of the loop.
        for _ in 0..16 {
            match fd::read(f, &mut buf) {
                Ok(0) => {
                    ended = true;
                    break;
                }
                Ok(n) => {
                    if let Some(log) = self.log.as_mut() {
                        let _ = log.write(stream, &buf[..n], SystemTime::now());
                    }
                    self.broadcast(stream, &buf[..n]);
                }
                Err(e) if e == EAGAIN => break,
                // EIO: the pty's last slave is closed.
                Err(_) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            if let Some(run) = self.run.as_mut() {
                // The fd itself is closed with the run (a pty master is also its input).
                run.outputs.retain(|(o, _)| *o != f);
            }
        }
    }

    fn write_input(&mut self) {
        if let Some(run) = self.run.as_mut() {
            if let Some(input) = run.sup.input {
                match fd::write(input, &run.stdin_pending) {
                    Ok(n) => {
                        run.stdin_pending.drain(..n);
                    }
                    Err(e) if e == EAGAIN => {}
                    // The container closed its stdin: what it will never read is dropped.
                    Err(_) => run.stdin_pending.clear(),
                }
            }
        }
    }

    fn close_stdin_if_asked(&mut self) {
        if let Some(run) = self.run.as_mut() {
            if run.stdin_closing && run.stdin_pending.is_empty() {
                if let Some(input) = run.sup.input.take() {
                    fd::close(input);
                }
            }
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        if self.kill_at.map_or(false, |t| t <= now) {
            self.kill_at = None;
            // A container paused while the stop waited takes the SIGKILL only once thawed (docker's too).
            if self.signal(SIGKILL) {
                crate::cgroup_ops::thaw(&self.bundle);
            }
        }
        if self.restart_at.map_or(false, |t| t <= now) && self.run.is_none() {
            self.restart_now();
        }
        if self.attach_until.map_or(false, |t| t <= now) && self.run.is_none() {
            self.launch();
        }
        // A frozen container cannot answer: its checks wait until it is unpaused (`pause` is recorded in state.json).
        let init = self.run.as_ref().filter(|r| r.reaped.is_none()).and_then(|r| r.pid);
        let paused = || self.state.read().map_or(false, |s| s.get("status").and_then(Json::as_str) == Some("paused"));
        let init = if self.health.as_ref().map_or(false, |h| h.due(now)) && paused() { None } else { init };
        if let Some(h) = self.health.as_mut() {
            h.tick(now, init);
        }
    }

    fn check_run_end(&mut self) {
        let ended = match self.run.as_mut() {
            Some(run) if run.reaped.is_some() && !run.status_open => {
                let now = Instant::now();
                let until = *run.drain_until.get_or_insert(now + DRAIN);
                run.outputs.is_empty() || until <= now
            }
            _ => false,
        };
        if ended {
            self.finish_run();
        }
    }

    /// Leaves: queued replies are delivered, and with `--rm` the bundle goes.
    fn finish(mut self) -> i32 {
        let deadline = Instant::now() + clients::LINGER;
        for c in self.clients.iter_mut() {
            c.finish_blocking(deadline);
        }
        self.clients.clear();
        let code = self.last.as_ref().map_or(0, Outcome::exit_code);
        // A container that never started is the starter's to remove (it reports the error).
        if self.remove && self.started_once {
            remove::remove_container(&self.bundle);
        }
        code
    }
}

#[derive(Clone, Copy)]
enum Source {
    Wake,
    Listener,
    Status,
    Output(usize),
    Input,
    Health,
    Client(usize),
}

const EAGAIN: Errno = Errno(11);

fn ok_reply() -> Json {
    Json::object(vec![("ok", Json::from(true))])
}

fn error_reply(message: &str) -> Json {
    Json::object(vec![("ok", Json::from(false)), ("error", Json::from(message))])
}

/// The record of a container that could not be started.
fn failed_fields(e: &Error) -> Vec<(&'static str, Json)> {
    failed_start_fields(e.exit_code(), &e.message)
}

/// What every failed start records (the monitor's, a front end's, src/containers/state.ts
/// `failedStartFields`): docker's exit code and the reason. The status and the times stay those of
/// before the start, so a new container stays "created" (docker's) and can be started again.
pub fn failed_start_fields(code: i32, message: &str) -> Vec<(&'static str, Json)> {
    vec![("pid", Json::Null), ("exitCode", Json::from(code)), ("signal", Json::Null), ("error", Json::from(message))]
}
