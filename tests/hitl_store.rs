//! The Redis decision store's state changes, against the machine's Redis.

mod common;

use overseer_agents::confidence::Confidence;
use overseer_supervisor::hitl::decision::unix_ms;
use overseer_supervisor::hitl::redis_store::RedisStore;
use overseer_supervisor::hitl::{
    DecisionIndexes, Decisions, Outbox, Parked, PendingDecision, Status, Transition, TransitionError,
};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

async fn store() -> (Arc<RedisStore>, String) {
    let prefix = format!("overseer-test-{}:", uuid::Uuid::new_v4());
    let store = RedisStore::connect("redis://127.0.0.1:6379/0", &prefix, Duration::from_secs(5))
        .await
        .expect("Redis");
    (Arc::new(store), prefix)
}

async fn parked(store: &RedisStore, ttl: Duration) -> PendingDecision {
    let data = serde_json::json!({"task": {"task_id": "t"}, "proposal": {"actions": [], "summary": "s"}, "missing": []});
    let task_id = format!("task-{}", uuid::Uuid::new_v4());
    let decision = PendingDecision::new(
        &task_id,
        "payment_processing",
        "auto_orders",
        "order",
        Confidence::combine(0.5, 0.5, None),
        vec![],
        data,
        ttl,
    );
    store.park(&decision, Duration::from_secs(600)).await.expect("park");
    decision
}

