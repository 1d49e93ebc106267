//! The Prometheus recorder keeps every histogram sample until it is folded into the
//! histogram's buckets, which a scrape of /metrics does. A replica that nobody scrapes (no
//! Prometheus yet, the demo) must fold them itself, or it grows by 8 bytes per sample for as
//! long as it runs. Real services (the runtime starts on RabbitMQ, Redis and Kafka).

mod common;

use cap::Cap;
use common::runtime::TestEnv;
use std::alloc::System;
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes this process holds.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn held() -> isize {
    ALLOCATOR.allocated() as isize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_samples_are_folded_away_when_nobody_scrapes() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let running = env.start(&config, &[]).await;
    let histogram = metrics::histogram!("overseer_test_upkeep_seconds");
    const SAMPLES: usize = 400_000;
    let before = held();
    for i in 0..SAMPLES {
        histogram.record(i as f64 * 1e-6);
    }
    let grown = held() - before;
    assert!(grown > (SAMPLES * 6) as isize, "{SAMPLES} samples took only {grown} bytes: nothing to fold");
    // No request to /metrics: only the replica's own upkeep may fold them.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Freed blocks are reclaimed as the recorder's epochs advance, which recording does.
        histogram.record(0.0);
        let left = held() - before;
        if left < grown / 4 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} of {grown} bytes of samples still held after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.shutdown().await;
}
