//! Step 1 of a run: what started it, and how much of the source to read.
//!
//! Runs read incrementally from the cursor of the last successful run, and
//! in full when there is no cursor, when asked, or when the last full read
//! is older than the integration allows — only a full read notices
//! employees that vanished from a source that does not report deletions,
//! and manual edits in the target.

use std::time::Duration;

/// Who or what started a run; shown in the run history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `hrsync sync` on the command line (and the demo).
    Cli,
    /// A member through the admin API: sync now, activate, test.
    Manual,
    /// The integration's schedule.
    Schedule,
    /// An HR webhook.
    Webhook,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Webhook => "webhook",
        }
    }
}

/// How often an integration reads everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullReads {
    /// Every run reads everyone.
    Always,
    /// Incremental runs in between; a full read when the last one is older.
    Every(Duration),
}

impl Default for FullReads {
    fn default() -> Self {
        FullReads::Every(Duration::from_secs(24 * 3600))
    }
}

/// The cursor to read changes from, or `None` for a full read.
pub fn read_since(
    cursor: Option<String>,
    last_full_read_ms: Option<i64>,
    now_ms: i64,
    policy: FullReads,
    force_full: bool,
) -> Option<String> {
    let FullReads::Every(every) = policy else {
        return None;
    };
    let recent = last_full_read_ms.is_some_and(|at| now_ms.saturating_sub(at) < every.as_millis() as i64);
    cursor.filter(|_| recent && !force_full)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn incremental_only_with_a_cursor_and_a_recent_full_read() {
        let daily = FullReads::default();
        let now = 100 * HOUR_MS;
        let cursor = || Some("2026-11-22T04:00:00Z".to_string());
        assert_eq!(read_since(None, Some(now), now, daily, false), None, "no cursor yet");
        assert_eq!(
            read_since(cursor(), None, now, daily, false),
            None,
            "never read in full"
        );
        assert_eq!(
            read_since(cursor(), Some(now - 2 * HOUR_MS), now, daily, false),
            cursor()
        );
        assert_eq!(
            read_since(cursor(), Some(now - 25 * HOUR_MS), now, daily, false),
            None,
            "the last full read is too old"
        );
        assert_eq!(read_since(cursor(), Some(now), now, daily, true), None, "asked for");
        assert_eq!(read_since(cursor(), Some(now), now, FullReads::Always, false), None);
    }
}
