//! docker's health checks, run by the container's monitor: every interval
//! (the start interval during the start period) the probe runs in the
//! container as `tsbox-runtime exec` of `healthcheck-process.json`, its
//! output captured (the first 4 KiB, as docker keeps), killed after the
//! timeout. Exit 0 is healthy; `retries` failures in a row are unhealthy;
//! failures during the start period do not count until a first success.
//! Each result rewrites `health.json` (docker's State.Health, by rename),
//! which `inspect` and `ps` read. The files and their fields are
//! src/containers/healthcheck.ts's (contract:
//! test/fixtures/contract/healthcheck.json).

use crate::timefmt;
use container::json::{self, Json};
use container::sys::consts::SIGKILL;
use container::sys::fd;
use std::collections::VecDeque;
use std::fs::File;
use std::os::raw::c_int;
use std::os::unix::io::FromRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub const CONFIG: &str = "healthcheck.json";
pub const PROCESS: &str = "healthcheck-process.json";
pub const STATE: &str = "health.json";
/// docker keeps the last five results and 4 KiB of each one's output.
const LOG_ENTRIES: usize = 5;
const OUTPUT_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: u32,
}

impl Config {
    /// `healthcheck.json` of the bundle (our cwd): none when the container has no check.
    pub fn load(dir: &Path) -> Option<Config> {
        let text = std::fs::read_to_string(dir.join(CONFIG)).ok()?;
        Config::parse(&text).ok()
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let v = json::parse(text).map_err(|e| e.to_string())?;
        let ns = |key: &str| {
            v.get(key)
                .and_then(Json::as_number)
                .and_then(|n| n.as_u64())
                .map(Duration::from_nanos)
                .ok_or(format!("{}: expected nanoseconds", key))
        };
        let config = Config {
            interval: ns("interval")?,
            timeout: ns("timeout")?,
            start_period: ns("startPeriod")?,
            start_interval: ns("startInterval")?,
            retries: v.get("retries").and_then(Json::as_number).and_then(|n| n.as_u32()).ok_or("retries: expected a count")?,
        };
        if config.interval.as_nanos() == 0 || config.timeout.as_nanos() == 0 || config.start_interval.as_nanos() == 0 {
            return Err("interval, timeout and startInterval must be positive".into());
        }
        Ok(config)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Status {
    Starting,
    Healthy,
    Unhealthy,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        }
    }
}

struct Entry {
    start: SystemTime,
    end: SystemTime,
    exit_code: i32,
    output: String,
}

struct Probe {
    child: Child,
    output: c_int,
    buf: Vec<u8>,
    start: SystemTime,
    deadline: Instant,
    timed_out: bool,
    /// Once timed out: when it gets SIGKILL itself if still there (`GROUP_KILL_GRACE`); none after that.
    hard_kill_at: Option<Instant>,
}

/// How long a probe told to kill its group (`kill_group`) has before it is SIGKILLed itself.
const GROUP_KILL_GRACE: Duration = Duration::from_secs(5);

/// Kills the probe's command with every process of its group (signals.rs `KILL_GROUP`, which the probe's
/// `tsbox-runtime exec` carries out), not the probe alone.
fn kill_group(child: &Child) {
    let _ = container::sys::process::kill(child.id() as i32, crate::signals::KILL_GROUP);
}

pub struct Health {
    config: Config,
    /// The bundle (the monitor's cwd): where `health.json` goes.
    dir: PathBuf,
    status: Status,
    streak: u32,
    log: VecDeque<Entry>,
    /// The current run's start; none between runs.
    run_began: Option<Instant>,
    next_at: Option<Instant>,
    probe: Option<Probe>,
    /// Probes killed but not yet reaped (one frozen with its container exits only once thawed): never waited for.
    killed: Vec<Child>,
}

impl Health {
    pub fn new(config: Config, dir: &Path) -> Health {
        Health {
            config,
            dir: dir.to_path_buf(),
            status: Status::Starting,
            streak: 0,
            log: VecDeque::new(),
            run_began: None,
            next_at: None,
            probe: None,
            killed: Vec::new(),
        }
    }

    /// A run started: "starting" again, the first check one (start) interval from now.
    pub fn run_started(&mut self, now: Instant) {
        self.kill_probe();
        self.status = Status::Starting;
        self.streak = 0;
        self.run_began = Some(now);
        self.next_at = Some(now + self.period(now));
        self.write();
    }

