//! A pipeline for unit tests: the repository's configuration, the offline model, the in-memory
//! ledger and decision store, and the sink a test gives it. No services needed.

use super::{Pipeline, PipelineParts, QueueContext};
use crate::config::Config;
use crate::events::EventSink;
use crate::hitl::memory::MemoryStore;
use crate::hitl::{Decisions, Parked, Parking, PendingDecision};
use crate::ledger::memory::MemoryLedger;
use overseer_agents::agent;
use overseer_agents::llm::offline::OfflineLlm;
use overseer_agents::task::TaskLimits;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Parking straight into the memory store (the pipeline needs no actor).
struct Direct(Arc<MemoryStore>);

#[async_trait::async_trait]
impl Parking for Direct {
    async fn park(&self, decision: PendingDecision, retention: Duration) -> Result<Parked, String> {
        self.0.park(&decision, retention).await.map_err(|e| e.to_string())
    }
}

/// The pipeline publishing to `sink`, and the store its decisions are parked in.
pub(crate) async fn pipeline_with(sink: Arc<dyn EventSink>) -> (Pipeline, Arc<MemoryStore>) {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"));
    let config = Config::load_with_env(dir, Vec::new()).expect("config");
    let store = Arc::new(MemoryStore::default());
    let parts = PipelineParts {
        agents: agent::build_all(&config.agents),
        llm: Arc::new(OfflineLlm),
        workflows: Arc::new(crate::workflows::WorkflowRegistry::in_memory(config.workflows.clone()).await),
        policy: config.policy.clone(),
        limits: TaskLimits { max_bytes: 4096, max_depth: 16 },
        history: Duration::from_secs(60),
        llm_deadline: Duration::from_secs(10),
        faults: None,
    };
    let pipeline = Pipeline {
        parts,
        sink,
        hitl: Arc::new(Direct(store.clone())),
        ledger: Arc::new(MemoryLedger::default()),
        meters: Default::default(),
    };
    (pipeline, store)
}

/// The order agent's queue, under its own workflow.
pub(crate) fn ctx() -> QueueContext {
    QueueContext {
        queue: "auto_orders".into(),
        agent: "order".into(),
        workflow: "order_processing".into(),
        allowed_workflows: Vec::new(),
    }
}

/// A complete, paid order (executed autonomously under `order_processing`), with `extra`'s
/// fields added to the task.
pub(crate) fn order(task_id: &str, extra: serde_json::Value) -> Vec<u8> {
    let mut task = json!({"task_id": task_id, "payload": {
        "customer": {"name": "Ada", "email": "a@example.com"},
        "items": [{"sku": "A", "qty": 1, "unit_price": 5.0}],
        "shipping_address": {"line1": "1", "city": "c", "postal_code": "p", "country": "DE"},
        "payment_status": "paid"}});
    if let (Some(task), Some(extra)) = (task.as_object_mut(), extra.as_object()) {
        task.extend(extra.clone());
    }
    serde_json::to_vec(&task).expect("json")
}
