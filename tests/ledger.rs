//! The outcome ledger's transitions: the Redis ledger against the machine's Redis, and the
//! memory ledger (unit tests, the demo) through the same steps, so the two answer alike.

use overseer_supervisor::hitl::redis_store::RedisStore;
use overseer_supervisor::ledger::memory::MemoryLedger;
use overseer_supervisor::ledger::redis_ledger::RedisLedger;
use overseer_supervisor::ledger::{Claim, Ledger};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);
const KEEP: Duration = Duration::from_secs(60);

async fn claim(ledger: &dyn Ledger, id: &str, takeover: bool) -> Claim {
    ledger.claim(id, LEASE, takeover).await.expect("claim")
}

async fn claimed(ledger: &dyn Ledger, id: &str, takeover: bool) -> String {
    match claim(ledger, id, takeover).await {
        Claim::Claimed(token) => token,
        other => panic!("{id}: expected a claim, got {other:?}"),
    }
}

/// Every transition a delivery makes, in the order the pipeline makes them.
async fn transitions(ledger: &dyn Ledger, id: &str) {
    // The first delivery claims the task; another one finds it held, however often it asks.
    let first = claimed(ledger, id, false).await;
    assert_eq!(claim(ledger, id, false).await, Claim::Busy);
    assert_eq!(claim(ledger, id, false).await, Claim::Busy);

    // A redelivery takes a plain claim over; the first holder can then no longer commit.
    let second = claimed(ledger, id, true).await;
    assert_ne!(first, second);
    assert!(!ledger.commit(id, &first, LEASE).await.expect("commit"));
    assert!(ledger.commit(id, &second, LEASE).await.expect("commit"));

    // A commit in progress is taken over by nobody.
    assert_eq!(claim(ledger, id, false).await, Claim::Busy);
    assert_eq!(claim(ledger, id, true).await, Claim::Busy);

    // The recorded outcome answers every later claim.
    ledger.record(id, "executed", KEEP).await.expect("record");
    assert_eq!(claim(ledger, id, false).await, Claim::Done("executed".into()));
    assert_eq!(claim(ledger, id, true).await, Claim::Done("executed".into()));

    // Forgotten (a replay), the task is claimed afresh; a released claim frees it again.
    ledger.forget(id).await.expect("forget");
    let third = claimed(ledger, id, false).await;
    ledger.release(id, &third).await.expect("release");
    let fourth = claimed(ledger, id, false).await;
    assert_ne!(third, fourth);

    // A claim whose lease ran out holds nothing.
    let other = format!("{id}-lease");
    assert!(matches!(ledger.claim(&other, Duration::from_millis(50), false).await, Ok(Claim::Claimed(_))));
    assert_eq!(claim(ledger, &other, false).await, Claim::Busy);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = claimed(ledger, &other, false).await;
}

#[tokio::test]
async fn the_redis_ledger_makes_every_transition_as_documented() {
    let prefix = format!("overseer-test-{}:", uuid::Uuid::new_v4());
    let store = RedisStore::connect("redis://127.0.0.1:6379/0", &prefix, Duration::from_secs(5))
        .await
        .expect("Redis");
    let ledger = RedisLedger::new(store.connection(), &prefix);
    transitions(&ledger, "task-1").await;
}

#[tokio::test]
async fn the_memory_ledger_makes_the_same_transitions() {
    transitions(&MemoryLedger::default(), "task-1").await;
}