    /// The run ended: no more checks until the next, and a run that had begun is
    /// "unhealthy" (docker's CloseMonitorChannel: a stopped container is never
    /// reported healthy); the log stays on record.
    pub fn run_ended(&mut self) {
        self.kill_probe();
        self.next_at = None;
        if self.run_began.take().is_some() {
            self.status = Status::Unhealthy;
            self.write();
        }
    }

    fn in_start_period(&self, now: Instant) -> bool {
        self.run_began.map_or(false, |b| now < b + self.config.start_period)
    }

    fn period(&self, now: Instant) -> Duration {
        if self.in_start_period(now) && self.status == Status::Starting {
            self.config.start_interval
        } else {
            self.config.interval
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        match &self.probe {
            Some(p) if !p.timed_out => Some(p.deadline),
            // (then none: a probe of a paused container dies only once thawed, and the loop must not spin meanwhile)
            Some(p) => p.hard_kill_at,
            None => self.next_at,
        }
    }

    /// The probe's output pipe, while it runs.
    pub fn output_fd(&self) -> Option<c_int> {
        self.probe.as_ref().map(|p| p.output)
    }

    pub fn read_output(&mut self) {
        if let Some(p) = self.probe.as_mut() {
            drain(p);
        }
    }

    /// Whether a new probe is due (none running).
    pub fn due(&self, now: Instant) -> bool {
        self.probe.is_none() && self.next_at.map_or(false, |at| now >= at)
    }

    /// Starts a probe that is due, ends one that finished or overran. `init_pid`: the container's init (none: skip this one).
    pub fn tick(&mut self, now: Instant, init_pid: Option<i32>) {
        self.killed.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
        if let Some(p) = self.probe.as_mut() {
            if !p.timed_out && now >= p.deadline {
                p.timed_out = true;
                p.hard_kill_at = Some(now + GROUP_KILL_GRACE);
                kill_group(&p.child);
            } else if p.hard_kill_at.map_or(false, |at| now >= at) {
                p.hard_kill_at = None;
                let _ = p.child.kill();
            }
            drain(p);
            match p.child.try_wait() {
                Ok(Some(status)) => {
                    let code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(SIGKILL));
                    self.finish(now, code);
                }
                Ok(None) => {}
                Err(_) => self.finish(now, -1),
            }
            return;
        }
        match (self.next_at, init_pid) {
            (Some(at), Some(pid)) if now >= at => {
                self.next_at = None;
                if let Err(e) = self.spawn(pid, now) {
                    self.record(now, Entry { start: SystemTime::now(), end: SystemTime::now(), exit_code: -1, output: e }, false);
                }
            }
            // Due, but nothing to check now (paused): the next one a period later.
            (Some(at), None) if now >= at => self.next_at = Some(now + self.period(now)),
            _ => {}
        }
    }

    fn spawn(&mut self, pid: i32, now: Instant) -> Result<(), String> {
        let (r, w) = fd::pipe().map_err(|e| format!("starting the health check: {}", e))?;
        let w2 = match fd::dup(w) {
            Ok(f) => f,
            Err(e) => {
                fd::close(r);
                fd::close(w);
                return Err(format!("starting the health check: {}", e));
            }
        };
        // SAFETY: w and w2 are fresh descriptors owned by nobody else; Command closes them in this process.
        let (out, err) = unsafe { (File::from_raw_fd(w), File::from_raw_fd(w2)) };
        let spawned = Command::new("/proc/self/exe")
            .arg0("tsbox-runtime")
            .args(["exec", "--pid", &pid.to_string(), "--process", PROCESS, "--bundle", "."])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn();
        let child = match spawned {
            Ok(c) => c,
            Err(e) => {
                fd::close(r);
                return Err(format!("starting the health check: {}", e));
            }
        };
        let _ = fd::set_nonblocking(r);
        self.probe = Some(Probe {
            child,
            output: r,
            buf: Vec::new(),
            start: SystemTime::now(),
            deadline: now + self.config.timeout,
            timed_out: false,
            hard_kill_at: None,
        });
        Ok(())
    }

    fn finish(&mut self, now: Instant, code: i32) {
        let p = match self.probe.take() {
            Some(p) => p,
            None => return,
        };
        fd::close(p.output);
        let (exit_code, output) = if p.timed_out {
            (-1, format!("Health check exceeded timeout ({})", seconds_text(self.config.timeout)))
        } else {
            (code, String::from_utf8_lossy(&p.buf).into_owned())
        };
        self.record(now, Entry { start: p.start, end: SystemTime::now(), exit_code, output }, true);
    }

