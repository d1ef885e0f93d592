//! Retries of retryable plugin errors: jittered exponential backoff that
//! honours the provider's Retry-After.

use std::time::Duration;

use hrsync_model::PluginError;
use hrsync_runtime::CallError;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1`, or None when the
    /// error is not worth retrying or the attempts are used up.
    pub fn delay(&self, error: &PluginError, attempt: u32) -> Option<Duration> {
        let hint = match error {
            PluginError::Retryable(hint) | PluginError::RateLimited(hint) => hint.retry_after_ms,
            _ => return None,
        };
        if attempt + 1 >= self.attempts {
            return None;
        }
        let backoff = self.base_delay.saturating_mul(1 << attempt.min(16));
        // Full jitter, so many runs do not retry in lockstep.
        let jittered = backoff.mul_f64(0.5 + jitter() * 0.5);
        let wait = match hint {
            Some(ms) => Duration::from_millis(ms).max(jittered),
            None => jittered,
        };
        Some(wait.min(self.max_delay))
    }
}

impl RetryPolicy {
    /// Calls `call` until it succeeds, fails for a reason not worth
    /// retrying, or the attempts are used up; waits between attempts.
    pub fn run<T>(&self, mut call: impl FnMut() -> Result<T, CallError>) -> Result<T, CallError> {
        let mut attempt = 0;
        loop {
            match call() {
                Ok(value) => return Ok(value),
                Err(error) => match error.plugin_error().and_then(|e| self.delay(e, attempt)) {
                    Some(wait) => {
                        std::thread::sleep(wait);
                        attempt += 1;
                    }
                    None => return Err(error),
                },
            }
        }
    }
}

/// A number in [0, 1) from the clock: enough to spread retries.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hrsync_model::RetryHint;

    #[test]
    fn honours_retry_after_and_gives_up() {
        let policy = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(30),
        };
        let limited = PluginError::RateLimited(RetryHint {
            message: String::new(),
            retry_after_ms: Some(7000),
        });
        assert_eq!(policy.delay(&limited, 0), Some(Duration::from_secs(7)));
        assert!(policy.delay(&limited, 2).is_none(), "three attempts in all");
        let flaky = PluginError::Retryable(RetryHint {
            message: String::new(),
            retry_after_ms: None,
        });
        let wait = policy.delay(&flaky, 1).unwrap();
        assert!(
            wait >= Duration::from_millis(10) && wait <= Duration::from_millis(20),
            "{wait:?}"
        );
        assert!(policy.delay(&PluginError::Fatal("no".into()), 0).is_none());
    }
}
