//! docker's `--restart` policies: when an exited container starts again, and
//! after how long. The same rules live in src/containers/restart-policy.ts
//! (the vm daemon's monitor); test/fixtures/contract/restart-policy.json holds the
//! cases both sides are tested on.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    No,
    Always,
    /// Like `Always` here: there is no daemon whose restart it would sit out.
    UnlessStopped,
    /// At most this many restarts; 0 means no limit.
    OnFailure(u32),
}

const USAGE: &str = "use no, always, unless-stopped or on-failure[:max-retries]";

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, String> {
        let (name, count) = match text.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (text, None),
        };
        let policy = match name {
            "no" => Policy::No,
            "always" => Policy::Always,
            "unless-stopped" => Policy::UnlessStopped,
            "on-failure" => Policy::OnFailure(0),
            _ => return Err(format!("invalid restart policy {:?}: {}", text, USAGE)),
        };
        match (policy, count) {
            (_, None) => Ok(policy),
            (Policy::OnFailure(_), Some(c)) => c.parse::<u32>().map(Policy::OnFailure).map_err(|_| {
                format!(
                    "invalid restart policy {:?}: the maximum retry count must be a whole number from 0",
                    text
                )
            }),
            (_, Some(_)) => Err(format!(
                "invalid restart policy {:?}: only on-failure takes a maximum retry count",
                text
            )),
        }
    }

    /// Whether a run that ended with `exit_code` is followed by another,
    /// after `restarts` restarts so far. A container stopped by the user
    /// (`stop`, `kill`) is never restarted.
    pub fn restarts(self, exit_code: i32, restarts: u32, manually_stopped: bool) -> bool {
        if manually_stopped {
            return false;
        }
        match self {
            Policy::No => false,
            Policy::Always | Policy::UnlessStopped => true,
            Policy::OnFailure(max) => exit_code != 0 && (max == 0 || restarts < max),
        }
    }
}

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run at least this long counts as healthy: the back-off starts over.
const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// docker's back-off: 100 ms, doubled at each consecutive restart up to a
/// minute, back to 100 ms after a run of 10 s or more.
pub fn next_delay(previous: Option<Duration>, ran: Duration) -> Duration {
    match previous {
        Some(p) if ran < HEALTHY_RUN => std::cmp::min(p * 2, MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use container::json::{self, Json};

    fn fixture() -> Json {
        json::parse(include_str!("../../../../test/fixtures/contract/restart-policy.json")).unwrap()
    }

    fn cases<'a>(f: &'a Json, key: &str) -> &'a [Json] {
        f.get(key).and_then(Json::as_array).unwrap()
    }

    fn int(v: &Json, key: &str) -> i64 {
        v.get(key).and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap()
    }

    #[test]
    fn parses_like_the_fixture() {
        let f = fixture();
        for case in cases(&f, "parse") {
            let input = case.get("input").and_then(Json::as_str).unwrap();
            match (Policy::parse(input), case.get("policy")) {
                (Ok(p), Some(want)) => {
                    let name = want.get("name").and_then(Json::as_str).unwrap();
                    let max = int(want, "maximumRetryCount") as u32;
                    let expected = match name {
                        "no" => Policy::No,
                        "always" => Policy::Always,
                        "unless-stopped" => Policy::UnlessStopped,
                        _ => Policy::OnFailure(max),
                    };
                    assert_eq!(p, expected, "{}", input);
                }
                (Err(e), None) => {
                    assert_eq!(e, case.get("error").and_then(Json::as_str).unwrap(), "{}", input)
                }
                (got, _) => panic!("{}: got {:?}", input, got),
            }
        }
    }

    #[test]
    fn decides_like_the_fixture() {
        let f = fixture();
        for case in cases(&f, "decide") {
            let policy = Policy::parse(case.get("policy").and_then(Json::as_str).unwrap()).unwrap();
            let manual = case.get("manuallyStopped").and_then(Json::as_bool).unwrap();
            let want = case.get("restart").and_then(Json::as_bool).unwrap();
            let got = policy.restarts(int(case, "exitCode") as i32, int(case, "restartCount") as u32, manual);
            assert_eq!(got, want, "{}", case);
        }
    }

    #[test]
    fn backs_off_like_the_fixture() {
        let f = fixture();
        for case in cases(&f, "backoff") {
            let previous = case
                .get("previousMs")
                .and_then(Json::as_number)
                .and_then(|n| n.as_u64())
                .map(Duration::from_millis);
            let ran = Duration::from_millis(int(case, "ranMs") as u64);
            let want = Duration::from_millis(int(case, "delayMs") as u64);
            assert_eq!(next_delay(previous, ran), want, "{}", case);
        }
    }
}
