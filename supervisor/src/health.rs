//! What /health reports: each queue's consumers and restarts, the LLM in use, and whether the
//! tree gave up on anything (meltdown). Written by the supervisors, read by the HTTP API.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::RwLock;

#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueHealth {
    pub consumers: u32,
    pub restarts: u64,
    /// The supervisor stopped restarting this queue's consumers (too many crashes).
    pub failed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LlmHealth {
    pub provider: String,
    pub model: String,
    /// True when the built-in offline stand-in answers instead of a real model.
    pub offline: bool,
}

#[derive(Debug, Default)]
pub struct Health {
    queues: RwLock<BTreeMap<String, QueueHealth>>,
    llm: RwLock<Option<LlmHealth>>,
}

impl Health {
    pub fn set_llm(&self, llm: LlmHealth) {
        if let Ok(mut slot) = self.llm.write() {
            *slot = Some(llm);
        }
    }

    /// Changes one queue's entry.
    pub fn update(&self, queue: &str, change: impl FnOnce(&mut QueueHealth)) {
        if let Ok(mut queues) = self.queues.write() {
            change(queues.entry(queue.to_string()).or_default());
        }
    }

    pub fn queues(&self) -> BTreeMap<String, QueueHealth> {
        self.queues.read().map(|q| q.clone()).unwrap_or_default()
    }

    pub fn llm(&self) -> Option<LlmHealth> {
        self.llm.read().ok().and_then(|l| l.clone())
    }
}
