//! When an integration runs: a cron expression read in a time zone.

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// Daily at 04:00 in the integration's time zone.
pub const DEFAULT_SCHEDULE: &str = "0 4 * * *";
pub const DEFAULT_TIMEZONE: &str = "UTC";

#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Tz,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("schedule: `{expression}` is not a cron expression: {message}")]
    Cron { expression: String, message: String },
    #[error("timezone: `{0}` is not an IANA time zone such as Europe/Berlin")]
    Zone(String),
    #[error("schedule: `{0}` never runs")]
    Never(String),
}

impl Schedule {
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let cron = expression.parse::<Cron>().map_err(|e| ScheduleError::Cron {
            expression: expression.to_string(),
            message: e.to_string(),
        })?;
        let zone = timezone
            .parse::<Tz>()
            .map_err(|_| ScheduleError::Zone(timezone.to_string()))?;
        let schedule = Self { cron, zone };
        schedule
            .next_after(0)
            .ok_or_else(|| ScheduleError::Never(expression.to_string()))?;
        Ok(schedule)
    }

    /// The shortest time between two of the next `count` runs after
    /// `after_ms`, in ms (None: fewer than two runs).
    pub fn shortest_gap(&self, after_ms: i64, count: usize) -> Option<i64> {
        let mut previous = self.next_after(after_ms)?;
        let mut shortest: Option<i64> = None;
        for _ in 1..count {
            let Some(next) = self.next_after(previous) else {
                break;
            };
            shortest = Some(shortest.map_or(next - previous, |s| s.min(next - previous)));
            previous = next;
        }
        shortest
    }

    /// The first run strictly after `after_ms` (ms since the epoch).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = Utc.timestamp_millis_opt(after_ms).single()?.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&after, false).ok()?;
        Some(next.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn daily_at_four_in_the_integrations_time_zone() {
        let utc = Schedule::parse(DEFAULT_SCHEDULE, DEFAULT_TIMEZONE).unwrap();
        assert_eq!(
            utc.next_after(ms("2026-11-22T03:59:00Z")),
            Some(ms("2026-11-22T04:00:00Z"))
        );
        assert_eq!(
            utc.next_after(ms("2026-11-22T04:00:00Z")),
            Some(ms("2026-11-23T04:00:00Z"))
        );
        // 04:00 in Berlin is 03:00 UTC in winter and 02:00 UTC in summer.
        let berlin = Schedule::parse(DEFAULT_SCHEDULE, "Europe/Berlin").unwrap();
        assert_eq!(
            berlin.next_after(ms("2026-11-22T00:00:00Z")),
            Some(ms("2026-11-22T03:00:00Z"))
        );
        assert_eq!(
            berlin.next_after(ms("2026-07-01T00:00:00Z")),
            Some(ms("2026-07-01T02:00:00Z"))
        );
        let weekdays = Schedule::parse("30 7 * * MON-FRI", "UTC").unwrap();
        // 2026-11-21 is a Saturday.
        assert_eq!(
            weekdays.next_after(ms("2026-11-21T08:00:00Z")),
            Some(ms("2026-11-23T07:30:00Z"))
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        let error = Schedule::parse("every day", "UTC").unwrap_err().to_string();
        assert!(error.contains("every day"), "{error}");
        let error = Schedule::parse(DEFAULT_SCHEDULE, "Mars/Olympus")
            .unwrap_err()
            .to_string();
        assert!(error.contains("Mars/Olympus"), "{error}");
    }
}
