//! Drives one task through an agent: assess the input, build the prompt, ask the model,
//! validate the answer (one corrective retry), score confidence, apply the action policy and
//! the prompt-injection tripwire.

use super::{Agent, AgentError, Assessment, CheckedProposal};
use crate::confidence::{self, Confidence};
use crate::injection;
use crate::llm::{LlmClient, LlmError, LlmRequest};
use crate::policy::PolicyConfig;
use crate::task::Task;
use std::time::{Duration, Instant};

/// What the model call cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmUsage {
    pub provider: &'static str,
    pub model: String,
    /// Model calls made (2 after a corrective retry).
    pub calls: u32,
    /// HTTP attempts across those calls.
    pub attempts: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency: Duration,
}

/// A finished agent run.
#[derive(Debug, Clone)]
pub struct AgentResult {
    pub assessment: Assessment,
    pub proposal: CheckedProposal,
    pub confidence: Confidence,
    /// Why the action policy wants a person; empty when it does not.
    pub review_reasons: Vec<String>,
    pub usage: LlmUsage,
}

/// Why an agent run ended without a result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgentFailure {
    #[error(transparent)]
    Input(#[from] AgentError),
    #[error("model output invalid after a corrective retry: {0}")]
    InvalidOutput(String),
    #[error(transparent)]
    Llm(#[from] LlmError),
}

impl AgentFailure {
    /// True when trying the task again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Llm(e) if e.is_transient())
    }

    /// Short machine-readable reason for headers and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(AgentError::UnknownKind { .. }) => "unknown_kind",
            Self::Input(AgentError::InvalidPayload { .. }) => "invalid_payload",
            Self::InvalidOutput(_) => "invalid_output",
            Self::Llm(LlmError::Refused(_)) => "llm_refused",
            Self::Llm(LlmError::Deadline(_)) => "llm_deadline",
            Self::Llm(LlmError::Exhausted { .. }) => "llm_unavailable",
        }
    }
}

/// Fills `{{payload}}` and `{{kind}}` in a template, in one pass over the template: what is
/// filled in is not searched again.
pub fn render(template: &str, kind: &str, payload_json: &str) -> String {
    let mut out = String::with_capacity(template.len() + kind.len() + payload_json.len());
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{kind}}") {
            out.push_str(kind);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{{payload}}") {
            out.push_str(payload_json);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Runs `task` through `agent`.
pub async fn run(
    agent: &dyn Agent,
    llm: &dyn LlmClient,
    policy: &PolicyConfig,
    task: &Task,
) -> Result<AgentResult, AgentFailure> {
    let assessment = agent.assess(task.kind.as_deref(), &task.payload)?;
    let info = llm.info();
    let spec = agent.spec();
    // The payload, as the producer wrote it, is data between markers, never instructions
    // (crate::injection); the scan below reads the same text.
    let payload_json = injection::delimit(task.payload.get());
    let request = LlmRequest {
        prompt: agent.prompt().clone(),
        user: render(&spec.user_template, &assessment.kind, &payload_json),
        offline_answer: info.is_offline().then(|| agent.offline_answer(&task.payload, &assessment)),
    };
    let started = Instant::now();
    let mut usage = LlmUsage { provider: info.provider, model: info.model, ..Default::default() };
    let record = |usage: &mut LlmUsage, reply: &crate::llm::LlmReply| {
        usage.calls += 1;
        usage.attempts += reply.attempts;
        usage.prompt_tokens += reply.prompt_tokens;
        usage.completion_tokens += reply.completion_tokens;
    };
    let first = llm.complete(&request).await?;
    record(&mut usage, &first);
    let (proposal, reply) = match agent.check_output(&first.content) {
        Ok(p) => (p, first),
        Err(problem) => {
            tracing::debug!(task_id = %task.task_id, %problem, "model output invalid; one corrective retry");
            let second = llm.complete(&request.corrected(&first.content, &problem)).await?;
            record(&mut usage, &second);
            let checked = agent.check_output(&second.content).map_err(AgentFailure::InvalidOutput)?;
            (checked, second)
        }
    };
    usage.latency = started.elapsed();
    let confidence = Confidence::combine(
        assessment.completeness,
        proposal.model_confidence,
        confidence::from_logprobs(&reply.logprobs),
    );
    let mut review_reasons =
        policy.review_reasons(&spec.allowed_actions, &proposal.actions, assessment.policy);
    // Money-moving and irreversible actions need a signal beside the model's own word.
    review_reasons.extend(policy.self_reported_reasons(&proposal.actions, confidence.logprob.is_some()));
    if let Some(finding) = injection::scan(&task.payload) {
        tracing::info!(task_id = %task.task_id, signal = finding.signal, path = %finding.path, "possible prompt injection; a person decides");
        review_reasons.push(finding.reason());
    }
    Ok(AgentResult { assessment, proposal, confidence, review_reasons, usage })
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn templates_are_filled_once_and_only_where_they_say() {
        for (template, filled) in [
            ("Kind {{kind}}: {{payload}}", "Kind order.create: {\"a\":1}"),
            ("{{payload}}{{payload}}{{kind}}", "{\"a\":1}{\"a\":1}order.create"),
            ("{{{kind}}}", "{order.create}"),
            ("{{ kind }} {{other}} {{", "{{ kind }} {{other}} {{"),
            ("no placeholders", "no placeholders"),
            ("", ""),
        ] {
            assert_eq!(render(template, "order.create", r#"{"a":1}"#), filled, "{template}");
        }
        // What is filled in is not searched again: a payload naming a placeholder stays text.
        assert_eq!(render("{{payload}} / {{kind}}", "k", "{{kind}}"), "{{kind}} / k");
        assert_eq!(render("{{kind}}", "{{payload}}", "p"), "{{payload}}");
    }
}
