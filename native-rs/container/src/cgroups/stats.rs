//! A container's resource usage, as `tsbox-runtime stats` prints it and the
//! vm agent's `stats` op answers it (docs/architecture.md; the shape is the
//! contract fixture test/fixtures/contract/stats.json, which the TypeScript
//! side reads too).
//! Bytes and microseconds; None (null) where the host does not say.

use crate::json::Json;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub memory_usage: u64,
    pub memory_peak: Option<u64>,
    pub memory_limit: Option<u64>,
    /// Page cache not recently used, which the kernel reclaims first: docker's `stats` leaves it out of the usage.
    pub memory_inactive_file: Option<u64>,
    pub cpu_usage_usec: u64,
    pub cpu_user_usec: u64,
    pub cpu_system_usec: u64,
    pub cpu_throttled_usec: Option<u64>,
    pub cpu_throttled_periods: Option<u64>,
    pub pids_current: u64,
    pub pids_limit: Option<u64>,
    pub io_read_bytes: u64,
    pub io_write_bytes: u64,
}

impl Stats {
    pub fn to_json(&self) -> Json {
        Json::object(vec![
            (
                "memory",
                Json::object(vec![
                    ("usage", Json::from(self.memory_usage)),
                    ("peak", Json::from(self.memory_peak)),
                    ("limit", Json::from(self.memory_limit)),
                    ("inactiveFile", Json::from(self.memory_inactive_file)),
                ]),
            ),
            (
                "cpu",
                Json::object(vec![
                    ("usageUsec", Json::from(self.cpu_usage_usec)),
                    ("userUsec", Json::from(self.cpu_user_usec)),
                    ("systemUsec", Json::from(self.cpu_system_usec)),
                    ("throttledUsec", Json::from(self.cpu_throttled_usec)),
                    ("throttledPeriods", Json::from(self.cpu_throttled_periods)),
                ]),
            ),
            (
                "pids",
                Json::object(vec![
                    ("current", Json::from(self.pids_current)),
                    ("limit", Json::from(self.pids_limit)),
                ]),
            ),
            (
                "io",
                Json::object(vec![
                    ("readBytes", Json::from(self.io_read_bytes)),
                    ("writeBytes", Json::from(self.io_write_bytes)),
                ]),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures of the shared fixture, serialised here, equal the fixture.
    #[test]
    fn contract_stats() {
        let s = Stats {
            memory_usage: 1052672,
            memory_peak: Some(2170880),
            memory_limit: Some(33554432),
            memory_inactive_file: Some(524288),
            cpu_usage_usec: 15321,
            cpu_user_usec: 9000,
            cpu_system_usec: 6000,
            cpu_throttled_usec: Some(0),
            cpu_throttled_periods: Some(0),
            pids_current: 1,
            pids_limit: Some(10),
            io_read_bytes: 0,
            io_write_bytes: 4096,
        };
        assert_eq!(s.to_json(), crate::contract::fixture("stats.json"));
        let unknown = Stats::default().to_json().to_string();
        assert!(unknown.contains(r#""peak":null,"limit":null,"inactiveFile":null"#), "{}", unknown);
    }
}
