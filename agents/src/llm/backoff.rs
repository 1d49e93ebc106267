//! Exponential backoff with full jitter, never shorter than a server's Retry-After.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(250), cap: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1` (attempt counts from 1): a random duration up to
    /// `base · 2^(attempt-1)` (capped), or the Retry-After when that is longer.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self.base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))).min(self.cap);
        let jittered = Duration::from_millis(rand::rng().random_range(0..=exp.as_millis() as u64));
        match retry_after {
            Some(after) => after.max(jittered),
            None => jittered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_honour_retry_after() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_millis(400) };
        for _ in 0..100 {
            assert!(b.delay(1, None) <= Duration::from_millis(100));
            assert!(b.delay(10, None) <= Duration::from_millis(400));
            assert!(b.delay(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        }
        // Jitter: not every delay is the same.
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| b.delay(3, None)).collect();
        assert!(samples.len() > 1);
    }
}
