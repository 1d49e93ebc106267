//! The pipeline on the in-memory sink and store with the offline model: no services needed.

use super::testing::{ctx, order, pipeline_with};
use super::{Done, Outcome, Pipeline, QueueContext};
use crate::events::memory::MemorySink;
use crate::hitl::memory::MemoryStore;
use crate::hitl::{DecisionIndexes, Decisions};
use serde_json::json;
use std::sync::Arc;

async fn pipeline() -> (Pipeline, Arc<MemorySink>, Arc<MemoryStore>) {
    let sink = Arc::new(MemorySink::default());
    let (pipeline, store) = pipeline_with(sink.clone()).await;
    (pipeline, sink, store)
}

#[tokio::test]
async fn a_complete_order_executes_and_a_supervised_one_is_parked() {
    let (pipeline, sink, store) = pipeline().await;
    let (outcome, id) = pipeline.process_first(&ctx(), &order("t1", json!({}))).await;
    assert_eq!(outcome, Outcome::Done(Done::Executed { mode: "autonomous" }));
    assert_eq!(id.as_deref(), Some("t1"));
    let topics: Vec<String> = sink.events().into_iter().map(|(t, _, _)| t).collect();
    assert_eq!(topics.iter().filter(|t| *t == "ai.completions").count(), 1);
    assert!(topics.contains(&"domain.orders".to_string()));
    // The completion carries the whole proposal; the domain event its actions, the same ones.
    let event = |topic: &str| sink.events().into_iter().find(|(t, _, _)| t == topic).map(|(_, _, e)| e);
    let (completion, domain) =
        (event("ai.completions").expect("completion"), event("domain.orders").expect("domain"));
    let result = &completion["result"];
    assert!(result["summary"].is_string() && result["model_confidence"].is_number(), "{completion}");
    assert!(result["actions"].as_array().is_some_and(|a| !a.is_empty()) && result.get("details").is_some());
    assert_eq!(domain["actions"], result["actions"], "{domain}");

    let (outcome, _) =
        pipeline.process_first(&ctx(), &order("t2", json!({"workflow": "payment_processing"}))).await;
    let Outcome::Done(Done::Parked { decision_id }) = outcome else { panic!("{outcome:?}") };
    let stored = store.get(&decision_id).await.expect("store").expect("parked");
    assert_eq!(stored.task_id, "t2");
    assert_eq!(store.pending_ids(10).await.expect("ids"), vec![decision_id]);
    // Redeliveries are recognised by task_id: no second completion, no second decision.
    let (again, _) =
        pipeline.process_first(&ctx(), &order("t2", json!({"workflow": "payment_processing"}))).await;
    assert_eq!(again, Outcome::Duplicate { outcome: "parked".into() });
    let (again, _) = pipeline.process_first(&ctx(), &order("t1", json!({}))).await;
    assert_eq!(again, Outcome::Duplicate { outcome: "executed".into() });
    assert_eq!(store.pending_ids(10).await.expect("ids").len(), 1);
    let completions = sink.events().into_iter().filter(|(t, _, _)| t == "ai.completions").count();
    assert_eq!(completions, 1);
}

#[tokio::test]
async fn bad_tasks_are_dead_lettered_with_their_reason() {
    let (pipeline, sink, _) = pipeline().await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "not_json"),
        (order("t3", json!({"kind": "order.teleport"})), "unknown_kind"),
        (order("t4", json!({"workflow": "nope"})), "unknown_workflow"),
        // auto_orders runs under order_processing (assisted); analytics_reporting has HITL off.
        (order("t6", json!({"workflow": "analytics_reporting"})), "workflow_not_allowed"),
        (order("t7", json!({"workflow": "campaign_optimization"})), "workflow_not_allowed"),
        (br#"{"task_id":"t5","payload":{"items":[]}}"#.to_vec(), "invalid_payload"),
        (vec![b' '; 5000], "too_large"),
    ];
    for (body, code) in cases {
        let (outcome, _) = pipeline.process_first(&ctx(), &body).await;
        assert!(matches!(&outcome, Outcome::DeadLetter { code: c, .. } if *c == code), "{code}: {outcome:?}");
    }
    assert!(sink.events().is_empty(), "nothing executed");
}

impl Pipeline {
    /// A first delivery (not redelivered).
    async fn process_first(&self, ctx: &QueueContext, body: &[u8]) -> (Outcome, Option<String>) {
        let (outcome, claim) = self.process(ctx, body, false).await;
        (outcome, claim.map(|c| c.task_id))
    }
}