    fn record(&mut self, now: Instant, entry: Entry, ran: bool) {
        let was = self.status;
        let ok = ran && entry.exit_code == 0;
        if ok {
            self.streak = 0;
            self.status = Status::Healthy;
        } else if !(self.in_start_period(now) && self.status == Status::Starting) {
            // A failure in the start period counts only once the container was healthy.
            self.streak += 1;
            if self.streak >= self.config.retries {
                self.status = Status::Unhealthy;
            }
        }
        self.log.push_back(entry);
        while self.log.len() > LOG_ENTRIES {
            self.log.pop_front();
        }
        if self.run_began.is_some() {
            self.next_at = Some(now + self.period(now));
        }
        self.write();
        if self.status != was {
            self.record_event();
        }
    }

    /// docker's `health_status: …` event, after health.json says it (a follower
    /// that then inspects sees the same). The container's id, image, name and
    /// labels are state.json's, read only at a change.
    fn record_event(&self) {
        if let Some(state) = crate::state_file::StateFile::new(&self.dir).read() {
            crate::events::record(&self.dir, &state, &crate::events::health_action(self.status.name()));
        }
    }

    fn kill_probe(&mut self) {
        if let Some(mut p) = self.probe.take() {
            // (between runs: the container's processes, the probe's command among them, went with its PID namespace)
            let _ = p.child.kill();
            fd::close(p.output);
            if !matches!(p.child.try_wait(), Ok(Some(_))) {
                self.killed.push(p.child);
            }
        }
    }

    pub fn to_json(&self) -> Json {
        let log = self
            .log
            .iter()
            .map(|e| {
                Json::object(vec![
                    ("Start", Json::from(timefmt::iso_millis(e.start))),
                    ("End", Json::from(timefmt::iso_millis(e.end))),
                    ("ExitCode", Json::from(e.exit_code)),
                    ("Output", Json::from(e.output.as_str())),
                ])
            })
            .collect();
        Json::object(vec![
            ("Status", Json::from(self.status.name())),
            ("FailingStreak", Json::from(self.streak)),
            ("Log", Json::Array(log)),
        ])
    }

