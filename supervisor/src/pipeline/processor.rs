use super::outcome::{Done, Outcome};
use crate::actors::hitl::HitlHandle;
use crate::events::event::{self, topic};
use crate::events::{EventSink, SinkError};
use crate::hitl::PendingDecision;
use crate::ledger::{Claim, Ledger};
use overseer_agents::agent::runner::{self, AgentResult};
use overseer_agents::agent::Agent;
use overseer_agents::llm::LlmClient;
use overseer_agents::policy::PolicyConfig;
use overseer_agents::routing::{self, Route};
use overseer_agents::task::{Task, TaskLimits};
use overseer_agents::workflow::WorkflowConfig;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a consumer knows about its queue.
#[derive(Debug, Clone)]
pub struct QueueContext {
    pub queue: String,
    pub agent: String,
    /// The workflow for tasks that name none.
    pub workflow: String,
}

/// What tasks are computed with: agents, model, workflows, policy, limits.
pub struct PipelineParts {
    pub agents: HashMap<String, Arc<dyn Agent>>,
    pub llm: Arc<dyn LlmClient>,
    pub workflows: BTreeMap<String, WorkflowConfig>,
    pub policy: PolicyConfig,
    pub limits: TaskLimits,
    /// How long decided history is kept after a decision's TTL.
    pub history: Duration,
    /// The LLM's overall deadline per call: a task's claim outlives two of them.
    pub llm_deadline: Duration,
}

/// Everything a task needs, shared by all consumers of a replica.
pub struct Pipeline {
    pub parts: PipelineParts,
    /// Events go through the EventPublisher actor.
    pub sink: Arc<dyn EventSink>,
    /// Decisions for a person go through the HitlActor (store + hitl.requests).
    pub hitl: HitlHandle,
    /// Outcomes by task_id: the idempotency key.
    pub ledger: Arc<dyn Ledger>,
}

/// How long a task's recorded outcome is kept (redeliveries and duplicate publishes within it
/// are recognised).
pub const OUTCOME_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// A delivery of a task that is already being processed comes back after this.
const BUSY_DEFER: Duration = Duration::from_secs(30);

fn sink_outcome(e: SinkError) -> Outcome {
    match e {
        SinkError::Unavailable(reason) => Outcome::Requeue { reason },
        SinkError::Refused(reason) => Outcome::DeadLetter { code: "event_refused", reason },
    }
}

impl Pipeline {
    /// Processes one message body. Returns the outcome and the task_id when it could be read.
    /// `redelivered` is the broker's flag: the delivery may take over its task's claim.
    pub async fn process(
        &self,
        ctx: &QueueContext,
        body: &[u8],
        redelivered: bool,
    ) -> (Outcome, Option<String>) {
        let started = Instant::now();
        let task = match Task::decode(body, self.parts.limits) {
            Ok(task) => task,
            Err(e) => return (Outcome::DeadLetter { code: e.code(), reason: e.to_string() }, None),
        };
        let outcome = match self.claim(&task, redelivered).await {
            Some(early) => early,
            None => {
                let outcome = self.process_task(ctx, &task).await;
                if let Outcome::Done(done) = &outcome {
                    // Durable now: record it before the ack, so a redelivery is recognised.
                    let label = match done {
                        Done::Executed { .. } => "executed",
                        Done::Parked { .. } => "parked",
                    };
                    if let Err(e) = self.ledger.record(&task.task_id, label, OUTCOME_RETENTION).await {
                        tracing::warn!(task_id = %task.task_id, error = %e, "outcome not recorded; a redelivery would repeat it");
                    }
                }
                outcome
            }
        };
        metrics::counter!(
            crate::metrics::TASKS,
            "queue" => ctx.queue.clone(),
            "agent" => ctx.agent.clone(),
            "outcome" => outcome.label()
        )
        .increment(1);
        metrics::histogram!(crate::metrics::TASK_SECONDS, "queue" => ctx.queue.clone())
            .record(started.elapsed().as_secs_f64());
        (outcome, Some(task.task_id))
    }

    /// Claims the task in the ledger; `Some` when this delivery must not process it.
    async fn claim(&self, task: &Task, redelivered: bool) -> Option<Outcome> {
        let lease = 2 * self.parts.llm_deadline + Duration::from_secs(60);
        match self.ledger.claim(&task.task_id, lease, redelivered).await {
            Ok(Claim::Claimed) => None,
            Ok(Claim::Done(outcome)) => Some(Outcome::Duplicate { outcome }),
            Ok(Claim::Busy) => Some(Outcome::Defer { after: BUSY_DEFER }),
            Err(e) => Some(Outcome::Requeue { reason: e.to_string() }),
        }
    }

