//! Timestamps for cursors and API filters (chrono, as the host uses).

use chrono::{DateTime, NaiveDate};

/// `2026-11-21T09:05:03Z` for milliseconds since the Unix epoch (UTC),
/// to the second.
pub fn rfc3339_utc(millis: u64) -> String {
    i64::try_from(millis)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The calendar date of an ISO 8601 date or date-time (`2014-11-09`,
/// `2014-11-09T00:00:00+01:00`), as written — no time-zone shift; `None`
/// when it is not a date of the calendar.
pub fn date_part(text: &str) -> Option<String> {
    let date = text.get(..10)?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(date.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_milliseconds_as_utc_seconds() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_671_869_730_250), "2022-12-24T08:15:30Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn the_date_of_a_date_or_date_time_as_written() {
        assert_eq!(date_part("2014-11-09").as_deref(), Some("2014-11-09"));
        assert_eq!(date_part("2014-11-09T23:30:00-05:00").as_deref(), Some("2014-11-09"));
        assert_eq!(date_part("2014-02-30"), None, "no 30 February");
        assert_eq!(date_part("09.11.2014"), None);
        assert_eq!(date_part(""), None);
        assert_eq!(date_part("2014-11-0"), None);
    }
}
