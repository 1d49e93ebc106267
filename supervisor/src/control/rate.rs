//! Events per second over the last minute, in 60 one-second buckets of atomics (no lock on
//! the task path).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const SECONDS: usize = 60;

#[derive(Debug)]
pub struct RateMeter {
    /// (second it counts, count) per slot `second % 60`.
    stamps: [AtomicU64; SECONDS],
    counts: [AtomicU64; SECONDS],
}

impl Default for RateMeter {
    fn default() -> Self {
        Self {
            stamps: std::array::from_fn(|_| AtomicU64::new(0)),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl RateMeter {
    pub fn tick(&self) {
        self.tick_at(now_secs());
    }

    fn tick_at(&self, second: u64) {
        let slot = (second % SECONDS as u64) as usize;
        let stamp = self.stamps[slot].load(Ordering::Relaxed);
        if stamp != second
            && self.stamps[slot].compare_exchange(stamp, second, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            self.counts[slot].store(0, Ordering::Relaxed);
        }
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The mean rate over the 60 seconds before now.
    pub fn per_second(&self) -> f64 {
        self.per_second_at(now_secs())
    }

    fn per_second_at(&self, now: u64) -> f64 {
        let recent = (0..SECONDS)
            .filter(|&slot| now.saturating_sub(self.stamps[slot].load(Ordering::Relaxed)) < SECONDS as u64)
            .map(|slot| self.counts[slot].load(Ordering::Relaxed))
            .sum::<u64>();
        recent as f64 / SECONDS as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_last_minute_only() {
        let m = RateMeter::default();
        for s in 1_000..1_030 {
            m.tick_at(s);
            m.tick_at(s);
        }
        assert_eq!(m.per_second_at(1_030), 1.0, "60 events in the last minute");
        assert_eq!(m.per_second_at(1_074), 0.5, "the first 15 seconds have aged out");
        m.tick_at(1_060); // slot of 1_000, reused
        assert_eq!(m.per_second_at(1_089), 1.0 / 60.0);
    }
}
