//! Timestamps for cursors and API filters, and the calendar dates rules
//! compare (chrono, as the host uses).

use chrono::{DateTime, Days, Months};
use chrono_tz::Tz;

pub use chrono::{NaiveDate, TimeDelta};

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

/// Today's date in `time_zone` (an IANA name such as `Europe/Berlin`; the
/// integration's time zone when none — [`crate::time_zone`]), by the
/// host's clock.
pub fn today(time_zone: Option<&str>) -> Result<NaiveDate, String> {
    match time_zone {
        Some(zone) => date_at(crate::now_millis(), Some(zone)),
        None => date_at(crate::now_millis(), Some(&crate::time_zone())),
    }
}

/// The date in `time_zone` (UTC when none) at `millis` since the epoch.
pub fn date_at(millis: u64, time_zone: Option<&str>) -> Result<NaiveDate, String> {
    let zone = match time_zone {
        Some(name) => parse_time_zone(name)?,
        None => Tz::UTC,
    };
    let now = i64::try_from(millis)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or("the host's clock is out of range")?;
    Ok(now.with_timezone(&zone).date_naive())
}

/// An IANA time zone (`Europe/Berlin`), or an error naming the problem.
pub fn parse_time_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>()
        .map_err(|_| format!("`{name}` is not a time zone of the IANA database (e.g. `Europe/Berlin`, `UTC`)"))
}

/// A date as rules write it: `today`, a date (`2026-12-31`), or a day
/// relative to today — `+30d`, `-2w`, `+3m`, `-1y` (days, weeks, months,
/// years; months and years end on the last day of a shorter month).
pub fn resolve_date(spec: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("today") {
        return Ok(today);
    }
    if let Ok(date) = NaiveDate::parse_from_str(spec, "%Y-%m-%d") {
        return Ok(date);
    }
    let wrong = || {
        format!(
            "`{spec}` is not a date: write `today`, a date like `2026-12-31`, or a distance from today like `+30d`, `-2w`, `+3m`, `-1y`"
        )
    };
    let (sign, rest) = match spec.as_bytes().first() {
        Some(b'+') => (1, &spec[1..]),
        Some(b'-') => (-1, &spec[1..]),
        _ => return Err(wrong()),
    };
    let unit = rest.chars().last().ok_or_else(wrong)?;
    let count: u32 = rest[..rest.len() - unit.len_utf8()].parse().map_err(|_| wrong())?;
    let shifted = match (unit.to_ascii_lowercase(), sign) {
        ('d', 1) => today.checked_add_days(Days::new(count.into())),
        ('d', _) => today.checked_sub_days(Days::new(count.into())),
        ('w', 1) => today.checked_add_days(Days::new(u64::from(count) * 7)),
        ('w', _) => today.checked_sub_days(Days::new(u64::from(count) * 7)),
        ('m', 1) => today.checked_add_months(Months::new(count)),
        ('m', _) => today.checked_sub_months(Months::new(count)),
        ('y', 1) => count
            .checked_mul(12)
            .and_then(|m| today.checked_add_months(Months::new(m))),
        ('y', _) => count
            .checked_mul(12)
            .and_then(|m| today.checked_sub_months(Months::new(m))),
        _ => return Err(wrong()),
    };
    shifted.ok_or_else(|| format!("`{spec}` is beyond the calendar"))
}

/// The calendar date of a field's value (`2014-11-09` or a date-time), or
/// `None` when it is not one.
pub fn date_of(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_rules_write_them() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let date = |spec| resolve_date(spec, today).map(|d| d.to_string());
        assert_eq!(date("today").as_deref(), Ok("2026-01-31"));
        assert_eq!(date(" Today ").as_deref(), Ok("2026-01-31"));
        assert_eq!(date("2026-12-24").as_deref(), Ok("2026-12-24"));
        assert_eq!(date("+30d").as_deref(), Ok("2026-03-02"));
        assert_eq!(date("-2w").as_deref(), Ok("2026-01-17"));
        assert_eq!(
            date("+1m").as_deref(),
            Ok("2026-02-28"),
            "the last day of a shorter month"
        );
        assert_eq!(date("-1y").as_deref(), Ok("2025-01-31"));
        assert_eq!(date("+0d").as_deref(), Ok("2026-01-31"));
        for wrong in ["30d", "+30", "+d", "+30x", "tomorrow", "2026-02-30", "", "+-3d", "+３d"] {
            let error = date(wrong).expect_err(wrong);
            assert!(error.contains("is not a date"), "{wrong}: {error}");
        }
        assert!(date("+4294967295y").unwrap_err().contains("beyond the calendar"));
    }

    #[test]
    fn the_date_at_a_moment_depends_on_the_time_zone() {
        // 2026-01-31T23:30:00Z: still the 31st in UTC, already 1 February in Berlin.
        let millis = 1_769_902_200_000;
        assert_eq!(date_at(millis, None).unwrap().to_string(), "2026-01-31");
        assert_eq!(
            date_at(millis, Some("Europe/Berlin")).unwrap().to_string(),
            "2026-02-01"
        );
        assert_eq!(
            date_at(millis, Some("America/New_York")).unwrap().to_string(),
            "2026-01-31"
        );
    }

    #[test]
    fn time_zones_by_their_iana_names() {
        assert!(parse_time_zone("Europe/Berlin").is_ok());
        assert!(parse_time_zone("UTC").is_ok());
        let error = parse_time_zone("Europe/Berln").unwrap_err();
        assert!(error.contains("`Europe/Berln` is not a time zone"), "{error}");
    }

    #[test]
    fn the_date_of_a_field() {
        assert_eq!(
            date_of("2014-11-09T23:30:00-05:00"),
            NaiveDate::from_ymd_opt(2014, 11, 9)
        );
        assert_eq!(date_of("09.11.2014"), None);
        assert_eq!(date_of("2014"), None);
    }

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
