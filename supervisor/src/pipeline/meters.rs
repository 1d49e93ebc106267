//! The pipeline's metric handles, by the label values that vary (agent, outcome, workflow):
//! registered once each, so a task's model call is counted without building metric keys.

use crate::metrics::{self as names, Handles};
use metrics::{Counter, Histogram};
use std::sync::Arc;

#[derive(Default)]
pub struct Meters {
    agents: Handles<String, Arc<AgentMeters>>,
    /// `overseer_confidence` by workflow.
    confidence: Handles<String, Histogram>,
}

/// One agent's model calls.
pub struct AgentMeters {
    agent: String,
    /// `overseer_llm_calls_total` by outcome.
    calls: Handles<&'static str, Counter>,
    pub seconds: Histogram,
    pub prompt_tokens: Counter,
    pub completion_tokens: Counter,
}

impl Meters {
    pub fn agent(&self, agent: &str) -> Arc<AgentMeters> {
        self.agents.get(agent, || {
            let tokens = |kind: &'static str| {
                metrics::counter!(names::LLM_TOKENS, "agent" => agent.to_string(), "kind" => kind)
            };
            Arc::new(AgentMeters {
                agent: agent.to_string(),
                calls: Handles::default(),
                seconds: metrics::histogram!(names::LLM_SECONDS, "agent" => agent.to_string()),
                prompt_tokens: tokens("prompt"),
                completion_tokens: tokens("completion"),
            })
        })
    }

    pub fn confidence(&self, workflow: &str) -> Histogram {
        self.confidence
            .get(workflow, || metrics::histogram!(names::CONFIDENCE, "workflow" => workflow.to_string()))
    }
}

impl AgentMeters {
    pub fn calls(&self, outcome: &'static str) -> Counter {
        self.calls.get(
            &outcome,
            || metrics::counter!(names::LLM_CALLS, "agent" => self.agent.clone(), "outcome" => outcome),
        )
    }
}
