//! Autoscaling a queue's concurrency (opt-in per queue, `queues.<q>.autoscale = {min, max}`):
//! at each backlog sample ([`crate::actors::queue_monitor`]) the concurrency follows the
//! queue's backlog and how saturated its slots were since the last sample, within the bounds.
//!
//! - **Up** when tasks wait (ready > 0) and every slot was busy at some point since the last
//!   sample: by this replica's share of the backlog (ready / consumers), at least 1, at most
//!   doubling, never past `max`.
//! - **Down** when nothing waits and the slots were not all busy for [`CALM_SAMPLES`] samples
//!   in a row: by a quarter (at least 1), never below the most tasks in flight since the last
//!   sample, never below `min`.
//! - Otherwise it stays. A concurrency an operator set (`pinned`) is left alone until cleared.
//!
//! This is pure arithmetic; the monitor applies the move and counts it.

use serde::Serialize;

/// Samples in a row without saturation before scaling down.
pub const CALM_SAMPLES: u32 = 3;

/// The range autoscaling moves a queue's concurrency in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bounds {
    pub min: usize,
    pub max: usize,
}

impl Bounds {
    pub fn clamp(&self, n: usize) -> usize {
        n.clamp(self.min, self.max)
    }
}

/// What one sample saw of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Tasks waiting in the queue (all replicas').
    pub ready: u64,
    /// Consumers of the queue (all replicas'); at least this one.
    pub consumers: u32,
    /// The most tasks this replica had in flight at once since the last sample.
    pub peak_in_flight: usize,
    /// This replica's concurrency now.
    pub concurrency: usize,
}

/// A move and why it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    pub from: usize,
    pub to: usize,
    /// `backlog` (up) or `idle` (down).
    pub why: &'static str,
}

/// The autoscaler's memory between samples: calm samples in a row.
#[derive(Debug, Default)]
pub struct Scaler {
    calm: u32,
}

impl Scaler {
    /// The move `sample` calls for, if any.
    pub fn decide(&mut self, bounds: Bounds, sample: Sample) -> Option<Move> {
        let now = sample.concurrency;
        let saturated = sample.peak_in_flight >= now;
        let to = if sample.ready > 0 && saturated {
            self.calm = 0;
            let share = sample.ready.div_ceil(u64::from(sample.consumers.max(1)));
            let step = usize::try_from(share).unwrap_or(usize::MAX).clamp(1, now.max(1));
            (bounds.clamp(now.saturating_add(step)), "backlog")
        } else if sample.ready == 0 && !saturated {
            self.calm += 1;
            if self.calm < CALM_SAMPLES {
                return None;
            }
            self.calm = 0;
            let step = (now / 4).max(1);
            (bounds.clamp(now.saturating_sub(step).max(sample.peak_in_flight)), "idle")
        } else {
            self.calm = 0;
            // Outside the bounds (configured so, or the bounds changed): back inside.
            (bounds.clamp(now), "bounds")
        };
        (to.0 != now).then_some(Move { from: now, to: to.0, why: to.1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds { min: 2, max: 16 };

    fn sample(ready: u64, peak: usize, concurrency: usize) -> Sample {
        Sample { ready, consumers: 1, peak_in_flight: peak, concurrency }
    }

    #[test]
    fn a_saturated_queue_with_a_backlog_grows_by_its_share_at_most_doubling_within_max() {
        let mut s = Scaler::default();
        assert_eq!(s.decide(B, sample(100, 4, 4)).map(|m| m.to), Some(8), "doubles at most");
        assert_eq!(s.decide(B, sample(1, 4, 4)).map(|m| m.to), Some(5), "by the backlog's share");
        assert_eq!(s.decide(B, sample(100, 12, 12)).map(|m| m.to), Some(16), "never past max");
        assert_eq!(s.decide(B, sample(100, 16, 16)), None, "at max it stays");
        let shared = Sample { ready: 8, consumers: 4, peak_in_flight: 4, concurrency: 4 };
        assert_eq!(s.decide(B, shared).map(|m| m.to), Some(6), "four replicas share eight tasks");
    }

    #[test]
    fn a_backlog_without_saturation_does_not_grow_it() {
        let mut s = Scaler::default();
        assert_eq!(s.decide(B, sample(100, 3, 4)), None, "a free slot: more slots would not help");
    }

    #[test]
    fn an_idle_queue_shrinks_after_calm_samples_never_below_min_or_the_peak() {
        let mut s = Scaler::default();
        for _ in 1..CALM_SAMPLES {
            assert_eq!(s.decide(B, sample(0, 0, 16)), None, "not yet calm long enough");
        }
        let down = s.decide(B, sample(0, 0, 16)).expect("shrinks");
        assert_eq!((down.from, down.to, down.why), (16, 12, "idle"));
        for _ in 1..CALM_SAMPLES {
            s.decide(B, sample(0, 11, 12));
        }
        assert_eq!(s.decide(B, sample(0, 11, 12)).map(|m| m.to), Some(11), "not below what ran at once");
        for _ in 1..CALM_SAMPLES {
            s.decide(B, sample(0, 0, 2));
        }
        assert_eq!(s.decide(B, sample(0, 0, 2)), None, "at min it stays");
    }

    #[test]
    fn a_busy_sample_breaks_the_calm_streak() {
        let mut s = Scaler::default();
        s.decide(B, sample(0, 0, 8));
        s.decide(B, sample(0, 0, 8));
        s.decide(B, sample(0, 8, 8));
        assert_eq!(s.decide(B, sample(0, 0, 8)), None, "the streak started again");
    }

    #[test]
    fn a_concurrency_outside_the_bounds_is_brought_inside() {
        let mut s = Scaler::default();
        assert_eq!(s.decide(B, sample(0, 1, 1)).map(|m| (m.to, m.why)), Some((2, "bounds")));
        assert_eq!(s.decide(B, sample(5, 0, 40)).map(|m| m.to), Some(16));
    }
}
