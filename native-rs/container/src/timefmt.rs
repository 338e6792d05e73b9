//! RFC 3339 UTC timestamps, as JavaScript's `Date.prototype.toISOString`
//! writes them (milliseconds: state.json) and as docker's json-file log
//! driver does (nanoseconds: log entries). No time zone database needed.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2024-05-01T12:34:56.789Z`
pub fn iso_millis(t: SystemTime) -> String {
    let (secs, nanos) = since_epoch(t);
    format!("{}.{:03}Z", date_time(secs), nanos / 1_000_000)
}

/// `2024-05-01T12:34:56.789012345Z`
pub fn iso_nanos(t: SystemTime) -> String {
    let (secs, nanos) = since_epoch(t);
    format!("{}.{:09}Z", date_time(secs), nanos)
}

fn since_epoch(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

fn date_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        m,
        d,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm: eras of 400 years).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_like_to_iso_string() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(iso_millis(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso_nanos(t), "2023-11-14T22:13:20.123456789Z");
        assert_eq!(iso_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day and the turn of a century.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(iso_millis(leap), "2000-02-29T00:00:00.000Z");
        let end = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(iso_millis(end), "2099-12-31T23:59:59.000Z");
    }
}