fn approve(by: &str, seen_hash: Option<String>) -> Transition {
    Transition {
        to: Status::Approved,
        by: by.into(),
        from: Some("127.0.0.1".into()),
        feedback: Some(format!("ok from {by}")),
        seen_hash,
        edited: None,
        at: "2026-11-21T10:00:00Z".into(),
        now_ms: unix_ms(SystemTime::now()),
        required_approvals: 1,
        workflow: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_approvals_of_one_decision_give_one_success() {
    let (store, _) = store().await;
    let decision = parked(&store, Duration::from_secs(300)).await;
    let attempts = (0..50).map(|i| {
        let (store, id, hash) = (store.clone(), decision.decision_id.clone(), decision.payload_hash.clone());
        tokio::spawn(
            async move { store.transition(&id, &approve(&format!("approver-{i}"), Some(hash))).await },
        )
    });
    let results: Vec<_> =
        futures_util::future::join_all(attempts).await.into_iter().map(|r| r.expect("task")).collect();
    let wins: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(wins.len(), 1);
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(TransitionError::AlreadyDecided(s)) if s == "approved"))
        .count();
    assert_eq!(conflicts, 49);
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.http_status() == 409));

    let stored = store.get(&decision.decision_id).await.expect("get").expect("stored");
    assert_eq!(stored.status, "approved");
    assert_eq!(stored.decided_by, wins[0].decided_by);
    assert_eq!(stored.feedback, wins[0].feedback);
    assert_eq!(stored.decision_data, decision.decision_data, "the shown document is never rewritten");
    assert!(!store.pending_ids(1000).await.expect("ids").contains(&decision.decision_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_store_lists_nothing_without_error() {
    let (store, _) = store().await;
    assert_eq!(store.get_many(&[]).await.expect("empty read"), vec![]);
    assert_eq!(store.pending_page(None, None, 10).await.expect("empty page"), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_stale_and_unknown_decisions_are_refused_with_their_statuses() {
    let (store, _) = store().await;
    let expired = parked(&store, Duration::from_millis(1)).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let err = store.transition(&expired.decision_id, &approve("a", None)).await.expect_err("expired");
    assert!(matches!(err, TransitionError::Expired(_)) && err.http_status() == 410, "{err:?}");
    // The sweeper may still escalate it.
    let escalate = Transition { to: Status::Escalated, by: "overseer".into(), ..approve("overseer", None) };
    assert_eq!(
        store.transition(&expired.decision_id, &escalate).await.expect("escalated").status,
        "escalated"
    );

    let fresh = parked(&store, Duration::from_secs(300)).await;
    let err = store
        .transition(&fresh.decision_id, &approve("a", Some("not-the-hash".into())))
        .await
        .expect_err("stale");
    assert_eq!(err, TransitionError::Stale);
    assert_eq!(err.http_status(), 409);
    let err = store.transition("dec_nope", &approve("a", None)).await.expect_err("unknown");
    assert_eq!(err.http_status(), 404);
    // An edited approval keeps the edit beside the original.
    let edited = serde_json::json!({"actions": [{"action": "refund", "amount": 20.0}]});
    let t = Transition { edited: Some(edited.clone()), ..approve("b", Some(fresh.payload_hash.clone())) };
    assert_eq!(store.transition(&fresh.decision_id, &t).await.expect("approved").edited, Some(edited));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_survive_a_flushed_script_cache() {
    let (store, _) = store().await;
    let decision = parked(&store, Duration::from_secs(300)).await;
    // What a Redis restart does to loaded scripts; redis-rs must reload on NOSCRIPT.
    let client = redis::Client::open("redis://127.0.0.1:6379/0").expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis");
    redis::cmd("SCRIPT").arg("FLUSH").query_async::<()>(&mut conn).await.expect("flush");
    let changed = store.transition(&decision.decision_id, &approve("a", None)).await.expect("after NOSCRIPT");
    assert_eq!(changed.status, "approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_decision_waits_in_the_outbox_until_its_effects_are_done() {
    let (store, _) = store().await;
    let decision = parked(&store, Duration::from_secs(300)).await;
    let id = decision.decision_id.clone();
    assert!(store.outbox_due(u64::MAX, 10).await.expect("outbox").is_empty(), "pending is not in the outbox");
    store.transition(&id, &approve("ada", None)).await.expect("approved");
    assert_eq!(store.outbox_due(u64::MAX, 10).await.expect("outbox"), vec![id.clone()]);
    assert!(store.outbox_due(1, 10).await.expect("outbox").is_empty(), "not due before its decision time");
    let token = store.outbox_lease(&id, Duration::from_secs(30)).await.expect("lease").expect("free");
    assert!(
        store.outbox_lease(&id, Duration::from_secs(30)).await.expect("lease").is_none(),
        "one runner at a time"
    );
    assert!(store.effect_done(&id, "completion", &token).await.expect("mark"));
    assert!(!store.effect_done(&id, "feedback", "someone-else").await.expect("mark"), "only the owner marks");
    store.outbox_release(&id, "someone-else").await.expect("release");
    assert!(
        store.outbox_lease(&id, Duration::from_secs(30)).await.expect("lease").is_none(),
        "only the owner releases"
    );
    assert!(store.outbox_renew(&id, &token, Duration::from_secs(30)).await.expect("renew"));
    assert!(!store.outbox_renew(&id, "someone-else", Duration::from_secs(30)).await.expect("renew"));
    assert!(store.effect_done(&id, "decision", &token).await.expect("mark"));
    let marked = store.get(&id).await.expect("get").expect("there");
    assert_eq!(marked.effects_done, vec!["completion".to_string(), "decision".to_string()]);
    let history = store.history_page(None, 10).await.expect("history");
    assert_eq!(history.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>(), vec![id.clone()]);
    store.outbox_done(&id, &token).await.expect("done");
    assert!(store.outbox_due(u64::MAX, 10).await.expect("outbox").is_empty());
    let again = store.outbox_lease(&id, Duration::from_millis(200)).await.expect("lease");
    assert!(again.is_some(), "lease released");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !store.outbox_renew(&id, &again.unwrap_or_default(), Duration::from_secs(1)).await.expect("renew"),
        "an expired lease cannot be renewed"
    );
    store.trim_history(u64::MAX).await.expect("trim");
    assert!(store.history_page(None, 10).await.expect("history").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m_of_n_in_redis_counts_each_approver_once() {
    let (store, _) = store().await;
    let decision = parked(&store, Duration::from_secs(300)).await;
    let id = decision.decision_id.clone();
    let two = |by: &str| Transition { required_approvals: 2, ..approve(by, None) };
    assert_eq!(store.transition(&id, &two("ada")).await.expect("first").status, "pending");
    assert_eq!(
        store.transition(&id, &two("ada")).await.expect_err("again"),
        TransitionError::AlreadyApprovedBy("ada".into())
    );
    assert!(store.outbox_due(u64::MAX, 10).await.expect("outbox").is_empty(), "nothing to run yet");
    let done = store.transition(&id, &two("bob")).await.expect("second");
    assert_eq!(done.status, "approved");
    assert_eq!(done.approvals, vec!["ada".to_string(), "bob".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_decisions_that_draw_the_same_id_are_both_kept() {
    let (store, _) = store().await;
    let first = parked(&store, Duration::from_secs(300)).await;
    // Another task's decision that drew the same id (six hex digits per second collide at
    // thousands of decisions a second).
    let mut second = PendingDecision { task_id: format!("task-{}", uuid::Uuid::new_v4()), ..first.clone() };
    second.decision_data["proposal"]["summary"] = "the second".into();
    let parked = store.park(&second, Duration::from_secs(600)).await.expect("park");
    let Parked::New(id) = parked else { panic!("parked as new: {parked:?}") };
    assert_ne!(id, first.decision_id, "a fresh id");
    assert!(id.starts_with("dec_") && id.len() == first.decision_id.len(), "{id}");
    let kept = store.get(&first.decision_id).await.expect("get").expect("first kept");
    assert_eq!(
        (kept.task_id, kept.decision_data["proposal"]["summary"].clone()),
        (first.task_id, "s".into())
    );
    let other = store.get(&id).await.expect("get").expect("second stored");
    assert_eq!(other.decision_data["proposal"]["summary"], "the second");
}

/// Deadlines are judged by Redis' clock: a replica whose clock runs an hour behind cannot
/// approve a decision past its deadline, one an hour ahead can still approve one within it,
/// and neither can expire a decision early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_follow_the_redis_clock_not_a_replicas() {
    let (store, _) = store().await;
    let hour = 3_600_000;
    let now = unix_ms(SystemTime::now());
    let short = parked(&store, Duration::from_millis(300)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let behind = Transition { now_ms: now - hour, ..approve("ada", None) };
    assert!(
        matches!(store.transition(&short.decision_id, &behind).await, Err(TransitionError::Expired(_))),
        "past the deadline by Redis' clock"
    );
    let long = parked(&store, Duration::from_secs(300)).await;
    let early =
        Transition { to: Status::Escalated, by: "overseer".into(), now_ms: now + hour, ..approve("x", None) };
    assert!(matches!(store.transition(&long.decision_id, &early).await, Err(TransitionError::NotDue(_))));
    let ahead = Transition { now_ms: now + hour, ..approve("ada", None) };
    let approved =
        store.transition(&long.decision_id, &ahead).await.expect("within the deadline by Redis' clock");
    assert_eq!(approved.status, "approved");
}
