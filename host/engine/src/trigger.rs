//! Step 1 of a run: what started it, and how much of the source to read.
//!
//! Runs read incrementally from the cursor of the last successful run, and
//! in full when there is no cursor, when asked, or when the last full read
//! is older than the integration allows — only a full read notices
//! employees that vanished from a source that does not report deletions,
//! and manual edits in the target.

use std::time::Duration;

use super::storage::FullRead;

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
    /// An identity provider's push to the inbound SCIM endpoint.
    Push,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Cli => "cli",
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Webhook => "webhook",
            Trigger::Push => "push",
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

/// How much a run was asked to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAsked {
    /// Incremental when it can be (see [`read_since`]).
    #[default]
    Auto,
    /// Everyone.
    Full,
    /// The changes since the cursor, whatever changed in the configuration
    /// and however old the last full read (`--incremental`).
    Incremental,
}

/// The cursor to read changes from, or `None` for a full read: when there
/// is no cursor, when asked, when the last full read is older than the
/// integration allows, or when it applied another configuration than
/// `config` (a changed rule, option or plugin may concern anyone).
pub fn read_since(
    cursor: Option<String>,
    last_full_read: Option<&FullRead>,
    config: &str,
    now_ms: i64,
    policy: FullReads,
    asked: ReadAsked,
) -> Option<String> {
    match asked {
        ReadAsked::Full => return None,
        ReadAsked::Incremental => return cursor,
        ReadAsked::Auto => {}
    }
    let FullReads::Every(every) = policy else {
        return None;
    };
    let current = last_full_read.is_some_and(|full| {
        now_ms.saturating_sub(full.at) < every.as_millis() as i64 && full.config.as_deref() == Some(config)
    });
    cursor.filter(|_| current)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn incremental_only_with_a_cursor_and_a_recent_full_read_of_the_same_configuration() {
        let daily = FullReads::default();
        let now = 100 * HOUR_MS;
        let cursor = || Some("2026-11-22T04:00:00Z".to_string());
        let read_at = |at: i64| FullRead {
            at,
            config: Some("a".into()),
        };
        let since =
            |cursor, full: Option<FullRead>, policy, asked| read_since(cursor, full.as_ref(), "a", now, policy, asked);
        use ReadAsked::*;
        assert_eq!(since(None, Some(read_at(now)), daily, Auto), None, "no cursor yet");
        assert_eq!(since(cursor(), None, daily, Auto), None, "never read in full");
        assert_eq!(since(cursor(), Some(read_at(now - 2 * HOUR_MS)), daily, Auto), cursor());
        assert_eq!(
            since(cursor(), Some(read_at(now - 25 * HOUR_MS)), daily, Auto),
            None,
            "the last full read is too old"
        );
        assert_eq!(since(cursor(), Some(read_at(now)), daily, Full), None, "asked for");
        assert_eq!(since(cursor(), Some(read_at(now)), FullReads::Always, Auto), None);
        let other = FullRead {
            at: now,
            config: Some("b".into()),
        };
        assert_eq!(
            since(cursor(), Some(other.clone()), daily, Auto),
            None,
            "the configuration changed"
        );
        let unknown = FullRead { at: now, config: None };
        assert_eq!(
            since(cursor(), Some(unknown), daily, Auto),
            None,
            "a configuration not kept"
        );
        assert_eq!(
            since(cursor(), Some(other), daily, Incremental),
            cursor(),
            "--incremental reads the changes whatever changed"
        );
        assert_eq!(since(None, None, daily, Incremental), None, "nothing to read from");
    }
}