    /// `health.json` by rename: readers never see half of it.
    fn write(&self) {
        let tmp = self.dir.join(format!(".{}.tmp", STATE));
        if std::fs::write(&tmp, format!("{}\n", self.to_json())).is_ok() && std::fs::rename(&tmp, self.dir.join(STATE)).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

impl Drop for Health {
    fn drop(&mut self) {
        self.kill_probe();
    }
}

/// Reads what the probe wrote: the first OUTPUT_MAX bytes are kept, the rest drained.
fn drain(p: &mut Probe) {
    let mut chunk = [0u8; 4096];
    loop {
        match fd::read(p.output, &mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = OUTPUT_MAX.saturating_sub(p.buf.len());
                p.buf.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
}

/// Go's Duration text for whole or fractional seconds: `30s`, `1.5s`, `500ms`.
fn seconds_text(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Json {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/contract/healthcheck.json");
        json::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn reads_the_config_the_typescript_side_writes() {
        let c = contract();
        for case in c.get("configs").and_then(Json::as_array).unwrap() {
            let file = case.get("file").unwrap().to_string();
            match case.get("error").and_then(Json::as_str) {
                Some(_) => assert!(Config::parse(&file).is_err(), "{}", file),
                None => {
                    let got = Config::parse(&file).unwrap();
                    let ms = |k: &str| Duration::from_millis(case.get(k).and_then(Json::as_number).unwrap().as_u64().unwrap());
                    assert_eq!(got.interval, ms("intervalMs"));
                    assert_eq!(got.timeout, ms("timeoutMs"));
                    assert_eq!(got.start_period, ms("startPeriodMs"));
                    assert_eq!(got.start_interval, ms("startIntervalMs"));
                    assert_eq!(got.retries, case.get("retries").and_then(Json::as_number).unwrap().as_u32().unwrap());
                }
            }
        }
    }

    fn health(dir: &Path, start_period_ms: u64, retries: u32) -> Health {
        Health::new(Config {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(50),
            start_period: Duration::from_millis(start_period_ms),
            start_interval: Duration::from_millis(10),
            retries,
        }, dir)
    }

    fn result(h: &mut Health, now: Instant, code: i32) {
        h.record(now, Entry { start: SystemTime::now(), end: SystemTime::now(), exit_code: code, output: String::new() }, true);
    }

    #[test]
    fn follows_dockers_status_rules() {
        let dir = std::env::temp_dir().join(format!("tsbox-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t0 = Instant::now();
        // In the start period: failures do not count; the start interval paces the checks.
        let mut h = health(&dir, 1000, 2);
        h.run_started(t0);
        assert_eq!(h.next_at, Some(t0 + Duration::from_millis(10)));
        result(&mut h, t0, 1);
        assert_eq!((h.status, h.streak), (Status::Starting, 0));
        result(&mut h, t0, 0);
        assert_eq!((h.status, h.streak), (Status::Healthy, 0));
        assert_eq!(h.next_at, Some(t0 + Duration::from_millis(100)), "the interval once healthy");
        // Once healthy a failure counts, start period or not; `retries` in a row is unhealthy.
        result(&mut h, t0, 1);
        assert_eq!((h.status, h.streak), (Status::Healthy, 1));
        result(&mut h, t0, 3);
        assert_eq!((h.status, h.streak), (Status::Unhealthy, 2));
        result(&mut h, t0, 0);
        assert_eq!((h.status, h.streak), (Status::Healthy, 0));
        for code in 1..5 {
            result(&mut h, t0, code);
        }
        assert_eq!(h.log.len(), LOG_ENTRIES);
        let written = json::parse(&std::fs::read_to_string(dir.join(STATE)).unwrap()).unwrap();
        assert_eq!(written.get("Status").and_then(Json::as_str), Some("unhealthy"));
        assert_eq!(written.get("FailingStreak").and_then(Json::as_number).and_then(|n| n.as_u32()), Some(4));
        assert_eq!(written.get("Log").and_then(Json::as_array).map(|l| l.len()), Some(5));
        // The run's end makes it unhealthy, whatever the last check said; the log stays.
        result(&mut h, t0, 0);
        h.run_ended();
        let written = json::parse(&std::fs::read_to_string(dir.join(STATE)).unwrap()).unwrap();
        assert_eq!(written.get("Status").and_then(Json::as_str), Some("unhealthy"));
        assert_eq!(written.get("Log").and_then(Json::as_array).map(|l| l.len()), Some(5));
        // No start period: failures count from the first check.
        let mut h = health(&dir, 0, 1);
        h.run_started(t0);
        assert_eq!(h.next_at, Some(t0 + Duration::from_millis(100)));
        result(&mut h, t0, 1);
        assert_eq!(h.status, Status::Unhealthy);
        h.run_ended();
        assert_eq!(h.next_at, None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(seconds_text(Duration::from_secs(30)), "30s");
        assert_eq!(seconds_text(Duration::from_millis(1500)), "1.5s");
        assert_eq!(seconds_text(Duration::from_millis(200)), "200ms");
    }

    #[test]
    fn a_status_a_result_changes_is_an_event() {
        let data = std::env::temp_dir().join(format!("tsbox-health-events-{}", std::process::id()));
        let bundle = data.join("containers").join("c1");
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(bundle.join("state.json"), r#"{"id":"c1","image":"busybox","name":"web","status":"running","labels":{"tier":"web"}}"#).unwrap();
        let t0 = Instant::now();
        let mut h = health(&bundle, 0, 2);
        h.run_started(t0);
        for code in [0, 0, 1, 1, 1, 0] {
            result(&mut h, t0, code);
        }
        // The run's end and the next start change the status without a probe: docker records neither.
        h.run_ended();
        h.run_started(t0);
        let text = std::fs::read_to_string(data.join(crate::events::FILE)).unwrap();
        let events: Vec<Json> = text.lines().map(|l| json::parse(l).unwrap()).collect();
        let actions: Vec<&str> = events.iter().map(|e| e.get("Action").and_then(Json::as_str).unwrap()).collect();
        assert_eq!(actions, ["health_status: healthy", "health_status: unhealthy", "health_status: healthy"]);
        let attributes = events[0].get("Actor").and_then(|a| a.get("Attributes")).unwrap();
        assert_eq!(attributes.to_string(), r#"{"image":"busybox","name":"web","tier":"web"}"#);
        std::fs::remove_dir_all(&data).unwrap();
    }
}