    async fn process_task(&self, ctx: &QueueContext, task: &Task) -> Outcome {
        let workflow_id = task.workflow.as_deref().unwrap_or(&ctx.workflow);
        let Some(workflow) = self.parts.workflows.get(workflow_id) else {
            return Outcome::DeadLetter {
                code: "unknown_workflow",
                reason: format!("no workflow `{workflow_id}`"),
            };
        };
        let Some(agent) = self.parts.agents.get(&ctx.agent) else {
            return Outcome::DeadLetter {
                code: "unknown_agent",
                reason: format!("no agent `{}`", ctx.agent),
            };
        };
        #[cfg(feature = "fault-injection")]
        crate::fault::task_hook(task);
        let result = match runner::run(agent.as_ref(), self.parts.llm.as_ref(), &self.parts.policy, task)
            .await
        {
            Ok(result) => result,
            Err(failure) if failure.is_transient() => {
                let after = match &failure {
                    runner::AgentFailure::Llm(e) => e.retry_after(),
                    _ => None,
                };
                return Outcome::Retry { after, code: failure.code(), reason: failure.to_string() };
            }
            Err(failure) => return Outcome::DeadLetter { code: failure.code(), reason: failure.to_string() },
        };
        let labels = [("agent", ctx.agent.clone())];
        metrics::histogram!(crate::metrics::LLM_SECONDS, &labels).record(result.usage.latency.as_secs_f64());
        metrics::counter!(crate::metrics::LLM_TOKENS, "agent" => ctx.agent.clone(), "kind" => "prompt")
            .increment(result.usage.prompt_tokens);
        metrics::counter!(crate::metrics::LLM_TOKENS, "agent" => ctx.agent.clone(), "kind" => "completion")
            .increment(result.usage.completion_tokens);
        metrics::histogram!(crate::metrics::CONFIDENCE, "workflow" => workflow_id.to_string())
            .record(result.confidence.combined);

        let route =
            routing::route(workflow, result.confidence.combined, result.review_reasons.clone(), |rate| {
                rand::random::<f64>() < rate
            });
        match route {
            Route::Execute { mode, review } => {
                self.execute(ctx, task, workflow_id, agent.as_ref(), &result, mode.as_str(), review).await
            }
            Route::Hitl { reasons } => self.park(ctx, task, workflow_id, workflow, &result, reasons).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        ctx: &QueueContext,
        task: &Task,
        workflow_id: &str,
        agent: &dyn Agent,
        result: &AgentResult,
        mode: &'static str,
        review: bool,
    ) -> Outcome {
        let completion = event::with(
            event::envelope("ai.completion", &task.task_id),
            json!({
                "queue": ctx.queue,
                "agent": ctx.agent,
                "workflow": workflow_id,
                "confidence": result.confidence.combined,
                "confidence_parts": result.confidence,
                "execution_mode": mode,
                "review_sample": review,
                "llm_provider": result.usage.provider,
                "result": result.proposal,
            }),
        );
        let domain = event::with(
            event::envelope(
                &format!("{}.{}", ctx.agent, result.assessment.kind.rsplit('.').next().unwrap_or("done")),
                &task.task_id,
            ),
            json!({"agent": ctx.agent, "kind": result.assessment.kind, "actions": result.proposal.actions, "summary": result.proposal.summary}),
        );
        let decision = self.decision_record(ctx, task, workflow_id, result, "execute", &[]);
        let published = tokio::try_join!(
            self.sink.publish(topic::COMPLETIONS, &task.task_id, &completion),
            self.sink.publish(&agent.spec().domain_topic, &task.task_id, &domain),
            self.sink.publish(topic::DECISIONS, &task.task_id, &decision),
        );
        match published {
            Ok(_) => Outcome::Done(Done::Executed { mode }),
            Err(e) => sink_outcome(e),
        }
    }

    async fn park(
        &self,
        ctx: &QueueContext,
        task: &Task,
        workflow_id: &str,
        workflow: &WorkflowConfig,
        result: &AgentResult,
        reasons: Vec<String>,
    ) -> Outcome {
        let data = json!({
            "task": task,
            "proposal": result.proposal,
            "missing": result.assessment.missing,
            "llm_provider": result.usage.provider,
            "llm_model": result.usage.model,
        });
        let pending = PendingDecision::new(
            &task.task_id,
            workflow_id,
            &ctx.queue,
            &ctx.agent,
            result.confidence,
            reasons.clone(),
            data,
            workflow.pending_ttl,
        );
        let retention = workflow.pending_ttl + self.parts.history;
        let parked = match self.hitl.park(pending, retention).await {
            Ok(parked) => parked,
            Err(e) => return Outcome::Requeue { reason: e.to_string() },
        };
        let decision_id = parked.decision_id().to_string();
        let record = self.decision_record(ctx, task, workflow_id, result, "hitl", &reasons);
        match self.sink.publish(topic::DECISIONS, &task.task_id, &record).await {
            Ok(()) => Outcome::Done(Done::Parked { decision_id }),
            Err(e) => sink_outcome(e),
        }
    }

    /// The `ai.decisions` routing record.
    fn decision_record(
        &self,
        ctx: &QueueContext,
        task: &Task,
        workflow_id: &str,
        result: &AgentResult,
        route: &str,
        reasons: &[String],
    ) -> serde_json::Value {
        event::with(
            event::envelope("ai.decision", &task.task_id),
            json!({
                "queue": ctx.queue,
                "agent": ctx.agent,
                "workflow": workflow_id,
                "route": route,
                "reasons": reasons,
                "confidence": result.confidence,
                "llm_provider": result.usage.provider,
                "llm_calls": result.usage.calls,
            }),
        )
    }
}
