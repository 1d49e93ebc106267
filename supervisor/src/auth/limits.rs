//! Rate limits (GCRA token buckets from `governor`): mutating requests per verified subject and
//! per client address, and failed authentications per client address. Buckets of callers gone
//! quiet are dropped by [`RateLimits::shrink`], so a flood of addresses does not grow memory
//! without bound.

use crate::config::RateLimitConfig;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct RateLimits {
    subject: DefaultKeyedRateLimiter<String>,
    address: DefaultKeyedRateLimiter<IpAddr>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let pace = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(pace).allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(c: &RateLimitConfig) -> Self {
        Self {
            subject: RateLimiter::keyed(quota(c.per_subject, c.burst)),
            address: RateLimiter::keyed(quota(c.per_address, c.burst)),
            failures: RateLimiter::keyed(quota(c.auth_failures, c.auth_failures)),
            clock: DefaultClock::default(),
        }
    }

    fn answer<K: std::hash::Hash + Eq + Clone>(
        &self,
        l: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), Duration> {
        l.check_key(key).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// One mutating request of `subject`; `Err(retry after)` when over its pace.
    pub fn subject(&self, subject: &str) -> Result<(), Duration> {
        self.answer(&self.subject, &subject.to_string())
    }

    /// One counted request from `address`.
    pub fn address(&self, address: IpAddr) -> Result<(), Duration> {
        self.answer(&self.address, &address)
    }

    /// One failed authentication from `address`; `Err` when it failed too often (its failures
    /// then stop reaching the audit log).
    pub fn failure(&self, address: IpAddr) -> Result<(), Duration> {
        self.answer(&self.failures, &address)
    }

    /// Forgets callers whose buckets are full again.
    pub fn shrink(&self) {
        self.subject.retain_recent();
        self.address.retain_recent();
        self.failures.retain_recent();
    }
}
